"""Helpers for the VM tests: boot build/pollux.elf under QEMU through
tools/pollux-vm and capture the serial console. The tests' code shared
with test/hosted (the API's contract suite, api_contract.py) is in
test/lib, put on the import path here, with pytest's assertion rewriting.

Exit statuses (isa-debug-exit gives (code << 1) | 1): 1 ok, 33 fault or
panic, 35 bad config, 37 self-test failed, 39 bad command line. A triple
fault gives 0, so no test ever reads 0 as success without also checking
the console."""
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "lib"))
pytest.register_assert_rewrite("api_contract")
VM = os.path.join(ROOT, "tools", "pollux-vm")

EXIT_OK, EXIT_PANIC, EXIT_BAD_CONFIG, EXIT_TEST_FAILED, EXIT_BAD_CMDLINE = 1, 33, 35, 37, 39


class Boot:
    def __init__(self, rc, out, lines):
        self.rc, self.out, self.lines = rc, out, lines  # lines: (host_time, text)

    def __repr__(self):
        return "rc=%s\n%s" % (self.rc, self.out)


def boot(machine="microvm", smp=2, mem="128M", append="", config=None, timeout=180):
    """Boots once, returns a Boot with the exit status and the console,
    each line stamped with the host's monotonic clock on arrival."""
    cmd = [VM, "--machine", machine, "--smp", str(smp), "--mem", mem,
           "--append", append, "--timeout", str(timeout)]
    if config is not None:
        cmd += ["--config", config]
    p = spawn(cmd)
    lines = []
    try:
        for raw in p.stdout:
            lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\r\n")))
        rc = p.wait(timeout=timeout + 10)
    finally:
        stop(p)
    return Boot(rc, "\n".join(t for _, t in lines), lines)


def spawn(cmd, **kw):
    """Starts cmd in a process group of its own, so that stop() ends QEMU
    too (the launcher runs it under `timeout`, a separate process)."""
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True, **kw)


def stop(p):
    """Ends everything p started (by its process group), then reaps p."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        try:                                # an exited launcher may leave QEMU behind
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    p.wait()


@pytest.fixture
def vm():
    return boot

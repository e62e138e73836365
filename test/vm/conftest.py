"""Helpers for the VM tests: boot build/pollux.elf under QEMU through
tools/pollux-vm and capture the serial console. The tests' code shared
with test/hosted (the API's contract suite, api_contract.py) is in
test/lib, put on the import path here, with pytest's assertion rewriting.

Exit statuses (isa-debug-exit gives (code << 1) | 1): 1 ok, 33 fault or
panic, 35 bad config, 37 self-test failed, 39 bad command line. A triple
fault gives 0, so no test ever reads 0 as success without also checking
the console.

Also shared here: Console (a VM launched in the background, its console
read by a thread), Net (a network namespace with a tap, for the tests
that reach the VM on a tap) and in_netns/enter_netns (this thread into
such a namespace)."""
import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
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


class Console:
    """cmd (a tools/pollux-vm command line) started in the background, its
    console read line by line by a thread; ready is set at "pollux ready"."""

    def __init__(self, cmd):
        self.p = spawn(cmd)
        self.lines = []
        self.ready = threading.Event()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.p.stdout:
            l = raw.decode(errors="replace").rstrip()
            self.lines.append(l)
            if "pollux ready" in l:
                self.ready.set()

    def out(self, last=None):
        return "\n".join(self.lines[-last:] if last else self.lines)

    def wait_ready(self, timeout):
        assert self.ready.wait(timeout), "no 'pollux ready' within %d s:\n%s" % (timeout, self.out(80))

    def wait_for(self, rx, timeout=300):
        """The first match of rx (a pattern) on the console, waited for."""
        rx = re.compile(rx) if isinstance(rx, str) else rx
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = rx.search(self.out())
            if m:
                return m
            if self.p.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("no %r on the console:\n%s" % (rx.pattern, self.out(80)))

    def stop(self):
        stop(self.p)


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


class Net:
    """A namespace with one tap (multi_queue when queues > 1): 198.18.S.1/24
    on the namespace's side, the VM at 198.18.S.2; the VM runs inside the
    namespace (ip netns exec). Needs root."""

    def __init__(self, subnet, queues):
        self.ns = "pollux-t%d-%d" % (os.getpid(), subnet)
        self.tap = "ptap%d" % subnet
        self.host = "198.18.%d.1" % subnet
        self.guest = "198.18.%d.2" % subnet
        sh("ip", "netns", "add", self.ns)
        mq = ["multi_queue"] if queues > 1 else []
        self.ip("tuntap", "add", "dev", self.tap, "mode", "tap", *mq)
        self.ip("addr", "add", self.host + "/24", "dev", self.tap)
        self.ip("link", "set", self.tap, "up")
        self.ip("link", "set", "lo", "up")

    def ip(self, *args):
        return sh("ip", "-n", self.ns, *args)

    def run(self, *args, **kw):
        return subprocess.run(["ip", "netns", "exec", self.ns, *args], capture_output=True, **kw)

    def close(self):
        sh("ip", "netns", "del", self.ns, check=False)


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, 0x40000000) != 0:                   # CLONE_NEWNET
        e = ctypes.get_errno()
        raise OSError(e, "setns: %s" % os.strerror(e))


def enter_netns(ns):
    """Moves the calling thread into the named network namespace for good;
    the threads and processes it starts afterwards inherit it."""
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        _setns(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def in_netns(ns):
    """The calling thread in the named network namespace for the block,
    back in its own after: a socket made inside stays in that namespace."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        enter_netns(ns)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


@pytest.fixture
def vm():
    return boot

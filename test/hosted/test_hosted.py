"""The hosted platform: build/pollux-hosted runs the same runtime as the VM
as a Linux process, one pinned thread per core."""
import os
import subprocess
import tempfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "pollux-hosted")
CFG = os.path.join(ROOT, "configs", "default.json")


def run(*args, timeout=300):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("cores", [1, 2, 4, 8])
def test_ready_line(cores):
    rc, out = run("--cores", str(cores), "--config", CFG, "--exit", "ready")
    assert rc == 0, out
    assert out.count("pollux ready: %d cores" % cores) == 1, out


@pytest.mark.parametrize("cores", [4, 8])
def test_runtime_selftests(cores):
    """mesh (checksummed streams between every pair), call_on storm,
    timers on every core, publish/quiesce, counters adding up."""
    rc, out = run("--cores", str(cores), "--config", CFG, "--test", "sched",
                  "--append", "test_n=20000")
    assert rc == 0, out
    for name in ("mesh", "callon", "timers", "quiesce"):
        assert "selftest %s:" % name in out, out
    assert "selftest sched: ok (%d cores)" % cores in out, out
    assert "check failed" not in out, out


def test_private_memory_stays_out_of_the_memfd():
    """Only device-visible frames (rings, packet data) come from the memfd a
    vhost-user backend maps; private frames and the cores' arenas never do."""
    rc, out = run("--cores", "2", "--config", CFG, "--test", "memory")
    assert rc == 0, out
    assert "selftest memory: private and device-visible frames apart" in out, out
    assert "selftest memory: ok (2 cores)" in out, out


def test_pinned_cpus():
    rc, out = run("--cores", "2", "--cpus", "0-1", "--config", CFG, "--test", "mesh",
                  "--append", "test_n=10000")
    assert rc == 0, out
    assert "could not pin" not in out, out


def test_bad_config_is_refused():
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write('{"cores": {"idle": "sometimes"}}')
    try:
        rc, out = run("--config", f.name)
    finally:
        os.unlink(f.name)
    assert rc == 35, out
    assert 'cores.idle: must be "poll" or "halt"' in out, out


def test_bad_idle_list_names_the_index():
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write('{"cores": {"idle": ["halt", "poll", 7]}}')
    try:
        rc, out = run("--cores", "3", "--config", f.name)
    finally:
        os.unlink(f.name)
    assert rc == 35, out
    assert "cores.idle[2]:" in out, out


def test_bad_arguments():
    rc, out = run("--cpus", "x")
    assert rc == 39, out
    rc, out = run("--cores", "0")
    assert rc == 39, out

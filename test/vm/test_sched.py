"""The runtime on the VM: channels between every pair of cores, call_on,
timers on every core, publish/quiesce, counters (4 and 8 vCPUs, TCG)."""
import pytest

from conftest import boot, EXIT_OK


@pytest.mark.parametrize("smp", [4, 8])
def test_runtime_selftests(smp):
    b = boot(smp=smp, mem="256M", append="test=sched test_n=2000", timeout=600)
    assert b.rc == EXIT_OK, b
    assert "selftest sched: ok (%d cores)" % smp in b.out, b
    assert "check failed" not in b.out, b


def test_idle_cores_sleep():
    """With the halt policy, idle cores sleep (the counters show it)."""
    b = boot(smp=2, append="test=timers")
    assert b.rc == EXIT_OK, b
    assert "selftest timers: ok" in b.out, b

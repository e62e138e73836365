"""What the booted image can only test on itself: per-core errno, the red
zone across syscall and interrupt, the libraries, the clock."""
import re

import pytest

from conftest import boot, EXIT_OK


@pytest.mark.parametrize("smp", [2, 4])
def test_errno_is_per_core(smp):
    b = boot(smp=smp, append="test=errno")
    assert b.rc == EXIT_OK, b
    assert "selftest errno: ok (%d cores)" % smp in b.out, b


@pytest.mark.parametrize("smp", [1, 4])
def test_red_zone_and_xmm_survive_syscall_and_interrupt(smp):
    b = boot(smp=smp, append="test=redzone")
    assert b.rc == EXIT_OK, b
    assert "selftest redzone: ok" in b.out, b


def test_musl_and_libraries():
    b = boot(smp=2, append="test=libs")
    assert b.rc == EXIT_OK, b
    assert "selftest libs: printf works (42-x-2.50)" in b.out, b
    assert "selftest libs: ok" in b.out, b
    assert "not implemented" not in b.out, b


@pytest.mark.parametrize("machine", ["microvm", "q35"])
def test_clock_tracks_host_clock(machine):
    """The guest prints its monotonic clock every 500 ms for 3 s; the host
    stamps each line on arrival. Over the span the two must agree within
    10 % (serial latency and TCG scheduling are the noise)."""
    b = boot(machine=machine, smp=2, append="test=clock")
    assert b.rc == EXIT_OK, b
    pts = [(h, int(m.group(1))) for h, t in b.lines
           for m in [re.search(r"selftest clock: t=(\d+)", t)] if m]
    assert len(pts) == 7, b
    host = pts[-1][0] - pts[0][0]
    guest = (pts[-1][1] - pts[0][1]) / 1e9
    assert 2.9 < guest < 3.1, b                      # guest's own spacing
    assert abs(guest - host) / host < 0.10, (guest, host, b.out)

"""Boot, SMP, memory, machine types, power-off: the image comes up and
prints exactly one ready line naming its cores and memory."""
import re

import pytest

from conftest import boot, EXIT_OK

READY = re.compile(r"pollux ready: (\d+) cores, (\d+) MiB, boot ([\d.]+) ms")


def ready(b):
    found = [READY.search(t) for _, t in b.lines if READY.search(t)]
    assert len(found) == 1, b
    return found[0]


@pytest.mark.parametrize("smp", [1, 2, 4, 8])
def test_every_core_reports_in(smp):
    b = boot(smp=smp, append="exit=ready")
    assert b.rc == EXIT_OK, b
    assert int(ready(b).group(1)) == smp


@pytest.mark.parametrize("mem,lo,hi", [("64M", 56, 64), ("4G", 4000, 4096)])
def test_memory_sizes(mem, lo, hi):
    b = boot(machine="q35", smp=2, mem=mem, append="test=memory")
    assert b.rc == EXIT_OK, b
    assert lo <= int(ready(b).group(2)) <= hi, b
    assert "selftest memory: ok" in b.out, b


@pytest.mark.parametrize("machine", ["microvm", "q35", "pc", "q35-seabios", "pc-seabios"])
def test_machine_types(machine):
    b = boot(machine=machine, smp=2, append="exit=ready")
    assert b.rc == EXIT_OK, b
    assert int(ready(b).group(1)) == 2


@pytest.mark.parametrize("machine", ["microvm", "q35"])
def test_acpi_poweroff(machine):
    b = boot(machine=machine, smp=2, append="exit=poweroff")
    # ACPI power-off makes QEMU exit 0; a triple fault would too, so the
    # console must show the orderly path and no report.
    assert b.rc == 0, b
    ready(b)
    assert "powering off (ACPI)" in b.out and "pollux fault" not in b.out, b
    assert "power-off did not take" not in b.out, b


def test_cores_capped_by_cmdline():
    b = boot(smp=4, append="cores=2 exit=ready")
    assert b.rc == EXIT_OK, b
    assert int(ready(b).group(1)) == 2

"""Failure is loud: a fault or panic prints one report (core, vector,
error code, RIP, registers, backtrace) and exits with EXIT_PANIC; a bad
config stops the boot naming line and column."""
import os
import subprocess
import tempfile

import pytest

from conftest import boot, ROOT, EXIT_PANIC, EXIT_BAD_CONFIG, EXIT_BAD_CMDLINE, EXIT_TEST_FAILED


@pytest.mark.parametrize("kind,vector,text", [
    ("null", 14, "NULL pointer dereference"),
    ("ud", 6, "invalid opcode"),
    ("gp", 13, "general protection"),
    ("stack", 14, "stack overflow: hit the guard page of core 0's main stack"),
])
def test_fault_report(kind, vector, text):
    b = boot(smp=2, append="test=fault-" + kind)
    assert b.rc == EXIT_PANIC, b
    assert b.out.count("*** pollux fault on core 0: vector %d" % vector) == 1, b
    assert text in b.out, b
    for field in ("rip 0x", "rsp 0x", "rax 0x", "r15 0x", "at: 0x", "bt:",
                  "all cores stopped"):
        assert field in b.out, (field, b)


def test_fault_on_another_core_stops_all():
    b = boot(smp=4, append="test=fault-ap")
    assert b.rc == EXIT_PANIC, b
    assert "*** pollux fault on core 1: vector 14" in b.out, b


def test_panic_report():
    b = boot(smp=2, append="test=fault-panic")
    assert b.rc == EXIT_PANIC, b
    assert "*** pollux panic on core 0: deliberate panic" in b.out, b


def test_symbolize_names_functions():
    b = boot(smp=2, append="test=fault-ud")
    out = subprocess.run([os.path.join(ROOT, "tools", "symbolize")], input=b.out,
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert "test_fault at src/core/metal/selftest.c" in out, out
    assert "platform_selftest" in out or "pollux_main" in out, out


def test_bad_config_names_line_and_column():
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write('{\n  "name": "x",\n  "cores": { "idle": "halt" }\n  "oops": 1\n}\n')
    try:
        b = boot(smp=2, append="", config=f.name)
    finally:
        os.unlink(f.name)
    assert b.rc == EXIT_BAD_CONFIG, b
    assert "config: line 4, column 8:" in b.out, b
    assert "pollux ready" not in b.out, b


def test_config_must_be_an_object():
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write('[1, 2]\n')
    try:
        b = boot(smp=1, config=f.name)
    finally:
        os.unlink(f.name)
    assert b.rc == EXIT_BAD_CONFIG, b
    assert "top level must be an object" in b.out, b


def test_bad_cmdline():
    b = boot(smp=1, append="=oops")
    assert b.rc == EXIT_BAD_CMDLINE, b
    assert "bad kernel command line" in b.out, b


def test_unknown_selftest_fails():
    b = boot(smp=1, append="test=nonesuch")
    assert b.rc == EXIT_TEST_FAILED, b

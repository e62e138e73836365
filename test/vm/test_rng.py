"""virtio-rng: the control core reads the hypervisor's entropy (mixed into
the API's TLS random generator); without the device the self-test says
so and fails, and a boot goes on without it."""
import subprocess

from conftest import EXIT_OK, EXIT_TEST_FAILED, VM, spawn, stop


def run(append, *qemu):
    p = spawn([VM, "--machine", "q35", "--smp", "2", "--append", append, "--timeout", "120", "--", *qemu])
    try:
        out, _ = p.communicate(timeout=150)
    finally:
        stop(p)
    return p.returncode, out.decode(errors="replace")


def test_rng_device_answers():
    rc, out = run("test=rng", "-device", "virtio-rng-pci")
    assert "entropy source for TLS" in out, out
    assert "selftest rng: 64 + 64 bytes" in out, out
    assert rc == EXIT_OK, out


def test_no_rng_device():
    rc, out = run("test=rng")
    assert "no virtio-rng device" in out, out
    assert rc == EXIT_TEST_FAILED, out
    rc, out = run("exit=ready")
    assert "pollux ready" in out and "virtio-rng" not in out, out
    assert rc == EXIT_OK, out

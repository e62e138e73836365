"""The boot module as a tar archive on the VM (TCG): configs/echo.json
packed by `make site` beside a small site folder is passed as the one
PVH module (-initrd); the kernel finds pollux.json inside it, says so on
the console, and the echo appliance it configures answers through a
hostfwd on 127.0.0.1 (QEMU user networking, restrict=on, the config's
198.18.0.0/24 with QEMU's side at .1). One boot. The refusals (no
pollux.json, a damaged archive) are tested on the hosted platform
(test/hosted/test_site.py), which reads the same module from a file."""
import os
import socket
import subprocess
import threading
import time

from conftest import ROOT, VM, spawn, stop


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def echo_tcp(port, payload, timeout=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(payload)
        got = b""
        end = time.monotonic() + timeout
        while len(got) < len(payload) and time.monotonic() < end:
            d = s.recv(65536)
            if not d:
                break
            got += d
        return got
    finally:
        s.close()


def test_echo_config_packed_in_a_site_tar_boots_and_answers(tmp_path):
    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    (site / "index.html").write_bytes(b"<h1>site</h1>\n")
    (site / "img" / "blob.bin").write_bytes(os.urandom(300000))   # the module is more than the config
    build = tmp_path / "build"
    p = subprocess.run(["make", "--no-print-directory", "site", "DIR=%s" % site,
                        "CONFIG=%s" % os.path.join(ROOT, "configs", "echo.json"), "BUILD=%s" % build],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    tar = str(build / "site.tar")
    port = free_port()
    netdev = ("user,id=d0,restrict=on,net=198.18.0.0/24,host=198.18.0.1,"
              "hostfwd=tcp:127.0.0.1:%d-198.18.0.2:7" % port)
    vm = spawn([VM, "--machine", "q35", "--smp", "2", "--mem", "256M", "--config", tar,
                "--timeout", "300", "--", "-netdev", netdev, "-device", "virtio-net-pci,netdev=d0"])
    lines, ready = [], threading.Event()

    def read():
        for raw in vm.stdout:
            l = raw.decode(errors="replace").rstrip()
            lines.append(l)
            if "pollux ready" in l:
                ready.set()
    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(240), "no ready line:\n" + "\n".join(lines[-60:])
        out = "\n".join(lines)
        cfg = os.path.getsize(os.path.join(ROOT, "configs", "echo.json"))
        assert "boot: module is a tar archive (%d bytes), config pollux.json (%d bytes)" % (
            os.path.getsize(tar), cfg) in out, out
        assert "config: %d bytes, appliance echo" % cfg in out, out
        payload = bytes(range(256)) * 64                           # 16 KiB
        got = b""
        for _ in range(20):                                        # the hostfwd may refuse until ARP settles
            try:
                got = echo_tcp(port, payload)
                break
            except OSError:
                time.sleep(1)
        assert got == payload, "%d of %d bytes back\n%s" % (len(got), len(payload), "\n".join(lines[-40:]))
    finally:
        stop(vm)

"""The kv appliance (src/apps/kv.c, docs/kv.md) on the VM (TCG), booted
once with configs/kv.json on 2 data cores (-smp 3) behind QEMU's user
networking (restrict=on, 198.18.0.0/24, QEMU at .1) with a TCP hostfwd
on 127.0.0.1 to 198.18.0.2:11211. One queue pair: every connection lands
on data core 1, and the keys of shard 1 (core 2) cross over the
channels, so every test here runs both shards and the cross-core path.

Clients: Debian's python3-pymemcache, raw sockets where a library
can't reach (pipelines, bad input), and memccapable (libmemcached-tools)
for its ASCII and binary checks. Afterwards every connection slot is
back (stats: curr_connections is ours alone)."""
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import ROOT, VM, spawn, stop

pymemcache = pytest.importorskip("pymemcache")
from pymemcache.client.base import Client  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class KvVM:
    def __init__(self):
        self.port = free_port()
        netdev = ("user,id=d,restrict=on,net=198.18.0.0/24,host=198.18.0.1,"
                  "hostfwd=tcp:127.0.0.1:%d-198.18.0.2:11211" % self.port)
        cmd = [VM, "--machine", "q35", "--smp", "3", "--mem", "256M",
               "--config", os.path.join(ROOT, "configs", "kv.json"), "--timeout", "1500",
               "--", "-netdev", netdev, "-device", "virtio-net-pci,netdev=d"]
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

    def out(self):
        return "\n".join(self.lines[-60:])

    def client(self, **kw):
        kw.setdefault("default_noreply", False)
        return Client(("127.0.0.1", self.port), connect_timeout=30, timeout=60, **kw)

    def raw(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=60)

    def stats(self):
        c = self.client()
        try:
            return {k.decode(): v for k, v in c.stats().items()}
        finally:
            c.close()

    def stop(self):
        stop(self.p)


@pytest.fixture(scope="module")
def vm():
    v = KvVM()
    try:
        assert v.ready.wait(600), "not ready:\n" + v.out()
        assert "kv: memcached protocols on TCP port 11211: 2 shard(s)" in "\n".join(v.lines), v.out()
        yield v
    finally:
        v.stop()


def recv_until(s, end, timeout=60):
    got = b""
    deadline = time.monotonic() + timeout
    while not got.endswith(end) and time.monotonic() < deadline:
        d = s.recv(65536)
        if not d:
            break
        got += d
    return got


def test_set_get_delete_incr_cas(vm):
    c = vm.client()
    try:
        assert c.set("a", b"hello", expire=0)
        assert c.get("a") == b"hello"
        assert c.add("a", b"x") is False
        assert c.replace("nope", b"x") is False
        assert c.append("a", b"!") and c.prepend("a", b"<") and c.get("a") == b"<hello!"
        assert c.delete("a") is True
        assert c.get("a") is None
        assert c.delete("a", noreply=False) is False
        assert c.set("n", b"10")
        assert c.incr("n", 5) == 15
        assert c.decr("n", 100) == 0
        assert c.set("w", b"18446744073709551615") and c.incr("w", 2) == 1
        assert c.incr("missing", 1) is None
        v, cas = c.gets("n")
        assert v == b"0 "                               # decr in place pads, as memcached
        assert c.cas("n", b"7", cas) is True
        assert c.cas("n", b"8", cas) is False           # EXISTS: the unique moved
        assert c.get("n") == b"7"
        assert c.touch("n", 100) is True and c.touch("gone", 1) is False
    finally:
        c.close()


def test_multi_get_across_shards_in_order(vm):
    c = vm.client()
    try:
        before = int(vm.stats()["cross_core"])
        keys = ["mk%03d" % i for i in range(200)]
        c.set_many({k: k.encode() * 3 for k in keys})
        got = c.get_many(keys + ["absent1", "absent2"])
        assert got == {k: k.encode() * 3 for k in keys}
        after = int(vm.stats()["cross_core"])
        assert after - before >= 150, (before, after)       # ~half the keys, twice
    finally:
        c.close()
    # the raw answer keeps the request's key order
    s = vm.raw()
    try:
        s.sendall(b"get " + b" ".join(k.encode() for k in keys[:40]) + b"\r\n")
        ans = recv_until(s, b"END\r\n")
        order = re.findall(rb"VALUE (\S+) 0 \d+\r\n", ans)
        assert order == [k.encode() for k in keys[:40]], ans[:400]
    finally:
        s.close()


def test_expiry_relative_absolute_and_past(vm):
    c = vm.client()
    try:
        assert c.set("e1", b"v", expire=2)
        assert c.set("e2", b"v", expire=int(time.time()) + 3)
        assert c.set("e3", b"v", expire=-1)
        assert c.get("e3") is None
        assert c.get("e1") == b"v"
        time.sleep(4.5)
        assert c.get("e1") is None and c.get("e2") is None
    finally:
        c.close()


def test_flush_all_with_delay(vm):
    c = vm.client()
    try:
        keys = ["fl%02d" % i for i in range(20)]
        c.set_many({k: b"x" for k in keys})
        assert c.flush_all(delay=3)
        assert len(c.get_many(keys)) == 20
        time.sleep(4.5)
        assert c.get_many(keys) == {}
        assert c.set("after", b"y") and c.get("after") == b"y"
    finally:
        c.close()


def test_noreply_pipeline(vm):
    s = vm.raw()
    try:
        req = b"".join(b"set np%d 0 0 4 noreply\r\nv%03d\r\n" % (i, i % 1000) for i in range(500))
        req += b"incr npnum 1 noreply\r\nget np0 np499\r\n"
        s.sendall(req)
        ans = recv_until(s, b"END\r\n")
        assert ans == b"VALUE np0 0 4\r\nv000\r\nVALUE np499 0 4\r\nv499\r\nEND\r\n", ans[:300]
    finally:
        s.close()


def test_64_concurrent_clients(vm):
    errors = []

    def worker(n):
        try:
            c = vm.client()
            for i in range(20):
                k = "c%d_%d" % (n, i)
                assert c.set(k, str(n * i).encode())
                assert c.get(k) == str(n * i).encode()
            assert c.incr("shared", 1) is not None
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append("%d: %r" % (n, e))
    c = vm.client()
    c.set("shared", b"0")
    c.close()
    ts = [threading.Thread(target=worker, args=(n,)) for n in range(64)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    assert not errors, errors[:5]
    c = vm.client()
    assert c.get("shared") == b"64"
    c.close()


def test_bad_input_ends_that_connection_only(vm):
    keep = vm.raw()
    try:
        keep.sendall(b"bogus\r\n")
        assert recv_until(keep, b"\r\n") == b"ERROR\r\n"
        # a line over 2048 bytes without a newline: closed (a get line
        # is not bounded: its keys stream, as memcached's)
        s = vm.raw()
        s.sendall(b"set " + b"k" * 3000)
        got = recv_until(s, b"\r\n", timeout=30)
        assert got.startswith(b"CLIENT_ERROR") or got == b"", got
        s.settimeout(30)
        try:
            rest = s.recv(100)
        except ConnectionResetError:
            rest = b""
        assert rest == b"", rest
        s.close()
        # a data block whose length lies: its error, then closed
        s = vm.raw()
        s.sendall(b"set lie 0 0 3\r\nabcdef\r\n")
        got = recv_until(s, b"\r\n", timeout=30)
        assert got.startswith(b"CLIENT_ERROR bad data chunk"), got
        s.close()
        # the first connection still works
        keep.sendall(b"set ok 0 0 2\r\nok\r\nget ok\r\n")
        assert recv_until(keep, b"END\r\n") == b"STORED\r\nVALUE ok 0 2\r\nok\r\nEND\r\n"
        # too large: swallowed with memcached's error, the connection goes on
        big = 2 * 1024 * 1024
        keep.sendall(b"set big 0 0 %d\r\n" % big + b"z" * big + b"\r\nget ok\r\n")
        ans = recv_until(keep, b"END\r\n")
        assert ans.startswith(b"SERVER_ERROR object too large for cache\r\n"), ans[:200]
    finally:
        keep.close()


@pytest.mark.skipif(not shutil.which("memccapable"), reason="libmemcached-tools not installed")
@pytest.mark.parametrize("proto", ["-a", "-b"])
def test_memccapable(vm, proto):
    r = subprocess.run(["memccapable", "-h", "127.0.0.1", "-p", str(vm.port), "-t", "30", proto],
                       capture_output=True, timeout=600)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert r.returncode == 0 and "[FAIL]" not in out, out[-3000:]


def test_everything_back_afterwards(vm):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = vm.stats()
        if int(st["curr_connections"]) == 1:
            break
        time.sleep(1)
    assert int(st["curr_connections"]) == 1, st
    assert int(st["total_connections"]) >= 70, st
    assert int(st["rejected_connections"]) == 0, st

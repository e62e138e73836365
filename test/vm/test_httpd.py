"""The httpd appliance (src/apps/httpd.c, docs/httpd.md "Appliance") on
the VM (TCG): configs/httpd.json packed by `make site` with a site folder
made here (an index, a folder with its own, a text file and a 2 MiB
random file) is the one boot module; port 80 is forwarded to 127.0.0.1
(QEMU user networking, restrict=on, the config's 198.18.0.0/24 with
QEMU's side at .1). One boot each on 1, 2 and 4 data cores; curl checks
answers and headers exactly, raw sockets pipelining, a split request and
bad requests; the 2 MiB file comes back intact (sha256) while other
clients ask. Time limits are safety nets, never performance assertions."""
import hashlib
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import ROOT, VM, spawn, stop

pytestmark = pytest.mark.skipif(not __import__("shutil").which("curl"), reason="needs curl")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module", params=[1, 2, 4], ids=lambda n: "%dcore" % n)
def httpd(request, tmp_path_factory):
    data_cores = request.param
    tmp = tmp_path_factory.mktemp("httpd")
    site = tmp / "site"
    (site / "docs").mkdir(parents=True)
    (site / "index.html").write_bytes(b"<h1>pollux</h1>\n")
    (site / "docs" / "index.html").write_bytes(b"<p>docs</p>\n")
    (site / "a.txt").write_bytes(b"0123456789abcdefghij")
    big = os.urandom(2 << 20)
    (site / "big.bin").write_bytes(big)
    os.utime(site / "a.txt", (1700000000, 1700000000))
    huge = None
    if data_cores == 2:                         # 100 MiB: one boot is enough
        huge = hashlib.sha256()
        with open(site / "huge.bin", "wb") as f:
            for i in range(100):
                chunk = os.urandom(1 << 20)
                huge.update(chunk)
                f.write(chunk)
        huge = huge.hexdigest()
    build = tmp / "build"
    p = subprocess.run(["make", "--no-print-directory", "site", "DIR=%s" % site,
                        "CONFIG=%s" % os.path.join(ROOT, "configs", "httpd.json"), "BUILD=%s" % build],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    port = free_port()
    netdev = ("user,id=d0,restrict=on,net=198.18.0.0/24,host=198.18.0.1,"
              "hostfwd=tcp:127.0.0.1:%d-198.18.0.2:80" % port)
    vm = spawn([VM, "--machine", "q35", "--smp", str(data_cores + 1), "--mem", "512M", "--config", str(build / "site.tar"),
                "--timeout", "600", "--", "-netdev", netdev, "-device", "virtio-net-pci,netdev=d0"])
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
        assert any("httpd: HTTP/1.1 on TCP port 80" in l and "of %d data core(s)" % data_cores in l
                   for l in lines), "\n".join(lines[-40:])
        assert any("httpd: site of %d files, 2 directories" % (5 if huge else 4) in l
                   for l in lines), "\n".join(lines[-40:])
        for _ in range(30):                     # the hostfwd may refuse until ARP settles
            r = curl(port, "/a.txt", check=False)
            if r.returncode == 0:
                break
            time.sleep(1)
        yield {"port": port, "big": big, "huge": huge, "lines": lines}
    finally:
        stop(vm)


def curl(port, path, *args, check=True):
    """curl -i: the head and body as bytes"""
    r = subprocess.run(["curl", "-sS", "-i", "--max-time", "60", *args, "http://127.0.0.1:%d%s" % (port, path)],
                       capture_output=True, timeout=90)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def split(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return lines[0], hdrs, body


def test_get_head_and_headers(httpd):
    st, h, body = split(curl(httpd["port"], "/a.txt").stdout)
    assert st == "HTTP/1.1 200 OK"
    assert body == b"0123456789abcdefghij"
    assert h["content-type"] == "text/plain; charset=utf-8"
    assert h["content-length"] == "20"
    assert h["last-modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert h["server"] == "pollux"
    assert h["accept-ranges"] == "bytes"
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', h["etag"]), h["etag"]
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT", h["date"])
    st, h2, body = split(curl(httpd["port"], "/a.txt", "-I").stdout)
    assert st == "HTTP/1.1 200 OK" and body == b""
    assert h2["content-length"] == "20" and h2["etag"] == h["etag"]
    st, h, body = split(curl(httpd["port"], "/").stdout)
    assert st == "HTTP/1.1 200 OK" and body == b"<h1>pollux</h1>\n"
    assert h["content-type"] == "text/html; charset=utf-8"


def test_directory_redirect_and_404(httpd):
    st, h, _ = split(curl(httpd["port"], "/docs?q=1").stdout)
    assert st == "HTTP/1.1 301 Moved Permanently"
    assert h["location"] == "/docs/?q=1"
    st, _, body = split(curl(httpd["port"], "/docs/").stdout)
    assert st == "HTTP/1.1 200 OK" and body == b"<p>docs</p>\n"
    st, h, _ = split(curl(httpd["port"], "/nope").stdout)
    assert st == "HTTP/1.1 404 Not Found"
    st, h, _ = split(curl(httpd["port"], "/", "-X", "DELETE").stdout)
    assert st == "HTTP/1.1 405 Method Not Allowed" and h["allow"] == "GET, HEAD"


def test_conditional_and_ranges(httpd):
    port = httpd["port"]
    etag = split(curl(port, "/a.txt").stdout)[1]["etag"]
    st, _, body = split(curl(port, "/a.txt", "-H", "If-None-Match: " + etag).stdout)
    assert st == "HTTP/1.1 304 Not Modified" and body == b""
    st, _, _ = split(curl(port, "/a.txt", "-H", "If-Match: \"other\"").stdout)
    assert st == "HTTP/1.1 412 Precondition Failed"
    st, h, body = split(curl(port, "/a.txt", "-r", "2-5").stdout)
    assert st == "HTTP/1.1 206 Partial Content" and body == b"2345"
    assert h["content-range"] == "bytes 2-5/20"
    st, h, body = split(curl(port, "/a.txt", "-r", "0-1,-3").stdout)
    assert st == "HTTP/1.1 206 Partial Content"
    b = h["content-type"].split("boundary=")[1]
    assert body == ("\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/20\r\n\r\n01"
                    "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 17-19/20\r\n\r\nhij"
                    "\r\n--%s--\r\n" % (b, b, b)).encode()
    st, h, _ = split(curl(port, "/a.txt", "-r", "50-60").stdout)
    assert st == "HTTP/1.1 416 Range Not Satisfiable" and h["content-range"] == "bytes */20"


def raw(port, data, pieces=1, timeout=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        step = (len(data) + pieces - 1) // pieces
        for o in range(0, len(data), step):
            s.sendall(data[o:o + step])
            time.sleep(0.05)
        got = b""
        while True:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            if not d:
                break
            got += d
        return got
    finally:
        s.close()


def test_pipelining_split_and_bad_requests(httpd):
    port = httpd["port"]
    three = (b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
             b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = raw(port, three)
    assert [m.group(1) for m in re.finditer(rb"HTTP/1\.1 (\d+)", got)] == [b"200", b"200", b"404"], got
    assert b"0123456789abcdefghijHTTP/1.1 200" in got
    got = raw(port, b"GET /docs/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", pieces=5)
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(b"<p>docs</p>\n")
    for req, want in ((b"NONSENSE\r\n\r\n", b"400"), (b"GET /../x HTTP/1.1\r\n\r\n", b"400"),
                      (b"GET / HTTP/2.0\r\n\r\n", b"505"),
                      (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n\r\n", b"414"),
                      (b"GET / HTTP/1.1\r\n" + b"X-A: " + b"b" * 9000 + b"\r\n\r\n", b"431")):
        got = raw(port, req)
        assert got.startswith(b"HTTP/1.1 " + want), (want, got[:80])
        assert b"Connection: close\r\n" in got


def test_big_file_intact_while_others_ask(httpd):
    port, big = httpd["port"], httpd["big"]
    errors = []

    def small():
        for _ in range(20):
            st, _, body = split(curl(port, "/a.txt").stdout)
            if st != "HTTP/1.1 200 OK" or body != b"0123456789abcdefghij":
                errors.append(st)
    ts = [threading.Thread(target=small) for _ in range(3)]
    for t in ts:
        t.start()
    r = subprocess.run(["curl", "-sS", "--max-time", "120", "http://127.0.0.1:%d/big.bin" % port],
                       capture_output=True, timeout=150)
    for t in ts:
        t.join(120)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(big).hexdigest(), len(r.stdout)
    assert not errors


def test_100_mib_file_intact(httpd):
    if not httpd["huge"]:
        pytest.skip("the 100 MiB file is in the 2-core boot only")
    h = hashlib.sha256()
    p = subprocess.Popen(["curl", "-sS", "--max-time", "400", "http://127.0.0.1:%d/huge.bin" % httpd["port"]],
                         stdout=subprocess.PIPE)
    n = 0
    for chunk in iter(lambda: p.stdout.read(1 << 20), b""):
        h.update(chunk)
        n += len(chunk)
    assert p.wait(420) == 0
    assert n == 100 << 20 and h.hexdigest() == httpd["huge"], n

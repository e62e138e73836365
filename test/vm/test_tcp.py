"""TCP on the VM (TCG) against Linux's own tools, beyond echo and iperf3
(test_net.py): curl against the `web` appliance (a tiny HTTP/1.1
responder), and a bounded SYN flood from hping3 while an nc session keeps
working. The same namespace-and-tap set-up as test_net.py (198.18.x.0/24
inside a namespace this test creates, nothing else); afterwards every
buffer and connection slot is back.

Needs root (netns, tap); skipped otherwise."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import stop
from test_net import EchoVM, Net

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                                reason="needs root and iproute2 for a network namespace")


def settle(vm, timeout=30):
    """Waits until no connection is open (TIME_WAIT is 2 s) and returns
    the last counters and buffer accounting."""
    deadline = time.monotonic() + timeout
    while True:
        st, acct = vm.stats(wait=2.5)
        if st.get("conns", 1) == 0 or time.monotonic() > deadline:
            return st, acct


@pytest.mark.parametrize("queues", [1, 2], ids=["1core", "2cores"])
def test_curl_against_the_web_appliance(queues):
    if not shutil.which("curl"):
        pytest.skip("no curl")
    net = Net(30 + queues, queues)
    vm = None
    try:
        vm = EchoVM(net, queues, config="web.json")
        url = "http://%s/" % net.guest

        def curl(*args):
            r = net.run("curl", "-sS", "--max-time", "20", *args, timeout=40)
            assert r.returncode == 0, (args, r.stderr.decode(), vm.out()[-2000:])
            return r.stdout.decode()

        out = curl("-i", url)
        assert out.startswith("HTTP/1.1 200 OK\r\n"), out
        assert out.endswith("\r\n\r\nhello from pollux\n"), out
        assert "Content-Length: 18\r\n" in out, out
        out = curl("-I", url)                       # HEAD: the headers, no body
        assert out.startswith("HTTP/1.1 200 OK\r\n") and out.endswith("\r\n\r\n"), out
        assert curl("-o", "/dev/null", "-w", "%{http_code}", url + "nope") == "404"
        assert curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", url) == "405"
        # keep-alive: five requests, one connection
        out = curl("-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
                   "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n", url, url, url, url, url)
        codes = out.split()
        assert codes == ["200", "1"] + ["200", "0"] * 4, out
        # pipelined: three requests in one write, three answers in order
        req = (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = net.run("nc", "-w", "5", net.guest, "80", input=req, timeout=30)
        got = re.findall(rb"HTTP/1.1 (\d+)", r.stdout)
        assert got == [b"200", b"404", b"200"], r.stdout
        # garbage: 400 and the connection closes
        r = net.run("nc", "-w", "5", net.guest, "80", input=b"NONSENSE\r\n\r\n", timeout=30)
        assert r.stdout.startswith(b"HTTP/1.1 400 Bad Request\r\n"), r.stdout
        assert b"Connection: close" in r.stdout
        # many short connections, spread over the cores
        for _ in range(20):
            curl("-o", "/dev/null", url)
        st, acct = settle(vm)
        # every connection slot is back; if not, the console's lines on the
        # connections that stay (their state, timers and windows)
        assert st.get("conns", 1) == 0, (st, re.findall(r"netstat tcp core \d+ quiet: [^\n]*", vm.out())[-8:])
        assert acct and acct.group(4) == acct.group(5), vm.out()[-2000:]
        assert st.get("tcp_accepts", 0) == 27, st  # 7 above and 20 short ones
    finally:
        if vm:
            vm.stop()
        net.close()


def test_syn_flood_while_a_session_works():
    """hping3 sends 22,000 SYNs (up to 10,000 a second) at the echo port
    from the namespace's address, source ports 10000..31999 (below Linux's
    ephemeral range, so they never meet the nc session's), while nc
    sends 512 KiB through the echo appliance and checks every byte. The
    appliance has 32 connection slots, so its half-open budget (16) is full
    at once and SYN cookies answer the rest; Linux resets the SYN-ACKs it
    did not ask for, which frees the half-open slots again."""
    if not shutil.which("hping3"):
        pytest.skip("no hping3")
    net = Net(35, 1)
    vm = hp = None

    def small(cfg):
        cfg["tcp"] = {"max_conns_per_core": 32, "send_buffer": 65536}

    try:
        vm = EchoVM(net, 1, tweak=small)
        hp = subprocess.Popen(["ip", "netns", "exec", net.ns, "hping3", "-q", "-S", "-p", "7", "-s", "10000",
                               "-i", "u100", "-c", "22000", net.guest],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
        time.sleep(1)
        assert hp.poll() is None, "hping3 ended early: " + hp.stdout.read().decode()
        blob = os.urandom(512 * 1024)
        t0 = time.monotonic()
        r = net.run("nc", "-q", "15", net.guest, "7", input=blob, timeout=120)
        took = time.monotonic() - t0
        assert r.stdout == blob, "echo under the flood: %d of %d bytes back\n%s" % (
            len(r.stdout), len(blob), vm.out()[-3000:])
        flooding = hp.poll() is None
        out, _ = hp.communicate(timeout=120)
        stats = out.decode()
        sent = re.search(r"(\d+) packets transmitted", stats)
        assert sent and int(sent.group(1)) > 20000, stats   # hping3's count is approximate
        st, acct = settle(vm)
        assert st.get("tcp_syncookies", 0) > 0, ("no SYN cookies: the flood never filled the backlog", st)
        # every connection slot is back; if not, the console's lines on the
        # connections that stay (their state, timers and windows)
        assert st.get("conns", 1) == 0, (st, re.findall(r"netstat tcp core \d+ quiet: [^\n]*", vm.out())[-8:])
        assert acct and acct.group(4) == acct.group(5), vm.out()[-2000:]
        print("echo of 512 KiB took %.1f s, flood %s; %s" % (took, "still on" if flooding else "over", st))
    finally:
        if hp and hp.poll() is None:
            os.killpg(hp.pid, 9)
            hp.wait()
        if vm:
            vm.stop()
        net.close()


# Inside the namespace: an echo server on BACKEND_PORT (threads, bounded
# lifetime) that the proxy relays to.
BACKEND_PORT = 9000
BACKEND = r'''
import socket, sys, threading, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2])))
srv.listen(64)
srv.settimeout(1)
print("listening", flush=True)
def serve(c):
    c.settimeout(60)
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    except OSError:
        pass
    c.close()
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'''

# Inside the namespace: `flows` clients at once through the proxy, each
# sends `size` random bytes, reads them back and compares. Prints JSON.
CLIENTS = r'''
import json, os, socket, sys, threading
host, port, flows, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
res = []
def one():
    blob = os.urandom(size)
    try:
        s = socket.create_connection((host, port), timeout=60)
        s.settimeout(60)
        t = threading.Thread(target=s.sendall, args=(blob,))
        t.start()
        got = bytearray()
        while len(got) < size:
            d = s.recv(65536)
            if not d:
                break
            got += d
        t.join()
        s.close()
        res.append(bytes(got) == blob)
    except OSError as e:
        res.append(False)
ts = [threading.Thread(target=one) for _ in range(flows)]
for t in ts: t.start()
for t in ts: t.join(120)
print(json.dumps({"ok": sum(res), "bad": len(res) - sum(res)}))
'''


def rss_available():
    from test_rss import qemu_has_rss
    return qemu_has_rss()


@pytest.mark.parametrize("rss", [False, True], ids=["steering", "rss"])
def test_proxy_opens_backend_connections_on_the_owner_core(rss):
    """The proxy appliance on 2 data cores: 16 clients at once, 256 KiB
    each, relayed to an echo server in the namespace and back intact. Each
    backend connection is an active open (tcp_connect) from the core that
    owns the client's flow, with a source port whose flow that core owns:
    with device RSS no packet of either half needs a software hand-over
    (steered_out 0), so the port choice agrees with the device's hash."""
    if rss and not rss_available():
        pytest.skip("this QEMU's virtio-net-pci has no rss property")
    net = Net(37 + rss, 2)
    vm = backend = None

    def cfg(c):
        c["proxy"] = {"listen": 8080, "backend": "%s:%d" % (net.host, BACKEND_PORT)}

    try:
        backend = subprocess.Popen(["ip", "netns", "exec", net.ns, "python3", "-c", BACKEND, net.host,
                                    str(BACKEND_PORT), "240"], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        assert backend.stdout.readline().strip() == b"listening"
        vm = EchoVM(net, 2, config="proxy.json", tweak=cfg, device_opts=",rss=on" if rss else "")
        assert ("RSS on" in vm.out()) == rss, vm.out()[-2000:]
        r = net.run("python3", "-c", CLIENTS, net.guest, "8080", "16", str(256 * 1024), timeout=200)
        res = json.loads(r.stdout.decode().strip().splitlines()[-1])
        assert res == {"ok": 16, "bad": 0}, (res, vm.out()[-3000:])
        st, acct = settle(vm)
        # every connection slot is back; if not, the console's lines on the
        # connections that stay (their state, timers and windows)
        assert st.get("conns", 1) == 0, (st, re.findall(r"netstat tcp core \d+ quiet: [^\n]*", vm.out())[-8:])
        assert acct and acct.group(4) == acct.group(5), vm.out()[-2000:]
        assert st.get("tcp_connects", 0) == 16 and st.get("tcp_accepts", 0) == 32, st
        opened = {c for c, rest in re.findall(r"netstat net core (\d+) counters:(.*)", vm.out())
                  if "tcp_connects" in rest}
        assert opened == {"1", "2"}, vm.out()[-3000:]    # both data cores opened some
        if rss:
            assert st.get("steered_out", 0) == 0, st
    finally:
        if vm:
            vm.stop()
        if backend and backend.poll() is None:
            os.killpg(backend.pid, 9)
            backend.wait()
        net.close()

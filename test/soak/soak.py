#!/usr/bin/python3
"""test/soak/soak.py — `make soak`: SOAK_MINUTES (default 30) of mixed load
and every attack of issue 10 at a bounded rate on one Pollux VM, then the
checks that nothing was lost: no crash, every service answered throughout,
every buffer, slot and timer back to its idle value. Not part of `make
test` (it takes half an hour and needs root).

The VM is the one the VM tests boot (tools/pollux-vm, q35, QEMU under TCG
on this host) with 4 vCPUs: eth0 the management NIC on QEMU user
networking (restrict=on, the API's port forwarded from 127.0.0.1, as
`make run` does), eth1 a 3-queue tap in a network namespace made here
(test/vm/test_net.py's Net: 198.18.S.1/24 on the namespace's side, the VM
at 198.18.S.2), one data core per queue. The whole script enters that
namespace once the tap exists, so QEMU, its forwarded API port, every
client and every attacker live there; nothing reaches beyond it.

The appliance is echo (configs/echo.json's settings): one appliance runs
per VM (apps.c's table, "app" names one row), and echo serves the most of
the load at once: TCP and UDP echo on port 7 (the latency samples), the
connection churn and the bulk streams. iperf (port 5201, iperf3's own
protocol) would serve only the throughput and web only HTTP, so iperf3
does not run: the throughput is two bulk TCP streams through the echo
port, each byte crossing both ways and checked on its way back.

Load (threads, each bounded by the run's end and an iteration cap):
  bulk      2 streams, 64 KiB writes, every byte echoed and compared
  churn     3 clients: connect, 16 bytes echoed, close, about 100 a second
  udp       20 datagrams a second to port 7, each echoed
  scrape    the API at 10 Hz (GET /metrics and /v1/..., read-only token),
            every 5 s one PUT /v1/config that is accepted (a new "name")
            and one refused (409: tcp.max_conns_per_core can't change)
Attacks (bounded rates, from the namespace, to the VM's address only):
  synflood  hping3 -S -p 7 -i u1000 -c 10000 (10 s at 1000/s) every 30 s
  ooo       8 clients at a time, each 32 one-byte segments beyond a hole
            (raw IP, sequence numbers read with TCP_REPAIR), held 20 s
  zerowin   8 clients at a time with a 2 KiB receive buffer that send
            256 KiB and never read (the echo closes their window), 90 s
  idle      48 silent clients at a time, held until the appliance ends
            them (echo.idle_timeout_s, 60 s) or 120 s
  arp       10 ARP frames a second: the gateway (198.18.S.1), the VM's
            own address and others claimed at random MACs, off-subnet
            senders, gratuitous requests and unsolicited replies
  slowloris 6 TLS clients trickling a request a byte every 2 s (the API
            cuts them at its request deadline) and 2 stalled handshakes
Samples, once a second each: ping (raw ICMP), TCP echo (a new connection,
32 bytes), UDP echo, API GET /v1/system (keep-alive); a sample not
answered within 5 s is a gap (it is waited for up to 30 s, so its latency
is still known). Progress every minute.

At the end, the load stops (every socket of ours closed) and, within
SOAK_SETTLE_S (default 300), /metrics must show the data cores'
pollux_tcp_connections and every core's pollux_timers_armed,
pollux_channel_depth_messages and pollux_api_connections back at the
values read before the load, and pollux_pktbuf_free_buffers plus
pollux_tx_held_buffers (sent buffers wait on the TX ring until a later
send reclaims them) back at theirs; the console's netstat must account
for every buffer (free + rx posted + tx held = total); the VM must still
answer within 5 s and its console hold no panic or trap report.

Writes bench/soak/results.json (benchlib.write_results: no paths of this
machine) and bench/soak/soak.png (latency and throughput over time); the
logs (console, hping3) in build/soak/logs/. Exit status 0 when every check
held. Options (environment): SOAK_MINUTES (default 30), SOAK_SETTLE_S
(default 300), SOAK_SUBNET (the third octet, default 60). Needs root."""
import datetime
import http.client
import json
import os
import random
import re
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
sys.path.insert(0, os.path.join(ROOT, "test", "vm"))
sys.path.insert(0, os.path.join(ROOT, "test", "lib"))
import benchlib                                         # noqa: E402
from benchlib import log                                # noqa: E402
from conftest import Net, enter_netns                   # noqa: E402
from api_contract import FPR_RE, fetch_cert, free_port  # noqa: E402

VM = os.path.join(ROOT, "tools", "pollux-vm")
WORK = os.path.join(ROOT, "build", "soak")
OUT = os.path.join(ROOT, "bench", "soak")
TOKEN = "soak-admin-token-0123456789abcdef"
MONITOR = "soak-monitor-token-0123456789abcdef"
ECHO = 7
QUEUES = 3                      # 4 vCPUs: core 0 control + 3 data cores
SAMPLE_TIMEOUT = 5.0            # a sample answered later than this is a gap
PROBE_TIMEOUT = 30.0            # ... but is waited for, so its latency is known
CRASH_RE = re.compile(r"^\*\*\* |panic|assertion failed")   # trap.c's reports


def env_num(name, default, lo):
    v = os.environ.get(name, "")
    try:
        x = float(v) if v else default
    except ValueError:
        sys.exit("%s: a number, not %r" % (name, v))
    if x < lo:
        sys.exit("%s: at least %s" % (name, lo))
    return x


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


# ---------------------------------------------------------------- the run's state
class Soak:
    def __init__(self, minutes, settle_s, subnet):
        self.minutes, self.settle_s, self.subnet = minutes, settle_s, subnet
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.c = {}                 # counters, name -> int
        self.errors = {}            # name -> first few error texts
        self.samples = {k: [] for k in ("ping", "tcp_echo", "udp_echo", "api")}  # (t, ms or None)
        self.scrape_ms = []
        self.scrape_codes = {}
        self.idle_closed_after = []  # seconds until the appliance ended an idle client
        self.slowloris_cut_after = []
        self.socks = set()          # every socket of ours still open (closed at the end)
        self.threads = []
        self.t0 = time.monotonic()  # reset when the load starts
        self.t_end = self.t0

    def add(self, name, n=1):
        with self.lock:
            self.c[name] = self.c.get(name, 0) + n

    def err(self, name, e):
        self.add(name + "_errors")
        with self.lock:
            l = self.errors.setdefault(name, [])
            if len(l) < 5:
                l.append("%.0f s: %s" % (time.monotonic() - self.t0, e))

    def running(self):
        return not self.stop.is_set() and time.monotonic() < self.t_end

    def track(self, s):
        with self.lock:
            self.socks.add(s)
        return s

    def close(self, s):
        with self.lock:
            self.socks.discard(s)
        try:
            s.close()
        except OSError:
            pass

    def close_all(self):
        with self.lock:
            socks, self.socks = list(self.socks), set()
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    def thread(self, name, fn, *args):
        def body():
            try:
                fn(*args)
            except Exception as e:          # a worker's bug must not hide the others' figures
                self.err(name, "worker died: %r" % e)
        t = threading.Thread(target=body, name=name, daemon=True)
        t.start()
        self.threads.append(t)


# ---------------------------------------------------------------- the API
class Api:
    """One keep-alive HTTPS connection to the API (127.0.0.1 in the
    namespace), reopened after any error."""

    def __init__(self, port, cacert, token, timeout=PROBE_TIMEOUT):
        self.port, self.token, self.timeout = port, token, timeout
        self.ctx = ssl.create_default_context(cafile=cacert)
        self.ctx.check_hostname = False
        self.conn = None

    def request(self, method, path, body=None):
        """(status, body bytes); raises OSError/HTTPException (connection dropped)."""
        if self.conn is None:
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=self.timeout,
                                                    context=self.ctx)
        hdr = {"Authorization": "Bearer " + self.token}
        if body is not None:
            hdr["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=body, headers=hdr)
            r = self.conn.getresponse()
            data = r.read()
            if r.getheader("Connection", "").lower() == "close":
                self.reset()
            return r.status, data
        except (OSError, http.client.HTTPException):
            self.reset()
            raise

    def reset(self):
        if self.conn:
            self.conn.close()
        self.conn = None


def metrics_values(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)$', line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(4))
        except ValueError:
            pass
    return out


def idle_gauges(text, data_cores):
    """The gauges that must come back once the load is gone."""
    v = metrics_values(text)

    def core_sum(name):
        return sum(v.get((name, frozenset({("core", str(c))})), 0) for c in data_cores)
    return {
        "tcp_connections_data_cores": core_sum("pollux_tcp_connections"),
        "timers_armed_data_cores": core_sum("pollux_timers_armed"),
        "timers_armed_core0": v.get(("pollux_timers_armed", frozenset({("core", "0")}))),
        "pktbuf_free_buffers": v.get(("pollux_pktbuf_free_buffers", frozenset())),
        # sent buffers wait on the TX ring until a later send reclaims them
        # (virtio_net_rxtx.c: lazy reclaim), so an idle pool is free + these
        "tx_held_buffers": sum(val for (n, _), val in v.items() if n == "pollux_tx_held_buffers"),
        "api_connections": v.get(("pollux_api_connections", frozenset())),
        "pktbuf_buffers": v.get(("pollux_pktbuf_buffers", frozenset())),
        "channel_depth": sum(val for (n, _), val in v.items() if n == "pollux_channel_depth_messages"),
    }


# ---------------------------------------------------------------- load
def tcp_connect(S, port=ECHO, timeout=PROBE_TIMEOUT, rcvbuf=None):
    s = S.track(socket.socket())
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    try:
        s.connect((S.guest, port))
    except OSError:
        S.close(s)
        raise
    return s


def bulk(S, idx):
    """One stream through the echo port: a writer thread sends a known
    pattern, this thread reads it back and compares."""
    block = random.Random(idx).randbytes(1 << 20)
    for attempt in range(1000):
        if not S.running():
            return
        try:
            s = tcp_connect(S, timeout=30)
        except OSError as e:
            S.err("bulk", "connect: %r" % e)
            time.sleep(1)
            continue
        S.add("bulk_connects")
        sent = [0]
        done = threading.Event()

        def writer():
            mv = memoryview(block)
            try:
                while S.running() and not done.is_set():
                    off = sent[0] % len(block)
                    n = s.send(mv[off:off + 65536])
                    sent[0] += n
                    S.add("bulk_tx_bytes", n)
            except OSError as e:
                if S.running() and not done.is_set():
                    S.err("bulk", "send: %r" % e)
        w = threading.Thread(target=writer, daemon=True)
        w.start()
        got = 0
        try:
            while S.running():
                d = s.recv(262144)
                if not d:
                    S.err("bulk", "closed by the appliance after %d bytes" % got)
                    break
                off = got % len(block)
                want = (block[off:] + block)[:len(d)] if off + len(d) > len(block) else block[off:off + len(d)]
                if d != want:
                    S.err("bulk", "corrupt bytes at %d" % got)
                    S.add("bulk_corrupt")
                    break
                got += len(d)
                S.add("bulk_rx_bytes", len(d))
        except OSError as e:
            if S.running():
                S.err("bulk", "recv: %r" % e)
        done.set()
        S.close(s)
        w.join(10)
        if not S.running():
            return
        time.sleep(1)


def churn(S, idx, rate):
    """Short connections: connect, 16 bytes echoed, close; `rate` a second."""
    msg = b"churn-%09d....." % idx
    period = 1.0 / rate
    nxt = time.monotonic()
    for i in range(10 ** 7):
        if not S.running():
            return
        try:
            s = tcp_connect(S)
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                d = s.recv(64)
                if not d:
                    break
                got += d
            S.close(s)
            if got == msg:
                S.add("churn_ok")
            else:
                S.err("churn", "echoed %r" % got)
        except OSError as e:
            S.err("churn", repr(e))
        nxt += period
        time.sleep(max(0.0, nxt - time.monotonic()))
        if nxt < time.monotonic() - 1:
            nxt = time.monotonic()


def udp_load(S, rate):
    s = S.track(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    s.bind(("0.0.0.0", 0))
    s.settimeout(0.02)
    for i in range(10 ** 8):
        if not S.running():
            return
        s.sendto(b"udp-load %d" % i, (S.guest, ECHO))
        S.add("udp_sent")
        end = time.monotonic() + 1.0 / rate
        while time.monotonic() < end:
            try:
                s.recvfrom(2048)
                S.add("udp_echoed")
            except socket.timeout:
                pass
            except OSError as e:
                S.err("udp", repr(e))
                time.sleep(0.05)


def scrape(S):
    """The API at 10 Hz, with a PUT accepted and one refused every 5 s."""
    api = Api(S.api_port, S.cacert, MONITOR)
    admin = Api(S.api_port, S.cacert, TOKEN)
    paths = ["/metrics", "/v1/system", "/v1/cores", "/v1/interfaces", "/v1/config", "/metrics",
             "/v1/log", "/metrics", "/v1/interfaces/eth1", "/v1/openapi.json"]
    t = time.monotonic()
    for i in range(10 ** 7):
        if not S.running():
            return
        path = paths[i % len(paths)]
        # the monitor role reads metrics and state, not the config or the log
        reqs = [("GET", path, None, admin if path in ("/v1/config", "/v1/log") else api)]
        if i % 50 == 25:
            try:
                code, body = admin.request("GET", "/v1/config")
                doc = json.loads(body)
                doc["name"] = "soak-%d" % i
                reqs.append(("PUT", "/v1/config", json.dumps(doc), admin))
                bad = dict(doc)
                bad["tcp"] = dict(doc.get("tcp", {}), max_conns_per_core=100)
                reqs.append(("PUT-refused", "/v1/config", json.dumps(bad), admin))
            except (OSError, http.client.HTTPException, ValueError) as e:
                S.err("scrape", "GET config: %r" % e)
        for method, path, body, conn in reqs:
            t0 = time.monotonic()
            try:
                code, _ = conn.request(method.split("-")[0], path, body)
                S.scrape_ms.append((t0 - S.t0, (time.monotonic() - t0) * 1000))
                key = "%s %d" % (method, code)
                with S.lock:
                    S.scrape_codes[key] = S.scrape_codes.get(key, 0) + 1
                ok = {"GET": 200, "PUT": 200, "PUT-refused": 409}[method]
                if code != ok:
                    S.err("scrape", "%s %s: %d" % (method, path, code))
            except (OSError, http.client.HTTPException) as e:
                S.err("scrape", "%s %s: %r" % (method, path, e))
        t += 0.1
        late = time.monotonic() - t
        if late > 0:
            skip = int(late / 0.1)
            if skip:
                S.add("scrape_ticks_skipped", skip)
                t += skip * 0.1
        else:
            time.sleep(-late)


# ---------------------------------------------------------------- samples
def sampler(S, name, probe):
    """probe() once a second: latency in ms, or an exception (a gap)."""
    nxt = time.monotonic()
    for i in range(10 ** 7):
        if not S.running():
            return
        t0 = time.monotonic()
        try:
            probe()
            ms = (time.monotonic() - t0) * 1000
        except Exception as e:               # noqa: BLE001 — every failure is a gap
            ms = None
            S.err("sample_" + name, repr(e))
        S.samples[name].append((round(t0 - S.t0, 3), None if ms is None else round(ms, 2)))
        if ms is not None and ms > SAMPLE_TIMEOUT * 1000:
            S.add("sample_%s_late" % name)
        nxt += 1.0
        time.sleep(max(0.0, nxt - time.monotonic()))
        if nxt < time.monotonic():
            nxt = time.monotonic()


def probes(S):
    icmp = S.track(socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
    ident = os.getpid() & 0xffff
    seq = [0]

    def ping():
        seq[0] = (seq[0] + 1) & 0xffff
        body = struct.pack("!BBHHH", 8, 0, 0, ident, seq[0]) + b"pollux-soak-ping"
        pkt = body[:2] + struct.pack("!H", csum(body)) + body[4:]
        icmp.sendto(pkt, (S.guest, 0))
        end = time.monotonic() + PROBE_TIMEOUT
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no echo reply")
            r, _, _ = select.select([icmp], [], [], left)
            if not r:
                continue
            data, addr = icmp.recvfrom(2048)
            ihl = (data[0] & 15) * 4
            if addr[0] == S.guest and data[ihl] == 0 and struct.unpack("!HH", data[ihl + 4:ihl + 8]) == (ident, seq[0]):
                return

    def tcp_echo():
        s = tcp_connect(S)
        try:
            s.sendall(b"x" * 32)
            got = b""
            while len(got) < 32:
                d = s.recv(64)
                if not d:
                    raise ConnectionError("closed after %d bytes" % len(got))
                got += d
        finally:
            S.close(s)

    u = S.track(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    u.bind(("0.0.0.0", 0))
    useq = [0]

    def udp_echo():
        useq[0] += 1
        msg = b"soak-sample %d" % useq[0]
        u.sendto(msg, (S.guest, ECHO))
        end = time.monotonic() + PROBE_TIMEOUT
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no udp echo")
            u.settimeout(left)
            d, _ = u.recvfrom(2048)
            if d == msg:
                return

    api = Api(S.api_port, S.cacert, MONITOR)

    def api_get():
        code, _ = api.request("GET", "/v1/system")
        if code != 200:
            raise RuntimeError("status %d" % code)

    return {"ping": ping, "tcp_echo": tcp_echo, "udp_echo": udp_echo, "api": api_get}


# ---------------------------------------------------------------- attacks
def synflood(S):
    """hping3 in rounds: 10 s at 1000 SYNs/s from ports 10000.., 20 s pause."""
    for rnd in range(10 ** 5):
        if not S.running():
            return
        p = S.session.proc("hping3", ["hping3", "-q", "-S", "-p", str(ECHO), "-s", "10000", "-i", "u1000",
                                      "-c", "10000", S.guest], "hping3-%d.log" % (rnd % 4), limit=60)
        while p.alive() and S.running():
            time.sleep(0.5)
        p.stop(first=2)                      # SIGINT: hping3 prints its summary
        m = re.search(r"(\d+) packets transmitted", "\n".join(p.text()))
        S.add("synflood_rounds")
        if m:
            S.add("synflood_syns", int(m.group(1)))
        for _ in range(40):
            if not S.running():
                return
            time.sleep(0.5)


TCP_REPAIR, TCP_REPAIR_QUEUE, TCP_QUEUE_SEQ = 19, 20, 21
TCP_RECV_QUEUE, TCP_SEND_QUEUE = 1, 2


def seqs_of(s):
    """(snd_nxt, rcv_nxt) of an established kernel socket, read in repair mode."""
    s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    try:
        s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)
        snd = struct.unpack("I", s.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, 4))[0]
        s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE)
        rcv = struct.unpack("I", s.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, 4))[0]
    finally:
        s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 0)
    return snd, rcv


def ooo(S, n_at_once, segs, hold_s):
    """Out-of-order clients: a kernel connection to the echo port, then
    `segs` one-byte segments sent raw beyond a one-byte hole at its next
    sequence number, so the appliance must queue them; held, then closed."""
    raw = S.track(socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW))
    src, dst = socket.inet_aton(S.host), socket.inet_aton(S.guest)
    live = []                                 # (deadline, sock)
    for i in range(10 ** 6):
        if not S.running():
            break
        now = time.monotonic()
        for d, s in [x for x in live if x[0] <= now]:
            S.close(s)
            live.remove((d, s))
        if len(live) >= n_at_once:
            time.sleep(0.25)
            continue
        try:
            s = tcp_connect(S)
            sport = s.getsockname()[1]
            snd, rcv = seqs_of(s)
            for k in range(segs):
                seq = (snd + 2 + 2 * k) & 0xffffffff
                tcp = struct.pack("!HHIIBBHHH", sport, ECHO, seq, rcv, 5 << 4, 0x18, 502, 0, 0) + b"o"
                ph = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
                tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
                iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
                raw.sendto(iph + tcp, (S.guest, 0))
            S.add("ooo_clients")
            S.add("ooo_segments", segs)
            live.append((now + hold_s, s))
        except OSError as e:
            S.err("ooo", repr(e))
            time.sleep(1)
    for _, s in live:
        S.close(s)


def zerowin(S, n_at_once, hold_s):
    """Clients that send and never read: the echo fills their 2 KiB
    receive buffer and faces a zero window; held, then closed (a reset,
    with unread data)."""
    live = []
    blob = b"z" * 65536
    for i in range(10 ** 6):
        if not S.running():
            break
        now = time.monotonic()
        for d, s in [x for x in live if x[0] <= now]:
            S.close(s)
            live.remove((d, s))
        if len(live) >= n_at_once:
            time.sleep(0.25)
            continue
        try:
            s = tcp_connect(S, rcvbuf=2048)
            s.setblocking(False)
            sent, end = 0, time.monotonic() + 3
            while sent < 262144 and time.monotonic() < end:
                try:
                    sent += s.send(blob)
                except BlockingIOError:
                    time.sleep(0.05)
            S.add("zerowin_clients")
            S.add("zerowin_bytes_sent", sent)
            live.append((now + hold_s, s))
        except OSError as e:
            S.err("zerowin", repr(e))
            time.sleep(1)
    for _, s in live:
        S.close(s)


def idle(S, n_at_once, hold_s):
    """Silent clients: connect and say nothing; the appliance should end
    them at its idle timeout (the time is recorded); else closed at hold_s."""
    live = {}                                 # sock -> opened at
    for i in range(10 ** 6):
        if not S.running():
            break
        while len(live) < n_at_once and S.running():
            try:
                s = tcp_connect(S)
                s.setblocking(False)
                live[s] = time.monotonic()
                S.add("idle_clients")
            except OSError as e:
                S.err("idle", repr(e))
                time.sleep(1)
                break
        r, _, _ = select.select(list(live), [], [], 1.0)
        now = time.monotonic()
        for s in r:
            try:
                d = s.recv(64)
            except OSError:
                d = b""
            if not d:
                S.idle_closed_after.append(round(now - live.pop(s), 1))
                S.add("idle_ended_by_appliance")
                S.close(s)
        for s, t in list(live.items()):
            if now - t > hold_s:
                live.pop(s)
                S.add("idle_closed_by_us")
                S.close(s)
    for s in live:
        S.close(s)


def arp_spoof(S, rate):
    """Forged ARP frames into the tap: claims to the gateway's address (the
    namespace's), the VM's own and others, at random MACs."""
    ETH_P_ARP = 0x0806
    s = S.track(socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)))
    s.bind((S.tap, 0))
    vm_mac = bytes.fromhex(S.vm_mac.replace(":", ""))
    bcast = b"\xff" * 6
    rng = random.Random(5)
    base = S.host.rsplit(".", 1)[0]
    claims = [S.host, S.guest] + ["%s.%d" % (base, h) for h in range(200, 251)] + ["10.9.9.9", "198.18.%d.255" % S.subnet,
                                                                                 "0.0.0.0", "224.0.0.1"]
    for i in range(10 ** 8):
        if not S.running():
            return
        mac = bytes([0x02] + [rng.randrange(256) for _ in range(5)])
        ip = claims[0] if i % 3 == 0 else rng.choice(claims)
        kind = i % 4
        if kind == 0:          # gratuitous request, broadcast
            arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, socket.inet_aton(ip), b"\0" * 6,
                              socket.inet_aton(ip))
            dst = bcast
        elif kind == 1:        # gratuitous reply, broadcast
            arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, mac, socket.inet_aton(ip), bcast,
                              socket.inet_aton(ip))
            dst = bcast
        elif kind == 2:        # unsolicited reply to the VM
            arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, mac, socket.inet_aton(ip), vm_mac,
                              socket.inet_aton(S.guest))
            dst = vm_mac
        else:                  # a request to the VM from a forged sender
            arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, socket.inet_aton(ip), b"\0" * 6,
                              socket.inet_aton(S.guest))
            dst = vm_mac
        try:
            s.send((dst + mac + struct.pack("!H", ETH_P_ARP) + arp).ljust(60, b"\0"))
            S.add("arp_forged")
        except OSError as e:
            S.err("arp", repr(e))
        time.sleep(1.0 / rate)


def slowloris(S, n_tls, n_hs):
    """TLS clients that trickle a request a byte every 2 s (the API's
    request deadline cuts them, the time is recorded) and clients that
    stall mid-handshake; each reopened when cut."""
    from api_contract import client_hello_prefix
    hello = client_hello_prefix()
    ctx = ssl.create_default_context(cafile=S.cacert)
    ctx.check_hostname = False
    live = {}                               # sock -> (kind, opened at, next byte at)
    for i in range(10 ** 6):
        if not S.running():
            break
        n_t = sum(1 for v in live.values() if v[0] == "tls")
        n_h = len(live) - n_t
        try:
            if n_t < n_tls:
                raw = socket.create_connection(("127.0.0.1", S.api_port), timeout=30)
                s = S.track(ctx.wrap_socket(raw, server_hostname="pollux"))
                s.sendall(b"GET /v1/system HTTP/1.1\r\nHost: x\r\n")
                s.setblocking(False)
                live[s] = ("tls", time.monotonic(), time.monotonic() + 2)
                S.add("slowloris_tls")
                continue
            if n_h < n_hs:
                s = S.track(socket.create_connection(("127.0.0.1", S.api_port), timeout=30))
                s.sendall(hello)
                s.setblocking(False)
                live[s] = ("hs", time.monotonic(), float("inf"))
                S.add("slowloris_handshake")
                continue
        except (OSError, ssl.SSLError) as e:
            S.err("slowloris", repr(e))
            time.sleep(1)
            continue
        r, _, _ = select.select(list(live), [], [], 0.5)
        now = time.monotonic()
        gone = []
        for s in r:
            try:
                d = s.recv(4096)
            except ssl.SSLWantReadError:
                continue
            except (OSError, ssl.SSLError):
                d = b""
            if not d:
                gone.append(s)
        for s, (kind, t0, nb) in list(live.items()):
            if s in gone:
                continue
            if now >= nb:
                try:
                    s.send(b"X")
                    live[s] = (kind, t0, now + 2)
                except (OSError, ssl.SSLError):
                    gone.append(s)
            elif now - t0 > 600:            # a safety net: never cut by the API
                S.err("slowloris", "%s client still open after 600 s" % kind)
                gone.append(s)
        for s in gone:
            kind, t0, _ = live.pop(s)
            S.slowloris_cut_after.append((kind, round(now - t0, 1)))
            S.add("slowloris_cut_" + kind)
            S.close(s)
    for s in live:
        S.close(s)


# ---------------------------------------------------------------- the VM
def write_config(S):
    with open(os.path.join(ROOT, "configs", "echo.json")) as f:
        cfg = json.load(f)
    cfg["name"] = "soak"
    cfg["interfaces"] = [{"address": "dhcp"}, {"address": S.guest + "/24", "gateway": S.host}]
    cfg["api"] = {"interface": 0, "token": TOKEN, "monitor_token": MONITOR}
    path = os.path.join(WORK, "soak.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path, cfg


def boot(S, cfgpath):
    limit = int(S.minutes * 60 + S.settle_s + 900)
    argv = [VM, "--machine", "q35", "--smp", "4", "--mem", "512M", "--config", cfgpath,
            "--api", str(S.api_port), "--append", "netstat=10000", "--timeout", str(limit), "--",
            "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no,queues=%d" % (S.tap, QUEUES),
            "-device", "virtio-net-pci,netdev=n0,mq=on,vectors=%d" % (2 * QUEUES + 2)]
    S.vm_cmd = " ".join(argv).replace(ROOT + "/", "")
    vm = S.session.proc("vm", argv, "console.log", limit=limit + 60)
    if not vm.wait_for(r"pollux ready", 0, 300):
        raise RuntimeError("no 'pollux ready' within 300 s:\n" + "\n".join(vm.text()[-40:]))
    m = vm.wait_for(FPR_RE.pattern, 0, 60)
    if not m:
        raise RuntimeError("no certificate fingerprint on the console")
    if not vm.wait_for(r"eth0: dhcp bound", 0, 120):
        raise RuntimeError("eth0 never bound its DHCP lease")

    class T:
        port, slow = S.api_port, 60
    fetch_cert(T, S.cacert, m[2].group(1))
    return vm


# the gauges that must be back at their idle values (and free + tx held)
BACK = ("tcp_connections_data_cores", "timers_armed_data_cores", "timers_armed_core0", "channel_depth",
        "api_connections")


def netstat_accounting(vm):
    """The newest 'netstat buffers' line: (free, rx posted, tx held, sum, total)."""
    for line in reversed(vm.text()):
        m = re.search(r"netstat buffers: free (\d+) \+ rx posted (\d+) \+ tx held (\d+) = (\d+) of (\d+)", line)
        if m:
            return tuple(int(x) for x in m.groups())
    return None


# ---------------------------------------------------------------- results
def summary_of(samples):
    """A gap: a sample not answered within SAMPLE_TIMEOUT (late or never);
    the longest gap in seconds: from the start of the first such sample to
    the start of the next one answered in time."""
    lat = [ms for _, ms in samples if ms is not None]
    late = lambda ms: ms is None or ms > SAMPLE_TIMEOUT * 1000
    gaps = [t for t, ms in samples if late(ms)]
    longest, start = 0.0, None
    for t, ms in samples:
        if late(ms):
            start = t if start is None else start
        elif start is not None:
            longest, start = max(longest, t - start), None
    if start is not None and samples:
        longest = max(longest, samples[-1][0] + (samples[-1][1] or PROBE_TIMEOUT * 1000) / 1000 - start)
    return {"samples": len(samples), "answered": len(lat), "in_time": len(samples) - len(gaps),
            "gaps": len(gaps), "longest_gap_s": round(longest, 1), "first_gaps_at_s": gaps[:10],
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "max_ms": max(lat) if lat else None}


def plot(res, series, samples, png):
    os.makedirs(WORK, exist_ok=True)
    dat = os.path.join(WORK, "soak.dat")
    v = lambda x: "NaN" if x is None else "%.3f" % x
    with open(dat, "w") as f:
        f.write("# t_min bulk_rx_mbit churn_per_s host_load\n")
        for row in series:
            f.write("%.3f %s %s %s\n" % (row["t"] / 60, v(row["bulk_rx_mbit"]), v(row["churn_per_s"]),
                                         v(row.get("host_load"))))
    lat = os.path.join(WORK, "soak-latency.dat")
    with open(lat, "w") as f:                # one block per service; a gap (no answer) at 30 s
        for name in ("ping", "tcp_echo", "udp_echo", "api"):
            f.write("# %s: t_min ms\n" % name)
            for t, ms in samples[name]:
                f.write("%.4f %s\n" % (t / 60, v(PROBE_TIMEOUT * 1000 if ms is None else ms)))
            f.write("\n\n")
    terms = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True).stderr
    term = "pngcairo size 1200,1100 font ',10'" if "pngcairo" in terms else "png size 1200,1100"
    gp = f"""
set terminal {term}
set output '{png}'
set multiplot layout 3,1 title "Soak: Pollux echo appliance, 4 vCPUs (QEMU TCG), {res['minutes']:g} min of mixed load and attacks\\nhost shared with other work (2 CPUs); one sample a second each"
set grid
set key top right box opaque
set xlabel 'minutes'
set logscale y
set ylabel 'latency (ms)'
set title 'latency, one sample a second (gaps: no answer within 5 s)'
plot '{lat}' index 0 using 1:2 with points pt 7 ps 0.3 title 'ping', \\
     '' index 1 using 1:2 with points pt 7 ps 0.3 title 'TCP echo (new connection)', \\
     '' index 2 using 1:2 with points pt 7 ps 0.3 title 'UDP echo', \\
     '' index 3 using 1:2 with points pt 7 ps 0.5 title 'API GET /v1/system', \\
     5000 with lines dt 2 lc rgb '#888888' title '5 s: a gap above'
unset xlabel
unset logscale y
set ylabel 'Mbit/s echoed'
set y2label 'connections/s'
set y2tics
set yrange [0:*]
set y2range [0:*]
set title 'throughput: 2 bulk streams through the echo (each byte both ways), and connection churn'
plot '{dat}' using 1:2 with lines lw 1.5 title 'bulk echoed (Mbit/s)', \\
     '' using 1:3 axes x1y2 with lines title 'churn connections/s'
unset y2tics
unset y2label
set ylabel 'load average'
set xlabel 'minutes'
set title "host load (1-minute load average, 2 CPUs, other engineers' work included)"
plot '{dat}' using 1:4 with lines lw 1.5 title 'host load'
unset multiplot
"""
    r = subprocess.run(["gnuplot"], input=gp, text=True, capture_output=True)
    if r.returncode != 0:
        log("soak: gnuplot failed: " + r.stderr.strip())
        return False
    return True


def main():
    minutes = env_num("SOAK_MINUTES", 30, 1)
    settle_s = env_num("SOAK_SETTLE_S", 300, 30)
    subnet = int(env_num("SOAK_SUBNET", 60, 1))
    if subnet > 254:
        sys.exit("SOAK_SUBNET: 1..254")
    if os.geteuid() != 0:
        sys.exit("soak: needs root (a network namespace, a tap)")
    for tool in ("ip", "hping3", "qemu-system-x86_64", "gnuplot", "openssl"):
        if not shutil.which(tool):
            sys.exit("soak: no %s (make deps deps-bench)" % tool)
    if not os.path.exists(os.path.join(ROOT, "build", "pollux.elf")):
        sys.exit("soak: build/pollux.elf missing: run make first")

    S = Soak(minutes, settle_s, subnet)
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(OUT, exist_ok=True)
    S.session = benchlib.Session("soak", WORK)
    S.session.fresh_logs()
    net = Net(subnet, QUEUES)
    S.net, S.tap, S.host, S.guest = net, net.tap, net.host, net.guest
    S.ns = net.ns

    def cleanup():
        S.stop.set()
        S.close_all()
        S.session.cleanup_all()
        net.close()

    def on_signal(signum, frame):
        cleanup()
        log("soak: stopped by signal %d; everything started here was stopped, namespace removed" % signum)
        os._exit(128 + signum)
    import signal as sig
    for s in (sig.SIGTERM, sig.SIGINT, sig.SIGHUP):
        sig.signal(s, on_signal)

    ok = False
    try:
        # our TIME_WAIT ports come back sooner: the churn would otherwise
        # use up the ephemeral range (the namespace's own setting)
        net.run("sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1", timeout=10)
        enter_netns(net.ns)
        S.api_port = free_port()
        S.cacert = os.path.join(WORK, "pollux.pem")
        cfgpath, cfg = write_config(S)
        date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        # the checkout the image was built from, read before the run (a
        # commit made while it runs is not what it ran)
        git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip()
        load0 = os.getloadavg()
        log("soak: %g min on %s (4 vCPUs, TCG), echo appliance at %s, API at 127.0.0.1:%d (in namespace %s);"
            " host load %.1f" % (minutes, "build/pollux.elf", S.guest, S.api_port, S.ns, load0[0]))
        t_boot = time.monotonic()
        vm = boot(S, cfgpath)
        S.vm = vm
        log("soak: booted in %.1f s" % (time.monotonic() - t_boot))
        adm = Api(S.api_port, S.cacert, TOKEN, timeout=60)
        code, body = adm.request("GET", "/v1/interfaces")
        ifs = {i["name"]: i for i in json.loads(body)["interfaces"]}
        S.vm_mac = ifs["eth1"]["mac"]
        data_cores = sorted({q["core"] for q in ifs["eth1"]["queues"]})
        log("soak: eth1 %s, queues on cores %s" % (S.vm_mac, data_cores))
        # the idle values: after a ping and a TCP echo, once things settle
        net.run("ping", "-c", "2", "-W", "5", S.guest, timeout=30)
        time.sleep(5)
        _, m0 = adm.request("GET", "/metrics")
        idle0 = idle_gauges(m0.decode(), data_cores)
        log("soak: idle values %s" % idle0)

        S.t0 = time.monotonic()
        S.t_end = S.t0 + minutes * 60
        pr = probes(S)
        for name in ("ping", "tcp_echo", "udp_echo", "api"):
            S.thread("sample_" + name, sampler, S, name, pr[name])
        for i in range(2):
            S.thread("bulk%d" % i, bulk, S, i)
        for i in range(3):
            S.thread("churn%d" % i, churn, S, i, 33.0)
        S.thread("udp", udp_load, S, 20.0)
        S.thread("scrape", scrape, S)
        S.thread("synflood", synflood, S)
        S.thread("ooo", ooo, S, 8, 32, 20.0)
        S.thread("zerowin", zerowin, S, 8, 90.0)
        S.thread("idle", idle, S, 48, 120.0)
        S.thread("arp", arp_spoof, S, 10.0)
        S.thread("slowloris", slowloris, S, 6, 2)

        series = []
        last = dict(S.c)
        next_progress = S.t0 + 60
        nxt = S.t0 + 1
        for tick in range(int(minutes * 60) + 10):
            time.sleep(max(0.0, nxt - time.monotonic()))
            nxt += 1
            now = time.monotonic()
            cur = dict(S.c)
            d = lambda k: cur.get(k, 0) - last.get(k, 0)
            row = {"t": round(now - S.t0, 1), "bulk_rx_mbit": round(d("bulk_rx_bytes") * 8 / 1e6, 2),
                   "bulk_tx_mbit": round(d("bulk_tx_bytes") * 8 / 1e6, 2), "churn_per_s": d("churn_ok"),
                   "host_load": round(os.getloadavg()[0], 2)}
            for name, sm in S.samples.items():
                row[name] = sm[-1][1] if sm and now - S.t0 - sm[-1][0] < 2 else None
            series.append(row)
            last = cur
            if not vm.alive():
                S.err("vm", "QEMU exited during the load")
                break
            if now >= next_progress:
                next_progress += 60
                recent = series[-60:]
                mb = sum(r["bulk_rx_mbit"] for r in recent) / len(recent)
                ch = sum(r["churn_per_s"] for r in recent) / len(recent)
                lat = {k: summary_of([x for x in v if x[0] > now - S.t0 - 60]) for k, v in S.samples.items()}
                errs = sum(v for k, v in cur.items() if k.endswith("_errors"))
                log("soak: %2d/%g min: bulk %.0f Mbit/s, churn %.0f conn/s, p99 ms ping %s tcp %s udp %s api %s;"
                    " gaps %s; SYNs %d, ooo %d, zerowin %d, idle %d (ended by the VM %d), arp %d, slowloris cut %d;"
                    " errors %d; host load %.1f" % (
                        round((now - S.t0) / 60), minutes, mb, ch,
                        *(benchlib.fmt(lat[k]["p99_ms"], "%.0f") for k in ("ping", "tcp_echo", "udp_echo", "api")),
                        sum(lat[k]["gaps"] for k in lat), cur.get("synflood_syns", 0), cur.get("ooo_clients", 0),
                        cur.get("zerowin_clients", 0), cur.get("idle_clients", 0),
                        cur.get("idle_ended_by_appliance", 0), cur.get("arp_forged", 0),
                        cur.get("slowloris_cut_tls", 0) + cur.get("slowloris_cut_hs", 0), errs, os.getloadavg()[0]))
            if now >= S.t_end:
                break
        load_end = os.getloadavg()

        # ---- the end: stop the load, close everything, let the timeouts pass
        log("soak: load over; stopping the clients")
        S.stop.set()
        for t in S.threads:
            t.join(30)
        stuck = [t.name for t in S.threads if t.is_alive()]
        S.close_all()
        for p in list(S.session.started):
            if p is not vm:
                p.stop(first=2)
        t_stop = time.monotonic()
        settled, idle1, acct = False, None, None
        log("soak: waiting up to %d s for every slot, timer and buffer to come back" % settle_s)
        for i in range(int(settle_s / 5) + 1):
            try:
                _, m1 = adm.request("GET", "/metrics")
                idle1 = idle_gauges(m1.decode(), data_cores)
            except (OSError, http.client.HTTPException) as e:
                S.err("settle", repr(e))
            acct = netstat_accounting(vm)
            if idle1 and all(idle1[k] == idle0[k] for k in BACK) and \
                    idle1["pktbuf_free_buffers"] + idle1["tx_held_buffers"] == \
                    idle0["pktbuf_free_buffers"] + idle0["tx_held_buffers"]:
                settled = True
                break
            if time.monotonic() - t_stop > settle_s:
                break
            time.sleep(5)
        settle_took = round(time.monotonic() - t_stop, 1)
        time.sleep(11)                       # one more netstat report (every 10 s)
        acct = netstat_accounting(vm)
        log("soak: after %.0f s: %s (idle %s); netstat buffers %s" % (settle_took, idle1, idle0, acct))

        # ---- alive, answering, clean console
        alive = vm.alive()
        final = {}
        for name, probe in probes(S).items():
            try:
                t0 = time.monotonic()
                probe()
                final[name] = round((time.monotonic() - t0) * 1000, 1)
            except Exception as e:          # noqa: BLE001
                final[name] = "failed: %r" % e
        S.close_all()
        console = vm.text()
        crashes = [l for l in console if CRASH_RE.search(l)]
        _, m2 = adm.request("GET", "/metrics")
        mv = metrics_values(m2.decode())
        drops = {dict(l).get("reason"): 0 for (n, l) in mv if n == "pollux_net_dropped_packets_total"}
        for (n, l), v in mv.items():
            if n == "pollux_net_dropped_packets_total":
                drops[dict(l)["reason"]] += int(v)
        wanted = ("tcp_accepts", "tcp_syncookies", "tcp_resets_sent", "tcp_ooo_pruned", "tcp_zero_window_gave_up",
                  "arp_learned", "arp_rejected")
        counters = {}
        for (n, l), v in mv.items():
            m = re.match(r"pollux_net_(\w+)_total$", n)
            if m and m.group(1) != "dropped_packets":
                counters[m.group(1)] = counters.get(m.group(1), 0) + int(v)
        api_counters = {n[len("pollux_api_"):]: int(v) for (n, l), v in mv.items()
                        if n.startswith("pollux_api_") and n.endswith("_total") and not l}

        services = {k: summary_of(v) for k, v in S.samples.items()}
        scr = [ms for _, ms in S.scrape_ms]
        res = {
            "benchmark": "soak", "date": date, "minutes": minutes,
            "host": {"cpus": os.cpu_count(), "load_start": round(load0[0], 2), "load_end": round(load_end[0], 2),
                     "nice": os.nice(0),
                     "note": "a host shared with other engineers' builds and tests"},
            "git_describe": git,
            "vm": {"command": S.vm_cmd, "config": cfg, "data_cores": data_cores},
            "appliance_choice": "echo: TCP+UDP echo, churn and bulk streams on one port; iperf3 not run "
                                "(one appliance per VM; iperf serves only iperf3, web only HTTP)",
            "services": services,
            "api_scrape": {"requests": len(scr), "p50_ms": pct(scr, 50), "p99_ms": pct(scr, 99),
                           "max_ms": max(scr) if scr else None, "codes": S.scrape_codes},
            "counters": S.c, "errors": S.errors,
            "idle_closed_after_s": {"n": len(S.idle_closed_after), "min": min(S.idle_closed_after, default=None),
                                    "max": max(S.idle_closed_after, default=None)},
            "slowloris_cut_after_s": {k: {"n": len(v), "min": min(v, default=None), "max": max(v, default=None)}
                                      for k in ("tls", "hs")
                                      for v in [[x for kk, x in S.slowloris_cut_after if kk == k]]},
            "end": {"idle_before": idle0, "after": idle1, "settled": settled, "settle_s": settle_took,
                    "netstat_buffers": acct, "vm_alive": alive, "final_probes_ms": final,
                    "crash_lines": crashes[:20], "threads_stuck": stuck},
            "vm_counters": {k: v for k, v in counters.items() if k in wanted or v},
            "vm_drops": {k: v for k, v in drops.items() if v},
            "vm_api": api_counters,
            "series": series,
            "samples": {k: v for k, v in S.samples.items()},   # (s since the start, ms or null)
        }
        gaps_ok = all(s["gaps"] == 0 for s in services.values())
        acct_ok = acct is not None and acct[3] == acct[4]
        res["verdict"] = {
            "no_crash": not crashes and alive,
            "services_answered": gaps_ok,
            "resources_back": settled and acct_ok,
            "final_probes_ok": all(isinstance(v, float) and v <= SAMPLE_TIMEOUT * 1000 for v in final.values()),
            "no_corruption": S.c.get("bulk_corrupt", 0) == 0,
        }
        ok = all(res["verdict"].values())
        png = os.path.join(OUT, "soak.png")
        res["plot"] = "bench/soak/soak.png" if plot(res, series, S.samples, png) else None
        benchlib.write_results(os.path.join(OUT, "results.json"), res, ROOT)

        log("")
        log("soak: %g min; host load %.1f -> %.1f (2 CPUs shared with other engineers)" % (
            minutes, load0[0], load_end[0]))
        log("| service | samples | answered | gaps (> 5 s or none) | longest gap (s) | p50 ms | p99 ms | max ms |")
        log("|---|---:|---:|---:|---:|---:|---:|---:|")
        for k, s in services.items():
            log("| %s | %d | %d | %d | %.0f | %s | %s | %s |" % (
                k, s["samples"], s["answered"], s["gaps"], s["longest_gap_s"], benchlib.fmt(s["p50_ms"], "%.1f"),
                benchlib.fmt(s["p99_ms"], "%.1f"), benchlib.fmt(s["max_ms"], "%.0f")))
        a = res["api_scrape"]
        log("soak: API scrape: %d requests, p50 %s p99 %s max %s ms, codes %s" % (
            a["requests"], benchlib.fmt(a["p50_ms"], "%.0f"), benchlib.fmt(a["p99_ms"], "%.0f"),
            benchlib.fmt(a["max_ms"], "%.0f"), a["codes"]))
        mbs = [r["bulk_rx_mbit"] for r in series]
        log("soak: bulk echoed %.1f Mbit/s mean (%d GB both ways), churn %.0f conn/s mean, %d connections" % (
            sum(mbs) / max(1, len(mbs)), 2 * S.c.get("bulk_rx_bytes", 0) // 10 ** 9,
            sum(r["churn_per_s"] for r in series) / max(1, len(series)), S.c.get("churn_ok", 0)))
        log("soak: attacks: %s" % {k: v for k, v in S.c.items() if k.split("_")[0] in
                                   ("synflood", "ooo", "zerowin", "idle", "arp", "slowloris")})
        log("soak: idle clients ended by the VM after %s s; slowloris cut after %s" % (
            res["idle_closed_after_s"], res["slowloris_cut_after_s"]))
        log("soak: errors %s" % S.errors)
        log("soak: VM counters %s; drops %s" % (res["vm_counters"], res["vm_drops"]))
        log("soak: end: %s" % res["end"])
        log("soak: verdict %s -> %s" % (res["verdict"], "PASS" if ok else "FAIL"))
        log("soak: results in bench/soak/results.json, plot %s, console build/soak/logs/console.log" % res["plot"])
        try:
            adm.request("POST", "/v1/system/shutdown")
            vm.wait(60)
        except (OSError, http.client.HTTPException):
            pass
    finally:
        cleanup()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

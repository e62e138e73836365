"""The kv appliance (src/apps/kv.c, docs/kv.md) on the VM (TCG), on 1, 2
and 4 data cores.

Each boot: configs/kv.json's settings with the API on a management NIC
(eth0, QEMU user networking, restrict=on, DHCP; core 0) and the data NIC
(eth1) a tap with one queue pair per data core inside a network
namespace made here (conftest.Net: 198.18.S.1/24 on its side, the VM at
198.18.S.2). QEMU runs in the namespace (ip netns exec); the test's
sockets are made there (conftest.in_netns: pymemcache through
NsSocket, raw sockets, the API over HTTPS to the forwarded port), and
memccapable runs there. Flows are spread over the data cores (the
device's queues, then the stack's steering), so connections land on
different cores; which core a connection is on is read from `stats
conns` (the id is core * 100000 + slot + 1).

What runs where (one boot per column, module-scoped):

  test                                  1 core  2 cores  4 cores  own boot
  set/get/delete/incr/cas                  x       x        x
  multi-get across shards, in order        x       x        x
  100-key get of 1000 B values             x       x        x
  noreply pipeline                         x       x        x
  bad input ends its connection only       x       x        x
  memccapable -a and -b                    x       x        x
  memcached_exporter's stats               x       x        x
  expiry both ways, flush_all delay                x        x
  64 concurrent clients                            x        x
  CAS races, clients on two cores                  x        x
  incr from 16 clients on many cores               x        x
  message pool flood (48 pipelined)                x        x
  large values across cores, 12 at once            x        x
  4 slow readers: no stall, then reset            x        x
  everything back afterwards               x       x        x
  eviction under memory_mb 2                                          2 cores
  kv.evict false: out of memory                                       2 cores

The module boots run with kv.send_timeout_s SEND_TIMEOUT (short, so
that the slow-reader test sees the reset; every other client reads).
Under TCG on the 2-CPU host: 45 pass, 8 skip (the 2- and 4-core tests on
1 core) in 112 s.

Needs root (netns, tap), iproute2 and Debian's python3-pymemcache;
skipped otherwise. memccapable (libmemcached-tools) is skipped where
absent. Time limits are safety nets, never performance assertions."""
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time

import pytest

from conftest import ROOT, VM, Console, Net, in_netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                                reason="needs root and iproute2 for a network namespace")
pymemcache = pytest.importorskip("pymemcache")
from pymemcache.client.base import Client  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "test", "hosted"))
from test_kv_oracle import MEMCACHED, expected_stat_names, stat_names, stats_request  # noqa: E402

TOKEN = "kv-test-admin-token-0123456789abcdef"
MONITOR = "kv-test-monitor-token-0123456789abcdef"
PORT = 11211
CORES = [1, 2, 4]
SUBNET = 40             # 198.18.(40 + boot).0/24
SEND_TIMEOUT = 10       # kv.send_timeout_s of the module boots
SHARE = 16              # kv.c's KV_CONN_SHARE: messages one connection may hold
READY = r"kv: memcached protocols on TCP port 11211: %d shard\(s\)"


class NsSocket:
    """A stand-in for the socket module (pymemcache's socket_module) whose
    sockets are made in a network namespace."""

    def __init__(self, ns):
        self.ns = ns

    def socket(self, *args, **kw):
        with in_netns(self.ns):
            return socket.socket(*args, **kw)

    def __getattr__(self, name):
        return getattr(socket, name)


class KvVM(Console):
    """The kv appliance on `cores` data cores (the tap's queue pairs), the
    API on eth0; `kv` overrides configs/kv.json's kv settings."""

    def __init__(self, net, cores, kv=None):
        with open(os.path.join(ROOT, "configs", "kv.json")) as f:
            cfg = json.load(f)
        cfg["interfaces"] = [{"address": "dhcp"}, {"address": net.guest + "/24", "gateway": net.host}]
        cfg["api"] = {"interface": 0, "token": TOKEN, "monitor_token": MONITOR}
        cfg["kv"].update(kv or {})
        f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(cfg, f)
        f.close()
        self.cfgfile, self.net, self.cores, self.guest = f.name, net, cores, net.guest
        self.sockets = NsSocket(net.ns)
        self.api_port = 8443
        qopt = ",queues=%d" % cores if cores > 1 else ""
        dev = "virtio-net-pci,netdev=n0" + (",mq=on,vectors=%d" % (2 * cores + 2) if cores > 1 else "")
        super().__init__(["ip", "netns", "exec", net.ns, VM, "--machine", "q35", "--smp", str(cores + 1),
                          "--mem", "512M", "--config", f.name, "--api", str(self.api_port),
                          "--append", "netstat=2000", "--timeout", "1500", "--",
                          "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no%s" % (net.tap, qopt),
                          "-device", dev])

    def start(self):
        self.wait_ready(600)
        self.wait_for(READY % self.cores, 60)
        self.wait_for(r"eth0: dhcp bound", 120)
        self.data_cores = [c["core"] for c in self.api("/v1/kv")["cores"]]
        assert len(self.data_cores) == self.cores, self.data_cores

    def client(self, **kw):
        kw.setdefault("default_noreply", False)
        return Client((self.guest, PORT), connect_timeout=30, timeout=120, socket_module=self.sockets, **kw)

    def raw(self, timeout=120, rcvbuf=None):
        s = self.sockets.socket()
        s.settimeout(timeout)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.connect((self.guest, PORT))
        return s

    def stats(self, group=""):
        s = self.raw()
        try:
            s.sendall(b"stats %s\r\n" % group.encode())
            ans = recv_until(s, b"END\r\n")
        finally:
            s.close()
        return {k.decode(): v.decode() for k, v in re.findall(rb"STAT (\S+) ([^\r]*)\r\n", ans)}

    def core_of(self, s):
        """The data core the connection s is on (from `stats conns`)."""
        port = s.getsockname()[1]
        s.sendall(b"stats conns\r\n")
        ans = recv_until(s, b"END\r\n")
        m = re.search(rb"STAT (\d+):addr tcp:%s:%d\r\n" % (self.net.host.encode(), port), ans)
        assert m, ans
        return int(m.group(1)) // 100000

    def api(self, path, method="GET", token=MONITOR):
        """GET (or POST) one API resource on 127.0.0.1:8443 in the namespace:
        the JSON document (or the text of /metrics). The certificate is not
        checked here (test_api.py does)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with in_netns(self.net.ns):
            c = http.client.HTTPSConnection("127.0.0.1", self.api_port, timeout=120, context=ctx)
            try:
                c.request(method, path, headers={"Authorization": "Bearer " + token})
                r = c.getresponse()
                body = r.read().decode()
            finally:
                c.close()
        assert r.status == 200, (path, r.status, body)
        return body if path == "/metrics" else json.loads(body)

    def per_core(self):
        """{core: {counter: value}} from GET /v1/kv."""
        return {c["core"]: c for c in self.api("/v1/kv")["cores"]}

    def stop(self):
        super().stop()
        os.unlink(self.cfgfile)


def boot_kv(index, cores, kv=None):
    net = Net(SUBNET + index, cores)
    v = None
    try:
        v = KvVM(net, cores, kv)
        v.start()
        return v
    except BaseException:
        if v:
            v.stop()
        net.close()
        raise


def shut(v):
    """Stops the VM; its console is kept in build/test_kv-<subnet>.console
    for a look after a failure."""
    try:
        with open(os.path.join(ROOT, "build", "test_kv-%s.console" % v.net.host.split(".")[2]), "w") as f:
            f.write(v.out() + "\n")
    except OSError:
        pass
    try:
        v.stop()
    finally:
        v.net.close()


@pytest.fixture(scope="module", params=CORES, ids=["1core", "2cores", "4cores"])
def vm(request):
    t0 = time.monotonic()
    v = boot_kv(request.param, request.param, {"send_timeout_s": SEND_TIMEOUT})
    print("kv on %d data core(s): booted in %.1f s" % (v.cores, time.monotonic() - t0))
    try:
        yield v
    finally:
        shut(v)


@pytest.fixture
def multi(vm):
    """Skips the test on 1 data core: it runs on 2 and 4 only (one
    parametrized fixture keeps pytest at one boot per core count)."""
    if vm.cores < 2:
        pytest.skip("runs on 2 and 4 data cores")


def recv_until(s, end, timeout=120):
    got = b""
    deadline = time.monotonic() + timeout
    while not got.endswith(end) and time.monotonic() < deadline:
        d = s.recv(1 << 16)
        if not d:
            break
        got += d
    return got


def recv_lines(s, n, timeout=120):
    """n answer lines (no values in them)."""
    got = b""
    deadline = time.monotonic() + timeout
    while got.count(b"\r\n") < n and time.monotonic() < deadline:
        d = s.recv(1 << 16)
        if not d:
            break
        got += d
    return got.split(b"\r\n")[:-1]


def conns_on_cores(vm, want, most=64):
    """Up to `want` raw connections, each on a different data core (as
    many cores as there are, at most `want`); the others opened are closed."""
    by_core = {}
    for _ in range(most):
        s = vm.raw()
        c = vm.core_of(s)
        if c in by_core:
            s.close()
        else:
            by_core[c] = s
        if len(by_core) >= min(want, vm.cores):
            break
    assert len(by_core) >= min(want, vm.cores), "only cores %s in %d connections" % (sorted(by_core), most)
    return by_core


def delta(after, before, name):
    return {c: after[c][name] - before[c][name] for c in after}


# ---------------------------------------------------------------- a small memory_mb, own boots
# (first in the file: pytest runs them before the core-count boots, so
# no two VMs run at once)

@pytest.fixture
def small():
    """kv.memory_mb 2 on 2 data cores: 1 MiB per shard."""
    v = boot_kv(8, 2, {"memory_mb": 2})
    try:
        yield v
    finally:
        shut(v)


@pytest.fixture
def noevict():
    """kv.memory_mb 2 and kv.evict false (memcached's -M) on 2 data cores."""
    v = boot_kv(9, 2, {"memory_mb": 2, "evict": False})
    try:
        yield v
    finally:
        shut(v)


def fill(vm, n, size, prefix):
    """n sets of size-byte values, pipelined 100 at a time: the answers."""
    s = vm.raw()
    answers = []
    try:
        for a in range(0, n, 100):
            req = b"".join(b"set %s%d 0 0 %d\r\n%s\r\n" % (prefix, i, size, b"x" * size)
                           for i in range(a, min(n, a + 100)))
            s.sendall(req)
            answers += recv_lines(s, min(n, a + 100) - a)
    finally:
        s.close()
    return answers


def get_in_fives(c, keys):
    """get_many, five keys a line: 1000-byte values, many to a line, close
    the connection (test_multi_get_of_1k_values)."""
    got = {}
    for a in range(0, len(keys), 5):
        got.update(c.get_many(keys[a:a + 5]))
    return got


def test_eviction_under_a_small_memory_mb(small):
    before = small.per_core()
    answers = fill(small, 6000, 1000, b"ev")         # 6 MB into 2 MiB
    assert answers == [b"STORED"] * 6000, set(answers)
    c = small.client()
    try:
        early = get_in_fives(c, ["ev%d" % i for i in range(200)])
        late = get_in_fives(c, ["ev%d" % i for i in range(5900, 6000)])
    finally:
        c.close()
    assert len(early) < 20, "early keys still there: %d of 200" % len(early)
    assert len(late) == 100, len(late)
    st = small.stats()
    assert int(st["evictions"]) > 0 and int(st["limit_maxbytes"]) == 2 << 20, st
    time.sleep(0.5)
    after = small.per_core()
    ev = delta(after, before, "evictions")
    for core in small.data_cores:                     # counted per shard
        assert ev[core] > 0, ev
        assert after[core]["bytes"] <= after[core]["limit_maxbytes"], after[core]
    assert sum(ev.values()) == int(st["evictions"]), (ev, st["evictions"])
    # and it goes on working: a value of the same size evicts again; a
    # small one needs a page of its own class, and every page went to the
    # 1000-byte class (no slab rebalancing, docs/kv.md): a clean error
    s = small.raw()
    try:
        s.sendall(b"set after 0 0 1000\r\n%s\r\nget after\r\n" % (b"y" * 1000))
        assert recv_until(s, b"END\r\n") == b"STORED\r\nVALUE after 0 1000\r\n%s\r\nEND\r\n" % (b"y" * 1000)
        s.sendall(b"set small 0 0 4\r\nfine\r\n")
        assert recv_until(s, b"\r\n") in (b"STORED\r\n", b"SERVER_ERROR out of memory storing object\r\n")
    finally:
        s.close()
    everything_back(small)


def test_evict_false_answers_out_of_memory(noevict):
    answers = fill(noevict, 6000, 1000, b"oom")
    stored = answers.count(b"STORED")
    refused = answers.count(b"SERVER_ERROR out of memory storing object")
    assert stored + refused == 6000, set(answers)
    assert 500 < stored < 6000 and refused > 0, (stored, refused)
    st = noevict.stats()
    assert int(st["evictions"]) == 0, st
    per = noevict.per_core()
    assert sum(r["out_of_memory"] for r in per.values()) == refused, per
    # what was stored is all there (nothing evicted), keys of both shards
    c = noevict.client()
    try:
        keys = ["oom%d" % i for i, a in enumerate(answers) if a == b"STORED"]
        got = get_in_fives(c, keys)
        assert len(got) == len(keys), (len(got), len(keys))
        # room again after deletes: stores succeed
        for k in keys[:50]:
            assert c.delete(k)
        assert c.set(keys[0], b"y" * 1000) and c.get(keys[0]) == b"y" * 1000
    finally:
        c.close()
    everything_back(noevict)


# ---------------------------------------------------------------- every core count

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
    keys = ["mk%03d" % i for i in range(200)]
    c = vm.client()
    try:
        before = int(vm.stats()["cross_core"])
        c.set_many({k: k.encode() * 3 for k in keys})
        got = c.get_many(keys + ["absent1", "absent2"])
        assert got == {k: k.encode() * 3 for k in keys}
        after = int(vm.stats()["cross_core"])
        if vm.cores > 1:    # (n-1)/n of the keys cross, for the sets and the gets
            assert after - before >= 200 * (vm.cores - 1) // vm.cores, (before, after)
        else:
            assert after == before == 0, (before, after)
    finally:
        c.close()
    # the raw answer keeps the request's key order, from every core
    for core, s in conns_on_cores(vm, vm.cores).items():
        try:
            s.sendall(b"get " + b" ".join(k.encode() for k in keys[:120]) + b" absent\r\n")
            ans = recv_until(s, b"END\r\n")
            order = re.findall(rb"VALUE (\S+) 0 \d+\r\n", ans)
            assert order == [k.encode() for k in keys[:120]], (core, ans[:400])
        finally:
            s.close()


def test_multi_get_of_1k_values(vm):
    """One get of 100 keys with 1000-byte values (a common memcached
    load): every value comes, in order. A 16-key batch's answers overflow
    its 8 KiB message: the shard answers what fits, and the rest runs
    again in the same message once those went out (msg_more); no big
    message is needed and nothing is closed."""
    keys = ["kk%03d" % i for i in range(100)]
    c = vm.client()
    try:
        c.set_many({k: k.encode() * 200 for k in keys})     # 1000 bytes
    finally:
        c.close()
    before = vm.per_core()
    s = vm.raw()
    try:
        s.sendall(b"get " + " ".join(keys).encode() + b"\r\n")
        try:
            ans = recv_until(s, b"END\r\n")
        except ConnectionResetError:
            ans = b"(reset)"
    finally:
        s.close()
    overflow = delta(vm.per_core(), before, "answer_overflow")
    want = b"".join(b"VALUE %s 0 1000\r\n%s\r\n" % (k.encode(), k.encode() * 200) for k in keys) + b"END\r\n"
    assert ans == want, "%d of %d bytes, answer_overflow %s" % (len(ans), len(want), overflow)
    assert sum(overflow.values()) == 0, overflow


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
        assert ans == b"SERVER_ERROR object too large for cache\r\nVALUE ok 0 2\r\nok\r\nEND\r\n", ans[:200]
    finally:
        keep.close()


@pytest.mark.skipif(not shutil.which("memccapable"), reason="libmemcached-tools not installed")
@pytest.mark.parametrize("proto", ["-a", "-b"])
def test_memccapable(vm, proto):
    r = vm.net.run("memccapable", "-h", vm.guest, "-p", str(PORT), "-t", "30", proto, timeout=600)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert r.returncode == 0 and "[FAIL]" not in out, out[-3000:]


# the names memcached_exporter reads (issue 11's Telemetry), and their forms
EXPORTER = ("pid uptime time version curr_items total_items bytes curr_connections total_connections "
            "cmd_get cmd_set cmd_flush cmd_touch get_hits get_misses get_expired delete_hits "
            "delete_misses incr_hits incr_misses decr_hits decr_misses cas_hits cas_misses cas_badval "
            "touch_hits touch_misses evictions expired_unfetched evicted_unfetched limit_maxbytes "
            "threads bytes_read bytes_written rusage_user rusage_system").split()
SLAB_FIELDS = ("chunk_size chunks_per_page total_pages total_chunks used_chunks free_chunks "
               "free_chunks_end get_hits cmd_set delete_hits incr_hits decr_hits "
               "cas_hits cas_badval touch_hits").split()
ITEM_FIELDS = ("number age mem_requested evicted evicted_nonzero evicted_time outofmemory reclaimed "
               "expired_unfetched evicted_unfetched").split()


@pytest.mark.skipif(not os.path.exists(MEMCACHED), reason="memcached not installed (the names' reference)")
def test_exporter_stats_present_and_well_formed(vm):
    c = vm.client()
    try:
        c.set("st", b"1")
        v, cas = c.gets("st")
        assert c.cas("st", b"2", cas) and not c.cas("st", b"3", cas)
    finally:
        c.close()
    st = vm.stats()
    for n in EXPORTER:
        assert n in st, (n, st)
        if n.startswith("rusage_"):
            assert re.fullmatch(r"\d+\.\d{6}", st[n]), (n, st[n])
        elif n == "version":
            assert re.fullmatch(r"\d+\.\d+\.\d+", st[n]), st[n]
        else:
            assert re.fullmatch(r"\d+", st[n]), (n, st[n])
    assert int(st["threads"]) == vm.cores and int(st["limit_maxbytes"]) == 64 << 20, st
    assert int(st["curr_connections"]) >= 1 and int(st["cas_hits"]) >= 1 and int(st["cas_badval"]) >= 1, st
    # every name Debian's memcached gives, in every group (the oracle's list)
    for group in ("", "settings", "items", "slabs", "sizes"):
        s = vm.raw()
        try:
            s.sendall(stats_request(group.encode() and b" " + group.encode()))
            got = b""
            deadline = time.monotonic() + 120
            while got.count(b"END\r\n") < 3 and time.monotonic() < deadline:   # two gets', stats'
                d = s.recv(1 << 16)
                if not d:
                    break
                got += d
        finally:
            s.close()
        missing = [n for n in expected_stat_names(group.encode() and b" " + group.encode())
                   if n not in stat_names(got)]
        assert not missing, "stats %s: missing %s" % (group, missing)
    # per slab class: the exporter's fields, numbers
    slabs, items = vm.stats("slabs"), vm.stats("items")
    ids = sorted({int(k.split(":")[0]) for k in slabs if ":" in k})
    assert ids, slabs
    for i in ids:
        for f in SLAB_FIELDS:
            assert re.fullmatch(r"\d+", slabs.get("%d:%s" % (i, f), "")), (i, f, slabs)
    # items: the classes holding items now (as memcached: not every slab class)
    item_ids = sorted({int(k.split(":")[1]) for k in items if k.startswith("items:")})
    assert item_ids and set(item_ids) <= set(ids), (item_ids, ids)
    for i in item_ids:
        for f in ITEM_FIELDS:
            assert re.fullmatch(r"\d+", items.get("items:%d:%s" % (i, f), "")), (i, f, items)
    assert sum(int(slabs["%d:cas_hits" % i]) for i in ids) >= 1
    assert sum(int(slabs["%d:cas_badval" % i]) for i in ids) >= 1
    assert sum(int(slabs["%d:cmd_set" % i]) for i in ids) >= 1
    assert re.fullmatch(r"\d+", slabs["active_slabs"]) and re.fullmatch(r"\d+", slabs["total_malloced"])


# ---------------------------------------------------------------- 2 and 4 data cores

def test_expiry_relative_absolute_and_past(vm, multi):
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


def test_flush_all_with_delay(vm, multi):
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


def test_64_concurrent_clients(vm, multi):
    errors = []
    cores = set()
    lock = threading.Lock()

    def worker(n):
        try:
            s = vm.raw()
            core = vm.core_of(s)
            with lock:
                cores.add(core)
            for i in range(20):
                k = b"c%d_%d" % (n, i)
                v = str(n * i).encode()
                s.sendall(b"set %s 0 0 %d\r\n%s\r\nget %s\r\n" % (k, len(v), v, k))
                want = b"STORED\r\nVALUE %s 0 %d\r\n%s\r\nEND\r\n" % (k, len(v), v)
                got = recv_until(s, b"END\r\n")
                assert got == want, (got, want)
            s.sendall(b"incr shared 1\r\n")
            assert re.fullmatch(rb"\d+\r\n", recv_until(s, b"\r\n"))
            s.close()
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
    assert not errors, (errors[:5], vm.stats(), vm.per_core())
    assert len(cores) == vm.cores, cores         # 64 flows: every core got some
    c = vm.client()
    assert c.get("shared") == b"64"
    c.close()


def gets_unique(s, key):
    s.sendall(b"gets %s\r\n" % key)
    ans = recv_until(s, b"END\r\n")
    m = re.match(rb"VALUE %s 0 \d+ (\d+)\r\n" % key, ans)
    assert m, ans
    return int(m.group(1))


def test_cas_races_from_two_cores(vm, multi):
    """Two clients on different data cores gets the same key, then both
    send cas with that unique at once: exactly one STORED, the other
    EXISTS; 32 keys (the shards of every core) 8 rounds each."""
    conns = list(conns_on_cores(vm, 2).values())[:2]
    keys = [b"race%02d" % i for i in range(32)]
    c = vm.client()
    c.set_many({k.decode(): b"0" for k in keys})
    c.close()
    before = vm.per_core()
    rounds = 0
    try:
        for r in range(8):
            for k in keys:
                u = [gets_unique(s, k) for s in conns]
                assert u[0] == u[1], u
                first = r % 2             # who sends first changes
                order = [conns[first], conns[1 - first]]
                for i, s in enumerate(order):
                    s.sendall(b"cas %s 0 0 2 %d\r\nv%d\r\n" % (k, u[0], i))
                answers = sorted(recv_until(s, b"\r\n") for s in order)
                assert answers == [b"EXISTS\r\n", b"STORED\r\n"], (k, r, answers)
                rounds += 1
    finally:
        for s in conns:
            s.close()
    time.sleep(0.5)                       # other cores' mirrors: every loop turn
    after = vm.per_core()
    hits, bad = delta(after, before, "cas_hits"), delta(after, before, "cas_badval")
    assert sum(hits.values()) == rounds and sum(bad.values()) == rounds, (hits, bad)
    for core in vm.data_cores:            # every shard raced
        assert hits[core] > 0 and bad[core] > 0, (core, hits, bad)


def test_incr_from_many_clients_sums_exactly(vm, multi):
    """16 clients (on every data core) each pipeline 200 incr over 8 keys
    at once: every key ends at exactly its count."""
    conns, cores = [], set()
    for _ in range(16):
        s = vm.raw()
        cores.add(vm.core_of(s))
        conns.append(s)
    extra = 0
    while len(cores) < vm.cores and extra < 48:     # 16 flows missed a core: more
        s = vm.raw()
        cores.add(vm.core_of(s))
        conns.append(s)
        extra += 1
    assert len(cores) == vm.cores, cores
    keys = [b"ctr%d" % i for i in range(8)]
    c = vm.client()
    c.set_many({k.decode(): b"0" for k in keys})
    c.close()
    errors = []

    def worker(s):
        try:
            s.sendall(b"".join(b"incr %s 1\r\n" % keys[i % 8] for i in range(200)))
            lines = recv_lines(s, 200)
            assert len(lines) == 200 and all(l.isdigit() for l in lines), lines[-3:]
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            s.close()
    ts = [threading.Thread(target=worker, args=(s,)) for s in conns]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    assert not errors, errors[:3]
    c = vm.client()
    try:
        got = c.get_many([k.decode() for k in keys])
    finally:
        c.close()
    assert got == {k.decode(): str(25 * len(conns)).encode() for k in keys}, got


def test_message_pool_flood(vm, multi):
    """48 connections (on every core) each pipeline 600 ops at once, most
    for other cores' shards: far more messages wanted than a core's pool
    (128), so connections wait for messages (conn_must_wait, the
    starved list) and go on when they come back. Every answer comes, in
    order, exact; afterwards every message is back in its pool."""
    before = vm.per_core()
    n, per = 48, 300
    errors = []
    low = {c: before[c]["msgs"] for c in vm.data_cores}
    done = threading.Event()

    def sampler():                         # the pool's level while it runs
        while not done.is_set():
            for c, row in vm.per_core().items():
                low[c] = min(low[c], row["msgs_free"])
            time.sleep(0.05)

    def worker(w):
        try:
            s = vm.raw()
            req, want = [], []
            for i in range(per):
                k = b"fl%d_%d" % (w, i)
                v = b"%d.%d" % (w, i)
                req.append(b"set %s 0 0 %d\r\n%s\r\nget %s\r\n" % (k, len(v), v, k))
                want.append(b"STORED\r\nVALUE %s 0 %d\r\n%s\r\nEND\r\n" % (k, len(v), v))
            want = b"".join(want)
            s.sendall(b"".join(req))
            got = b""
            deadline = time.monotonic() + 300
            while len(got) < len(want) and time.monotonic() < deadline:
                d = s.recv(1 << 16)
                if not d:
                    break
                got += d
            s.close()
            assert got == want, "conn %d: %d of %d bytes, first difference at %d" % (
                w, len(got), len(want), next((i for i in range(min(len(got), len(want)))
                                              if got[i] != want[i]), min(len(got), len(want))))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    t_s = threading.Thread(target=sampler, daemon=True)
    t_s.start()
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(400)
    done.set()
    t_s.join(60)
    assert not errors, errors[:3]
    time.sleep(0.5)
    after = vm.per_core()
    msgs = delta(after, before, "cross_core_msgs")
    print("message pool flood on %d cores: lowest msgs_free %s, cross-core messages %s, no_msg %s, "
          "reserve_waits %s" % (vm.cores, low, msgs, delta(after, before, "no_msg"),
                                delta(after, before, "reserve_waits")))
    assert sum(msgs.values()) >= n * per * 2 * (vm.cores - 1) // vm.cores // 2, msgs
    for c in vm.data_cores:
        assert after[c]["msgs_free"] == after[c]["msgs"], (c, after[c])
        assert after[c]["big_msgs_free"] == after[c]["big_msgs"], (c, after[c])
        assert after[c]["answer_overflow"] == before[c]["answer_overflow"], (c, after[c])
    # the pool ran low somewhere: connections had to wait for messages,
    # past their few at the pool's reserve (reserve_waits) or below one
    # message per shard
    waits = delta(after, before, "reserve_waits")
    assert min(low.values()) < vm.cores or sum(waits.values()) > 0, (low, waits)


def test_large_values_across_cores(vm, multi):
    """12 clients at once store and read 64 KiB values, 6 each, most on
    other cores' shards. Such a value travels in one of its core's 4 big
    messages (a store's value staged for another shard, an answer bigger
    than a small message); with none free, as docs/kv.md says, a store
    answers SERVER_ERROR out of memory storing object (counted in no_msg)
    and an answer waits its turn for one (big_waits): none is closed. So:
    every answer that comes is exact, every refusal is counted, no
    connection is cut short, most exchanges succeed, and every big
    message is back."""
    before = vm.per_core()
    errors, outcome = [], {"ok": 0, "oom": 0, "closed": 0}
    lock = threading.Lock()

    def worker(w):
        try:
            s = vm.raw()
            for r in range(6):
                k = b"big%d_%d" % (w, r)
                v = bytes([65 + (w + r) % 26]) * 65536
                s.sendall(b"set %s 0 0 %d\r\n%s\r\nget %s\r\n" % (k, len(v), v, k))
                stored = b"STORED\r\nVALUE %s 0 %d\r\n%s\r\nEND\r\n" % (k, len(v), v)
                oom = b"SERVER_ERROR out of memory storing object\r\nEND\r\n"
                got = b""
                deadline = time.monotonic() + 120
                while got not in (stored, oom) and time.monotonic() < deadline:
                    try:
                        d = s.recv(1 << 16)
                    except ConnectionResetError:
                        d = b""
                    if not d:
                        break
                    got += d
                if got in (stored, oom):
                    with lock:
                        outcome["ok" if got == stored else "oom"] += 1
                    continue
                assert stored.startswith(got), "conn %d round %d: %r... (%d bytes)" % (w, r, got[:60], len(got))
                with lock:
                    outcome["closed"] += 1          # cut short: closed by the appliance
                break
            s.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(12)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(400)
    time.sleep(0.5)
    after = vm.per_core()
    no_msg, overflow = delta(after, before, "no_msg"), delta(after, before, "answer_overflow")
    print("large values on %d cores: %s; no_msg %s, answer_overflow %s" % (vm.cores, outcome, no_msg, overflow))
    assert not errors, errors[:3]
    assert outcome["closed"] == 0 and sum(overflow.values()) == 0, (outcome, overflow)
    assert sum(no_msg.values()) >= outcome["oom"], (outcome, no_msg)
    assert outcome["ok"] >= 36, outcome                  # half of the 72 at least
    for c in vm.data_cores:
        assert after[c]["big_msgs_free"] == after[c]["big_msgs"], (c, after[c])
        assert after[c]["msgs_free"] == after[c]["msgs"], (c, after[c])


def test_slow_readers_do_not_stall_their_core(vm, multi):
    """Four clients on one core pipeline 80 gets of 6000-byte values and
    never read (a 4 KiB receive buffer): their answers back up beyond the
    send buffer, but each may hold only its share (KV_CONN_SHARE) of the
    core's 128 messages, so a fifth client on that core is still answered
    (within 20 s). Then kv.send_timeout_s later the readers that hold
    messages are reset (send_timeouts) and every message is back."""
    keys = [b"slow%02d" % i for i in range(64)]
    c = vm.client()
    for a in range(0, 64, 4):
        c.set_many({k.decode(): b"s" * 6000 for k in keys[a:a + 4]})
    c.close()
    slow = {}
    try:
        for _ in range(60):
            s = vm.raw(rcvbuf=4096)
            slow.setdefault(vm.core_of(s), []).append(s)
            if max(len(v) for v in slow.values()) >= 5:
                break
        core, group = max(slow.items(), key=lambda kv: len(kv[1]))
        assert len(group) >= 5, {c: len(v) for c, v in slow.items()}
        probe, readers = group[0], group[1:5]
        for s in readers:
            s.sendall(b"".join(b"get %s\r\n" % keys[i % 64] for i in range(80)))
        time.sleep(3)
        held = vm.per_core()[core]
        probe.settimeout(20)
        t0 = time.monotonic()
        probe.sendall(b"get %s\r\n" % keys[1])
        try:
            ans = recv_until(probe, b"END\r\n", timeout=20)
        except socket.timeout:
            ans = b""
        assert ans.endswith(b"END\r\n"), "core %d stalled %.0f s behind 4 slow readers (msgs_free %d of %d)" % (
            core, time.monotonic() - t0, held["msgs_free"], held["msgs"])
        taken = held["msgs"] - held["msgs_free"]
        assert taken <= 4 * (SHARE + 1), held
        # no bytes taken for kv.send_timeout_s: the holders are reset
        deadline = time.monotonic() + SEND_TIMEOUT + 30
        while time.monotonic() < deadline:
            now = vm.per_core()[core]
            if now["msgs_free"] == now["msgs"] and now["big_msgs_free"] == now["big_msgs"]:
                break
            time.sleep(1)
        resets = now["send_timeouts"] - held["send_timeouts"]
        print("slow readers on core %d: %d messages held, %d reset after %d s" % (core, taken, resets, SEND_TIMEOUT))
        assert now["msgs_free"] == now["msgs"] and now["big_msgs_free"] == now["big_msgs"], now
        assert resets >= 1 if taken else resets == 0, (taken, resets)
        assert resets <= 4, resets
    finally:
        for v in slow.values():
            for s in v:
                s.close()


# ---------------------------------------------------------------- last on every boot

def netstat_buffers(vm):
    """The newest 'netstat buffers' line: (free, rx posted, tx held, sum, total)."""
    for line in reversed(vm.lines):
        m = re.search(r"netstat buffers: free (\d+) \+ rx posted (\d+) \+ tx held (\d+) = (\d+) of (\d+)", line)
        if m:
            return tuple(int(x) for x in m.groups())
    return None


def metric_sum(text, name, cores):
    return sum(float(v) for c, v in re.findall(r'^%s\{core="(\d+)"\} (\S+)$' % name, text, re.M)
               if int(c) in cores)


def test_everything_back_afterwards(vm):
    everything_back(vm)


def everything_back(vm):
    """Every connection slot (stats, /v1/kv, the stack's pollux_tcp_connections
    on the data cores), every message and every packet buffer (the
    console's netstat: free + rx posted + tx held = total) is back."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        st = vm.stats()
        per = vm.per_core()
        text = vm.api("/metrics")
        tcp = metric_sum(text, "pollux_tcp_connections", vm.data_cores)
        if int(st["curr_connections"]) == 1 and tcp <= 1 and \
                all(r["conn_slots_free"] == r["conn_slots"] for r in per.values()):
            break
        time.sleep(2)
    assert int(st["curr_connections"]) == 1, st                 # the stats connection
    assert tcp <= 1, "pollux_tcp_connections on the data cores: %s" % tcp
    assert int(st["rejected_connections"]) == 0, st
    for c, r in per.items():
        assert r["conn_slots_free"] == r["conn_slots"], (c, r)
        assert r["msgs_free"] == r["msgs"] and r["big_msgs_free"] == r["big_msgs"], (c, r)
    time.sleep(2.5)                                             # a fresh netstat report
    acct = netstat_buffers(vm)
    assert acct and acct[3] == acct[4], (acct, vm.out(40))
    assert not re.search(r"^\*\*\* |panic|assertion failed", vm.out(), re.M), vm.out(60)

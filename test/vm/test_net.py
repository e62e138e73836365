"""The TCP/IP stack on the VM (TCG), against Linux's own tools: a tap
device inside a network namespace this test creates (198.18.0.0/15 inside
it, nothing else), the echo appliance at 198.18.x.2, the namespace at
198.18.x.1. ping, nc (TCP and UDP echo, 1 MiB both ways) on 1, 2 and 4
queue pairs (one data core each, flows steered to their owner), malformed
frames counted and dropped, iperf3 -c with 1 and 4 streams both ways on
1, 2 and 4 data cores; afterwards every buffer and connection slot is
back.

Needs root (netns, tap); skipped otherwise."""
import json
import os
import re
import shutil
import tempfile
import threading
import time

import pytest

from conftest import ROOT, VM, Net, spawn, stop

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                                reason="needs root and iproute2 for a network namespace")


class EchoVM:
    """An appliance (configs/echo.json unless told) on the namespace's tap,
    one data core per queue pair; `tweak` edits the config first."""

    def __init__(self, net, queues, config="echo.json", tweak=None, device_opts=""):
        cfg = json.load(open(os.path.join(ROOT, "configs", config)))
        cfg["interfaces"] = [{"address": net.guest + "/24", "gateway": net.host}]
        if tweak:
            tweak(cfg)
        self.cfgfile = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(cfg, self.cfgfile)
        self.cfgfile.close()
        qopt = ",queues=%d" % queues if queues > 1 else ""
        dev = "virtio-net-pci,netdev=n0" + (",mq=on,vectors=%d" % (2 * queues + 2) if queues > 1 else "")
        dev += device_opts
        cmd = ["ip", "netns", "exec", net.ns, VM, "--machine", "q35", "--smp", str(queues + 1),
               "--mem", "512M", "--config", self.cfgfile.name, "--append", "netstat=1000",
               "--timeout", "900", "--", "-netdev",
               "tap,id=n0,ifname=%s,script=no,downscript=no%s" % (net.tap, qopt), "-device", dev]
        self.p = spawn(cmd)
        self.lines = []
        self.ready = threading.Event()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        assert self.ready.wait(180), "\n".join(self.lines)

    def _read(self):
        for raw in self.p.stdout:
            l = raw.decode(errors="replace").rstrip()
            self.lines.append(l)
            if "pollux ready" in l:
                self.ready.set()

    def out(self):
        return "\n".join(self.lines)

    def stats(self, wait=2.5):
        """Counters from the newest netstat report (printed every second)."""
        time.sleep(wait)
        out = self.out()
        # the newest complete report: between the last two "buffers" lines
        ends = [m.end() for m in re.finditer(r"netstat buffers: [^\n]*", out)]
        assert len(ends) >= 2, out[-2000:]
        block = out[ends[-2]:ends[-1]]
        net = {}
        for m in re.finditer(r"netstat net core \d+: tcp conns (\d+)", block):
            net["conns"] = net.get("conns", 0) + int(m.group(1))
        for m in re.finditer(r"netstat net core \d+ counters:(.*)", block):
            for k, v in re.findall(r" (\w+) (\d+)", m.group(1)):
                net[k] = net.get(k, 0) + int(v)
        acct = re.search(r"netstat buffers: free (\d+) \+ rx posted (\d+) \+ tx held (\d+) = (\d+) of (\d+)", block)
        return net, acct

    def stop(self):
        stop(self.p)
        os.unlink(self.cfgfile.name)


@pytest.fixture(params=[1, 2, 4], ids=["1queue", "2queues", "4queues"])
def setup(request):
    q = request.param
    net = Net(10 + q, q)
    vm = None
    try:
        vm = EchoVM(net, q)
        yield net, vm, q
    finally:
        if vm:
            vm.stop()
        net.close()


def test_ping_tcp_udp_echo(setup):
    net, vm, q = setup
    r = net.run("ping", "-c", "3", "-W", "5", net.guest, timeout=60)
    assert r.returncode == 0, r.stdout.decode() + vm.out()
    blob = os.urandom(1 << 20)
    for i in range(2 * q):                  # several connections: both cores get some
        r = net.run("nc", "-q", "15", net.guest, "7", input=blob, timeout=120)
        assert r.stdout == blob, "TCP echo %d: %d of %d bytes back\n%s" % (i, len(r.stdout), len(blob), vm.out()[-3000:])
    r = net.run("nc", "-u", "-w", "2", net.guest, "7", input=b"udp-hello\n", timeout=30)
    assert r.stdout == b"udp-hello\n", vm.out()[-2000:]
    time.sleep(3)                           # TIME_WAIT (2 s) ends
    st, acct = vm.stats()
    assert st.get("tcp_accepts", 0) >= 2 * q, st
    assert st.get("conns", 1) == 0, st      # every connection slot is back
    assert acct and acct.group(4) == acct.group(5), vm.out()[-2000:]
    if q > 1:
        assert "steered_in" in st or st.get("tcp_accepts", 0) > 0


BAD_FRAMES = r'''
import socket, struct, sys
ifname, dst_ip, src_ip = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
mac = open("/sys/class/net/%s/address" % ifname).read().strip()
src = bytes.fromhex(mac.replace(":", ""))
dst = bytes.fromhex(sys.argv[4].replace(":", ""))
def csum(b):
    if len(b) % 2: b += b"\0"
    s_ = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s_ >> 16: s_ = (s_ & 0xffff) + (s_ >> 16)
    return ~s_ & 0xffff
def ip(proto, payload, frag=0x4000, bad_csum=False, tot=None, ihl=5):
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot or 20 + len(payload), 1, frag, 64, proto, 0,
                    socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    c = csum(h) ^ (0xffff if bad_csum else 0)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload
def eth(payload, t=0x0800):
    return dst + src + struct.pack("!H", t) + payload
def tcp(flags, bad=False):
    t = struct.pack("!HHIIBBHHH", 5555, 7, 1, 0, 5 << 4, flags, 1000, 0, 0)
    ph = socket.inet_aton(src_ip) + socket.inet_aton(dst_ip) + struct.pack("!BBH", 0, 6, len(t))
    c = csum(ph + t) ^ (0xffff if bad else 0)
    return t[:16] + struct.pack("!H", c) + t[18:]
frames = [
    eth(b"\x45\x00"),                                   # truncated IP
    eth(ip(6, tcp(0x02), bad_csum=True)),               # bad IP checksum
    eth(ip(6, tcp(0x02), tot=1400)),                    # length beyond the frame
    eth(ip(6, tcp(0x02), frag=0x2000)),                 # a fragment
    eth(ip(6, tcp(0x02, bad=True))),                    # bad TCP checksum
    eth(ip(6, tcp(0x03))),                              # SYN+FIN: nonsense flags
    eth(b"\x00\x01\x08\x00" + ip(6, tcp(0x02)), 0x8100),  # 802.1Q tagged
    eth(ip(6, tcp(0x02)[:10])),                         # truncated TCP header
    eth(ip(17, b"\x00\x07\x00\x07\x00\x40\x00\x00")),   # UDP length beyond the packet
]
for f in frames:
    s.send(f + b"\0" * max(0, 60 - len(f)))
print(len(frames))
'''


def test_bad_input_is_counted_and_dropped(setup):
    net, vm, q = setup
    if q > 1:
        pytest.skip("one queue is enough here")
    r = net.run("ping", "-c", "1", "-W", "5", net.guest, timeout=60)     # learn the MAC
    assert r.returncode == 0, vm.out()
    mac = re.search(r"lladdr ([0-9a-f:]+)", net.ip("neigh", "show", net.guest).stdout).group(1)
    script = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    script.write(BAD_FRAMES)
    script.close()
    try:
        r = net.run("/usr/bin/python3", script.name, net.tap, net.guest, net.host, mac, timeout=60)
    finally:
        os.unlink(script.name)
    assert r.returncode == 0, r.stderr.decode()
    st, acct = vm.stats(wait=3)
    assert st.get("drop_bad_ip_hdr", 0) >= 2, st       # truncated IP, length beyond the frame
    for k in ("drop_bad_ip_csum", "drop_ip_frag", "drop_bad_tcp_csum",
              "drop_bad_tcp", "drop_vlan", "drop_bad_udp"):
        assert st.get(k, 0) >= 1, (k, st)
    r = net.run("ping", "-c", "2", "-W", "5", net.guest, timeout=60)    # still alive
    assert r.returncode == 0, vm.out()[-2000:]
    assert acct and acct.group(4) == acct.group(5), vm.out()[-2000:]


@pytest.mark.parametrize("queues", [1, 2, 4], ids=["1core", "2cores", "4cores"])
def test_iperf3_client_against_the_appliance(queues):
    """Debian's iperf3 -c runs its normal TCP tests: 1 and 4 streams, both
    directions (-R: the appliance sends), on 1, 2 and 4 data cores."""
    if not shutil.which("iperf3"):
        pytest.skip("no iperf3")
    net = Net(20 + queues, queues)
    vm = None
    try:
        vm = EchoVM(net, queues, config="iperf.json")
        for args in (["-t", "3"], ["-t", "3", "-P", "4"], ["-t", "3", "-R"], ["-t", "3", "-R", "-P", "4"]):
            r = net.run("iperf3", "-c", net.guest, "-J", *args, timeout=60)
            assert r.returncode == 0, " ".join(args) + "\n" + r.stdout.decode()[-2000:] + vm.out()[-2000:]
            res = json.loads(r.stdout)
            rcv = res["end"]["sum_received"]["bytes"]
            assert rcv > 1_000_000, (args, res["end"])
        time.sleep(3)                       # TIME_WAIT (2 s) ends
        st, acct = vm.stats()
        assert st.get("conns", 1) == 0, st  # every connection slot is back
        assert acct and acct.group(4) == acct.group(5), vm.out()[-2000:]
        if queues > 1:                      # the streams were spread over the data cores
            busy = {c for c, rest in re.findall(r"netstat net core (\d+) counters:(.*)", vm.out())
                    if "tcp_accepts" in rest}
            assert len(busy) > 1, vm.out()[-3000:]
    finally:
        if vm:
            vm.stop()
        net.close()

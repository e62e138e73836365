"""Device RSS on the VM (TCG): a multi_queue tap inside a network
namespace this test creates (198.18.0.0/15 inside it, nothing else),
QEMU's virtio-net-pci with rss=on (QEMU steers with its eBPF program
where it can load one, in software otherwise), the echo appliance on
2 and 4 data cores. The driver hands the device our key and indirection
table; many TCP flows from the namespace then land on their owner core
directly: the stack's software-steering counter (steered_out) stays ~0.
Without rss=on the same traffic is steered in software (steered_out > 0),
which shows the counter sees what it should.

Needs root (netns, tap) and a QEMU whose virtio-net-pci has the rss
property; skipped otherwise, with the reason."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import ROOT, VM, spawn, stop


def qemu_has_rss():
    try:
        r = subprocess.run(["qemu-system-x86_64", "-device", "virtio-net-pci,help"],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return re.search(r"^\s*rss=", r.stdout + r.stderr, re.M) is not None


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                       reason="needs root and iproute2 for a network namespace"),
    pytest.mark.skipif(not qemu_has_rss(), reason="this QEMU's virtio-net-pci has no rss property"),
]

FLOWS = 32          # connections; each a new source port, so a new 4-tuple

# Bounded TCP client run inside the namespace: FLOWS connections to the
# echo port, each sends 4 KiB and reads it back. Prints JSON.
# Each connection binds a random source port: the kernel's ephemeral ports
# for one destination go up by two, so 32 of them differ in ~5 low bits;
# Toeplitz is linear in the input bits, and with the random key the driver
# draws at each boot about one boot in eleven mapped all those flows to
# two of four queues (a cleanroom run found it). Random ports vary in ~15
# bits: a queue left without a flow is then ~1 boot in 2500.
CLIENT = r'''
import json, os, random, socket, sys, time
host, flows = sys.argv[1], int(sys.argv[2])

def connect():
    for _ in range(50):
        s = socket.socket()
        try:
            s.bind(("", random.randint(20000, 60999)))
        except OSError:
            s.close()
            continue
        s.settimeout(30)
        s.connect((host, 7))
        return s
    return socket.create_connection((host, 7), timeout=30)

ok = bad = 0
deadline = time.monotonic() + 300
for i in range(flows):
    if time.monotonic() > deadline:
        break
    blob = os.urandom(4096)
    try:
        s = connect()
        s.sendall(blob)
        got = b""
        while len(got) < len(blob):
            d = s.recv(65536)
            if not d:
                break
            got += d
        s.close()
        ok += got == blob
        bad += got != blob
    except OSError:
        bad += 1
print(json.dumps({"ok": ok, "bad": bad}))
'''


class Rig:
    """A namespace with a multi_queue tap, and the echo VM inside it."""

    def __init__(self, subnet, queues, rss):
        self.ns = "pollux-rss%d-%d" % (os.getpid(), subnet)
        self.tap = "prss%d" % subnet
        self.host, self.guest = "198.18.%d.1" % subnet, "198.18.%d.2" % subnet
        self.p = self.cfg = None
        self.lines = []
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.ip("tuntap", "add", "dev", self.tap, "mode", "tap", "multi_queue")
        self.ip("addr", "add", self.host + "/24", "dev", self.tap)
        self.ip("link", "set", self.tap, "up")
        self.ip("link", "set", "lo", "up")
        cfg = json.load(open(os.path.join(ROOT, "configs", "echo.json")))
        cfg["interfaces"] = [{"address": self.guest + "/24", "gateway": self.host}]
        f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(cfg, f)
        f.close()
        self.cfg = f.name
        dev = "virtio-net-pci,netdev=n0,mq=on,vectors=%d,rss=%s" % (2 * queues + 2, "on" if rss else "off")
        cmd = ["ip", "netns", "exec", self.ns, VM, "--machine", "q35", "--smp", str(queues + 1),
               "--mem", "512M", "--config", self.cfg, "--append", "netstat=1000", "--timeout", "900", "--",
               "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no,queues=%d" % (self.tap, queues),
               "-device", dev]
        self.p = spawn(cmd)
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def ip(self, *args):
        subprocess.run(["ip", "-n", self.ns, *args], check=True, capture_output=True)

    def _read(self):
        for raw in self.p.stdout:
            l = raw.decode(errors="replace").rstrip()
            self.lines.append(l)
            if "pollux ready" in l:
                self.ready.set()

    def out(self):
        return "\n".join(self.lines)

    def client(self):
        return subprocess.run(["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-c", CLIENT,
                               self.guest, str(FLOWS)], capture_output=True, text=True, timeout=400)

    def stats(self, wait=3):
        """Per-core net counters from the newest complete netstat report."""
        time.sleep(wait)
        out = self.out()
        ends = [m.end() for m in re.finditer(r"netstat buffers: [^\n]*", out)]
        assert len(ends) >= 2, out[-2000:]
        block = out[ends[-2]:ends[-1]]
        per = {}
        for m in re.finditer(r"netstat net core (\d+) counters:(.*)", block):
            c = per.setdefault(int(m.group(1)), {})
            for k, v in re.findall(r" (\w+) (\d+)", m.group(2)):
                c[k] = c.get(k, 0) + int(v)
        acct = re.search(r"netstat buffers: free (\d+) \+ rx posted (\d+) \+ tx held (\d+) = (\d+) of (\d+)", block)
        return per, acct

    def close(self):
        if self.p:
            stop(self.p)
        if self.cfg:
            os.unlink(self.cfg)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)


@pytest.mark.parametrize("queues,rss", [(2, True), (4, True), (2, False)],
                         ids=["2queues-rss", "4queues-rss", "2queues-software"])
def test_flows_land_on_their_owner(queues, rss):
    rig = Rig(20 + queues + (0 if rss else 10), queues, rss)
    try:
        assert rig.ready.wait(240), rig.out()
        out = rig.out()
        if rss:
            assert re.search(r"eth0: RSS on \(toeplitz, \d+ entries, %d queues" % queues, out), out
        else:
            assert "eth0: software steering (the device offers no RSS)" in out, out
        r = rig.client()
        assert r.returncode == 0, r.stderr + rig.out()[-3000:]
        res = json.loads(r.stdout)
        assert res == {"ok": FLOWS, "bad": 0}, (res, rig.out()[-3000:])
        per, acct = rig.stats()
        total = lambda k: sum(c.get(k, 0) for c in per.values())
        tcp_in, steered = total("tcp_in"), total("steered_out")
        assert total("tcp_accepts") >= FLOWS, per
        assert tcp_in >= 4 * FLOWS, per
        if rss:
            # every data core got flows of its own, and (nearly) none had to
            # be handed over: the device put them on the owner's queue
            for core in range(1, queues + 1):
                assert per.get(core, {}).get("tcp_accepts", 0) > 0, (core, per)
            assert steered * 50 <= tcp_in, ("steered_out %d of tcp_in %d" % (steered, tcp_in), per)
        else:
            assert steered > 0, ("software steering never steered?", per)
        assert acct and acct.group(4) == acct.group(5), rig.out()[-2000:]
        assert "BROKEN" not in rig.out()
    finally:
        rig.close()

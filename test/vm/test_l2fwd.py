"""l2fwd on the VM (TCG) with virtio-net-pci over a QEMU socket netdev on
127.0.0.1 (one queue pair: the socket backend has no multiqueue): frames
of mixed sizes come back exactly, MACs swapped; runts and over-MTU frames
are counted as drops; afterwards every buffer is accounted for."""
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import ROOT, VM, spawn, stop
from netgen import Peer, SRC, frame

CFG = os.path.join(ROOT, "configs", "l2fwd.json")


class L2fwdVM:
    def __init__(self, machine="q35", smp=2, append=""):
        self.peer = Peer()
        cmd = [VM, "--machine", machine, "--smp", str(smp), "--mem", "256M", "--config", CFG,
               "--append", "netstat=300 " + append, "--timeout", "600", "--",
               "-netdev", self.peer.netdev(), "-device", "virtio-net-pci,netdev=n0"]
        self.p = spawn(cmd)
        self.lines = []
        self.ready = threading.Event()
        # the console is read all along: a full pipe would stall the guest
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.ready.wait(120):
            self.stop()
            raise AssertionError("no ready line:\n" + "\n".join(self.lines))

    def _read(self):
        for raw in self.p.stdout:
            l = raw.decode(errors="replace").rstrip()
            self.lines.append(l)
            if "pollux ready" in l:
                self.ready.set()

    def stop(self):
        stop(self.p)
        self.reader.join(10)
        return "\n".join(self.lines)


def last(out, pattern):
    m = re.findall(pattern, out)
    assert m, out
    return m[-1]


def test_l2fwd_frames_come_back_swapped():
    vm = L2fwdVM()
    try:
        n = int(os.environ.get("L2FWD_VM_FRAMES", "100000"))
        runt = SRC + b"\x02" * 2                        # 8 bytes: no Ethernet header
        too_long = frame(0, 1600, b"\xff" * 6)          # over the 1500 MTU
        sent, got = vm.peer.exchange(n, extra=[runt, too_long, too_long], timeout=400)
        time.sleep(1.5)                                 # a netstat line after the traffic
    finally:
        out = vm.stop()
    assert sent == n
    assert len(got) == n, (len(got), out[-3000:])
    # each frame: dst and src swapped, payload intact, sizes as sent
    rebuilt = sorted(g[:6] + b"\xff" * 6 + g[12:] for g in got)
    for g in got[:2000]:
        assert g[0:6] == SRC and g[6:12] == b"\xff" * 6, g[:14].hex()
    seqs = sorted(int.from_bytes(g[14:22], "big") for g in got)
    assert seqs == list(range(n)), "frames lost or duplicated"
    for g in got[:5000]:
        seq = int.from_bytes(g[14:22], "big")
        assert g[12:] == frame(seq, len(g), SRC)[12:], seq
    del rebuilt
    stats = last(out, r"netstat eth0 q0: rx (\d+) tx (\d+) drop nobuf (\d+) runt (\d+) too_long (\d+)")
    rx, tx, nobuf, runts, long_ = map(int, stats)
    assert tx == n and rx == n, stats
    assert long_ == 2, stats
    assert runts >= 0 and nobuf == 0, stats
    acct = last(out, r"netstat buffers: free (\d+) \+ rx posted (\d+) \+ tx held (\d+) = (\d+) of (\d+)")
    assert acct[3] == acct[4], acct
    assert "BROKEN" not in out


def test_l2fwd_bad_pair_is_refused(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"app": "l2fwd", "l2fwd": {"pairs": [[0, 3]]}}')
    p = subprocess.run([VM, "--machine", "q35", "--smp", "2", "--config", str(cfg), "--timeout", "120",
                        "--", "-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-pci,netdev=n0"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 35, p.stdout
    assert "l2fwd.pairs[0][1]: no device 3" in p.stdout, p.stdout


def test_l2fwd_user_networking_comes_up():
    """QEMU user networking (restrict=on): the device comes up, link up."""
    p = subprocess.run([VM, "--machine", "pc", "--smp", "2", "--config", CFG, "--append", "exit=ready",
                        "--timeout", "120", "--", "-netdev", "user,id=n0,restrict=on",
                        "-device", "virtio-net-pci,netdev=n0"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 1, p.stdout
    assert re.search(r"eth0: virtio-net over pci .* link up", p.stdout), p.stdout

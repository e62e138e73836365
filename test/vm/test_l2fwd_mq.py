"""l2fwd on the VM with a multiqueue virtio-net (2 and 4 queue pairs, one
per data core) over a multi_queue tap inside a network namespace: frames
of mixed sizes from many flows come back exactly, MACs swapped, every
queue forwards, every buffer is accounted for afterwards. Needs root."""
import json
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import ROOT, VM, spawn, stop

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                                reason="needs root and iproute2 for a network namespace")
CFG = os.path.join(ROOT, "configs", "l2fwd.json")


@pytest.mark.parametrize("queues", [2, 4])
def test_l2fwd_multiqueue(queues):
    ns, tap = "pollux-mq%d-%d" % (queues, os.getpid()), "pmq%d" % queues
    subprocess.run(["ip", "netns", "add", ns], check=True)
    p = None
    lines = []
    try:
        ipn = lambda *a: subprocess.run(["ip", "-n", ns, *a], check=True)
        ipn("tuntap", "add", "dev", tap, "mode", "tap", "multi_queue")
        ipn("link", "set", tap, "up")
        cmd = ["ip", "netns", "exec", ns, VM, "--machine", "q35", "--smp", str(queues + 1), "--mem", "512M",
               "--config", CFG, "--append", "netstat=1000", "--timeout", "600", "--",
               "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no,queues=%d" % (tap, queues),
               "-device", "virtio-net-pci,netdev=n0,mq=on,vectors=%d" % (2 * queues + 2)]
        p = spawn(cmd)
        ready = threading.Event()

        def read():
            for raw in p.stdout:
                l = raw.decode(errors="replace").rstrip()
                lines.append(l)
                if "pollux ready" in l:
                    ready.set()
        threading.Thread(target=read, daemon=True).start()
        assert ready.wait(180), "\n".join(lines)
        assert any("%d queue pairs" % queues in l for l in lines), "\n".join(lines)
        n = int(os.environ.get("L2FWD_MQ_FRAMES", "300000"))
        r = subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", os.path.join(ROOT, "test", "vm", "tapgen.py"),
                            tap, str(n), "128", "300"], capture_output=True, text=True, timeout=400)
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout)
        time.sleep(2.5)
        out = "\n".join(lines)
        assert res["got"] == n and res["bad"] == 0, (res, out[-3000:])
        # every queue forwarded its share
        for q in range(queues):
            rx = re.findall(r"netstat eth0 q%d: rx (\d+) tx (\d+)" % q, out)
            assert rx and int(rx[-1][0]) > 0 and rx[-1][0] == rx[-1][1], (q, rx[-1:], out[-2000:])
        acct = re.findall(r"netstat buffers: free (\d+) \+ rx posted (\d+) \+ tx held (\d+) = (\d+) of (\d+)", out)
        assert acct and acct[-1][3] == acct[-1][4], acct[-1:]
        assert "BROKEN" not in out
    finally:
        if p:
            stop(p)
        subprocess.run(["ip", "netns", "del", ns])

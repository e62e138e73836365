"""The DHCP client on the VM (TCG) against QEMU's user networking
(-netdev user,restrict=on: the guest reaches nothing beyond the forwards,
and QEMU's built-in DHCP server hands out 10.0.2.15/24 from 10.0.2.2).
The appliance is configs/dhcp-echo.json ("address": "dhcp", echo on
port 7): it must print its lease on the console, and the address must
work: a TCP hostfwd on 127.0.0.1 reaches the echo app and 16 KiB come
back. The counters say one exchange, nothing malformed.

In restricted mode QEMU's server sends no router and no DNS options, so
the bound line has neither here. UDP is not tried: with restrict=on the
guest's UDP echo replies (counted as udp_out in the guest) never reached
the host through a udp hostfwd."""
import os
import re
import socket
import threading
import time

from conftest import ROOT, VM, spawn, stop

BOUND = re.compile(r"eth0: dhcp bound (\d+\.\d+\.\d+\.\d+)/(\d+)(?: router (\S+))?(?: dns (\S+))?"
                   r" lease (\d+) s from (\S+)")


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class DhcpVM:
    def __init__(self):
        self.tport = free_port(socket.SOCK_STREAM)
        netdev = "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:7" % self.tport
        cmd = [VM, "--machine", "q35", "--smp", "2", "--mem", "256M",
               "--config", os.path.join(ROOT, "configs", "dhcp-echo.json"),
               "--append", "netstat=1000", "--timeout", "600",
               "--", "-netdev", netdev, "-device", "virtio-net-pci,netdev=n0"]
        self.p = spawn(cmd)
        self.lines = []
        self.bound = threading.Event()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.p.stdout:
            l = raw.decode(errors="replace").rstrip()
            self.lines.append(l)
            if BOUND.search(l):
                self.bound.set()

    def out(self):
        return "\n".join(self.lines)

    def counters(self):
        """core totals from the newest complete netstat report"""
        out = self.out()
        ends = [m.end() for m in re.finditer(r"netstat buffers: [^\n]*", out)]
        assert len(ends) >= 2, out[-2000:]
        block = out[ends[-2]:ends[-1]]
        net = {}
        for m in re.finditer(r"netstat net core \d+ counters:(.*)", block):
            for k, v in re.findall(r" (\w+) (\d+)", m.group(1)):
                net[k] = net.get(k, 0) + int(v)
        return net

    def stop(self):
        stop(self.p)


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


def test_dhcp_lease_over_user_networking_and_echo_through_it():
    vm = DhcpVM()
    try:
        assert vm.bound.wait(180), "no lease:\n" + vm.out()[-3000:]
        m = BOUND.search(vm.out())
        addr, prefix, lease, server = m.group(1), int(m.group(2)), int(m.group(5)), m.group(6)
        assert (addr, prefix, server) == ("10.0.2.15", 24, "10.0.2.2"), m.group(0)
        assert lease == 86400, m.group(0)
        assert "dhcp offer 10.0.2.15 from 10.0.2.2" in vm.out()
        # the address works: QEMU forwards 127.0.0.1 to 10.0.2.15:7
        payload = bytes(range(256)) * 64                       # 16 KiB
        assert echo_tcp(vm.tport, payload) == payload, vm.out()[-2000:]
        time.sleep(2.5)                                        # a full netstat report after it
        st = vm.counters()
        assert st.get("dhcp_discover", 0) >= 1, st
        assert st.get("dhcp_offer") == 1 and st.get("dhcp_request") == 1 and st.get("dhcp_ack") == 1, st
        for k in ("dhcp_nak", "drop_bad_dhcp", "drop_dhcp_stray"):
            assert st.get(k, 0) == 0, (k, st)
        assert st.get("tcp_accepts", 0) >= 1, st
    finally:
        vm.stop()

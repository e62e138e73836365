"""A host-side frame generator for a QEMU `-netdev socket,udp=...` peer:
each UDP datagram on 127.0.0.1 is one Ethernet frame. Sends numbered
frames of mixed sizes, receives what comes back, checks it."""
import os
import random
import socket
import struct
import time

SRC = bytes.fromhex("021122334455")


def frame(seq, size, dst):
    body = struct.pack("!Q", seq)
    body += bytes((seq + i) & 0xff for i in range(size - 14 - len(body)))
    return dst + SRC + b"\x88\xb5" + body       # local experimental ethertype


class Peer:
    """Our end of the QEMU socket netdev: QEMU listens on qemu_port and
    sends to our_port."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.our_port = self.sock.getsockname()[1]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        self.qemu_port = s.getsockname()[1]
        s.close()

    def netdev(self, nid="n0"):
        return "socket,id=%s,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d" % (nid, self.our_port, self.qemu_port)

    def exchange(self, count, sizes=(60, 64, 128, 512, 1024, 1514), dst=b"\xff" * 6, window=64,
                 timeout=120.0, extra=()):
        """Sends `count` frames (at most `window` unanswered), then the
        `extra` raw frames; returns (sent, received frames)."""
        rng = random.Random(1)
        got, sent, deadline = [], 0, time.monotonic() + timeout
        self.sock.settimeout(0.2)
        for raw in extra:
            self.sock.sendto(raw, ("127.0.0.1", self.qemu_port))
        idle = 0
        while time.monotonic() < deadline:
            while sent < count and sent - len(got) < window:
                self.sock.sendto(frame(sent, rng.choice(sizes), dst), ("127.0.0.1", self.qemu_port))
                sent += 1
            try:
                data, _ = self.sock.recvfrom(65536)
                got.append(data)
                idle = 0
            except socket.timeout:
                idle += 1
                if sent >= count and idle > 10:
                    break
                if sent < count and idle > 25:   # lost frames: move the window on
                    sent_lost = sent - len(got)
                    got.extend([None] * sent_lost)
            if sent >= count and len(got) >= count:
                break
        return sent, [g for g in got if g is not None]

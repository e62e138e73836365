"""Frame generator for a tap inside a network namespace (run there with
`ip netns exec`): sends numbered IPv4/UDP frames of mixed sizes from many
UDP ports (so the kernel's tap spreads them over its queues) into the tap,
reads back what the guest returns, and checks every frame: MACs swapped,
bytes intact, each sequence number exactly once. Prints a JSON summary."""
import json
import os
import random
import socket
import struct
import sys
import time

ETH_P_ALL = 3
PACKET_OUTGOING = 4


def main():
    ifname, count, window, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    s.settimeout(0.2)
    src = bytes.fromhex("021122334455")
    dst = bytes.fromhex("525400123456")
    rng = random.Random(7)
    sizes = [60, 64, 128, 256, 512, 1024, 1400, 1514]
    sent, got, bad, seen, idle = 0, 0, 0, bytearray(count), 0
    deadline = time.monotonic() + timeout
    frames = {}

    def build(seq):
        size = rng.choice(sizes)
        sport = 1024 + seq % 4000
        payload = struct.pack("!I", seq) + bytes((seq * 7 + i) & 0xff for i in range(size - 14 - 20 - 8 - 4))
        udp = struct.pack("!HHHH", sport, 9, 8 + len(payload), 0) + payload
        iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                          socket.inet_aton("198.19.%d.%d" % (seq % 200, 1 + seq % 250)),
                          socket.inet_aton("198.19.255.2"))
        return dst + src + b"\x08\x00" + iph + udp

    while time.monotonic() < deadline and got < count:
        while sent < count and sent - got - bad < window:
            f = build(sent)
            s.send(f)
            frames[sent] = f
            sent += 1
        try:
            data, addr = s.recvfrom(65536)
        except socket.timeout:
            idle += 1
            if idle > 50:                   # 10 s without a frame: stalled
                break
            continue
        idle = 0
        if addr[2] == PACKET_OUTGOING or data[12:14] != b"\x08\x00" or data[0:6] != src:
            continue
        seq = struct.unpack("!I", data[42:46])[0] if len(data) >= 46 else -1
        f = frames.pop(seq, None)
        if f is None or seen[seq]:
            bad += 1
            continue
        if data[6:12] != dst or data[12:] != f[12:]:
            bad += 1
            continue
        seen[seq] = 1
        got += 1
    print(json.dumps({"sent": sent, "got": got, "bad": bad, "missing": count - got}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""gen_dhcp.py — writes the seed corpus of fuzz_dhcp (test/fuzz/corpus/
dhcp/), one small file per stage of the exchange, in the input format
that fuzz_dhcp.c's header describes. Re-run after changing the format."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dhcp")

OFFER, ACK, NAK = 0, 1, 2
OWN_XID, OTHER_CHADDR, UNICAST, FROM_OTHER, BAD_CSUM, NO_END = 1, 2, 4, 8, 16, 32
US, SERVER, OTHER = (198, 18, 0, 2), (198, 18, 0, 1), (198, 18, 0, 7)


def ip(a): return bytes(a)
def ip_le(a): return struct.pack("<I", int.from_bytes(bytes(a), "big"))  # the harness reads u32 LE


def opt(code, data): return bytes([code, len(data)]) + data
def u32be(v): return struct.pack(">I", v)


def reply(kind, yiaddr=US, flags=0, opts=b""):
    return bytes([0 | kind << 2, flags]) + ip_le(yiaddr) + bytes([len(opts)]) + opts


def wait(ms): return bytes([2]) + struct.pack("<I", ms)


def bootp(data, arg=0): return bytes([1 | arg << 2]) + struct.pack("<H", len(data)) + data


SID = opt(54, ip(SERVER))
MASK = opt(1, ip((255, 255, 255, 0)))
ROUTER = opt(3, ip(SERVER))
DNS = opt(6, ip((198, 18, 0, 53)))


def lease(s, t1=None, t2=None, mtu=None, routers=ROUTER, mask=MASK, sid=SID):
    o = sid + mask + routers + DNS + opt(51, u32be(s))
    if t1:
        o += opt(58, u32be(t1))
    if t2:
        o += opt(59, u32be(t2))
    if mtu:
        o += opt(26, struct.pack(">H", mtu))
    return o


BOUND = reply(OFFER, opts=SID + MASK) + reply(ACK, opts=lease(60))

SEEDS = {
    "offer": reply(OFFER, opts=SID + MASK),
    "offer_ack": BOUND,
    "offer_nak": reply(OFFER, opts=SID) + reply(NAK, opts=SID),
    "ack_small_mtu": reply(OFFER, opts=SID) + reply(ACK, opts=lease(60, mtu=300)) + wait(33000),
    "ack_t1_t2": reply(OFFER, opts=SID) + reply(ACK, opts=lease(100, t1=20, t2=40, mtu=1400)),
    "renew_ack": BOUND + wait(33000) + reply(ACK, flags=UNICAST, opts=lease(120)),
    "renew_nak": BOUND + wait(33000) + reply(NAK, flags=UNICAST, opts=SID),
    "renew_other_server": BOUND + wait(33000) +
        reply(NAK, flags=UNICAST | FROM_OTHER, opts=opt(54, ip(OTHER))) +
        reply(ACK, flags=UNICAST, opts=lease(60, sid=opt(54, ip(OTHER)))),
    "rebind_ack": BOUND + wait(56000) + reply(ACK, flags=FROM_OTHER, opts=lease(60, sid=opt(54, ip(OTHER)))),
    "expire": BOUND + wait(61000) + reply(OFFER, opts=SID),
    "bad_routers": reply(OFFER, opts=SID) +
        reply(ACK, opts=lease(60, routers=opt(3, ip((0, 0, 0, 0)) + ip((198, 18, 0, 255)) + ip(US) + ip(SERVER)))),
    "bad_mask": reply(OFFER, opts=SID + opt(1, ip((255, 0, 255, 0)))),
    "bad_addr": reply(OFFER, yiaddr=(198, 18, 0, 255), opts=SID + MASK),
    "bad_server": reply(OFFER, opts=opt(54, ip((224, 0, 0, 1)))),
    "stray": reply(OFFER, flags=OTHER_CHADDR, opts=SID) + reply(OFFER, flags=OWN_XID, opts=b"\x01\x02\x03\x04" + SID),
    "truncated": reply(OFFER, flags=NO_END, opts=SID + bytes([12, 200, 120])),
    "raw_bootp": bootp(bytes([2, 1, 6, 0]) + bytes(232) + bytes.fromhex("63825363") + opt(53, b"\x02") + SID + b"\xff"),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)

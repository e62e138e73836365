#!/usr/bin/env python3
"""gen_tcp_syn.py — writes the seed corpus of fuzz_tcp_syn (test/fuzz/
corpus/tcp_syn/), one small file per scenario, in the input format that
fuzz_tcp_syn.c's header describes. Re-run after changing the format."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tcp_syn")
ACK, PSH, FIN, SYN, RST = 0x10, 0x08, 0x01, 0x02, 0x04
NO_OFFL, CSUM, TSO = 0, 1, 2
MTU1500, MTU1280, MTU576, MTU68 = 0, 4, 8, 12


def u16(v): return struct.pack("<H", v & 0xffff)
def s8(v): return struct.pack("<b", v)
def rec(op, i=0, x=0): return bytes([op | i << 3 | x << 6])


def syn(i, opts, win=65535, again=False): return rec(0, i, 1 if again else 0) + u16(win) + bytes([len(opts)]) + opts


def seg(i, flags, opts=b"", data=b"", win=65535, dseq=None, dack=0):
    head = rec(1, i, 1 if dseq is not None else 0)
    if dseq is not None:
        head += s8(dseq) + s8(dack)
    return head + bytes([flags]) + u16(win) + bytes([len(opts)]) + opts + u16(len(data)) + data


def connect(i): return rec(2, i)
def synack(i, opts, win=65535, dack=0, no_ack=False): return rec(3, i, 1 if no_ack else 0) + u16(win) + bytes([len(opts)]) + opts + s8(dack)
def send(i, n): return rec(4, i) + u16(n)
def wait(ms): return rec(5) + u16(ms)
def ack(i, win=65535): return rec(6, i) + u16(win)
def close(i): return rec(7, i, 0)
def abort(i): return rec(7, i, 1)


def mss(v): return bytes([2, 4, v >> 8 & 0xff, v & 0xff])
def ws(v): return bytes([1, 3, 3, v])
def ts(val=1000, ecr=0): return bytes([1, 1, 8, 10]) + struct.pack(">II", val, ecr)
SACK = bytes([4, 2])
TS_ACK = ts(2000, 0)


def passive(i, opts, data=b"hello", n=5000, ts_ack=True):
    o = TS_ACK if ts_ack else b""
    return (syn(i, opts) + seg(i, ACK, o) + seg(i, ACK | PSH, o, data) + send(i, n) +
            ack(i) + ack(i) + wait(300) + ack(i))


def active(i, opts, n=5000, dack=0):
    return connect(i) + synack(i, opts, dack=dack) + send(i, n) + ack(i) + ack(i) + wait(300) + ack(i)


SEEDS = {}
for m in (0, 1, 11, 12, 87, 88, 89, 536, 1460, 65535):
    SEEDS[f"passive_mss_{m}_ts"] = bytes([0]) + passive(0, mss(m) + SACK + ts() + ws(7))
    SEEDS[f"passive_mss_{m}"] = bytes([CSUM]) + passive(1, mss(m), ts_ack=False)
    SEEDS[f"active_mss_{m}_ts"] = bytes([0]) + active(2, mss(m) + SACK + ts() + ws(7))
    SEEDS[f"active_mss_{m}_tso"] = bytes([TSO]) + active(3, mss(m) + ws(2), n=20000)
SEEDS["passive_no_mss"] = bytes([0]) + passive(0, b"", ts_ack=False)
SEEDS["active_no_mss"] = bytes([0]) + active(0, b"")
SEEDS["active_no_mss_ts"] = bytes([TSO]) + active(0, ts() + ws(3), n=20000)
for w in (0, 14, 15, 255):
    SEEDS[f"passive_ws_{w}"] = bytes([0]) + passive(0, mss(1460) + ws(w) + ts())
    SEEDS[f"active_ws_{w}"] = bytes([0]) + active(0, mss(1460) + ws(w) + ts())
for name, mtu in (("1280", MTU1280), ("576", MTU576), ("68", MTU68)):
    SEEDS[f"mtu_{name}_passive"] = bytes([mtu]) + passive(0, mss(1460) + ts() + ws(7), n=8000)
    SEEDS[f"mtu_{name}_active"] = bytes([mtu | TSO]) + active(1, mss(9000) + ts() + ws(7), n=8000)
    SEEDS[f"mtu_{name}_tiny"] = bytes([mtu | CSUM]) + passive(0, mss(1) + ts(), n=3000)
# option layouts: EOL early, NOPs, unknown kinds, lengths 0/1/overrun, duplicates
LAYOUTS = {
    "eol_first": bytes([0]) + mss(100),
    "nops": bytes([1] * 7) + mss(200),
    "unknown_kind": bytes([30, 6, 1, 2, 3, 4]) + mss(300),
    "len0": bytes([2, 0]) + mss(1),
    "len1": bytes([8, 1]) + ts(),
    "overrun": mss(400) + bytes([8, 40]),
    "mss_len3": bytes([2, 3, 5]) + mss(500),
    "mss_twice": mss(1) + mss(1460),
    "mss_twice_rev": mss(1460) + mss(1),
    "ts_len9": bytes([8, 9]) + bytes(7) + mss(88),
    "sack_len3": bytes([4, 3, 0]) + mss(90),
    "ws_len4": bytes([3, 4, 14, 0]) + mss(600),
    "full_40": bytes([1] * 36) + mss(700),
    "truncated": mss(1460)[:3],
}
for name, opts in LAYOUTS.items():
    SEEDS[f"layout_passive_{name}"] = bytes([0]) + passive(0, opts)
    SEEDS[f"layout_active_{name}"] = bytes([0]) + active(1, opts)
# cookies: more SYNs than the half-open budget (4 of 8 slots)
SEEDS["cookies"] = bytes([MTU576]) + b"".join(syn(i, mss(1460) + ts()) for i in range(6)) + \
    seg(5, ACK, TS_ACK) + send(5, 4000) + ack(5) + wait(1000)
SEEDS["cookies_tiny_mss"] = bytes([0]) + b"".join(syn(i, mss(1)) for i in range(6)) + \
    seg(5, ACK) + send(5, 4000) + ack(5)
SEEDS["retransmitted_syn"] = bytes([0]) + syn(0, mss(1)) + syn(0, mss(1460), again=True) + seg(0, ACK) + send(0, 3000)
SEEDS["syn_in_established"] = bytes([0]) + passive(0, mss(1460)) + syn(0, mss(1)) + send(0, 3000)
SEEDS["simultaneous_open"] = bytes([0]) + connect(0) + synack(0, mss(1) + ts(), no_ack=True) + \
    seg(0, ACK, TS_ACK) + send(0, 3000) + ack(0)
SEEDS["synack_bad_ack"] = bytes([0]) + connect(0) + synack(0, mss(100), dack=5) + synack(0, mss(100)) + send(0, 2000)
SEEDS["zero_window_then_open"] = bytes([0]) + active(0, mss(100), n=0) + ack(0, win=0) + send(0, 3000) + \
    wait(2000) + ack(0, win=1000) + ack(0)
SEEDS["close_both"] = bytes([0]) + passive(0, mss(300)) + close(0) + seg(0, ACK | FIN) + wait(3000)
SEEDS["abort_active"] = bytes([0]) + active(0, mss(300)) + abort(0) + seg(0, ACK, dseq=0)

os.makedirs(OUT, exist_ok=True)
for name, blob in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(blob)
print(f"{len(SEEDS)} seeds in {OUT}")

#!/usr/bin/env python3
"""gen_tcp_conns.py — writes the seed corpus of fuzz_tcp_conns (test/fuzz/
corpus/tcp_conns/), one program per attack of issue 10 (out-of-order
pinning, zero windows, idle slots, every slot taken with SYNs and cookie
ACKs) and a few mixes, in the input format that fuzz_tcp_conns.c's header
describes. Re-run after changing the format."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tcp_conns")
SLOTS8, SLOTS32, SLOTS128, SLOTS300 = 0, 1, 2, 3
SLOW, KEEP10, TSO = 4, 8, 16


def u16(v): return struct.pack("<H", v & 0xffff)
def rec(op, arg=0): return bytes([op | arg << 3])


def open_(k, ws=False, half=False): return rec(0, (1 if ws else 0) | (2 if half else 0)) + u16(k)
def ooo(k, n, off=100, length=1): return rec(1, n - 1) + u16(k) + u16(off) + bytes([length - 1])
def data(k, n): return rec(2) + u16(k) + u16(n) + bytes(n)
def window(k, win=65535, zero=False, send=False): return rec(3, (1 if zero else 0) | (2 if send else 0)) + u16(k) + u16(win)
def wait(ms, times=1): return rec(4, times - 1) + u16(ms)
def fill(n8, half=False): return rec(5, ((n8 - 1) & ~1) | (1 if half else 0))
def complete(): return rec(6)
def app(k, what): return rec(7, what) + u16(k)


SEND, CLOSE, ABORT, FIN, RST, ACKALL, READ, UPDATE = range(8)

SEEDS = {
    # issue 10 item 3: many connections x one-byte out-of-order segments
    "ooo_pin_64x64": bytes([SLOTS300]) + b"".join(open_(k) + ooo(k, 32) + ooo(k, 32, off=200) for k in range(64)) + wait(5000),
    "ooo_then_fill_hole": bytes([SLOTS32]) + open_(0) + ooo(0, 16, off=0) + data(0, 100) + wait(100),
    "ooo_timeout": bytes([SLOTS8]) + open_(1) + ooo(1, 8, off=500, length=60) + wait(11000),
    # item 5: zero-window peers pin send buffers
    "zero_window_32": bytes([SLOTS128]) + b"".join(open_(k) + window(k, zero=True, send=True) for k in range(40)) +
                      wait(60000, 20),
    "zero_window_answered": bytes([SLOTS8]) + open_(0) + window(0, zero=True, send=True) +
                            b"".join(wait(30000) + window(0, zero=True) for _ in range(30)),
    "zero_window_orphan": bytes([SLOTS8]) + open_(0) + window(0, zero=True, send=True) + app(0, CLOSE) + wait(60000, 4),
    # item 4: idle connections hold every slot
    "idle_fill_300": bytes([SLOTS300]) + fill(32) + fill(32) + fill(32) + fill(32) + fill(32) + fill(32) + wait(60000, 4),
    "idle_keepalive_10s": bytes([SLOTS32 | KEEP10]) + fill(32) + wait(30000, 2),
    # item 13: every slot taken, then SYNs and cookie ACKs
    "slots_full_cookies": bytes([SLOTS8]) + fill(8) + fill(8, half=True) + complete() + wait(1000),
    "half_open_cookies": bytes([SLOTS8]) + fill(16, half=True) + complete() + complete() + wait(70000),
    "slots_full_300_cookies": bytes([SLOTS300]) + fill(32) * 9 + fill(32, half=True) + fill(32, half=True) + complete(),
    # mixes
    "fin_rst_close_abort": bytes([SLOTS32]) + b"".join(open_(k) for k in range(8)) + app(0, FIN) + app(1, RST) +
                           app(2, CLOSE) + app(3, ABORT) + app(4, SEND) + app(4, ACKALL) + app(5, SEND) + app(5, CLOSE) + wait(3000),
    "slow_app": bytes([SLOTS8 | SLOW]) + open_(0) + data(0, 1460) * 4 + ooo(0, 4, off=10) + app(0, READ) + data(0, 1000) + app(0, UPDATE),
    "tso_send_all": bytes([SLOTS32 | TSO]) + b"".join(open_(k, ws=True) + app(k, SEND) for k in range(16)) + wait(2000),
    "reopen": bytes([SLOTS8]) + open_(3) + app(3, CLOSE) + open_(3) + wait(2500) + open_(3) + data(3, 10),
}

os.makedirs(OUT, exist_ok=True)
for name, blob in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(blob)
print(f"{len(SEEDS)} seeds in {OUT}")

#!/usr/bin/env python3
"""gen_virtq.py — writes the seed corpus of fuzz_virtq (test/fuzz/corpus/
virtq/), one small file per scenario, in the input format that
fuzz_virtq.c's header describes. Re-run after changing the format."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "virtq")


def u16(v): return struct.pack("<H", v & 0xffff)
def u32(v): return struct.pack("<I", v & 0xffffffff)


def setup(ring_log=1, event_idx=False, offloads=False):
    return bytes([ring_log | (4 if event_idx else 0) | (8 if offloads else 0)])


def rx_used(k, minus=0): return bytes([0 | 3 << 4]) + u16(k) + u32(minus)      # a held chain, near its cap
def rx_used_raw(id_, ln): return bytes([0]) + u16(id_) + u32(ln)
def tx_used(k, minus=0): return bytes([1 | 3 << 4]) + u16(k) + u32(minus)
def used_idx(idx, tx=False): return bytes([2 | (16 if tx else 0)]) + u16(idx)
def header(k, flags=0, gso=0, hdr_len=0, gso_size=0, cs=0, co=0, nbuf=1):
    return bytes([3, k, flags, gso]) + u16(hdr_len) + u16(gso_size) + u16(cs) + u16(co) + u16(nbuf)
def scribble(blk, off, data): return bytes([4, blk]) + u16(off) + bytes([len(data)]) + data
def rx_burst(n=15): return bytes([5 | n << 4])
def tx_burst(frames):
    out = bytes([6 | (len(frames) - 1) << 4])
    for ln, fl, cs in frames:
        out += u16(ln) + bytes([fl]) + u16(cs)
    return out
def reclaim(): return bytes([7])
def take(tx=True): return bytes([8 | (16 if tx else 0)])


SEEDS = {
    # frames in and out the way a well-behaved device does it
    "rx_normal": setup() + take() + header(0, 2) + rx_used(0, 3000) + header(0) + rx_used(0, 1000) +
    rx_burst() + take() + rx_used(0, 0) + rx_burst(),
    "rx_runt_and_long": setup() + take() + rx_used_raw(0, 13) + rx_used(0, 0) + rx_burst(),
    "tx_normal": setup(2) + tx_burst([(60, 0, 0), (1514, 0, 0), (700, 0, 0)]) + take() + tx_used(0) +
    tx_used(0) + tx_used(0) + reclaim(),
    "tx_offloads": setup(1, True, True) + tx_burst([(1514, 1, 0x1022), (3000, 7, 0x1022), (100, 3, 0)]) +
    take() + tx_used(0) + tx_used(1) + reclaim() + tx_burst([(200, 5, 0x10)]),
    # the lies
    "rx_bad_id": setup() + take() + rx_used_raw(40000, 10) + rx_burst(),
    "rx_repeat": setup() + take() + rx_used_raw(0, 100) + rx_used_raw(0, 100) + rx_burst(),
    "rx_bad_len": setup() + take() + rx_used_raw(0, 0xffffffff) + rx_burst(),
    "used_idx_ahead": setup() + used_idx(500) + rx_burst() + used_idx(3, True) + reclaim(),
    "desc_next_rewritten": setup(0, False, True) + tx_burst([(3000, 7, 0x1022)]) + take() +
    scribble(1, 14, u16(0) + u16(7) + u16(0) + u16(99)) + tx_used(0) + reclaim(),
    "header_garbage": setup() + take() + header(0, 0xff, 0xff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff) +
    rx_used(0) + rx_burst(),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("gen_virtq: %d seeds in %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()

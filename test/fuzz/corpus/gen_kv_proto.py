#!/usr/bin/env python3
"""gen_kv_proto.py — writes the seed corpus of fuzz_kv_proto (test/fuzz/
corpus/kv_proto/): text, meta and binary conversations in the input
format fuzz_kv_proto.c's header describes (a segment seed, a mode byte,
the stream). Re-run after changing the format."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kv_proto")


def binreq(op, key=b"", ext=b"", val=b"", opaque=0, cas=0):
    body = ext + key + val
    return struct.pack(">BBHBBHIIQ", 0x80, op, len(key), len(ext), 0, 0, len(body),
                       opaque, cas) + body


TEXT = (b"set foo 5 10 3\r\nbar\r\nget foo\r\ngets foo bar baz\r\nadd foo 0 0 1\r\nx\r\n"
        b"replace foo 0 0 2 noreply\r\nxy\r\nappend foo 0 0 1\r\n!\r\nprepend foo 0 0 1\r\n<\r\n"
        b"cas foo 0 0 1 1\r\nz\r\nincr n 1\r\nset n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\n"
        b"touch foo 100\r\ngat 5 foo n\r\ngats -1 foo\r\ndelete foo\r\ndelete n 0 noreply\r\n"
        b"flush_all 2\r\nversion\r\nverbosity 1\r\nstats\r\nstats items\r\nstats slabs\r\n"
        b"stats settings\r\nstats sizes\r\nstats conns\r\nquit\r\n")
ERRORS = (b"set a 0 0 3\r\nabcde\r\nset a x 0 1\r\nget\r\nbogus\r\nincr a x\r\n"
          b"delete a 1\r\nflush_all x\r\nset " + b"k" * 251 + b" 0 0 1\r\nx\r\n"
          b"get a\x00b\r\nset a 4294967297 -1 1\r\nq\r\n" + b"get " + b"k " * 1200 + b"\r\n"
          b"set a 0 0 2000000\r\n")
META = (b"ms foo 3 T10 F5 c k Oab\r\nbar\r\nmg foo v f t c k s Oab q h l\r\nmg nope v q\r\n"
        b"mn\r\nms Zm9v 2 b MA\r\nhi\r\nmg Zm9v b k v\r\nmd foo q C1\r\nmd foo I T5\r\n"
        b"ma n N0 J10 v t c\r\nma n MD D3 v\r\nmg viv N30 v\r\nme foo\r\nme Zm9v b\r\n"
        b"ms foo 3 Z\r\nbar\r\nmg foo v v\r\nms foo 3 MX\r\nbar\r\nma foo M+\r\n")
BIN = (binreq(0x01, b"foo", struct.pack(">II", 7, 10), b"bar", 1)
       + binreq(0x00, b"foo", opaque=2) + binreq(0x0c, b"foo", opaque=3)
       + binreq(0x09, b"nope", opaque=4) + binreq(0x0d, b"nope", opaque=5)
       + binreq(0x05, b"n", struct.pack(">QQI", 3, 9, 0), opaque=6)
       + binreq(0x16, b"n", struct.pack(">QQI", 1, 0, 0xffffffff), opaque=7)
       + binreq(0x0e, b"foo", val=b"++", opaque=8) + binreq(0x1d, b"foo", struct.pack(">I", 5))
       + binreq(0x1c, b"foo", struct.pack(">I", 5)) + binreq(0x04, b"foo", cas=1)
       + binreq(0x02, b"foo", struct.pack(">II", 0, 0), b"x") + binreq(0x10)
       + binreq(0x10, b"items") + binreq(0x10, b"slabs") + binreq(0x0b) + binreq(0x0a)
       + binreq(0x18, ext=struct.pack(">I", 3)) + binreq(0x60, val=b"zz") + binreq(0x17))
BIN_BAD = (binreq(0x00, b"k", b"\0\0\0\0") + binreq(0x0a))

SEEDS = {
    "text": (0, 0, TEXT), "text_cut": (77, 8, TEXT), "text_staged": (5, 1, TEXT),
    "errors": (0, 0, ERRORS), "errors_cut": (3, 2, ERRORS),
    "meta": (0, 4, META), "meta_cut": (9, 1, META),
    "binary": (0, 0, BIN), "binary_cut": (13, 5, BIN), "binary_bad": (0, 0, BIN_BAD),
}

os.makedirs(OUT, exist_ok=True)
for name, (seed, mode, stream) in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([seed, mode]) + stream)

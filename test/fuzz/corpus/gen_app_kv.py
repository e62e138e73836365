#!/usr/bin/env python3
"""gen_app_kv.py — writes the seed corpus of fuzz_app_kv (test/fuzz/
corpus/app_kv/): kv conversations over the appliance fuzz engine's
records (test/fuzz/app_fuzz.h; the helpers are gen_apps.py's). Re-run
after changing the format."""
import struct

from gen_apps import ack, autoack, bulk, connect, data, fin, rst, split, wait, write


def binreq(op, key=b"", ext=b"", val=b"", opaque=0, cas=0):
    body = ext + key + val
    return struct.pack(">BBHBBHIIQ", 0x80, op, len(key), len(ext), 0, 0, len(body),
                       opaque, cas) + body


def segs(b, flow=0):
    """b in segments of at most 1460 bytes"""
    return split(b, range(1460, len(b), 1460), flow)


SETS = b"".join(b"set k%d 0 0 1000\r\n" % i + bytes([97 + i % 26]) * 1000 + b"\r\n" for i in range(12))
GET12 = b"get " + b" ".join(b"k%d" % i for i in range(12)) + b"\r\n"
BIG = b"set big 0 0 12000\r\n" + b"B" * 12000 + b"\r\n"
kv = {
    "text": b"\0" + connect() + data(b"set a 0 0 3\r\nabc\r\nget a b\r\nincr n 1\r\nset n 0 0 1\r\n5\r\n"
                                      b"incr n 7\r\ndelete a\r\ntouch n 10\r\nversion\r\nquit\r\n"),
    "multi_get_overflow": b"\0" + connect() + segs(SETS) + data(GET12) + data(b"stats\r\n"),
    "meta": b"\0" + connect() + data(b"ms m 2 T30 c\r\nhi\r\nmg m v t c h l k\r\nmg m R40 t\r\n"
                                      b"mg viv N30 v\r\nma c N0 J5 v\r\nmd m I\r\nmg m v\r\nme m\r\nmn\r\n"),
    "binary": b"\0" + connect() + data(binreq(0x01, b"bk", struct.pack(">II", 7, 0), b"val")
                                        + binreq(0x00, b"bk") + binreq(0x0c, b"bk") + binreq(0x0a)
                                        + binreq(0x05, b"ctr", struct.pack(">QQI", 1, 10, 0))
                                        + binreq(0x10) + binreq(0x07)),
    "big_value": b"\0" + connect() + segs(BIG) + data(b"get big big\r\n"),
    "noreply_pipeline": b"\0" + connect() + segs(b"".join(b"set p%d 0 0 2 noreply\r\nxx\r\n" % i
                                                           for i in range(200)) + b"get p0 p199\r\n"),
    "split_requests": b"\0" + connect() + split(b"set s 0 0 5\r\nhello\r\nget s\r\nmg s v\r\n", [1, 4, 13, 16, 20, 27]),
    "never_reads": (b"\1" + connect() + segs(SETS) + ack(0, zero=1)
                    + segs(GET12 * 20) + wait(5000) + wait(6000) + ack(65535)),
    "two_clients": (b"\0" + connect(0) + connect(1) + data(b"set x 0 0 1\r\n1\r\n", 0)
                    + data(b"gets x\r\n", 1) + data(b"flush_all\r\nget x\r\n", 0) + fin(1)),
    "bad_input": (b"\0" + connect(0) + data(b"bogus\r\nset a 0 0 3\r\nabcde\r\n", 0)
                  + connect(1) + data(b"g" * 1460, 1) + data(b"g" * 1000, 1) + rst(0)),
    "stalled_value": (b"\0" + connect(0) + data(b"set big 0 0 12000\r\n" + b"x" * 1000, 0)
                      + connect(1) + segs(BIG, 1) + wait(11000) + wait(1000)),
    "bulk_junk": b"\0" + connect() + autoack(0) + bulk(40, 1460) + wait(200) + ack(65535),
}

if __name__ == "__main__":
    write("app_kv", kv)

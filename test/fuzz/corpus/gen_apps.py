#!/usr/bin/env python3
"""gen_apps.py — writes the seed corpora of the appliance fuzz targets
(test/fuzz/corpus/app_web/, app_echo/, app_proxy/, app_iperf/), a few
small files each, in the record format of test/fuzz/app_fuzz.h. Re-run
after changing the format (then `make fuzz` merges what the fuzzer found
back in)."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def rec(op, flow=0, v=0): return bytes([op | flow << 4 | v << 7])
def connect(flow=0, small_mss=0): return rec(0, flow, small_mss)
def data(b, flow=0, fin=0): return rec(1, flow, fin) + struct.pack("<H", len(b)) + b
def ooo(b, gap, flow=0, old=0): return rec(2, flow, old) + bytes([gap - 1]) + struct.pack("<H", len(b)) + b
def fin(flow=0): return rec(3, flow)
def rst(flow=0, off=0): return rec(4, flow, off)
def ack(win, flow=0, zero=0): return rec(5, flow, zero) + struct.pack("<H", win)
def wait(ms): return rec(6) + struct.pack("<H", ms)
def answer(flow=4, refuse=0): return rec(7, flow, refuse)
def autoack(on, flow=0): return rec(8, flow, on)
def bulk(n, ln, flow=0, psh=1): return rec(10, flow, psh) + bytes([n]) + struct.pack("<H", ln)
def udp(b, sport=40000): return rec(9) + struct.pack("<HH", sport, len(b)) + b


def split(b, cuts, flow=0):
    """b as segments cut at the given offsets"""
    out, last = b"", 0
    for c in list(cuts) + [len(b)]:
        if c > last:
            out += data(b[last:c], flow)
        last = c
    return out


def write(name, seeds):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    for k, v in seeds.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)


GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
web = {
    "get": b"\0" + connect() + data(GET),
    "get_close": b"\0" + connect() + data(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") + fin(),
    "head_404_405": b"\0" + connect() + data(b"HEAD /x HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
    "http10": b"\0" + connect() + data(b"GET /?a=b HTTP/1.0\r\n\r\n"),
    "pipeline_split": b"\0" + connect() + split(GET * 6, [3, 17, 30, 31, 90, 120]),
    "pipeline_blocked": b"\1" + connect() + data(GET * 40) + wait(300) + ack(65535) + wait(300) + ack(65535),
    "zero_window": b"\1" + connect() + ack(0, zero=1) + data(GET * 3) + wait(5000) + ack(65535),
    "long_uri": b"\0" + connect() + data(b"GET /" + b"a" * 400 + b" HTTP/1.1\r\n\r\n"),
    "bad": b"\0" + connect() + data(b"NONSENSE\r\n\r\n") + data(b"junk") + fin(),
    "chunked": b"\0" + connect() + data(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    "half_close": b"\0" + connect() + data(GET, fin=1),
    "reset_mid": b"\0" + connect() + data(GET[:10]) + rst(),
    "ooo": b"\0" + connect() + ooo(GET[10:], 10) + data(GET[:10]) + ooo(b"GET", 5, old=1),
    "two_clients": b"\0" + connect(0) + connect(1) + data(GET, 1) + data(GET, 0) + fin(1) + rst(0),
    "idle": b"\0" + connect() + wait(31000) + data(GET),
}

def req(path, extra=b"", method=b"GET", ver=b"1.1"):
    return method + b" " + path + b" HTTP/" + ver + b"\r\nHost: x\r\n" + extra + b"\r\n"


httpd = {
    "get": b"\0" + connect() + data(GET),
    "head_dir_301": b"\0" + connect() + data(req(b"/docs", method=b"HEAD") + req(b"/docs/") + req(b"/nope")),
    "range": b"\0" + connect() + data(req(b"/a.txt", b"Range: bytes=2-5\r\n")),
    "multipart": b"\0" + connect() + data(req(b"/big.bin", b"Range: bytes=0-99,50000-50099,-10\r\n")),
    "unsatisfiable": b"\0" + connect() + data(req(b"/a.txt", b"Range: bytes=50-\r\n")),
    "conditional": b"\0" + connect() + data(req(b"/a.txt", b"If-None-Match: *\r\n")
                                            + req(b"/a.txt", b"If-Match: \"x\"\r\n")
                                            + req(b"/a.txt", b"If-Range: \"x\"\r\nRange: bytes=1-2\r\n")),
    "big_slow": b"\1" + connect() + data(req(b"/big.bin")) + b"".join(wait(200) + ack(4096) for _ in range(20)),
    "big_zero_window": b"\1" + connect() + ack(0, zero=1) + data(req(b"/big.bin") * 2) + wait(5000) + ack(65535),
    "pipeline_split": b"\0" + connect() + split(req(b"/a.txt") * 6, [3, 17, 30, 31, 90, 120]),
    "long_target": b"\0" + connect() + data(b"GET /" + b"a" * 1400 + b" HTTP/1.1\r\n\r\n"),
    "bad_escape": b"\0" + connect() + data(req(b"/%2e%2e/x") + req(b"/%00")),
    "http10_keep": b"\0" + connect() + data(req(b"/", b"Connection: keep-alive\r\n", ver=b"1.0") + req(b"/a.txt", ver=b"1.0")),
    "http2": b"\0" + connect() + data(req(b"/", ver=b"2.0")),
    "post": b"\0" + connect() + data(req(b"/", b"Content-Length: 3\r\n", method=b"POST") + b"abc" + GET),
    "half_close_big": b"\0" + connect() + data(req(b"/big.bin"), fin=1),
    "reset_mid_body": b"\1" + connect() + data(req(b"/big.bin")) + wait(100) + rst(),
    "two_clients": b"\0" + connect(0) + connect(1) + data(req(b"/big.bin"), 1) + data(GET, 0) + fin(1) + rst(0),
    "idle": b"\0" + connect() + wait(31000) + data(GET),
}

echo = {
    "echo": b"\0" + connect() + data(b"hello\n") + fin(),
    "split": b"\0" + connect() + split(bytes(range(256)) * 4, [1, 2, 300, 700]),
    "no_reader": b"\1" + connect() + ack(0, zero=1) + bulk(60, 1460) + wait(2000),
    "slow_reader": b"\1" + connect() + b"".join(bulk(3, 1460) + wait(200) + ack(4096) for _ in range(20)),
    "fin_pending": b"\1" + connect() + data(bytes(1460) * 1) + data(bytes(1460)) + fin() + wait(500) + autoack(1),
    "udp": b"\0" + udp(b"ping") + udp(b"loop", sport=7) + udp(b"x" * 1472, sport=1234),
    "reset": b"\0" + connect() + data(b"abc") + rst(off=1) + rst(),
    "ooo": b"\0" + connect() + ooo(b"world", 5) + data(b"hello"),
}

COOKIE = b"abcdefghijklmnopqrstuvwxyz01234567890"[:36] + b"\0"
assert len(COOKIE) == 37


def jmsg(o):
    t = json.dumps(o, separators=(",", ":")).encode()
    return struct.pack(">I", len(t)) + t


PARAMS = {"tcp": True, "omit": 0, "time": 1, "parallel": 2, "len": 131072, "client_version": "3.16"}
RESULTS = {"cpu_util_total": 0, "streams": [{"id": 1, "bytes": 10}]}
iperf = {
    "session": (b"\0" + connect(0) + data(COOKIE, 0) + data(jmsg(PARAMS), 0) + connect(1) + data(COOKIE, 1)
                + connect(2) + data(COOKIE, 2) + data(bytes(1000), 1) + data(bytes(1000), 2)
                + data(b"\x04", 0) + data(jmsg(RESULTS), 0) + data(b"\x10", 0) + fin(1) + fin(2) + fin(0)),
    "reverse": (b"\0" + connect(0) + data(COOKIE, 0) + data(jmsg(dict(PARAMS, parallel=1, reverse=True, len=1000)), 0)
                + connect(1) + data(COOKIE, 1) + wait(200) + data(b"\x04", 0) + wait(100) + rst(1)
                + data(jmsg(RESULTS), 0) + rst(0)),
    "split_cookie": b"\0" + connect(0) + split(COOKIE + jmsg({"udp": True}), [1, 36, 38, 40]),
    "huge_len": b"\0" + connect(0) + data(COOKIE + struct.pack(">I", 2 << 20)),
    "bad_json": b"\0" + connect(0) + data(COOKIE + struct.pack(">I", 5) + b"{{{{{") + data(b"\x10"),
    "ctl_gone_first": (b"\0" + connect(0) + data(COOKIE, 0) + data(jmsg(dict(PARAMS, parallel=3)), 0)
                       + connect(1) + data(COOKIE, 1) + rst(0) + data(bytes(100), 1) + fin(1)),
}

proxy = {
    "relay": (b"\0" + connect(0) + answer(4) + data(b"request", 0) + data(b"response", 4)
              + fin(0) + fin(4)),
    "backend_refuses": b"\0" + connect(0) + answer(4, refuse=1) + data(b"x", 0),
    "backend_silent": b"\0" + connect(0) + data(b"early", 0) + wait(30000),
    "backpressure": (b"\1" + connect(0) + answer(4) + ack(0, 4, zero=1)
                     + bulk(30, 1460, 0) + wait(1000) + ack(65535, 4)),
    "reset_client": b"\0" + connect(0) + answer(4) + data(b"abc", 4) + rst(0),
    "reset_backend": b"\0" + connect(0) + answer(4) + data(b"abc", 0) + rst(4),
    "half_close": b"\0" + connect(0) + answer(4) + fin(0) + data(b"still here", 4) + fin(4),
    "two": b"\0" + connect(0) + connect(1) + answer(4) + answer(5) + data(b"a", 1) + data(b"b", 0),
}

if __name__ == "__main__":
    write("app_web", web)
    write("app_httpd", httpd)
    write("app_echo", echo)
    write("app_iperf", iperf)
    write("app_proxy", proxy)

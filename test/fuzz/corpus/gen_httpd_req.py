#!/usr/bin/env python3
"""gen_httpd_req.py — writes the seed corpus of fuzz_httpd_req (test/fuzz/
corpus/httpd_req/): request targets, Range and conditional header values
from RFC 9110's examples and their edges, in the input format
fuzz_httpd_req.c's header describes (a flags byte, the length, a time, then
'\\n'-separated fields). Re-run after changing the format."""
import hashlib
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "httpd_req")
NOW = 1780000000
RFC = b"Sun, 06 Nov 1994 08:49:37 GMT"

TARGETS = [b"/", b"/index.html", b"/a//b/./c/../d/", b"/a/%2e%2e/%2E%2E/b", b"/..%2f",
           b"/caf%C3%A9?x=1", b"http://example.com/a/b?q", b"https://h:8443", b"*",
           b"/a%00b", b"/b/c/./../../g", b"/%25%41%zz", b"//../x", b"/a/b/c/d/../../..",
           b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0"]
RANGES = [b"bytes=0-499", b"bytes=-500", b"bytes=9500-", b"bytes=0-0,-1",
          b"bytes=500-600,601-999", b"bytes= 0-999, 4500-5499, -1000", b"bytes=5-1",
          b"bytes=" + b",".join(b"%d-%d" % (i * 3, i * 3 + 1) for i in range(17)),
          b"bytes=0-99,0-99", b"bytes=99999999999999999999-", b"items=0-1", b"bytes=-0"]
ETAGS = [b'"xyzzy"', b'W/"xyzzy"', b'"xyzzy", "r2d2xxxx", "c3piozzzz"', b"*", b'"a" "b"']
DATES = [RFC, b"Sunday, 06-Nov-94 08:49:37 GMT", b"Sun Nov  6 08:49:37 1994",
         b"Sat, 31 Dec 2016 23:59:60 GMT", b"Sun, 31 Feb 1994 08:49:37 GMT"]


def seed(flags, length, t, fields):
    return bytes([flags]) + struct.pack("<Qq", length, t) + b"\n".join(fields)


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = []
    for i, t in enumerate(TARGETS):
        seeds.append(seed(0, 10000, NOW, [t]))
    for i, r in enumerate(RANGES):
        seeds.append(seed(0b100, 10000 if i % 3 else 1000, NOW, [b"/f", r]))
    for i, e in enumerate(ETAGS):
        d = DATES[i % len(DATES)]
        seeds.append(seed(0b11111100, 10000, NOW,
                          [b"/f", b"bytes=0-9,20-29", e, e, d, d, b'"xyzzy"', b'"xyzzy"']))
        seeds.append(seed(0b01010000 | (i & 1), 0, NOW, [b"/f", b"", b"", e, d, b"", d, b'"q"']))
    for d in DATES:
        seeds.append(seed(0b10000100, 1 << 40, NOW, [b"/f", b"bytes=0-", b"", b"", b"", b"", d]))
    for s in seeds:
        name = hashlib.sha1(s).hexdigest()
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(s)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""gen_api_slots.py — writes the seed corpus of fuzz_api_slots (test/fuzz/
corpus/api_slots/): small event programs in the format fuzz_api_slots.c's
header describes (a set-up byte, then op, a, b triples). Re-run after
changing the format."""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "api_slots")
CONNECT, SEND, ADVANCE, CLOSE, HS_DONE, HS_FAIL, BURST, SEND_ALL = range(8)
IMAGE, HOSTED = 1, 0


def ev(op, a=0, b=0): return bytes([op, a, b])
def advance(ms): return ev(ADVANCE, min(ms // 250, 255), ms % 250 if ms < 64000 else 0)


SEEDS = {
    # one client, handshake, a whole request in pieces, then a second one
    "one_request": bytes([IMAGE]) + ev(CONNECT, 0) + ev(HS_DONE, 0) + ev(SEND, 0, 20) +
    advance(500) + ev(SEND, 0, 63) + ev(SEND, 0, 63) + ev(SEND, 0, 10),
    # slowloris: one source fills its share, then a byte every 5 s each
    "slowloris": bytes([IMAGE]) + ev(BURST, 1, 63) + b"".join(ev(HS_DONE, k) for k in range(56)) +
    b"".join(ev(SEND_ALL) + advance(5000) for _ in range(8)),
    # the hosted table to the cap from many sources, then idle
    "full_hosted": bytes([HOSTED]) + b"".join(ev(BURST, 192 + k, 63) for k in range(5)) +
    advance(9000) + advance(2000) + ev(CONNECT, 200),
    # handshakes that stall, fail and close, mixed with new connections
    "handshakes": bytes([IMAGE]) + ev(BURST, 2, 9) + ev(HS_FAIL, 3) + ev(CLOSE, 1) +
    advance(19000) + ev(SEND, 0, 5) + advance(1500) + ev(CONNECT, 2),
    # headers in time but a body that never ends
    "slow_body": bytes([HOSTED]) + ev(CONNECT, 200) + ev(HS_DONE, 0) + ev(SEND, 0, 60) +
    advance(9000) + ev(SEND, 0, 2) + advance(15000) + ev(SEND, 0, 1) + advance(7000),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)

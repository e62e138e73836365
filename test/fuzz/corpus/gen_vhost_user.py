#!/usr/bin/env python3
"""gen_vhost_user.py — writes the seed corpus of fuzz_vhost_user (test/fuzz/
corpus/vhost_user/), one small file per scenario, in the input format that
fuzz_vhost_user.c's header describes: a set-up byte, then the backend's
side of the conversation. Re-run after changing the format."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vhost_user")

GET_FEATURES, SET_OWNER, SET_FEATURES, SET_MEM_TABLE = 1, 3, 2, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL = 12, 13
GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE = 15, 17, 18
REPLY = 0x4 | 0x1

VERSION_1, PROTOCOL, MAC, EVENT_IDX, MRG_RXBUF = 1 << 32, 1 << 30, 1 << 5, 1 << 29, 1 << 15
P_MQ, P_REPLY_ACK = 1 << 0, 1 << 3


def reply(req, payload, flags=REPLY):
    return struct.pack("<III", req, flags, len(payload)) + payload


def u64(v): return struct.pack("<Q", v)
def ack(req, status=0): return reply(req, u64(status))
def vring_state(index, num): return struct.pack("<II", index, num)


def ring_acks(n):
    out = ack(SET_MEM_TABLE)
    for _ in range(n):
        out += b"".join(ack(r) for r in (SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK,
                                         SET_VRING_CALL, SET_VRING_ENABLE))
    return out


def with_acks(pairs, rings):
    s = reply(GET_FEATURES, u64(VERSION_1 | PROTOCOL | MAC | EVENT_IDX | MRG_RXBUF))
    s += reply(GET_PROTOCOL_FEATURES, u64(P_MQ | P_REPLY_ACK))
    s += reply(GET_QUEUE_NUM, u64(pairs))
    s += ack(SET_OWNER) + ack(SET_FEATURES) + ring_acks(rings)
    s += b"".join(reply(GET_VRING_BASE, vring_state(i, 0)) for i in range(rings))
    return s


def plain(rings):
    """no protocol features: no acks, one pair"""
    s = reply(GET_FEATURES, u64(VERSION_1 | MAC))
    s += b"".join(reply(GET_VRING_BASE, vring_state(i, 0)) for i in range(rings))
    return s


SEEDS = {
    "acks_one_pair": bytes([0]) + with_acks(1, 2),
    "acks_two_pairs": bytes([2]) + with_acks(2, 4),
    "acks_first_ring_only": bytes([16]) + with_acks(1, 1),
    "plain": bytes([0]) + plain(2),
    "connect_only": bytes([8]) + reply(GET_FEATURES, u64(VERSION_1)),
    "no_version_1": bytes([0]) + reply(GET_FEATURES, u64(MAC)),
    "wrong_reply": bytes([0]) + reply(GET_PROTOCOL_FEATURES, u64(VERSION_1)),
    "short_reply": bytes([0]) + reply(GET_FEATURES, u64(VERSION_1))[:10],
    "refused": bytes([0]) + reply(GET_FEATURES, u64(VERSION_1 | PROTOCOL)) +
    reply(GET_PROTOCOL_FEATURES, u64(P_REPLY_ACK)) + ack(SET_OWNER, 1),
    "zero_queues": bytes([0]) + reply(GET_FEATURES, u64(VERSION_1 | PROTOCOL)) +
    reply(GET_PROTOCOL_FEATURES, u64(P_MQ)) + reply(GET_QUEUE_NUM, u64(0)),
    "fd_attached": bytes([1]) + with_acks(1, 2),
    "bad_vring_base": bytes([0]) + plain(0) + reply(GET_VRING_BASE, vring_state(7, 0)),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("gen_vhost_user: %d seeds in %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()

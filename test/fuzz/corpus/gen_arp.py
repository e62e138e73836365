#!/usr/bin/env python3
"""gen_arp.py — writes the seed corpus of fuzz_arp (test/fuzz/corpus/
arp/), one small file per case across the two interfaces, in the input
format that fuzz_arp.c's header describes (addresses and MACs are indices
into its tables). Re-run after changing the format."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "arp")
# fuzz_arp.c's tables
ZERO, BCAST, OURS, ETH1, PEER, OTHER, NET0_BCAST, NET0 = range(8)
GW1, HOST1, NET1_BCAST, FAR, LOOP, GROUP, OFFNET, RAW_ADDR = range(8, 16)
MAC_PEER, MAC_7, MAC_99, MAC_BCAST, MAC_GROUP, MAC_ZERO, MAC_OURS, RAW_MAC = range(8)
REQUEST, REPLY = 0, 1


def rec(op, eth1=False, arg=0): return bytes([op | ((1 if eth1 else 0) | arg << 1) << 3])
def arp(op, sha, spa, tpa, eth1=False): return rec(0, eth1) + bytes([op, sha, spa, tpa])
def wait(ms): return rec(2) + struct.pack("<H", ms)
def ping(src, eth1=False): return rec(3, eth1) + bytes([src])
def app(dst, eth1=False): return rec(4, eth1) + bytes([dst])
def flood(n8, eth1=False): return rec(5, eth1, n8)


SEEDS = {
    "eth1_gateway_learned_then_used": arp(REPLY, MAC_99, GW1, ETH1, True) + app(FAR, True) + app(HOST1, True),
    "eth0_peer_not_used_on_eth1": arp(REQUEST, MAC_7, PEER, OURS) + app(HOST1, True) + ping(HOST1, True) +
                                  arp(REPLY, MAC_99, HOST1, ETH1, True) + app(HOST1, True),
    "eth1_gateway_claimed_on_eth0": arp(REPLY, MAC_7, GW1, OURS) + arp(REQUEST, MAC_7, GW1, OURS) + app(FAR, True) + app(FAR),
    "same_mac_both": arp(REQUEST, MAC_99, OTHER, OURS) + arp(REQUEST, MAC_99, HOST1, ETH1, True) + app(OTHER, True) +
                     app(HOST1) + app(OTHER) + app(HOST1, True),
    "ping_asks_then_reply": ping(OTHER) + arp(REPLY, MAC_7, OTHER, OURS) + ping(HOST1, True) +
                            arp(REPLY, MAC_99, HOST1, ETH1, True) + ping(HOST1, True),
    "our_addresses_claimed": arp(REQUEST, MAC_7, ETH1, OURS) + arp(REQUEST, MAC_7, OURS, ETH1, True) +
                             arp(REPLY, MAC_99, ETH1, ETH1, True) + wait(1000),
    "bad_senders_eth1": b"".join(arp(REQUEST, m, a, ETH1, True) for m, a in
                                 ((MAC_BCAST, HOST1), (MAC_GROUP, HOST1), (MAC_ZERO, HOST1), (MAC_7, NET1_BCAST),
                                  (MAC_7, LOOP), (MAC_7, GROUP), (MAC_7, OFFNET), (MAC_7, ZERO), (MAC_OURS, HOST1))),
    "floods_both": flood(15, True) + flood(15) + app(HOST1, True) + app(FAR, True) + wait(60000),
    "aging_both": arp(REPLY, MAC_99, GW1, ETH1, True) + arp(REQUEST, MAC_7, OTHER, OURS) + wait(65535) * 6 +
                  app(FAR, True) + app(OTHER),
}

os.makedirs(OUT, exist_ok=True)
for name, blob in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(blob)
print(f"{len(SEEDS)} seeds in {OUT}")

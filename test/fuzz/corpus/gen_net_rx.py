#!/usr/bin/env python3
"""gen_net_rx.py — writes the seed corpus of fuzz_net_rx (test/fuzz/
corpus/net_rx/), one small file per scenario, in the input format that
fuzz_net_rx.c's header describes. Re-run after changing the format."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "net_rx")
ACK, PSH, FIN, SYN, RST = 0x10, 0x08, 0x01, 0x02, 0x04

CONNECT, SMALL, NO_OPTS, APP_SENDS, CLOSE_ON_FIN, UPDATE_ON_RECV = 1, 2, 4, 8, 16, 32


def u16(v): return struct.pack("<H", v & 0xffff)
def s16(v): return struct.pack("<h", v)
def u32(v): return struct.pack("<I", v & 0xffffffff)


def raw(frame): return bytes([0]) + u16(len(frame)) + frame


def tcp(flags, dseq=0, dack=0, win=65535, data=b"", opts=b"", bad_csum=False):
    return (bytes([1 | (8 if bad_csum else 0), flags]) + s16(dseq) + s16(dack) + u16(win) +
            bytes([len(opts)]) + opts + u16(len(data)) + data)


def wait(ms): return bytes([2]) + u16(ms)
def app_send(data): return bytes([3 | 0 << 3]) + u16(len(data)) + data
def app_close(): return bytes([3 | 1 << 3])
def app_abort(): return bytes([3 | 2 << 3])
def app_read(): return bytes([3 | 3 << 3])


def ip(proto, payload, other=False, keep_csum=False):
    arg = (1 if other else 0) | (2 if keep_csum else 0)
    return bytes([4 | arg << 3, proto]) + u16(len(payload)) + payload


def arp(op, sender, target): return bytes([5, op, sender, target])
def syn(port_index, complete=False): return bytes([6 | ((port_index & 15) | (16 if complete else 0)) << 3])


def tcp_any(sport, dport, seq, ack, flags, win=65535, data=b""):
    return bytes([7]) + u16(sport) + u16(dport) + u32(seq) + u32(ack) + bytes([flags]) + u16(win) + u16(len(data)) + data


def ip_csum(h):
    s = sum(h[i] << 8 | h[i + 1] for i in range(0, len(h), 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return h[:10] + struct.pack(">H", ~s & 0xffff) + h[12:]


ETH = bytes.fromhex("525400123456" "020000000001") + b"\x08\x00"
PEER, US = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])
TS_OPT = bytes([1, 1, 8, 10]) + u32(12345) + u32(0)

def syn_hdr(sport, opts, flags=SYN, seq=1000, ack=0, dport=5001):
    """a TCP header with options for op 4 (the fuzzer fixes the checksum)"""
    opts = opts + b"\x00" * (-len(opts) % 4)
    return (struct.pack(">HHIIBBHHH", sport, dport, seq, ack, (5 + len(opts) // 4) << 4, flags, 65535, 0, 0) + opts)


def mss(v): return bytes([2, 4, v >> 8 & 0xff, v & 0xff])
def wscale(v): return bytes([1, 3, 3, v])
SACK_OK = bytes([4, 2])


SEEDS = {
    # passive opens with hostile SYN options (the listen path; issue 10)
    "syn_opts_tiny_mss": bytes([0]) + b"".join(ip(6, syn_hdr(41100 + i, mss(m) + TS_OPT))
                                               for i, m in enumerate((0, 1, 11, 12, 87, 88, 65535))),
    "syn_opts_tiny_mss_no_ts": bytes([0]) + b"".join(ip(6, syn_hdr(41200 + i, mss(m)))
                                                     for i, m in enumerate((1, 11, 12, 88))),
    "syn_opts_wscale": bytes([0]) + b"".join(ip(6, syn_hdr(41300 + i, mss(1460) + wscale(w) + SACK_OK + bytes([1, 1]) + TS_OPT))
                                             for i, w in enumerate((0, 14, 15, 255))),
    "syn_opts_malformed": bytes([0]) + ip(6, syn_hdr(41400, bytes([2, 4, 0]))) + ip(6, syn_hdr(41401, bytes([2, 0]) + mss(1))) +
                          ip(6, syn_hdr(41402, bytes([8, 9]) + TS_OPT)) + ip(6, syn_hdr(41403, bytes([3, 3, 14, 2, 4, 0, 1]))),
    "syn_opts_cookies": bytes([0]) + b"".join(ip(6, syn_hdr(41500 + i, mss(1 + i * 40) + TS_OPT)) for i in range(12)) +
                        ip(6, syn_hdr(41500, b"", flags=ACK, seq=1001, ack=12345)),
    "arp_request": bytes([0]) + arp(1, 7, 2),
    "arp_reply_gratuitous": bytes([0]) + arp(2, 1, 1) + arp(1, 9, 9),
    "icmp_echo": bytes([0]) + ip(1, bytes([8, 0, 0, 0, 0, 1, 0, 1]) + b"ping" * 8),
    "icmp_from_unknown": bytes([0]) + ip(1, bytes([8, 0, 0, 0, 0, 1, 0, 1]), other=True),
    "udp_echo": bytes([0]) + ip(17, u16(40000)[::-1] + bytes([0, 7]) + bytes([0, 13, 0, 0]) + b"hello"),
    "udp_bad_len": bytes([0]) + ip(17, bytes([0x9c, 0x40, 0, 7, 0, 200, 0, 0]) + b"x"),
    "ip_options_fragment": bytes([0]) + raw(ETH + ip_csum(bytes([0x46, 0, 0, 32, 0, 1, 0x20, 0, 64, 1, 0, 0]) + PEER + US + bytes([1, 1, 1, 0])) + bytes([8, 0, 0xf7, 0xfe, 0, 1, 0, 0])) +
                           raw(ETH + ip_csum(bytes([0x46, 0, 0, 32, 0, 1, 0, 0, 64, 1, 0, 0]) + PEER + US + bytes([1, 1, 1, 0])) + bytes([8, 0, 0xf7, 0xfe, 0, 1, 0, 0])),
    "runt_and_vlan": bytes([0]) + raw(b"\x00" * 10) + raw(ETH[:12] + b"\x81\x00" + b"\x00" * 46),
    "tcp_data_both_ways": bytes([CONNECT | APP_SENDS]) + tcp(ACK | PSH, data=b"a" * 1000) + tcp(ACK, data=b"b" * 1000) + wait(50) + tcp(ACK),
    "tcp_ooo": bytes([CONNECT]) + tcp(ACK, dseq=200, data=b"c" * 100) + tcp(ACK, dseq=100, data=b"b" * 100) + tcp(ACK, data=b"a" * 300),
    "tcp_ooo_abort": bytes([CONNECT | 2 << 6]) + tcp(ACK, dseq=100, data=b"b" * 100) + tcp(ACK, dseq=200, data=b"c" * 100) + tcp(ACK, data=b"a" * 100),
    "tcp_ooo_update": bytes([CONNECT | UPDATE_ON_RECV]) + tcp(ACK, dseq=100, data=b"b" * 100) + tcp(ACK, data=b"a" * 100),
    "tcp_loss_rto": bytes([CONNECT | APP_SENDS]) + tcp(ACK, dack=-3000) + wait(1100) + wait(2100) + tcp(ACK),
    "tcp_dupacks": bytes([CONNECT | APP_SENDS]) + tcp(ACK, dack=-1552) * 5 + tcp(ACK),
    "tcp_zero_window": bytes([CONNECT]) + tcp(ACK, win=0) + app_send(b"z" * 2000) + wait(1100) + tcp(ACK, win=0) + wait(2100) + tcp(ACK, dack=1, win=100) + tcp(ACK),
    "tcp_passive_close": bytes([CONNECT | CLOSE_ON_FIN]) + tcp(ACK | FIN, data=b"bye") + tcp(ACK),
    "tcp_active_close": bytes([CONNECT | APP_SENDS]) + app_close() + tcp(ACK) + tcp(ACK | FIN) + wait(2100),
    "tcp_simultaneous_close": bytes([CONNECT]) + app_close() + tcp(ACK | FIN, dack=-1) + tcp(ACK),
    "tcp_rst": bytes([CONNECT]) + tcp(RST, dseq=100) + tcp(RST, dseq=30000) + tcp(RST),
    "tcp_syn_in_window": bytes([CONNECT]) + tcp(SYN, dseq=5) + tcp(SYN | FIN) + tcp(ACK, data=b"x", bad_csum=True),
    "tcp_small_app": bytes([CONNECT | SMALL]) + tcp(ACK, data=b"s" * 1400) * 4 + app_read() + tcp(ACK, dseq=-1504, data=b"s" * 1504),
    # found by the fuzzer: a retransmission overlapping rcv_nxt went past recv_space
    "tcp_small_app_retransmit": bytes([CONNECT | SMALL]) + tcp(ACK, data=b"s" * 1400) * 3 + tcp(ACK, dseq=-1400, data=b"s" * 1400),
    "tcp_no_opts": bytes([CONNECT | NO_OPTS | APP_SENDS]) + tcp(ACK, data=b"n" * 536) + tcp(ACK),
    "tcp_handshake_by_hand": bytes([0]) + tcp(SYN, opts=bytes([2, 4, 5, 180, 1, 3, 3, 7]) + TS_OPT) + tcp(ACK) + tcp(ACK, data=b"hi"),
    "tcp_syn_cookies": bytes([0]) + syn(0) + syn(1) + syn(2) + syn(3) + syn(4) + syn(5, True) + syn(6, True),
    "tcp_closed_port": bytes([0]) + tcp_any(40000, 9, 1000, 0, SYN) + tcp_any(40000, 9, 1, 77, ACK) + tcp_any(40000, 5001, 1, 77, ACK),
    "tcp_syn_rcvd_rst": bytes([0]) + syn(0) + tcp_any(41000, 5001, 0x10000000 + 41000 * 7919 + 1, 0, RST) + wait(65535),
    "tcp_bad_options": bytes([CONNECT]) + tcp(ACK, opts=bytes([2, 0, 0, 0])) + tcp(ACK, opts=bytes([8, 10]) + u32(0) + u32(0x80000000) + bytes([0, 0])),
}

os.makedirs(OUT, exist_ok=True)
for name, blob in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(blob)
print(f"{len(SEEDS)} seeds in {OUT}")

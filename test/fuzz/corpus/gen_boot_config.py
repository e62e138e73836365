#!/usr/bin/env python3
"""gen_boot_config.py — writes the seed corpus of fuzz_boot_config
(test/fuzz/corpus/boot_config/): boot configs with what configs/ lacks,
tokens, TLS material (the test-only PEMs of test/fuzz/api_tls_mtls_pems.h,
as server certificate and key, client CA and CRL), admin subjects, routes,
DHCP, VLANs, each appliance; and a few that must be refused. Re-run after
changing the schema or the PEMs."""
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "boot_config")


def pems():
    text = open(os.path.join(HERE, "..", "api_tls_mtls_pems.h")).read()
    out = {}
    for name, body in re.findall(r'static const char (\w+)\[\] =\n(.*?)\t;', text, re.S):
        out[name] = "".join(line + "\n" for line in re.findall(r'"(.*?)\\n"', body))
    return out


P = pems()
IF0 = {"address": "198.18.0.2/24", "gateway": "198.18.0.1", "mtu": 1500}
API = {"token": "admin-token-0123456789abcdef", "monitor_token": "monitor-token-0123456789",
       "port": 8443, "interface": 0}
SEEDS = {
    "mtls_full": {"name": "mtls", "app": "web", "interfaces": [IF0],
                  "api": dict(API, cert=P["MT_ADMIN_CRT"], key=P["MT_ADMIN_KEY"],
                              client_ca=P["MT_CA_CRT"], client_crl=P["MT_CA_CRL"],
                              admin_subjects=["ops-admin", "ops-revoked"])},
    "mtls_no_token": {"app": "echo", "interfaces": [{"address": "dhcp"}],
                      "api": {"client_ca": P["MT_CA_CRT"], "client_crl": P["MT_CA_CRL"]}},
    "key_mismatch": {"interfaces": [IF0],
                     "api": dict(API, cert=P["MT_ADMIN_CRT"], key=P["MT_MONITOR_KEY"])},
    "crl_without_ca": {"interfaces": [IF0], "api": dict(API, client_crl=P["MT_CA_CRL"])},
    "cert_as_crl": {"interfaces": [IF0], "api": dict(API, client_ca=P["MT_CA_CRT"], client_crl=P["MT_CA_CRT"])},
    "routes_vlan": {"name": "edge", "app": "proxy",
                    "interfaces": [dict(IF0, vlan=42, routes=[{"to": "10.0.0.0/8", "via": "198.18.0.1"}]),
                                   {"address": "192.0.2.2/24", "mtu": 9000}],
                    "proxy": {"listen": 8080, "backend": "192.0.2.9:80"},
                    "tcp": {"max_conns_per_core": 64, "send_buffer": 65536, "keepalive_s": 30},
                    "api": dict(API, interface=1)},
    "secret_everywhere": {"name": "admin-token-0123456789abcdef", "app": "web", "interfaces": [IF0],
                          "web": {"port": 80, "body": "monitor-token-0123456789"}, "api": API},
    "l2fwd": {"app": "l2fwd", "l2fwd": {"mode": "io", "burst": 32, "pairs": [[0, 1]]},
              "cores": {"idle": ["poll", "halt"]}, "pool": {"buffers_per_core": 1024}, "nic": {"rx_ring": 256}},
    "bad_gateway": {"interfaces": [{"address": "10.0.0.1/24", "gateway": "10.0.1.1"}]},
    "bad_token": {"interfaces": [IF0], "api": {"token": "short"}},
    "same_tokens": {"interfaces": [IF0], "api": dict(API, monitor_token=API["token"])},
    "unknown_key": {"interfaces": [IF0], "web": {"colour": "blue"}, "app": "web"},
}

os.makedirs(OUT, exist_ok=True)
for name, doc in SEEDS.items():
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(doc, f, indent=1)

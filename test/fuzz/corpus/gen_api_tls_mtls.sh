#!/bin/sh
# gen_api_tls_mtls.sh — fuzz_api_tls_mtls's test-only PKI and seeds.
#
#  - test/fuzz/api_tls_mtls_pems.h: a client CA with a CRL, and client
#    certificates (P-256, valid 100 years unless said): ops-admin (listed
#    in api.admin_subjects), dash-monitor (not listed), ops-revoked
#    (listed, but revoked by the CRL), ops-admin signed by another CA,
#    ops-admin self-signed, a subject with two CNs (ops-admin and
#    extra), ops-admin-x (a listed name as a prefix) and ops-admin
#    expired in 2001. Never use these keys for anything else.
#  - test/fuzz/corpus/api_tls_mtls/: one seed per credential, without a
#    token and with each token, and a few with tampered bytes, in the
#    input format fuzz_api_tls_mtls.c's header describes.
# Needs openssl (3.x). Run from anywhere; it works in a temporary folder.
set -e
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../api_tls_mtls_pems.h"
seeds="$here/api_tls_mtls"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

ec() { openssl ecparam -name prime256v1 -genkey -noout -out "$1.ec"
       openssl pkcs8 -topk8 -nocrypt -in "$1.ec" -out "$1.key"; }
ca() { ec "$1"
       openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 36500 -out "$1.crt" \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign; }
# leaf NAME SUBJECT CA
leaf() { ec "$1"
         openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
         openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -days 36500 \
           -out "$1.crt" 2>/dev/null; }

ca ca pollux-fuzz-ca
ca other pollux-fuzz-other-ca
leaf admin /CN=ops-admin ca
leaf monitor /CN=dash-monitor ca
leaf revoked /CN=ops-revoked ca
leaf wrongca /CN=ops-admin other
leaf twocn "/CN=ops-admin/CN=extra" ca
leaf prefix /CN=ops-admin-x ca
ec selfsigned
openssl req -x509 -new -key selfsigned.key -subj /CN=ops-admin -days 36500 -out selfsigned.crt

mkdir -p db && : > db/index && echo 1000 > db/crlnumber && echo 2000 > db/serial
cat > ca.cnf <<X
[ca]
default_ca = c
[c]
database = db/index
crlnumber = db/crlnumber
serial = db/serial
new_certs_dir = .
default_md = sha256
default_crl_days = 36500
policy = p
[p]
commonName = supplied
X
# an expired one, signed by the CA (openssl ca takes the dates)
ec expired
openssl req -new -key expired.key -subj /CN=ops-admin -out expired.csr
openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -startdate 20000101000000Z \
  -enddate 20010101000000Z -notext -in expired.csr -out expired.crt 2>/dev/null
openssl ca -config ca.cnf -cert ca.crt -keyfile ca.key -revoke revoked.crt 2>/dev/null
openssl ca -config ca.cnf -cert ca.crt -keyfile ca.key -gencrl -out ca.crl 2>/dev/null

cstr() {        # NAME FILE: a C string of the PEM
	printf 'static const char %s[] =\n' "$1"
	sed -e 's/^/\t"/' -e 's/$/\\n"/' "$2"
	printf '\t;\n'
}
{
	cat <<X
/*
 * api_tls_mtls_pems.h — test-only credentials for fuzz_api_tls_mtls.c,
 * made by test/fuzz/corpus/gen_api_tls_mtls.sh with openssl (see there
 * what each is). Never use these keys for anything else.
 */
#ifndef POLLUX_FUZZ_API_TLS_MTLS_PEMS_H
#define POLLUX_FUZZ_API_TLS_MTLS_PEMS_H
X
	cstr MT_CA_CRT ca.crt
	cstr MT_CA_CRL ca.crl
	for n in admin monitor revoked wrongca selfsigned twocn prefix expired; do
		N=$(echo $n | tr a-z A-Z)
		cstr MT_${N}_CRT $n.crt
		cstr MT_${N}_KEY $n.key
	done
	echo '#endif'
} > "$out"

# seeds: cred, flags (bits 0-1 token, bit 2 path, bits 4-7 piece), then
# 4-byte tamper ops (kind, offset high, offset low, value)
rm -rf "$seeds"
mkdir -p "$seeds"
seed() { printf "$2" > "$seeds/$1"; }
i=0
for cred in 0 1 2 3 4 5 6 7 8; do
	for tok in 0 1 2; do
		seed "c${cred}_t${tok}" "\\$(printf %03o $cred)\\$(printf %03o $((tok | 0xe0)))"
	done
	seed "c${cred}_system" "\\$(printf %03o $cred)\\$(printf %03o $((4 | 0x80)))"
done
seed tamper_hello '\001\340\000\000\100\001'
seed tamper_cert '\001\340\000\001\000\200'
seed tamper_finished '\001\340\000\003\000\004'
seed truncate_cert '\003\340\003\001\040\000'
seed delete_insert '\002\320\002\000\120\000\001\001\000\010\055'

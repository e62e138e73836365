#!/bin/sh
# Test-only PKI for test_tls.c's CRL and subject-role tests: a CA with its
# key, two client certificates it signed (CN=ops-admin, CN=revoked-client)
# and a CRL (valid 100 years) that revokes the second. Never use these keys.
# Run it in an empty directory, then paste the PEMs into tls_pems.h.
set -e
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -subj /CN=pollux-test-ca-2 -days 36500 -out ca.crt \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
for n in ops-admin revoked-client; do
  openssl ecparam -name prime256v1 -genkey -noout -out $n.key
  openssl pkcs8 -topk8 -nocrypt -in $n.key -out $n.p8
  openssl req -new -key $n.key -subj /CN=$n -out $n.csr
  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 36500 -out $n.crt
done
mkdir -p db && : > db/index && echo 1000 > db/crlnumber
cat > ca.cnf <<X
[ca]
default_ca = c
[c]
database = db/index
crlnumber = db/crlnumber
default_md = sha256
default_crl_days = 36500
X
openssl ca -config ca.cnf -cert ca.crt -keyfile ca.key -revoke revoked-client.crt
openssl ca -config ca.cnf -cert ca.crt -keyfile ca.key -gencrl -out ca.crl

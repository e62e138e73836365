"""testssl.sh (Debian's testssl.sh, in DEB_PKGS) against the API of
build/pollux-hosted on 127.0.0.1: no finding rated MEDIUM, HIGH or
CRITICAL. Two servers: one with a certificate from a test CA (the way an
operator should run it: every check, the certificate's included, with the
CA added to testssl's trust stores), and one with the certificate the
appliance generates when none is configured (everything but the
certificate checks: a self-signed certificate trusted by its fingerprint
has no chain and no revocation to find, see docs/api.md).

The checks are testssl's protocols, cipher categories, forward secrecy,
server preferences, server defaults, HTTP headers and vulnerabilities in
--fast mode, without client simulations and the per-cipher table (which
say nothing the others do not; docs/api.md has a full run). Each scan
takes about 30-60 s on a loaded two-core host and is bounded by
SCAN_TIMEOUT. testssl is told never to resolve names (--nodns none) nor
to fetch a CRL or ask an OCSP responder (no --phone-out): nothing but
127.0.0.1 is contacted."""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from api_contract import free_port, sh
from test_api import TOKEN, Pollux, read

SCAN_TIMEOUT = 300
CHECKS = ["-p", "-s", "-f", "-P", "-h", "-U"]
BAD = ("MEDIUM", "HIGH", "CRITICAL")


@pytest.fixture(scope="module")
def pki():
    """A test CA and a server certificate for 127.0.0.1 it signed, valid
    90 days, for TLS servers only, naming where its CRL would be (testssl
    rates a certificate without a CRL or OCSP URI HIGH; the URI is never
    fetched)."""
    d = tempfile.mkdtemp(prefix="pollux-testssl-")
    p = lambda n: os.path.join(d, n)
    def run(*a):
        rc, out = sh("openssl", *a)
        assert rc == 0, out
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "90",
        "-subj", "/CN=pollux-testssl-ca")
    run("req", *ec, "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=localhost")
    with open(p("server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "crlDistributionPoints=URI:http://127.0.0.1/pollux-testssl-ca.crl\n")
    run("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-out", p("server.crt"), "-days", "90", "-sha256", "-extfile", p("server.ext"))
    yield p
    shutil.rmtree(d)


def scan(port, *extra):
    """One bounded testssl run; returns (findings, console text)."""
    assert shutil.which("testssl"), "testssl.sh is not installed: make deps"
    with tempfile.TemporaryDirectory(prefix="pollux-testssl-") as d:
        out = os.path.join(d, "scan.json")
        cmd = ["testssl", "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none", "--fast",
               "--connect-timeout", "10", "--openssl-timeout", "10", "--jsonfile", out,
               *CHECKS, *extra, "127.0.0.1:%d" % port]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           timeout=SCAN_TIMEOUT)
        text = p.stdout.decode(errors="replace")
        assert os.path.exists(out), text
        with open(out) as f:
            return json.load(f), text


def check(findings, text):
    ids = {f["id"]: f for f in findings}
    # the scan reached the server: else every check would be "not offered"
    assert ids.get("TLS1_2", {}).get("finding") == "offered", text
    bad = ["%s %s: %s" % (f["severity"], f["id"], f["finding"]) for f in findings if f["severity"] in BAD]
    assert not bad, "\n".join(bad) + "\n" + text
    return ids


def test_testssl_configured_certificate(pki):
    px = Pollux({"name": "testssl", "cores": {"idle": "halt"},
                 "api": {"token": TOKEN, "port": free_port(), "cert": read(pki("server.crt")),
                         "key": read(pki("server.key"))}})
    try:
        px.wait_ready()
        findings, text = scan(px.port, "-S", "--add-ca", pki("ca.crt"))
        ids = check(findings, text)
        assert ids["cert_chain_of_trust"]["severity"] == "OK", text
        assert ids["HSTS_time"]["severity"] == "OK", text
    finally:
        px.stop()


def test_testssl_generated_certificate():
    px = Pollux({"name": "testssl-gen", "cores": {"idle": "halt"},
                 "api": {"token": TOKEN, "port": free_port()}})
    try:
        px.wait_ready()
        check(*scan(px.port))
    finally:
        px.stop()

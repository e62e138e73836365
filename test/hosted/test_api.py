"""The HTTPS control plane of build/pollux-hosted on 127.0.0.1. The API's
contract (every resource, 401, 400/409 naming the field with the config
unchanged, the TLS policy seen by openssl s_client, /metrics through
Python's prometheus_client parser, 50 keep-alive clients beside a stalled
handshake, handshake timeouts) is test/lib/api_contract.py, run here
against a server with a configured certificate and a client CA. This file
keeps what is the hosted platform's own: the resources of a server with no
NIC, client certificates, the generated certificate, shutdown of the
process, configs that stop the boot, and tools/polluxctl. Only 127.0.0.1 is
ever contacted."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time

import pytest

from api_contract import (curl, fetch_cert, free_port, metric, s_client, sh, shutdown,  # noqa: F401
                          FPR_RE, test_auth, test_fifty_keepalive_clients_and_a_staller,
                          test_metrics_parse, test_other_resources, test_plain_http_is_not_served,
                          test_put_bad_configs_change_nothing, test_put_config_applies_what_can_change,
                          test_stalled_handshake_times_out, test_system_and_cores, test_tls_policy,
                          test_a_slow_request_is_cut_at_the_deadline,
                          test_one_source_holds_its_share_of_the_slots,
                          test_config_shows_no_secret, test_monitor_role)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "pollux-hosted")
TOKEN = "test-token-0123456789abcdef"
MONITOR_TOKEN = "monitor-token-0123456789abcdef"
HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def pki():
    """A test CA, a server certificate for 127.0.0.1 it signed, a client
    certificate it signed and a self-signed client certificate."""
    d = tempfile.mkdtemp(prefix="pollux-api-")
    def run(*a):
        rc, out = sh("openssl", *a)
        assert rc == 0, out
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    p = lambda n: os.path.join(d, n)
    run("req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "2",
        "-subj", "/CN=pollux-test-ca")
    for name, cn in (("server", "localhost"), ("client", "operator")):
        run("req", *ec, "-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj", "/CN=" + cn)
    with open(p("san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-out", p("server.crt"), "-days", "2", "-extfile", p("san.ext"))
    run("x509", "-req", "-in", p("client.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-out", p("client.crt"), "-days", "2")
    run("req", "-x509", *ec, "-keyout", p("rogue.key"), "-out", p("rogue.crt"), "-days", "2",
        "-subj", "/CN=operator")
    yield p
    for n in os.listdir(d):
        os.unlink(os.path.join(d, n))
    os.rmdir(d)


class Pollux:
    """build/pollux-hosted in its own process group, console in a file."""

    def __init__(self, cfg, cores=2):
        self.port = cfg.get("api", {}).get("port")
        fd, self.cfg_path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f)
        self.log = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen(["timeout", "600", BIN, "--cores", str(cores), "--config",
                                   self.cfg_path], stdout=self.log, stderr=subprocess.STDOUT,
                                  cwd=ROOT, start_new_session=True)

    def out(self):
        self.log.seek(0)
        return self.log.read()

    def wait_ready(self, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if "pollux ready:" in self.out():
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("not ready: " + self.out())

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(10)
        os.unlink(self.cfg_path)
        self.log.close()


def read(p):
    with open(p) as f:
        return f.read()


def hosted_target(px, cacert):
    """px as api_contract's Target: what the shared suite expects of it."""
    px.token, px.cacert, px.cores = TOKEN, cacert, 2
    px.monitor_token = MONITOR_TOKEN
    px.min_memory, px.wall_clock, px.slow = 0, True, 30
    px.handshake_s = (5, 30)            # 10 s on the hosted platform
    px.keepalive_requests, px.staller_survives = 5, True
    px.per_source = 64                  # LST_MAX_PER_SOURCE
    return px


@pytest.fixture(scope="module")
def srv(pki):
    """The API with a configured certificate and a client CA."""
    px = Pollux({"name": "api-test", "cores": {"idle": "halt"},
                 "api": {"token": TOKEN, "monitor_token": MONITOR_TOKEN, "port": free_port(),
                         "cert": read(pki("server.crt")),
                         "key": read(pki("server.key")), "client_ca": read(pki("ca.crt"))}})
    try:
        px.wait_ready()
        yield hosted_target(px, pki("ca.crt"))
    finally:
        px.stop()


@pytest.fixture(scope="module")
def api(srv):
    """The server the contract suite (test/lib/api_contract.py) runs against."""
    return srv


def test_resources_without_a_nic(srv):
    code, body = curl(srv, "/v1/interfaces")
    assert code == 200 and json.loads(body) == {"interfaces": []}, body
    code, body = curl(srv, "/v1/interfaces/eth0")
    assert code == 404, body
    code, body = curl(srv, "/v1/config")
    assert code == 200 and json.loads(body)["name"] == "api-test", body


def test_client_certificate_replaces_the_token(srv, pki):
    code, body = curl(srv, "/v1/system", "--cert", pki("client.crt"), "--key", pki("client.key"), token="")
    assert code == 200, body
    code, body = curl(srv, "/v1/system", "--cert", pki("rogue.crt"), "--key", pki("rogue.key"), token="")
    assert code == 401, body


def test_generated_certificate(tmp_path):
    """No cert in the config: a fresh ECDSA P-256 self-signed one whose
    fingerprint is on the console, usable with curl --cacert."""
    px = Pollux({"name": "gen", "cores": {"idle": "halt"}, "api": {"token": TOKEN, "port": free_port()}})
    try:
        px.wait_ready()
        m = FPR_RE.search(px.out())
        assert m, px.out()
        hosted_target(px, None)
        rc, out = s_client(px, "-showcerts")
        assert rc == 0, out
        pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", out, re.S).group(0)
        cert = tmp_path / "pollux.pem"
        cert.write_text(pem)
        rc, fp = sh("openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256", "-text")
        assert rc == 0, fp
        assert "sha256 Fingerprint=" + m.group(1) in fp, fp
        assert "ASN1 OID: prime256v1" in fp and "IP Address:127.0.0.1" in fp, fp
        rc, out = sh("curl", "-sS", "--max-time", "30", "--cacert", str(cert), "-H",
                     "Authorization: Bearer " + TOKEN, "https://127.0.0.1:%d/v1/system" % px.port)
        assert rc == 0 and json.loads(out)["cores"] == 2, out
    finally:
        px.stop()


def test_shutdown(tmp_path):
    """POST /v1/system/shutdown: the process exits 0, saying why."""
    px = Pollux({"name": "bye", "cores": {"idle": "halt"}, "api": {"token": TOKEN, "port": free_port()}})
    try:
        px.wait_ready()
        hosted_target(px, str(tmp_path / "pollux.pem"))
        fetch_cert(px, px.cacert, FPR_RE.search(px.out()).group(1))
        shutdown(px)
        assert px.p.wait(30) == 0, px.out()
        assert "api: shutdown requested" in px.out() and "pollux: powering off (API)" in px.out(), px.out()
    finally:
        px.stop()


def test_bad_api_config_stops_boot():
    px = Pollux({"cores": {"idle": "halt"}, "api": {"token": TOKEN, "port": "443"}})
    try:
        assert px.p.wait(60) == 35, px.out()
        assert "api.port: must be 1..65535" in px.out(), px.out()
    finally:
        px.stop()
    px = Pollux({"cores": {"idle": "halt"}, "api": {"token": "short", "port": free_port()}})
    try:
        assert px.p.wait(60) == 35, px.out()
        assert "config: api.token: must be a string of 16..256 characters" in px.out(), px.out()
    finally:
        px.stop()
    px = Pollux({"cores": {"idle": "halt"}, "api": {"token": TOKEN, "port": free_port(), "cert": "not pem", "key": "no"}})
    try:
        assert px.p.wait(60) == 35, px.out()
        assert "config: api.cert:" in px.out(), px.out()
    finally:
        px.stop()


def test_bad_config_same_message_at_boot_and_put(api):
    """The whole document is checked before anything starts: a bad field
    stops the boot (35) with the path and reason that PUT /v1/config
    answers with 400; so does an address the old parser let through."""
    bad = {"cores": {"idle": "halt"}, "tcp": {"max_conns_per_core": -1}}
    code, body = curl(api, "/v1/config", method="PUT", data=json.dumps(bad))
    assert code == 400, body
    msg = json.loads(body)["error"]
    assert msg == "tcp.max_conns_per_core: must be 4..1000000", body
    px = Pollux(bad)
    try:
        assert px.p.wait(60) == 35, px.out()
        assert "config: " + msg in px.out(), px.out()
        assert "pollux ready" not in px.out(), px.out()
    finally:
        px.stop()
    px = Pollux({"cores": {"idle": "halt"}, "interfaces": [{"address": "10.0.0.1x"}]})
    try:
        assert px.p.wait(60) == 35, px.out()
        assert "config: interfaces[0].address: must be" in px.out(), px.out()
    finally:
        px.stop()


CTL = os.path.join(ROOT, "tools", "polluxctl")


def ctl(px, *args, env_extra=None, **kw):
    env = dict(os.environ, POLLUX_URL="https://127.0.0.1:%d" % px.port, POLLUX_TOKEN=TOKEN)
    env.pop("POLLUX_FINGERPRINT", None)
    env.pop("POLLUX_CACERT", None)
    env.update(env_extra or {})
    p = subprocess.run([CTL, *args], capture_output=True, text=True, timeout=120, env=env, **kw)
    return p.returncode, p.stdout, p.stderr


def test_polluxctl(srv, pki, tmp_path):
    ca = {"POLLUX_CACERT": pki("ca.crt")}
    rc, out, err = ctl(srv, "status", env_extra=ca)
    assert rc == 0, err
    assert "2 cores" in out and "core 0   control" in out and "core 1   data" in out, out
    rc, out, err = ctl(srv, "config", "get", env_extra=ca)
    assert rc == 0 and json.loads(out)["name"] == "api-test", err
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "cores": {"halt_after": 0}}')
    rc, out, err = ctl(srv, "config", "put", str(bad), env_extra=ca)
    assert rc == 1 and "400: cores.halt_after: must be 1..1000000" in err, err
    rc, out, err = ctl(srv, "metrics", env_extra=ca)
    assert rc == 0 and metric(out, "pollux_loop_turns_total", core="1") > 0, err
    rc, out, err = ctl(srv, "top", "--count", "3", "--interval", "0.3", env_extra=ca)
    assert rc == 0, err
    rows = [l.split() for l in out.splitlines() if l[:1].isdigit()]
    assert [r[0] for r in rows] == ["0", "1"] * 2, out
    # core 0 turns (it answers); an idle halting data core may sleep
    # through a whole interval (nothing to poll, no timer): 0 turns/s
    assert all(0.0 <= float(r[1]) <= 100.0 and float(r[2]) >= 0 for r in rows), out
    assert all(float(r[2]) > 0 for r in rows if r[0] == "0"), out
    # the token from the flag beats the environment; a wrong one is 401
    rc, out, err = ctl(srv, "--token", "wrong-token-0123456789abc", "status", env_extra=ca)
    assert rc == 1 and "401" in err, err
    # a client certificate instead of a token
    rc, out, err = ctl(srv, "--cert", pki("client.crt"), "--key", pki("client.key"), "status",
                       env_extra=dict(ca, POLLUX_TOKEN=""))
    assert rc == 0, err
    # an untrusted server is refused before any request
    rc, out, err = ctl(srv, "status")
    assert rc == 3 and "certificate verify failed" in err, err
    rc, out, err = ctl(srv, "--fingerprint", "AB:" * 31 + "AB", "status")
    assert rc == 3 and "does not match" in err, err


def test_polluxctl_pins_the_generated_certificate():
    px = Pollux({"name": "ctl", "cores": {"idle": "halt"}, "api": {"token": TOKEN, "port": free_port()}})
    try:
        px.wait_ready()
        fp = re.search(r"Fingerprint=([0-9A-F:]{95})", px.out()).group(1)
        rc, out, err = ctl(px, "status", env_extra={"POLLUX_FINGERPRINT": fp})
        assert rc == 0 and "2 cores" in out, err
        rc, out, err = ctl(px, "shutdown", env_extra={"POLLUX_FINGERPRINT": fp})
        assert rc == 0 and out.strip() == "shutting down", err
        assert px.p.wait(30) == 0, px.out()
    finally:
        px.stop()

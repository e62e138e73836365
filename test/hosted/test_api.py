"""The HTTPS control plane of build/pollux-hosted on 127.0.0.1: TLS (the
generated certificate and a configured one), every read resource with
curl --cacert, authentication (token, client certificate), config
validation, the TLS policy seen by openssl s_client, /metrics through
Python's prometheus_client parser, 50 keep-alive clients beside a stalled
handshake, timeouts, and shutdown. Only 127.0.0.1 is ever contacted."""
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "pollux-hosted")
TOKEN = "test-token-0123456789abcdef"
HOST = "127.0.0.1"


def sh(*args, timeout=60, inp=None):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, input=inp)
    return p.returncode, p.stdout + p.stderr


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


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


@pytest.fixture(scope="module")
def srv(pki):
    """The API with a configured certificate and a client CA."""
    px = Pollux({"name": "api-test", "cores": {"idle": "halt"},
                 "api": {"token": TOKEN, "port": free_port(), "cert": read(pki("server.crt")),
                         "key": read(pki("server.key")), "client_ca": read(pki("ca.crt"))}})
    try:
        px.wait_ready()
        yield px
    finally:
        px.stop()


def curl(px, pki, path, *extra, token=TOKEN, method="GET", data=None):
    args = ["curl", "-sS", "--max-time", "30", "--cacert", pki("ca.crt"), "-X", method,
            "-o", "-", "-w", "\n%{http_code}", *extra]
    if token:
        args += ["-H", "Authorization: Bearer " + token]
    if data is not None:
        args += ["--data-binary", data, "-H", "Content-Type: application/json"]
    rc, out = sh(*args, "https://%s:%d%s" % (HOST, px.port, path))
    assert rc == 0, out
    body, _, code = out.rpartition("\n")
    return int(code), body


def metric(text, name, **labels):
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise KeyError(name)


def test_system_and_cores(srv, pki):
    code, body = curl(srv, pki, "/v1/system")
    assert code == 200, body
    s = json.loads(body)
    assert s["cores"] == 2 and s["memory_bytes"] > 0 and s["uptime_s"] > 0, s
    assert s["version"] and s["boot_time"] > 1577836800, s
    code, body = curl(srv, pki, "/v1/cores")
    assert code == 200, body
    cores = json.loads(body)["cores"]
    assert [c["role"] for c in cores] == ["control", "data"], cores
    assert all(c["turns"] > 0 for c in cores), cores


def test_other_resources(srv, pki):
    code, body = curl(srv, pki, "/v1/interfaces")
    assert code == 200 and json.loads(body) == {"interfaces": []}, body
    code, body = curl(srv, pki, "/v1/interfaces/eth0")
    assert code == 404, body
    code, body = curl(srv, pki, "/v1/log")
    assert code == 200, body
    assert any("pollux ready:" in l for l in json.loads(body)["lines"]), body
    code, body = curl(srv, pki, "/v1/openapi.json")
    assert code == 200 and json.loads(body)["openapi"].startswith("3."), body[:200]
    code, body = curl(srv, pki, "/v1/config")
    assert code == 200 and json.loads(body)["name"] == "api-test", body


def test_metrics_parse(srv, pki):
    curl(srv, pki, "/v1/system")
    code, body = curl(srv, pki, "/metrics")
    assert code == 200, body
    fams = {f.name for f in text_string_to_metric_families(body)}
    assert "pollux_loop_turns" in fams, fams        # the parser drops _total
    assert metric(body, "pollux_loop_turns_total", core="0") > 0
    assert metric(body, "pollux_loop_turns_total", core="1") > 0
    assert metric(body, "pollux_api_tls_handshakes_total") >= 2
    assert metric(body, "pollux_api_requests_total") >= 2
    assert metric(body, "pollux_api_connections") >= 1
    assert metric(body, "pollux_pktbuf_buffers") > 0


def test_auth(srv, pki):
    code, body = curl(srv, pki, "/v1/system", token=None)
    assert code == 401 and "Authorization" in json.loads(body)["error"], body
    code, body = curl(srv, pki, "/v1/system", token="wrong-token-0123456789abc")
    assert code == 401, body
    rc, out = sh("curl", "-sS", "-i", "--cacert", pki("ca.crt"), "https://%s:%d/v1/nope" % (HOST, srv.port))
    assert rc == 0 and "WWW-Authenticate: Bearer" in out, out
    code, body = curl(srv, pki, "/v1/nope")
    assert code == 404, body


def test_client_certificate_replaces_the_token(srv, pki):
    code, body = curl(srv, pki, "/v1/system", "--cert", pki("client.crt"), "--key", pki("client.key"),
                      token=None)
    assert code == 200, body
    code, body = curl(srv, pki, "/v1/system", "--cert", pki("rogue.crt"), "--key", pki("rogue.key"),
                      token=None)
    assert code == 401, body


def test_put_config(srv, pki):
    _, before = curl(srv, pki, "/v1/config")
    bad = {"name": "x", "app": "echo", "interfaces": [{"address": "198.18.0.2/24", "mtu": 5}]}
    code, body = curl(srv, pki, "/v1/config", method="PUT", data=json.dumps(bad))
    assert code == 400, body
    assert json.loads(body)["error"] == "interfaces[0].mtu: must be 68..9000", body
    code, body = curl(srv, pki, "/v1/config", method="PUT", data="{\"name\": ")
    assert code == 400 and "line 1" in body, body
    # valid, but a field that can't change at run time: refused, named, not half-done
    doc = json.loads(before)
    doc["name"] = "renamed"
    doc["cores"] = dict(doc.get("cores", {}), halt_after=12345)
    code, body = curl(srv, pki, "/v1/config", method="PUT", data=json.dumps(doc))
    assert code == 409, body
    assert json.loads(body)["error"].startswith("cores.halt_after: can't change at run time"), body
    _, after = curl(srv, pki, "/v1/config")
    assert json.loads(after) == json.loads(before)
    # the name can: applied, the running config is the new document
    good = json.loads(before)
    good["name"] = "renamed"
    code, body = curl(srv, pki, "/v1/config", method="PUT", data=json.dumps(good))
    assert code == 200, body
    _, after = curl(srv, pki, "/v1/config")
    assert json.loads(after) == good
    # and back, for the tests that follow
    code, body = curl(srv, pki, "/v1/config", method="PUT", data=before)
    assert code == 200, body


def s_client(px, *args):
    return sh("openssl", "s_client", "-connect", "%s:%d" % (HOST, px.port), *args, timeout=30, inp="")


def test_tls_policy(srv, pki):
    _, m0 = curl(srv, pki, "/metrics")
    # SECLEVEL=0 lets the client offer TLS 1.0/1.1 at all: the server says no
    for ver in ("-tls1_1", "-tls1"):
        rc, out = s_client(srv, ver, "-cipher", "DEFAULT@SECLEVEL=0")
        assert rc != 0 and "alert protocol version" in out, out
    rc, out = s_client(srv, "-tls1_2", "-cipher", "AES128-SHA256")      # RSA key exchange, CBC
    assert rc != 0, out
    rc, out = s_client(srv, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256")     # CBC
    assert rc != 0, out
    rc, out = s_client(srv, "-tls1_3")     # offers only TLS 1.3 suites: none shared
    assert rc != 0, out
    rc, out = s_client(srv, "-tls1_2", "-CAfile", pki("ca.crt"), "-verify_return_error")
    assert rc == 0 and "Protocol  : TLSv1.2" in out, out
    assert re.search(r"Cipher\s*: ECDHE-ECDSA-(AES(128|256)-GCM|CHACHA20-POLY1305)", out), out
    _, m1 = curl(srv, pki, "/metrics")
    name = "pollux_api_tls_handshake_failures_total"
    assert metric(m1, name, reason="version") - metric(m0, name, reason="version") == 2
    assert metric(m1, name, reason="cipher") - metric(m0, name, reason="cipher") == 3


def test_plain_http_is_not_served(srv):
    s = socket.create_connection((HOST, srv.port), timeout=10)
    s.sendall(b"GET /v1/system HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    try:
        while len(data) < 4096:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except ConnectionResetError:
        pass
    s.close()
    assert b"HTTP/" not in data and b"version" not in data, data


def client_hello_prefix():
    """The first bytes of a real ClientHello, to stall mid-handshake."""
    ctx = ssl.create_default_context()
    inc, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, outb, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outb.read()
    return hello[: len(hello) // 2]


def test_fifty_keepalive_clients_and_a_staller(srv, pki):
    staller = socket.create_connection((HOST, srv.port), timeout=30)
    staller.sendall(client_hello_prefix())
    ctx = ssl.create_default_context(cafile=pki("ca.crt"))
    results, errors = [], []
    start = threading.Barrier(50, timeout=120)

    def client(i):
        try:
            import http.client
            c = http.client.HTTPSConnection(HOST, srv.port, context=ctx, timeout=120)
            c.connect()
            start.wait()        # all 50 connected at once, then requests
            for _ in range(5):
                c.request("GET", "/v1/system", headers={"Authorization": "Bearer " + TOKEN})
                r = c.getresponse()
                body = r.read()
                results.append((r.status, json.loads(body)["cores"]))
            c.close()
        except Exception as e:      # noqa: BLE001 - report every failure
            errors.append("client %d: %r" % (i, e))

    ts = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(180)
    assert not errors, errors[:5]
    assert len(results) == 250 and all(r == (200, 2) for r in results), results[:5]
    _, m = curl(srv, pki, "/metrics")
    assert metric(m, "pollux_api_connections_refused_total") == 0
    # the staller is still there, waiting for its handshake to time out
    staller.setblocking(False)
    with pytest.raises(BlockingIOError):
        staller.recv(1)
    staller.close()


def test_stalled_handshake_times_out(srv, pki):
    """A handshake has 10 s; a stalled one is closed, and counted."""
    _, m0 = curl(srv, pki, "/metrics")
    s = socket.create_connection((HOST, srv.port), timeout=30)
    s.sendall(client_hello_prefix())
    t0 = time.time()
    s.settimeout(30)
    try:
        assert s.recv(1) == b""
    except ConnectionResetError:
        pass
    took = time.time() - t0
    s.close()
    assert 5 < took < 30, took
    _, m1 = curl(srv, pki, "/metrics")
    name = "pollux_api_connections_timed_out_total"
    assert metric(m1, name) - metric(m0, name) >= 1


def test_generated_certificate(tmp_path):
    """No cert in the config: a fresh ECDSA P-256 self-signed one whose
    fingerprint is on the console, usable with curl --cacert."""
    px = Pollux({"name": "gen", "cores": {"idle": "halt"}, "api": {"token": TOKEN, "port": free_port()}})
    try:
        px.wait_ready()
        m = re.search(r"api: certificate sha256 Fingerprint=([0-9A-F:]{95})", px.out())
        assert m, px.out()
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


def test_shutdown():
    px = Pollux({"name": "bye", "cores": {"idle": "halt"}, "api": {"token": TOKEN, "port": free_port()}})
    try:
        px.wait_ready()
        rc, out = sh("curl", "-sS", "-k", "--max-time", "30", "-X", "POST", "-H",
                     "Authorization: Bearer " + TOKEN, "https://127.0.0.1:%d/v1/system/shutdown" % px.port)
        assert rc == 0 and json.loads(out) == {"status": "shutting down"}, out
        assert px.p.wait(30) == 0, px.out()
        assert "pollux: powering off (API)" in px.out(), px.out()
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



def test_bad_config_same_message_at_boot_and_put(srv, pki):
    """The whole document is checked before anything starts: a bad field
    stops the boot (35) with the path and reason that PUT /v1/config
    answers with 400; so does an address the old parser let through."""
    bad = {"cores": {"idle": "halt"}, "tcp": {"max_conns_per_core": -1}}
    code, body = curl(srv, pki, "/v1/config", method="PUT", data=json.dumps(bad))
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
    assert all(0.0 <= float(r[1]) <= 100.0 and float(r[2]) > 0 for r in rows), out
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

"""The REST API's contract, one suite run against every platform's server:
test/hosted/test_api.py (build/pollux-hosted) and test/vm/test_api.py (the
VM image under TCG) each import the shared test functions below and define
a module-scoped fixture `api` that yields a Target for their own server.
Each file keeps only the tests of its own platform.

A Target is any object with these attributes (the fixture sets them once
the server is ready and its certificate is trusted):
  port          the API's port on 127.0.0.1
  token         a valid bearer token (the admin's)
  monitor_token the read-only token (api.monitor_token) the server runs with
  cacert        a PEM file that verifies the server's certificate
  out()         the console so far, as text
  cores         the number of cores the server runs
  min_memory    /v1/system's memory_bytes must be above this
  wall_clock    True where boot_time must be a real date (the VM may have none)
  slow          seconds: the bound for one curl, openssl or socket call
  handshake_s   (low, high): how long a stalled handshake is kept, in s
  keepalive_requests  requests per client of the 50 keep-alive clients
  staller_survives    True where the 50 clients are done well within the
                      handshake time, so the stalled one must still be open
  per_source    connections one address may hold (all test clients come
                from one address)
The suite changes the running config only for a moment and puts it back;
it never shuts the server down (each file does that itself, last). Only
127.0.0.1 is ever contacted. Time limits are safety nets for a loaded host,
never performance assertions."""
import http.client
import json
import re
import select
import socket
import ssl
import subprocess
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

HOST = "127.0.0.1"
FPR_RE = re.compile(r"api: certificate sha256 Fingerprint=([0-9A-F:]{95})")


# ---------------------------------------------------------------- helpers
def sh(*args, timeout=60, inp=None):
    """Runs a command to the end: (exit status, stdout + stderr)."""
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, input=inp)
    return p.returncode, p.stdout + p.stderr


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def curl(api, path, *extra, token=None, method="GET", data=None):
    """One request with curl --cacert api.cacert: (status, body). token None
    sends api.token, "" sends none, anything else is sent as it is."""
    args = ["curl", "-sS", "--max-time", str(api.slow), "--cacert", api.cacert, "-X", method,
            "-o", "-", "-w", "\n%{http_code}", *extra]
    token = api.token if token is None else token
    if token:
        args += ["-H", "Authorization: Bearer " + token]
    if data is not None:
        args += ["--data-binary", data, "-H", "Content-Type: application/json"]
    rc, out = sh(*args, "https://%s:%d%s" % (HOST, api.port, path), timeout=api.slow + 60)
    assert rc == 0, out
    body, _, code = out.rpartition("\n")
    return int(code), body


def s_client(api, *args):
    """openssl s_client to the server with no input: (exit status, output)."""
    return sh("openssl", "s_client", "-connect", "%s:%d" % (HOST, api.port), *args, timeout=api.slow, inp="")


def fetch_cert(api, path, fingerprint):
    """Writes the certificate the server presents to path, after checking
    that its SHA-256 fingerprint is the one the console printed."""
    rc, out = s_client(api, "-tls1_2")
    assert rc == 0, out
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    assert pem, out
    with open(path, "w") as f:
        f.write(pem.group(0) + "\n")
    rc, fp = sh("openssl", "x509", "-in", path, "-noout", "-fingerprint", "-sha256")
    assert rc == 0 and fp.strip() == "sha256 Fingerprint=" + fingerprint, (fp, fingerprint)


def metric(text, name, **labels):
    """One sample of a Prometheus text exposition, read by prometheus_client's
    parser; fails the test when there is none."""
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise AssertionError("no %s%r" % (name, labels))


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


def shutdown(api):
    """POST /v1/system/shutdown: accepted, and said so. The caller waits
    for its server to go away and checks how."""
    code, body = curl(api, "/v1/system/shutdown", method="POST")
    assert code == 202 and json.loads(body) == {"status": "shutting down"}, body


# ---------------------------------------------------------------- the contract
def test_system_and_cores(api):
    code, body = curl(api, "/v1/system")
    assert code == 200, body
    s = json.loads(body)
    assert s["cores"] == api.cores and s["memory_bytes"] > api.min_memory and s["uptime_s"] > 0, s
    assert s["version"] and "boot_time" in s, s
    if api.wall_clock:
        assert s["boot_time"] > 1577836800, s
    code, body = curl(api, "/v1/cores")
    assert code == 200, body
    cores = json.loads(body)["cores"]
    assert [c["role"] for c in cores] == ["control"] + ["data"] * (api.cores - 1), cores
    assert all(c["turns"] > 0 for c in cores), cores


def test_other_resources(api):
    code, body = curl(api, "/v1/interfaces/eth9")
    assert code == 404, body
    code, body = curl(api, "/v1/log")
    assert code == 200, body
    assert any("pollux ready:" in l for l in json.loads(body)["lines"]), body
    code, body = curl(api, "/v1/openapi.json")
    assert code == 200, body[:300]
    doc = json.loads(body)
    assert doc["openapi"].startswith("3.") and "/v1/system/shutdown" in doc["paths"], body[:300]
    code, body = curl(api, "/v1/nope")
    assert code == 404, body


def test_auth(api):
    code, body = curl(api, "/v1/system", token="")
    assert code == 401 and "Authorization" in json.loads(body)["error"], body
    assert curl(api, "/v1/system", token="wrong-token-0123456789abcdef")[0] == 401
    assert curl(api, "/v1/system", token="wrong-token-0123456789abc")[0] == 401
    # one character off
    assert curl(api, "/metrics", token=api.token[:-1] + ("0" if api.token[-1] != "0" else "1"))[0] == 401
    rc, out = sh("curl", "-sS", "-i", "--max-time", str(api.slow), "--cacert", api.cacert,
                 "https://%s:%d/v1/nope" % (HOST, api.port), timeout=api.slow + 60)
    assert rc == 0 and "WWW-Authenticate: Bearer" in out, out


def test_config_shows_no_secret(api):
    """GET /v1/config shows "<redacted>" for api.token, api.monitor_token
    and api.key; a PUT echoes none either; /v1/log holds no token."""
    code, body = curl(api, "/v1/config")
    assert code == 200, body
    assert api.token not in body and api.monitor_token not in body, body
    assert "PRIVATE KEY" not in body, body
    shown = json.loads(body).get("api", {})
    for k in ("token", "monitor_token", "key"):
        assert shown.get(k, "<redacted>") == "<redacted>", (k, body)
    assert shown["monitor_token"] == "<redacted>", body
    code, put = curl(api, "/v1/config", method="PUT", data=body)
    assert code == 200 and json.loads(put) == json.loads(body), put
    assert api.token not in put and api.monitor_token not in put, put
    code, log = curl(api, "/v1/log")
    assert code == 200 and api.token not in log and api.monitor_token not in log, log


def test_monitor_role(api):
    """The monitor token reads status and metrics, and gets 403 on the
    config, the log and every change."""
    m = api.monitor_token
    code, body = curl(api, "/metrics", token=m)
    assert code == 200 and "pollux_api_requests_total" in body, body[:300]
    for path in ("/v1/system", "/v1/cores", "/v1/interfaces", "/v1/openapi.json"):
        assert curl(api, path, token=m)[0] == 200, path
    _, before = curl(api, "/v1/config")
    doc = json.loads(before)
    doc["name"] = "monitor-was-here"
    code, body = curl(api, "/v1/config", token=m, method="PUT", data=json.dumps(doc))
    assert code == 403 and "admin" in json.loads(body)["error"], body
    for path in ("/v1/config", "/v1/log"):
        assert curl(api, path, token=m)[0] == 403, path
    assert curl(api, "/v1/system/shutdown", token=m, method="POST")[0] == 403
    _, after = curl(api, "/v1/config")
    assert json.loads(after) == json.loads(before)


def test_put_bad_configs_change_nothing(api):
    """400 naming the field for each kind of bad config, 409 naming the
    field for a valid one that can't change at run time; the running config
    is the same after every one."""
    _, before = curl(api, "/v1/config")
    exact = [
        ({"name": "x", "interfaces": [{"address": "dhcp", "mtu": 5}]}, "interfaces[0].mtu: must be 68..9000"),
        ({"name": "x", "app": "echo", "interfaces": [{"address": "198.18.0.2/24", "mtu": 5}]},
         "interfaces[0].mtu: must be 68..9000"),
    ]
    for doc, want in exact:
        code, body = curl(api, "/v1/config", method="PUT", data=json.dumps(doc))
        assert code == 400 and json.loads(body)["error"] == want, (doc, body)
    prefix = [
        ({"name": "x", "cores": {"idle": "nap"}}, "cores.idle"),
        ({"name": "x", "web": {"colour": "red"}}, "web.colour: unknown key"),
        ({"name": "x", "api": {"token": "short"}}, "api.token"),
        ({"name": "x", "tcp": {"send_buffer": 5000}}, "tcp.send_buffer"),
    ]
    for doc, want in prefix:
        code, body = curl(api, "/v1/config", method="PUT", data=json.dumps(doc))
        assert code == 400 and json.loads(body)["error"].startswith(want), (doc, body)
    for text in ("{not json", "{\"name\": "):
        code, body = curl(api, "/v1/config", method="PUT", data=text)
        assert code == 400 and "line 1" in json.loads(body)["error"], body
    _, after = curl(api, "/v1/config")
    assert json.loads(after) == json.loads(before)
    # the running config again: nothing to change
    code, body = curl(api, "/v1/config", method="PUT", data=before)
    assert code == 200, body
    # valid, but a field that can't change at run time, beside one that
    # can: refused, the first named, nothing applied
    doc = json.loads(before)
    tcp = doc.setdefault("tcp", {})
    tcp["max_conns_per_core"] = tcp.get("max_conns_per_core", 1024) + 1
    doc["name"] = "not-applied"
    code, body = curl(api, "/v1/config", method="PUT", data=json.dumps(doc))
    assert code == 409, body
    assert json.loads(body)["error"].startswith("tcp.max_conns_per_core: can't change at run time"), body
    doc = json.loads(before)
    doc["name"] = "renamed"
    doc["cores"] = dict(doc.get("cores", {}), halt_after=12345)
    code, body = curl(api, "/v1/config", method="PUT", data=json.dumps(doc))
    assert code == 409, body
    assert json.loads(body)["error"].startswith("cores.halt_after: can't change at run time"), body
    _, after = curl(api, "/v1/config")
    assert json.loads(after) == json.loads(before)


def test_put_config_applies_what_can_change(api):
    _, before = curl(api, "/v1/config")
    doc = json.loads(before)
    name = doc.get("name")
    doc["name"] = "renamed-at-run-time"
    code, body = curl(api, "/v1/config", method="PUT", data=json.dumps(doc))
    assert code == 200, body
    _, after = curl(api, "/v1/config")
    assert json.loads(after) == doc
    # and back, so the other tests see the config they expect
    if name is None:
        del doc["name"]
    else:
        doc["name"] = name
    code, body = curl(api, "/v1/config", method="PUT", data=json.dumps(doc))
    assert code == 200, body
    _, after = curl(api, "/v1/config")
    assert json.loads(after) == json.loads(before)


def test_tls_policy(api):
    """TLS 1.2 with ECDHE-ECDSA and an AEAD only: 1.0, 1.1, 1.3-only, RSA
    key exchange and CBC refused, and counted by reason."""
    _, m0 = curl(api, "/metrics")
    # SECLEVEL=0 lets the client offer TLS 1.0/1.1 at all: the server says no
    for ver in ("-tls1_1", "-tls1"):
        rc, out = s_client(api, ver, "-cipher", "DEFAULT@SECLEVEL=0")
        assert rc != 0 and "alert protocol version" in out, out
    rc, out = s_client(api, "-tls1_2", "-cipher", "AES128-SHA256")          # RSA key exchange, CBC
    assert rc != 0, out
    rc, out = s_client(api, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256")     # CBC
    assert rc != 0, out
    rc, out = s_client(api, "-tls1_3")     # offers only TLS 1.3 suites: none shared
    assert rc != 0, out
    rc, out = s_client(api, "-tls1_2", "-CAfile", api.cacert, "-verify_return_error")
    assert rc == 0 and "Protocol  : TLSv1.2" in out, out
    assert re.search(r"Cipher\s*: ECDHE-ECDSA-(AES(128|256)-GCM|CHACHA20-POLY1305)", out), out
    _, m1 = curl(api, "/metrics")
    name = "pollux_api_tls_handshake_failures_total"
    assert metric(m1, name, reason="version") - metric(m0, name, reason="version") == 2
    assert metric(m1, name, reason="cipher") - metric(m0, name, reason="cipher") == 3


def test_plain_http_is_not_served(api):
    s = socket.create_connection((HOST, api.port), timeout=api.slow)
    s.sendall(b"GET /v1/system HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    try:
        while len(data) < 4096:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    assert b"HTTP/" not in data and b"version" not in data, data


def test_metrics_parse(api):
    curl(api, "/v1/system")
    code, body = curl(api, "/metrics")
    assert code == 200, body
    fams = {f.name for f in text_string_to_metric_families(body)}
    # the parser drops _total from a counter's family name
    for name in ("pollux_loop_turns", "pollux_api_requests", "pollux_api_connections_accepted"):
        assert name in fams, sorted(fams)
    for core in range(api.cores):
        assert metric(body, "pollux_loop_turns_total", core=str(core)) > 0
    assert metric(body, "pollux_api_tls_handshakes_total") >= 2
    assert metric(body, "pollux_api_requests_total") >= 2
    assert metric(body, "pollux_api_connections") >= 1
    assert metric(body, "pollux_pktbuf_buffers") > 0


def test_fifty_keepalive_clients_and_a_staller(api):
    """50 clients connected at once, then keep-alive requests on each, while
    one client sits mid-handshake: every request answered, none refused."""
    staller = socket.create_connection((HOST, api.port), timeout=api.slow)
    staller.sendall(client_hello_prefix())
    ctx = ssl.create_default_context(cafile=api.cacert)
    results, errors = [], []
    start = threading.Barrier(50, timeout=api.slow * 4)

    def client(i):
        try:
            c = http.client.HTTPSConnection(HOST, api.port, context=ctx, timeout=api.slow * 4)
            c.connect()
            start.wait()            # all 50 connected at once, then requests
            for _ in range(api.keepalive_requests):
                c.request("GET", "/v1/system", headers={"Authorization": "Bearer " + api.token})
                r = c.getresponse()
                results.append((r.status, json.loads(r.read())["cores"]))
            c.close()
        except Exception as e:      # noqa: BLE001 - report every failure
            errors.append("client %d: %r" % (i, e))
            start.abort()           # the others stop waiting for it: fail now, with the cause

    ts = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(api.slow * 6)
    assert not any(t.is_alive() for t in ts), "clients still running after %d s" % (api.slow * 6)
    first = [e for e in errors if "BrokenBarrierError" not in e]
    assert not errors, (first or errors)[:5]
    assert len(results) == 50 * api.keepalive_requests, results[:5]
    assert all(r == (200, api.cores) for r in results), results[:5]
    _, m = curl(api, "/metrics")
    assert metric(m, "pollux_api_connections_refused_total") == 0
    if api.staller_survives:
        # the staller is still there, waiting for its handshake to time out
        staller.setblocking(False)
        with pytest.raises(BlockingIOError):
            staller.recv(1)
    staller.close()


def test_stalled_handshake_times_out(api):
    """A stalled handshake is closed (or reset) after the handshake time,
    and counted."""
    lo, hi = api.handshake_s
    _, m0 = curl(api, "/metrics")
    s = socket.create_connection((HOST, api.port), timeout=hi)
    s.sendall(client_hello_prefix())
    t0 = time.monotonic()
    try:
        assert s.recv(1) == b""
    except ConnectionResetError:
        pass
    took = time.monotonic() - t0
    s.close()
    assert lo < took < hi, took
    _, m1 = curl(api, "/metrics")
    name = "pollux_api_connections_timed_out_total"
    assert metric(m1, name) - metric(m0, name) >= 1


def test_a_slow_request_is_cut_at_the_deadline(api):
    """Slowloris: a request that trickles in (a byte every 2 s, so never
    silent) is closed 10 s after its first byte and counted, while a
    normal client is served meanwhile."""
    _, m0 = curl(api, "/metrics")
    ctx = ssl.create_default_context(cafile=api.cacert)
    raw = socket.create_connection((HOST, api.port), timeout=api.slow)
    s = ctx.wrap_socket(raw, server_hostname=HOST)     # the handshake, whole
    s.sendall(b"GET /v1/system HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    s.settimeout(2)
    cut, served = None, False
    for i in range(int(api.slow)):          # a safety net: the deadline is 10 s
        try:
            if s.recv(1) == b"":
                cut = time.monotonic() - t0
                break
        except socket.timeout:
            pass
        except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
            cut = time.monotonic() - t0
            break
        if not served:
            code, _ = curl(api, "/v1/system")
            assert code == 200
            served = True
        try:
            s.sendall(b"X")
        except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
            cut = time.monotonic() - t0
            break
    s.close()
    assert served
    assert cut is not None, "still open after %d s" % api.slow
    assert 9 < cut < api.handshake_s[1], cut
    _, m1 = curl(api, "/metrics")
    name = "pollux_api_request_timeouts_total"
    assert metric(m1, name) - metric(m0, name) >= 1


def test_one_source_holds_its_share_of_the_slots(api):
    """api.per_source connections from 127.0.0.1 are kept; one more is
    refused at once (closed or reset, before any TLS) and counted; once
    they are gone the next client is served."""
    _, m0 = curl(api, "/metrics")
    socks = []
    t0 = time.monotonic()
    try:
        for _ in range(api.per_source + 1):
            socks.append(socket.create_connection((HOST, api.port), timeout=api.slow))
        refused, end = set(), time.monotonic() + min(api.slow, 8)
        while time.monotonic() < end:
            ready, _, _ = select.select([x for x in socks if x not in refused], [], [], 0.5)
            for x in ready:
                try:
                    data = x.recv(1)
                except ConnectionResetError:
                    data = b""
                assert data == b"", data
                if not refused:             # another second for a second one
                    end = min(end, time.monotonic() + 1)
                refused.add(x)
        assert refused, "none of %d refused" % len(socks)
        if time.monotonic() - t0 < api.handshake_s[0]:
            # the others are kept (until their handshake times out);
            # leftovers of earlier tests may hold a slot a moment longer
            assert len(refused) <= 2, len(refused)
    finally:
        for x in socks:
            x.close()
    end = time.monotonic() + api.slow
    while True:                             # the server sees the closes
        code, m1 = curl(api, "/metrics")
        if metric(m1, "pollux_api_connections") <= 2 or time.monotonic() > end:
            break
        time.sleep(0.5)
    assert code == 200
    name = "pollux_api_connections_source_limited_total"
    why = {n: metric(m1, n) - metric(m0, n) for n in (
        "pollux_api_connections_refused_total", "pollux_api_connections_accepted_total",
        "pollux_api_connections_timed_out_total")}
    why.update({l: [s for s in m1.splitlines() if l in s and not s.startswith("#")]
                for l in ("conns_full", "timewait", "syncookies", "pollux_tcp_conns")})
    assert metric(m1, name) - metric(m0, name) >= 1, why

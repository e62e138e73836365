"""The HTTPS REST API of the VM image, served by core 0 over the stack on
the management interface, under TCG over QEMU user networking
(restrict=on: the guest reaches nothing beyond the forward; the API's
port 443 forwarded from 127.0.0.1:<free port>, as `make run` does with
8443).

The appliance is configs/default.json itself (what `make run` boots): a
DHCP management interface and the API with no token, so the console
prints a generated token and the generated certificate's fingerprint.
The test fetches the certificate with openssl s_client, checks it
against that fingerprint and trusts it with curl --cacert. Then: every
resource, 401, 400 naming the field for each kind of bad config with the
running config unchanged after, the TLS policy (1.0/1.1 and weak suites
refused), /metrics through prometheus_client's parser, 50 concurrent
keep-alive clients beside one stalled mid-handshake, and shutdown (the
VM powers off). A second VM with a data interface beside the management
one checks the queue mapping and that the API's port on the data
interface is refused and counted.

Time limits are safety nets for a loaded host running TCG, never
performance assertions."""
import json
import os
import re
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, VM, boot, spawn, stop

HOST = "127.0.0.1"
TOKEN_RE = re.compile(r"api: token ([0-9a-f]{48}) \(generated")
FPR_RE = re.compile(r"api: certificate sha256 Fingerprint=([0-9A-F:]{95})")
BOUND = re.compile(r"eth0: dhcp bound ")


def sh(*args, timeout=120, inp=None):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, input=inp)
    return p.returncode, p.stdout + p.stderr


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ApiVM:
    """tools/pollux-vm --api PORT: q35, 2 vCPUs, console read by a thread."""

    def __init__(self, config, extra=(), smp=2):
        self.port = free_port()
        cmd = [VM, "--machine", "q35", "--smp", str(smp), "--mem", "256M", "--config", config,
               "--api", str(self.port), "--timeout", "900", "--", *extra]
        self.p = spawn(cmd)
        self.lines = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.p.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    def out(self):
        return "\n".join(self.lines)

    def wait_for(self, rx, timeout=300):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = rx.search(self.out())
            if m:
                return m
            if self.p.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("no %r on the console:\n%s" % (rx.pattern, self.out()[-4000:]))

    def stop(self):
        stop(self.p)


@pytest.fixture(scope="module")
def api():
    vm = ApiVM(os.path.join(ROOT, "configs", "default.json"))
    d = tempfile.mkdtemp(prefix="pollux-vm-api-")
    try:
        vm.token = vm.wait_for(TOKEN_RE).group(1)
        vm.fpr = vm.wait_for(FPR_RE).group(1)
        vm.wait_for(BOUND)
        vm.cacert = os.path.join(d, "pollux.pem")
        fetch_cert(vm, vm.cacert)
        yield vm
    finally:
        vm.stop()
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
        os.rmdir(d)


def s_client(vm, *args):
    return sh("openssl", "s_client", "-connect", "%s:%d" % (HOST, vm.port), *args,
              timeout=120, inp="")


def fetch_cert(vm, path):
    """The certificate as the server presents it, trusted only if its
    fingerprint is the one the console printed."""
    rc, out = s_client(vm, "-tls1_2")
    assert rc == 0, out
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    assert pem, out
    with open(path, "w") as f:
        f.write(pem.group(0) + "\n")
    rc, fp = sh("openssl", "x509", "-in", path, "-noout", "-fingerprint", "-sha256")
    assert rc == 0 and fp.strip() == "sha256 Fingerprint=" + vm.fpr, (fp, vm.fpr)


def curl(vm, path, *extra, token=None, method="GET", data=None):
    args = ["curl", "-sS", "--max-time", "120", "--cacert", vm.cacert, "-X", method,
            "-o", "-", "-w", "\n%{http_code}", *extra]
    token = vm.token if token is None else token
    if token:
        args += ["-H", "Authorization: Bearer " + token]
    if data is not None:
        args += ["--data-binary", data, "-H", "Content-Type: application/json"]
    rc, out = sh(*args, "https://%s:%d%s" % (HOST, vm.port, path), timeout=180)
    assert rc == 0, out
    body, _, code = out.rpartition("\n")
    return int(code), body


def metric(text, name, **labels):
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise AssertionError("no %s%r" % (name, labels))


def test_console_says_how_to_reach_it(api):
    out = api.out()
    assert "api: https://127.0.0.1:%d/" % api.port in out, out
    assert re.search(r"api: eth0 \(address from DHCP\) port 443, TLS 1.2, generated self-signed", out), out


def test_resources(api):
    code, body = curl(api, "/v1/system")
    assert code == 200, body
    s = json.loads(body)
    assert s["cores"] == 2 and s["memory_bytes"] > 200 << 20 and s["uptime_s"] > 0, s
    code, body = curl(api, "/v1/cores")
    assert code == 200, body
    cores = json.loads(body)["cores"]
    assert [c["role"] for c in cores] == ["control", "data"], cores
    assert cores[0]["rx_packets"] > 0 and cores[0]["tcp_conns"] >= 1, cores
    code, body = curl(api, "/v1/interfaces")
    assert code == 200, body
    ifs = json.loads(body)["interfaces"]
    assert len(ifs) == 1 and ifs[0]["name"] == "eth0" and ifs[0]["address"] == "10.0.2.15/24", ifs
    # the management interface: one queue pair, core 0's
    assert [(q["queue"], q["core"]) for q in ifs[0]["queues"]] == [(0, 0)], ifs
    code, body = curl(api, "/v1/interfaces/eth0")
    assert code == 200 and json.loads(body)["mac"] == ifs[0]["mac"], body
    code, body = curl(api, "/v1/interfaces/eth9")
    assert code == 404, body
    code, body = curl(api, "/v1/config")
    assert code == 200, body
    with open(os.path.join(ROOT, "configs", "default.json")) as f:
        assert json.loads(body) == json.load(f), body
    code, body = curl(api, "/v1/log")
    assert code == 200 and any("pollux ready" in l for l in json.loads(body)["lines"]), body
    code, body = curl(api, "/v1/openapi.json")
    assert code == 200 and "/v1/system/shutdown" in json.loads(body)["paths"], body[:300]
    code, body = curl(api, "/v1/nope")
    assert code == 404, body


def test_auth(api):
    assert curl(api, "/v1/system", token="")[0] == 401
    assert curl(api, "/v1/system", token="wrong-token-0123456789abcdef")[0] == 401
    assert curl(api, "/metrics", token=api.token[:-1] + ("0" if api.token[-1] != "0" else "1"))[0] == 401


def test_put_bad_configs_change_nothing(api):
    _, before = curl(api, "/v1/config")
    bad = [
        ({"name": "x", "interfaces": [{"address": "dhcp", "mtu": 5}]}, "interfaces[0].mtu: must be 68..9000"),
        ({"name": "x", "cores": {"idle": "nap"}}, "cores.idle"),
        ({"name": "x", "web": {"colour": "red"}}, "web.colour: unknown key"),
        ({"name": "x", "api": {"token": "short"}}, "api.token"),
        ({"name": "x", "tcp": {"send_buffer": 5000}}, "tcp.send_buffer"),
    ]
    for doc, want in bad:
        code, body = curl(api, "/v1/config", method="PUT", data=json.dumps(doc))
        assert code == 400 and json.loads(body)["error"].startswith(want), (doc, body)
    code, body = curl(api, "/v1/config", method="PUT", data="{not json")
    assert code == 400 and "line 1" in json.loads(body)["error"], body
    # the running config again: nothing to change
    code, body = curl(api, "/v1/config", method="PUT", data=before)
    assert code == 200, body
    # valid, but a field that can't change at run time: refused, named, nothing applied
    doc = json.loads(before)
    tcp = doc.setdefault("tcp", {})
    tcp["max_conns_per_core"] = tcp.get("max_conns_per_core", 1024) + 1
    doc["name"] = "not-applied"
    code, body = curl(api, "/v1/config", method="PUT", data=json.dumps(doc))
    assert code == 409, body
    assert json.loads(body)["error"].startswith("tcp.max_conns_per_core: can't change at run time"), body
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
    _, m0 = curl(api, "/metrics")
    for ver in ("-tls1_1", "-tls1"):
        rc, out = s_client(api, ver, "-cipher", "DEFAULT@SECLEVEL=0")
        assert rc != 0 and "alert protocol version" in out, out
    rc, out = s_client(api, "-tls1_2", "-cipher", "AES128-SHA256")          # RSA kx, CBC
    assert rc != 0, out
    rc, out = s_client(api, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256")     # CBC
    assert rc != 0, out
    rc, out = s_client(api, "-tls1_2", "-CAfile", api.cacert, "-verify_return_error")
    assert rc == 0 and "Protocol  : TLSv1.2" in out, out
    assert re.search(r"Cipher\s*: ECDHE-ECDSA-(AES(128|256)-GCM|CHACHA20-POLY1305)", out), out
    _, m1 = curl(api, "/metrics")
    name = "pollux_api_tls_handshake_failures_total"
    assert metric(m1, name, reason="version") - metric(m0, name, reason="version") == 2
    assert metric(m1, name, reason="cipher") - metric(m0, name, reason="cipher") == 2


def test_plain_http_is_not_served(api):
    s = socket.create_connection((HOST, api.port), timeout=60)
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


def test_metrics(api):
    code, text = curl(api, "/metrics")
    assert code == 200
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("pollux_loop_turns", "pollux_rx_packets", "pollux_api_requests",
                 "pollux_api_connections_accepted", "pollux_net_tcp_accepts"):
        assert name in fams, sorted(fams)
    assert metric(text, "pollux_rx_packets_total", core="0", iface="eth0", queue="0") > 0
    assert metric(text, "pollux_net_tcp_accepts_total", core="0") >= 1
    assert metric(text, "pollux_net_tcp_accepts_total", core="1") == 0
    assert metric(text, "pollux_api_connections") >= 1
    assert metric(text, "pollux_interface_up", iface="eth0") == 1


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


def test_fifty_keepalive_clients_and_a_staller(api):
    import http.client
    staller = socket.create_connection((HOST, api.port), timeout=60)
    staller.sendall(client_hello_prefix())
    ctx = ssl.create_default_context(cafile=api.cacert)
    results, errors = [], []
    start = threading.Barrier(50, timeout=400)

    def client(i):
        try:
            c = http.client.HTTPSConnection(HOST, api.port, context=ctx, timeout=300)
            c.connect()
            start.wait()            # all 50 connected at once, then requests
            for _ in range(3):
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
        t.join(600)
    assert not any(t.is_alive() for t in ts), "clients still running after 600 s"
    first = [e for e in errors if "BrokenBarrierError" not in e]
    assert not errors, (first or errors)[:5]
    assert len(results) == 150 and all(r == (200, 2) for r in results), results[:5]
    _, m = curl(api, "/metrics")
    assert metric(m, "pollux_api_connections_refused_total") == 0
    staller.close()


def test_stalled_handshake_times_out(api):
    """A handshake has 20 s on the VM; a stalled one is reset, and counted."""
    _, m0 = curl(api, "/metrics")
    s = socket.create_connection((HOST, api.port), timeout=120)
    s.sendall(client_hello_prefix())
    t0 = time.monotonic()
    try:
        assert s.recv(1) == b""
    except ConnectionResetError:
        pass
    took = time.monotonic() - t0
    s.close()
    assert 15 < took < 120, took
    _, m1 = curl(api, "/metrics")
    name = "pollux_api_connections_timed_out_total"
    assert metric(m1, name) - metric(m0, name) >= 1


def test_pipelined_client_that_reads_late(api):
    """Pipelined requests for about 8 MiB of answers, read only after a
    pause: more than QEMU's forward and the host's socket buffers hold, so
    the server stops reading (the window closes, counted) instead of
    buffering, then serves every one once the client reads."""
    _, m0 = curl(api, "/metrics")
    _, doc = curl(api, "/v1/openapi.json")
    n = min(2000, (8 << 20) // len(doc) + 1)
    ctx = ssl.create_default_context(cafile=api.cacert)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)    # little room on our side
    raw.settimeout(300)
    raw.connect((HOST, api.port))
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    req = ("GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "X-Pad: %s\r\n\r\n" % (api.token, "p" * 1000)).encode()
    errors = []

    def send():
        try:
            s.sendall(req * n)
        except OSError as e:
            errors.append(repr(e))
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    time.sleep(10)              # the server fills every buffer and stops reading
    mark = b"HTTP/1.1 200 OK"
    tail, seen, end = b"", 0, time.monotonic() + 500
    while seen < n and time.monotonic() < end:
        d = s.recv(1 << 20)
        if not d:
            break
        # the last len(mark)-1 bytes can't hold a whole mark: no double count
        seen += (tail + d).count(mark)
        tail = (tail + d)[-(len(mark) - 1):]
    sender.join(60)
    s.close()
    assert not errors and seen == n, (errors, seen, n)
    _, m1 = curl(api, "/metrics")
    name = "pollux_api_read_stalls_total"
    assert metric(m1, name) - metric(m0, name) >= 1, "the window never closed"


def test_shutdown_powers_off(api):
    """Last: the VM goes away."""
    code, body = curl(api, "/v1/system/shutdown", method="POST")
    assert code == 202 and json.loads(body) == {"status": "shutting down"}, body
    rc = api.p.wait(timeout=120)
    api.t.join(10)
    out = api.out()
    assert "api: shutdown requested" in out and "pollux: powering off (API)" in out, out[-3000:]
    assert rc == 0, (rc, out[-3000:])   # ACPI power-off: QEMU exits 0 (with the line above)



@pytest.mark.parametrize("doc,want", [
    ({"name": "x", "tcp": {"max_conns_per_core": -1}}, "tcp.max_conns_per_core: must be 4..1000000"),
    ({"name": "x", "interfaces": [{"address": "10.0.0.1x"}]}, "interfaces[0].address: must be "),
])
def test_bad_config_stops_the_boot_as_put_refuses_it(api, tmp_path, doc, want):
    """The whole document is checked before anything starts: the boot stops
    (35) with the path and reason PUT /v1/config answers with 400 (the
    second an address the old parser let through)."""
    code, body = curl(api, "/v1/config", method="PUT", data=json.dumps(doc))
    assert code == 400 and json.loads(body)["error"].startswith(want), body
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    b = boot(smp=1, config=str(path))
    assert b.rc == 35, b
    assert "config: " + json.loads(body)["error"] in b.out, b
    assert "pollux ready" not in b.out, b


def test_without_its_nic_the_api_is_off():
    """configs/default.json booted bare (no NIC: what other tests do): it
    boots, unmanaged, and says so."""
    b = boot(smp=2, append="exit=ready", config=os.path.join(ROOT, "configs", "default.json"))
    assert "api: no network device for the management interface eth0: the API is off" in b.out, b
    assert "pollux ready:" in b.out and b.rc == 1, b


def test_data_interface_keeps_its_core_and_refuses_the_api_port(tmp_path):
    """eth0 management (core 0), eth1 a data interface (core 1) on its own
    restricted user network: the API's port reached over eth1 lands on
    core 1, which refuses it (reset) and counts it."""
    cfg = tmp_path / "two.json"
    cfg.write_text(json.dumps({
        "name": "two", "cores": {"idle": "halt"},
        "interfaces": [{"address": "dhcp"}, {"address": "10.0.3.15/24"}],
        "pool": {"buffers_per_core": 1024}, "tcp": {"max_conns_per_core": 64, "send_buffer": 65536},
        "api": {"interface": 0, "token": "two-token-0123456789abcdef"}}))
    dport = free_port()
    vm = ApiVM(str(cfg), extra=["-netdev", "user,id=data,restrict=on,net=10.0.3.0/24,"
                                "hostfwd=tcp:127.0.0.1:%d-10.0.3.15:443" % dport,
                                "-device", "virtio-net-pci,netdev=data"])
    d = tempfile.mkdtemp(prefix="pollux-vm-api-")
    try:
        vm.token = "two-token-0123456789abcdef"
        vm.fpr = vm.wait_for(FPR_RE).group(1)
        vm.wait_for(BOUND)
        vm.cacert = os.path.join(d, "pollux.pem")
        fetch_cert(vm, vm.cacert)
        _, body = curl(vm, "/v1/interfaces")
        ifs = {i["name"]: [(q["queue"], q["core"]) for q in i["queues"]]
               for i in json.loads(body)["interfaces"]}
        assert ifs == {"eth0": [(0, 0)], "eth1": [(0, 1)]}, ifs
        # the API's port over the data interface: the guest resets it
        rc, out = sh("curl", "-sS", "--max-time", "60", "-k", "https://%s:%d/v1/system" % (HOST, dport))
        assert rc != 0 and "HTTP/" not in out, out
        _, m = curl(vm, "/metrics")
        assert metric(m, "pollux_api_connections_refused_total") >= 1, m
        assert metric(m, "pollux_net_tcp_accepts_total", core="1") >= 1
    finally:
        vm.stop()
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
        os.rmdir(d)


def test_put_config_changes_the_web_body_on_the_data_core(tmp_path):
    """The web appliance on eth1 (data core 1), the API on eth0 (core 0):
    PUT /v1/config with a new web.body is published to the data core
    (publish and quiesce) and the next GET over eth1 gets it; web.port
    can't change at run time and is refused, naming it."""
    cfg = tmp_path / "web.json"
    conf = {"name": "webapi", "app": "web", "cores": {"idle": "halt"},
            "interfaces": [{"address": "dhcp"}, {"address": "10.0.3.15/24"}],
            "pool": {"buffers_per_core": 1024}, "tcp": {"max_conns_per_core": 64, "send_buffer": 65536},
            "web": {"port": 80, "body": "first body\n"},
            "api": {"interface": 0, "token": "web-token-0123456789abcdef"}}
    cfg.write_text(json.dumps(conf))
    wport = free_port()
    vm = ApiVM(str(cfg), extra=["-netdev", "user,id=data,restrict=on,net=10.0.3.0/24,"
                                "hostfwd=tcp:127.0.0.1:%d-10.0.3.15:80" % wport,
                                "-device", "virtio-net-pci,netdev=data"])
    d = tempfile.mkdtemp(prefix="pollux-vm-api-")
    try:
        vm.token = "web-token-0123456789abcdef"
        vm.fpr = vm.wait_for(FPR_RE).group(1)
        vm.wait_for(BOUND)
        vm.cacert = os.path.join(d, "pollux.pem")
        fetch_cert(vm, vm.cacert)
        url = "http://%s:%d/" % (HOST, wport)
        rc, out = sh("curl", "-sS", "--max-time", "60", url)
        assert rc == 0 and out == "first body\n", out
        _, running = curl(vm, "/v1/config")
        doc = json.loads(running)
        doc["web"]["body"] = "second body\n"
        code, body = curl(vm, "/v1/config", method="PUT", data=json.dumps(doc))
        assert code == 200, body
        rc, out = sh("curl", "-sS", "--max-time", "60", url)
        assert rc == 0 and out == "second body\n", out
        assert "web: body changed (12 bytes)" in vm.out(), vm.out()[-2000:]
        doc["web"]["port"] = 81
        code, body = curl(vm, "/v1/config", method="PUT", data=json.dumps(doc))
        assert code == 409 and json.loads(body)["error"].startswith("web.port: can't change at run time"), body
        rc, out = sh("curl", "-sS", "--max-time", "60", url)
        assert rc == 0 and out == "second body\n", out
    finally:
        vm.stop()
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
        os.rmdir(d)

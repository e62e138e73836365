"""The HTTPS REST API of the VM image, served by core 0 over the stack on
the management interface, under TCG over QEMU user networking
(restrict=on: the guest reaches nothing beyond the forward; the API's
port 443 forwarded from 127.0.0.1:<free port>, as `make run` does with
8443).

The appliance is configs/default.json itself (what `make run` boots): a
DHCP management interface and the API with no token, so the console
prints a generated token and the generated certificate's fingerprint.
The fixture fetches the certificate with openssl s_client, checks it
against that fingerprint and trusts it with curl --cacert. That one VM
boots once for all of the API's contract, test/lib/api_contract.py
(shared with test/hosted: every resource, 401, 400/409 naming the field
with the running config unchanged after, the TLS policy, /metrics through
prometheus_client's parser, 50 concurrent keep-alive clients beside one
stalled mid-handshake, handshake timeouts, a request trickling in cut at
its deadline, one source held to its share of the slots), then for this
platform's own checks: the console, the management interface and its
counters, a pipelined client that reads late, and shutdown (the VM powers off). A
bare boot shows the API off without its NIC; a second VM with a data
interface beside the management one checks the queue mapping and that
the API's port on the data interface is refused and counted; a third
changes the web body on the data core.

Time limits are safety nets for a loaded host running TCG, never
performance assertions."""
import contextlib
import json
import os
import re
import socket
import ssl
import tempfile
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, VM, boot, spawn, stop
from api_contract import (curl, fetch_cert, free_port, metric, sh, shutdown,  # noqa: F401
                          FPR_RE, test_auth, test_fifty_keepalive_clients_and_a_staller,
                          test_metrics_parse, test_other_resources, test_plain_http_is_not_served,
                          test_put_bad_configs_change_nothing, test_put_config_applies_what_can_change,
                          test_stalled_handshake_times_out, test_system_and_cores, test_tls_policy,
                          test_a_slow_request_is_cut_at_the_deadline,
                          test_one_source_holds_its_share_of_the_slots,
                          test_config_shows_no_secret, test_monitor_role)

HOST = "127.0.0.1"
MONITOR_TOKEN = "monitor-token-0123456789abcdef"
TOKEN_RE = re.compile(r"api: token ([0-9a-f]{48}) \(generated")
BOUND = re.compile(r"eth0: dhcp bound ")


class ApiVM:
    """tools/pollux-vm --api PORT: q35, 2 vCPUs, console read by a thread.
    Once trusted (api_vm()), also an api_contract Target."""
    cores, min_memory, wall_clock, slow = 2, 200 << 20, False, 120
    handshake_s = (15, 120)             # 20 s on the VM
    keepalive_requests, staller_survives = 3, False
    per_source = 56                     # SL_MAX_PER_SOURCE: all clients come from 10.0.2.2

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


@contextlib.contextmanager
def api_vm(config, token=None, extra=()):
    """Boots config with the API; yields the VM once its DHCP lease is
    bound and its certificate, checked against the console's fingerprint,
    is trusted. token None: the generated one, read from the console."""
    vm = ApiVM(config, extra=extra)
    d = tempfile.mkdtemp(prefix="pollux-vm-api-")
    try:
        vm.token = token or vm.wait_for(TOKEN_RE).group(1)
        vm.fpr = vm.wait_for(FPR_RE).group(1)
        vm.wait_for(BOUND)
        vm.cacert = os.path.join(d, "pollux.pem")
        fetch_cert(vm, vm.cacert, vm.fpr)
        yield vm
    finally:
        vm.stop()
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
        os.rmdir(d)


@pytest.fixture(scope="module")
def api():
    """configs/default.json, booted once for the contract suite and the
    checks below, with one key added: api.monitor_token (the contract's
    read-only role; the admin token is still the generated one);
    test_shutdown_powers_off ends it."""
    with open(os.path.join(ROOT, "configs", "default.json")) as f:
        cfg = json.load(f)
    cfg.setdefault("api", {})["monitor_token"] = MONITOR_TOKEN
    fd, path = tempfile.mkstemp(prefix="pollux-vm-api-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f)
    try:
        with api_vm(path) as vm:
            vm.monitor_token = MONITOR_TOKEN
            yield vm
    finally:
        os.unlink(path)


def test_console_says_how_to_reach_it(api):
    out = api.out()
    assert "api: https://127.0.0.1:%d/" % api.port in out, out
    assert re.search(r"api: eth0 \(address from DHCP\) port 443, TLS 1.2, generated self-signed", out), out


def test_the_management_interface(api):
    """What the contract suite can't know: the management NIC, its queue
    on core 0, its traffic, and the config booted."""
    code, body = curl(api, "/v1/cores")
    assert code == 200, body
    cores = json.loads(body)["cores"]
    assert cores[0]["rx_packets"] > 0 and cores[0]["tcp_conns"] >= 1, cores
    code, body = curl(api, "/v1/interfaces")
    assert code == 200, body
    ifs = json.loads(body)["interfaces"]
    assert len(ifs) == 1 and ifs[0]["name"] == "eth0" and ifs[0]["address"] == "10.0.2.15/24", ifs
    # the management interface: one queue pair, core 0's
    assert [(q["queue"], q["core"]) for q in ifs[0]["queues"]] == [(0, 0)], ifs
    code, body = curl(api, "/v1/interfaces/eth0")
    assert code == 200 and json.loads(body)["mac"] == ifs[0]["mac"], body
    code, body = curl(api, "/v1/config")
    assert code == 200, body
    with open(os.path.join(ROOT, "configs", "default.json")) as f:
        want = json.load(f)
    # default.json plus the fixture's monitor token, shown redacted
    want["api"]["monitor_token"] = "<redacted>"
    assert json.loads(body) == want, body


def test_metrics_of_the_stack(api):
    code, text = curl(api, "/metrics")
    assert code == 200
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("pollux_rx_packets", "pollux_net_tcp_accepts"):
        assert name in fams, sorted(fams)
    assert metric(text, "pollux_rx_packets_total", core="0", iface="eth0", queue="0") > 0
    assert metric(text, "pollux_net_tcp_accepts_total", core="0") >= 1
    assert metric(text, "pollux_net_tcp_accepts_total", core="1") == 0
    assert metric(text, "pollux_interface_up", iface="eth0") == 1


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


def test_shutdown_powers_off(api):
    """Last: the VM goes away."""
    shutdown(api)
    rc = api.p.wait(timeout=120)
    api.t.join(10)
    out = api.out()
    assert "api: shutdown requested" in out and "pollux: powering off (API)" in out, out[-3000:]
    assert rc == 0, (rc, out[-3000:])   # ACPI power-off: QEMU exits 0 (with the line above)



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
    with api_vm(str(cfg), "two-token-0123456789abcdef",
                extra=["-netdev", "user,id=data,restrict=on,net=10.0.3.0/24,"
                       "hostfwd=tcp:127.0.0.1:%d-10.0.3.15:443" % dport,
                       "-device", "virtio-net-pci,netdev=data"]) as vm:
        _, body = curl(vm, "/v1/interfaces")
        ifs = {i["name"]: [(q["queue"], q["core"]) for q in i["queues"]]
               for i in json.loads(body)["interfaces"]}
        assert ifs == {"eth0": [(0, 0)], "eth1": [(0, 1)]}, ifs
        # the API's port over the data interface: the guest resets it
        rc, out = sh("curl", "-sS", "--max-time", "60", "-k", "https://%s:%d/v1/system" % (HOST, dport),
                     timeout=120)
        assert rc != 0 and "HTTP/" not in out, out
        _, m = curl(vm, "/metrics")
        assert metric(m, "pollux_api_connections_refused_total") >= 1, m
        assert metric(m, "pollux_net_tcp_accepts_total", core="1") >= 1


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
    with api_vm(str(cfg), "web-token-0123456789abcdef",
                extra=["-netdev", "user,id=data,restrict=on,net=10.0.3.0/24,"
                       "hostfwd=tcp:127.0.0.1:%d-10.0.3.15:80" % wport,
                       "-device", "virtio-net-pci,netdev=data"]) as vm:
        url = "http://%s:%d/" % (HOST, wport)
        rc, out = sh("curl", "-sS", "--max-time", "60", url, timeout=120)
        assert rc == 0 and out == "first body\n", out
        _, running = curl(vm, "/v1/config")
        doc = json.loads(running)
        doc["web"]["body"] = "second body\n"
        code, body = curl(vm, "/v1/config", method="PUT", data=json.dumps(doc))
        assert code == 200, body
        rc, out = sh("curl", "-sS", "--max-time", "60", url, timeout=120)
        assert rc == 0 and out == "second body\n", out
        assert "web: body changed (12 bytes)" in vm.out(), vm.out()[-2000:]
        doc["web"]["port"] = 81
        code, body = curl(vm, "/v1/config", method="PUT", data=json.dumps(doc))
        assert code == 409 and json.loads(body)["error"].startswith("web.port: can't change at run time"), body
        rc, out = sh("curl", "-sS", "--max-time", "60", url, timeout=120)
        assert rc == 0 and out == "second body\n", out


def test_kv_telemetry_and_flush_through_the_api(tmp_path):
    """The kv appliance on eth1 (data core 1), the API on eth0 (core 0):
    its counters per core in /metrics (pollux_kv_*{core="1"}) and in GET
    /v1/kv (the monitor's), POST /v1/kv/flush the admin's only; a key set
    over eth1 is counted, and gone after the flush."""
    cfg = tmp_path / "kv.json"
    conf = {"name": "kvapi", "app": "kv", "cores": {"idle": "halt"},
            "interfaces": [{"address": "dhcp"}, {"address": "10.0.3.15/24"}],
            "pool": {"buffers_per_core": 1024}, "tcp": {"max_conns_per_core": 64, "send_buffer": 65536},
            "kv": {"memory_mb": 8, "max_conns": 32},
            "api": {"interface": 0, "token": "kv-token-0123456789abcdef",
                    "monitor_token": MONITOR_TOKEN}}
    cfg.write_text(json.dumps(conf))
    kport = free_port()
    with api_vm(str(cfg), "kv-token-0123456789abcdef",
                extra=["-netdev", "user,id=data,restrict=on,net=10.0.3.0/24,"
                       "hostfwd=tcp:127.0.0.1:%d-10.0.3.15:11211" % kport,
                       "-device", "virtio-net-pci,netdev=data"]) as vm:
        def kv(line, end):
            with socket.create_connection((HOST, kport), timeout=60) as s:
                s.sendall(line)
                got = b""
                deadline = time.monotonic() + 60
                while not got.endswith(end) and time.monotonic() < deadline:
                    d = s.recv(4096)
                    if not d:
                        break
                    got += d
                return got
        assert kv(b"set k 0 0 5\r\nhello\r\n", b"\r\n") == b"STORED\r\n"
        assert kv(b"get k\r\n", b"END\r\n") == b"VALUE k 0 5\r\nhello\r\nEND\r\n"
        code, body = curl(vm, "/v1/kv", token=MONITOR_TOKEN)
        assert code == 200, body
        doc = json.loads(body)
        assert doc["app"] == "kv" and [c["core"] for c in doc["cores"]] == [1], doc
        assert doc["total"]["curr_items"] == 1 and doc["total"]["get_hits"] == 1, doc
        assert doc["total"]["cmd_set"] == 1, doc
        code, text = curl(vm, "/metrics", token=MONITOR_TOKEN)
        assert code == 200, text
        assert metric(text, "pollux_kv_curr_items", core="1") == 1
        assert metric(text, "pollux_kv_get_hits_total", core="1") == 1
        assert "pollux_kv_curr_items{core=\"0\"}" not in text
        code, body = curl(vm, "/v1/kv/flush", method="POST", token=MONITOR_TOKEN)
        assert code == 403, body
        assert kv(b"get k\r\n", b"END\r\n").startswith(b"VALUE k"), "a refused flush flushed"
        code, body = curl(vm, "/v1/kv/flush", method="POST")
        assert code == 200 and json.loads(body)["status"] == "flushed", body
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and kv(b"get k\r\n", b"END\r\n") != b"END\r\n":
            time.sleep(0.5)
        assert kv(b"get k\r\n", b"END\r\n") == b"END\r\n"
        code, body = curl(vm, "/v1/kv")
        assert code == 200 and json.loads(body)["total"]["cmd_flush"] >= 1, body

"""PUT and GET /v1/site on build/pollux-hosted's HTTPS API (127.0.0.1).

The hosted httpd appliance needs an interface with an address, and on
the hosted platform an interface is a vhost-user device: with one, the
API moves onto the stack too, so no test here can reach httpd without a
vhost-user backend. What this file checks is what the real process does
around the route with the appliance it can run (no httpd): the body
bound api.site_max_mb (413 before the body, 64 KiB still for the other
routes), the roles (the monitor's PUT is 403 before any body), 409 for
PUT and 404 for GET naming httpd, and that the server goes on serving
after each. The replacement itself is covered by test/unit/api
(test_site.c, through the API with the real site builder)."""
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from api_contract import HOST, free_port, sh

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOKEN, MONITOR_TOKEN = "site-admin-0123456789abcdef", "site-monitor-0123456789abcdef"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    d = tmp_path_factory.mktemp("site-api")
    rc, out = sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", str(d / "k.pem"), "-out", str(d / "c.pem"), "-days", "2",
                 "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1")
    assert rc == 0, out
    port = free_port()
    cfg = {"name": "site-api", "cores": {"idle": "halt"},
           "api": {"token": TOKEN, "monitor_token": MONITOR_TOKEN, "port": port, "site_max_mb": 1,
                   "cert": (d / "c.pem").read_text(), "key": (d / "k.pem").read_text()}}
    (d / "cfg.json").write_text(json.dumps(cfg))
    log = open(d / "console", "w+")
    p = subprocess.Popen(["timeout", "300", os.path.join(ROOT, "build", "pollux-hosted"), "--cores", "2", "--config", str(d / "cfg.json")],
                         stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    try:
        end = time.time() + 60
        while "pollux ready:" not in (d / "console").read_text():
            assert p.poll() is None and time.time() < end, (d / "console").read_text()
            time.sleep(0.1)
        yield {"port": port, "ca": str(d / "c.pem"), "dir": d}
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        log.close()


def curl(srv, method, path, token=TOKEN, body_file=None, extra=()):
    args = ["curl", "-sS", "--max-time", "30", "--cacert", srv["ca"], "-X", method, "-o", "-",
            "-w", "\n%{http_code}", *extra]
    if token:
        args += ["-H", "Authorization: Bearer " + token]
    if body_file:
        args += ["--data-binary", "@" + str(body_file), "-H", "Content-Type: application/x-tar"]
    rc, out = sh(*args, "https://%s:%d%s" % (HOST, srv["port"], path), timeout=90)
    assert rc == 0, out
    body, _, code = out.rpartition("\n")
    return int(code), body


def make_tar(path, size):
    import io
    import tarfile
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo("index.html")
        info.size = size
        t.addfile(info, io.BytesIO(b"x" * size))
    return path


def test_put_site_without_httpd_is_409_and_get_404(srv):
    tar = make_tar(srv["dir"] / "small.tar", 100)
    code, body = curl(srv, "PUT", "/v1/site", body_file=tar)
    assert code == 409, body
    assert "not httpd" in json.loads(body)["error"], body
    code, body = curl(srv, "GET", "/v1/site", token=MONITOR_TOKEN)
    assert code == 404, body
    assert "httpd appliance is not running" in json.loads(body)["error"], body


def test_site_body_bound_is_api_site_max_mb(srv):
    # over 64 KiB is taken for the site (then refused: not httpd), over 1 MiB is 413
    tar = make_tar(srv["dir"] / "mid.tar", 300 * 1024)
    code, body = curl(srv, "PUT", "/v1/site", body_file=tar)
    assert code == 409, body
    tar = make_tar(srv["dir"] / "big.tar", (1 << 20) + 1)
    code, body = curl(srv, "PUT", "/v1/site", body_file=tar)
    assert code == 413, body
    assert "api.site_max_mb (1 MiB)" in json.loads(body)["error"], body
    # any other route keeps its 64 KiB
    cfg = srv["dir"] / "big.json"
    cfg.write_text(json.dumps({"pad": "x" * 70000}))
    code, body = curl(srv, "PUT", "/v1/config", body_file=cfg)
    assert code == 413, body
    code, body = curl(srv, "GET", "/v1/system")
    assert code == 200, body


def test_the_monitor_cannot_put_a_site(srv):
    tar = make_tar(srv["dir"] / "m.tar", 100)
    code, body = curl(srv, "PUT", "/v1/site", token=MONITOR_TOKEN, body_file=tar)
    assert code == 403, body
    code, body = curl(srv, "PUT", "/v1/site", token="", body_file=tar)
    assert code == 401, body
    code, body = curl(srv, "GET", "/v1/openapi.json", token=MONITOR_TOKEN)
    assert code == 200
    op = json.loads(body)["paths"]["/v1/site"]
    assert op["put"]["x-pollux-role"] == "admin" and op["get"]["x-pollux-role"] == "monitor"

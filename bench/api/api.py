#!/usr/bin/python3
# bench/api/api.py — the control-plane benchmark; run it through bench/api/run
# (which builds what it needs first). See the header of bench/api/run for
# what is measured and how.
#
# Everything started here runs in its own process group under `timeout` and
# is stopped by its process-group id when its measurement ends and on any
# exit of this script (signals included); the vhost-user socket and the
# /var/run/dpdk/<prefix> directories are removed (bench/lib/benchlib.py,
# shared with bench/pps). Traffic: TCP on 127.0.0.1 and one vhost-user
# socket, nothing else.

import datetime
import json
import os
import re
import secrets
import shlex
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
from benchlib import Session, fmt, free_port, gen_stats, log, med, thread_ns, write_results  # noqa: E402

WORK = os.path.join(ROOT, "build", "api")
HOSTED = os.path.abspath(os.environ.get("POLLUX_HOSTED", os.path.join(WORK, "pollux-hosted")))
TLSBENCH = os.path.join(WORK, "tlsbench")
BASE_CONFIG = os.path.join(ROOT, "configs", "l2fwd.json")
RESULTS = os.path.join(HERE, "results.json")
PLOT = os.path.join(HERE, "api.png")

RUNS = int(os.environ.get("RUNS", "3"))
HS_CLIENTS = int(os.environ.get("HS_CLIENTS", "4"))
HS_SECONDS = float(os.environ.get("HS_SECONDS", "5"))
SCRAPE_N = int(os.environ.get("SCRAPE_N", "200"))
PAIRS = int(os.environ.get("PAIRS", "10"))           # scraped/unscraped window pairs per run
WARMUP = float(os.environ.get("WARMUP", "2"))
WINDOW = float(os.environ.get("WINDOW", "2"))
# a pair of windows in which the data core or the generator got less than
# this share of its CPU in either window (the host is shared) is left out of
# the loss figures when enough pairs are clean
CLEAN_SHARE = float(os.environ.get("CLEAN_SHARE", "0.8"))
SCRAPE_HZ = float(os.environ.get("SCRAPE_HZ", "10"))
FRAME, BURST = 64, 32
SRV_CPU, CLIENT_CPU = 0, 1                            # the appliance / server; client and generator
HS_SERVERS = ["pollux-poll", "pollux-halt", "nginx"]
HS_LABEL = {"pollux-poll": "Pollux API (hosted, control core polls)",
            "pollux-halt": "Pollux API (hosted, control core halts when idle)",
            "nginx": "baseline: nginx 1 worker (OpenSSL 3.0)"}
CIPHER = os.environ.get("HS_CIPHER", "ECDHE-ECDSA-AES128-GCM-SHA256")
# the ECDHE groups the client offers, in its order; the first is used. In TLS
# 1.2 the list also names the curves it accepts for an ECDSA certificate, so
# P-256 must stay in it (e.g. HS_GROUP=X25519:P-256)
GROUP = os.environ.get("HS_GROUP", "P-256")

S = Session("api", WORK)
SOCK = S.sock
TOKEN = "bench-" + secrets.token_hex(12)
DP_WINDOWS = []         # every l2fwd window, for the plot


def cpu_busy():
    """{cpu: (busy jiffies, total jiffies)} from /proc/stat."""
    out = {}
    for l in open("/proc/stat"):
        f = l.split()
        if f[0].startswith("cpu") and f[0] != "cpu":
            v = [int(x) for x in f[1:]]
            out[int(f[0][3:])] = (sum(v) - v[3] - v[4], sum(v))
    return out


# ---------------------------------------------------------------- certificate and servers
def make_cert():
    """One ECDSA P-256 key and self-signed certificate for Pollux and nginx
    alike; returns (cert path, key path, SHA-256 fingerprint)."""
    crt, key = os.path.join(WORK, "server.crt"), os.path.join(WORK, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    fp = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-fingerprint", "-sha256"], check=True,
                        capture_output=True, text=True, timeout=30).stdout.strip().split("=", 1)[1]
    return crt, key, fp


def pollux_api_config(name, extra, port, crt, key):
    cfg = dict(extra)
    cfg["name"] = name
    cfg["api"] = {"token": TOKEN, "port": port, "cert": open(crt).read(), "key": open(key).read()}
    path = os.path.join(WORK, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path, cfg


def start_pollux(argv, logname, limit):
    p = S.proc("pollux-hosted", argv, logname, limit=limit)
    if not p.wait_for(r"pollux ready:", 0, 30):
        tail = "\n".join(p.text()[-8:])
        p.stop()
        raise RuntimeError("pollux-hosted did not get ready:\n" + tail)
    return p


def nginx_conf(port, crt, key):
    d = os.path.join(WORK, "nginx")
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    t = os.path.join(d, "tmp")
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
master_process off;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(t)s/body; proxy_temp_path %(t)s/proxy; fastcgi_temp_path %(t)s/fastcgi;
    uwsgi_temp_path %(t)s/uwsgi; scgi_temp_path %(t)s/scgi;
    server {
        listen 127.0.0.1:%(port)d ssl;
        ssl_certificate %(crt)s;
        ssl_certificate_key %(key)s;
        ssl_protocols TLSv1.2;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305;
        ssl_ecdh_curve %(curves)s;
        ssl_prefer_server_ciphers on;
        ssl_session_cache off;
        ssl_session_tickets off;
        keepalive_timeout 60s;
        location / { return 200 "ok\\n"; }
    }
}
""" % {"d": d, "t": t, "port": port, "crt": crt, "key": key,
       # the client's groups in its order (OpenSSL's names), as Pollux takes them
       "curves": ":".join({"P-256": "prime256v1", "P-384": "secp384r1"}.get(g, g) for g in GROUP.split(":"))})
    return conf


def start_nginx(port, crt, key, logname, limit):
    conf = nginx_conf(port, crt, key)
    argv = ["taskset", "-c", str(SRV_CPU), "nginx", "-p", os.path.dirname(conf), "-e",
            os.path.join(os.path.dirname(conf), "error.log"), "-c", conf]
    p = S.proc("nginx", argv, logname, limit=limit)
    end = time.monotonic() + 15
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, argv
        except OSError:
            if not p.alive():
                break
            time.sleep(0.1)
    tail = "\n".join(p.text()[-8:])
    p.stop()
    raise RuntimeError("nginx did not listen on 127.0.0.1:%d:\n%s" % (port, tail))


def tlsbench(args, logname, limit, cpu=CLIENT_CPU):
    """Runs tlsbench to the end on `cpu`; returns its JSON result."""
    p = S.proc("tlsbench", ["taskset", "-c", str(cpu), TLSBENCH] + args, logname, limit=int(limit))
    p.wait(limit + 10)
    rc = p.p.poll()
    text = p.text()
    p.stop()
    js = [l for l in text if l.startswith("{")]
    if not js:
        raise RuntimeError("tlsbench %s: no result (status %s): %s" % (args[0], rc, " | ".join(text[-4:])))
    r = json.loads(js[-1])
    r["status"] = rc
    if rc:
        raise RuntimeError("tlsbench %s: status %s: %s" % (args[0], rc, " | ".join(l for l in text if l[:1] != "{")))
    return r


def api_metric(port, name):
    """One value of Pollux's /metrics (read with Python's ssl, not timed)."""
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname, c.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s, c.wrap_socket(s) as t:
        t.sendall(("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                   "Connection: close\r\n\r\n" % TOKEN).encode())
        data = b""
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                b = t.recv(65536)
            except (ssl.SSLError, OSError):
                break
            if not b:
                break
            data += b
    m = re.search(r"^%s(?:\{\})? (\d+)" % re.escape(name), data.decode("utf-8", "replace"), re.M)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- 1. handshakes
def measure_hs(server, run, crt, key, fp):
    port = free_port()
    cur = "r%d-hs-%s" % (run, server)
    limit = int(HS_SECONDS * 2 + 90)
    r = {"server": server, "run": run, "clients": HS_CLIENTS, "seconds": HS_SECONDS}
    if server == "nginx":
        srv, argv = start_nginx(port, crt, key, cur + "-srv.log", limit)
        r["command"] = shlex.join(argv)
    else:
        idle = "poll" if server == "pollux-poll" else "halt"
        path, _ = pollux_api_config("hs-" + idle, {"cores": {"idle": idle}}, port, crt, key)
        argv = [HOSTED, "--cores", "1", "--cpus", str(SRV_CPU), "--config", path]
        srv = start_pollux(argv, cur + "-srv.log", limit)
        r["command"] = shlex.join(argv)
    try:
        pid = srv.pid()
        before = api_metric(port, "pollux_api_tls_handshakes_total") if server != "nginx" else None
        t_before = sum(thread_ns(pid).values())
        hs = tlsbench(["hs", "--port", str(port), "--clients", str(HS_CLIENTS), "--seconds", str(HS_SECONDS),
                       "--fp", fp, "--cipher", CIPHER, "--groups", GROUP], cur + "-client.log", HS_SECONDS + 30)
        cpu_s = (sum(thread_ns(pid).values()) - t_before) / 1e9
        if not hs["handshakes"]:
            raise RuntimeError("no handshake completed (%d failed)" % hs["failures"])
        r.update({k: hs[k] for k in ("handshakes", "failures", "per_second", "latency_us_median",
                                     "latency_us_p99", "negotiated")})
        r["server_cpu_share"] = round(cpu_s / hs["seconds"], 3)
        r["per_server_cpu_second"] = round(hs["handshakes"] / cpu_s, 1) if cpu_s > 0 else None
        if server != "nginx":
            after = api_metric(port, "pollux_api_tls_handshakes_total")
            # the server's own count: the client's handshakes, plus the
            # metric reads' own (1 before the window is counted in before)
            r["server_handshakes"] = after - before - 1 if None not in (before, after) else None
            sc = tlsbench(["get", "--port", str(port), "--token", TOKEN, "--count", str(SCRAPE_N),
                           "--fp", fp, "--cipher", CIPHER, "--groups", GROUP], cur + "-scrape.log", 60)
            r["scrape"] = {k: sc[k] for k in ("requests", "body_bytes", "latency_us_median", "latency_us_p99",
                                              "latency_us_min", "latency_us_max")}
        if not srv.alive():
            raise RuntimeError("%s exited during the measurement" % server)
    finally:
        srv.stop()
    return r


# ---------------------------------------------------------------- 2, 3. the data plane while scraped
def window(gen, pid, data_tid):
    """WINDOW seconds of per-second generator samples: Mpps forwarded back,
    the CPU time of Pollux's control (core 0, the main thread) and data
    threads and of the generator over the window, and how busy each host
    CPU was (what is not ours on CPU 0 is the shared host's other work)."""
    s0 = gen_stats(gen)
    if not s0:
        raise RuntimeError("generator stats unreadable")
    gpid = gen.pid()
    c0, g0, b0 = thread_ns(pid), thread_ns(gpid), cpu_busy()
    samples = [s0]
    while samples[-1][0] < s0[0] + WINDOW - 1e-3:
        nxt = s0[0] + len(samples)
        time.sleep(max(0.0, nxt - time.monotonic()))
        s = gen_stats(gen)
        if not s:
            raise RuntimeError("generator stats unreadable")
        samples.append(s)
    c1, g1, b1 = thread_ns(pid), thread_ns(gpid), cpu_busy()
    t = samples[-1][0] - s0[0]
    ctl = (c1.get(pid, 0) - c0.get(pid, 0)) / 1e9 / t
    dat = (c1.get(data_tid, 0) - c0.get(data_tid, 0)) / 1e9 / t if data_tid else None
    gen_share = (sum(g1.values()) - sum(v for k, v in g0.items() if k in g1)) / 1e9 / t
    busy = {c: round((b1[c][0] - b0[c][0]) / max(1, b1[c][1] - b0[c][1]), 4) for c in b1 if c in b0}
    return {"window_s": round(t, 3), "mpps": (samples[-1][1] - s0[1]) / t / 1e6,
            "mpps_per_second": [round((b[1] - a[1]) / (b[0] - a[0]) / 1e6, 4) for a, b in zip(samples, samples[1:])],
            "control_thread_cpu_share": round(ctl, 5), "data_thread_cpu_share": round(dat, 4) if dat else None,
            "generator_cpu_share": round(gen_share, 4), "host_cpu_busy": busy}


def scrape_cost(pid, get, logname):
    """SCRAPE_N back-to-back GETs, and what they cost Pollux's control thread
    (core 0): its CPU time over the scrapes less its own rate over the 1 s
    just before (the halting control core's wake-ups), per request."""
    a = thread_ns(pid).get(pid, 0)
    t0 = time.monotonic()
    time.sleep(1.0)
    b = thread_ns(pid).get(pid, 0)
    t1 = time.monotonic()
    sc = tlsbench(get + ["--count", str(SCRAPE_N)], logname, 60)
    c = thread_ns(pid).get(pid, 0)
    t2 = time.monotonic()
    base = (b - a) / (t1 - t0)
    r = {k: sc[k] for k in ("requests", "body_bytes", "latency_us_median", "latency_us_p99",
                            "latency_us_min", "latency_us_max")}
    r["control_baseline_cpu_share"] = round(base / 1e9, 5)
    r["control_cpu_us_per_request"] = round(max(0.0, (c - b) - base * (t2 - t1)) / 1e3 / sc["requests"], 1)
    return r


def measure_dataplane(run, crt, key, fp):
    cur = "r%d-l2fwd" % run
    port = free_port()
    base = json.load(open(BASE_CONFIG))
    base.setdefault("l2fwd", {})["burst"] = BURST
    base.setdefault("cores", {})["idle"] = ["halt", "poll"]
    path, _ = pollux_api_config("l2fwd-api", base, port, crt, key)
    limit = int(60 + WARMUP + PAIRS * 2 * (WINDOW + 3) + 60)
    gen = S.start_generator(CLIENT_CPU, FRAME, BURST, cur + "-gen.log", limit, auto_start=False)
    px = None
    out = {"run": run, "windows": []}
    try:
        argv = [HOSTED, "--cores", "2", "--cpus", "%d,%d" % (SRV_CPU, SRV_CPU), "--config", path,
                "--vhost-user", "%s,queues=1" % SOCK]
        out["command"] = shlex.join(argv)
        px = start_pollux(argv, cur + "-pollux.log", limit)
        pid = px.pid()
        time.sleep(1)
        tids = thread_ns(pid)
        data_tid = max((t for t in tids if t != pid), key=lambda t: tids[t], default=None)
        get = ["get", "--port", str(port), "--token", TOKEN, "--fp", fp, "--cipher", CIPHER, "--groups", GROUP]
        # 2a. idle: the generator is connected but not started
        s = gen_stats(gen)
        out["scrape_idle"] = scrape_cost(pid, get, cur + "-scrape-idle.log")
        s2 = gen_stats(gen)
        out["idle_rx_packets"] = s2[1] - s[1] if s and s2 else None
        # 3. forwarding, windows with and without the 10 Hz scraper
        if not gen.send("start"):
            raise RuntimeError("generator prompt gone")
        end = time.monotonic() + 20
        while True:
            s = gen_stats(gen)
            if s and s[1] > (s2[1] if s2 else 0):
                break
            if time.monotonic() > end or not px.alive():
                raise RuntimeError("no traffic came back within 20 s (see build/api/logs/%s-*.log)" % cur)
            time.sleep(0.3)
        time.sleep(WARMUP)
        # One scraper for all windows, on one keep-alive connection, paused
        # (SIGUSR1) in the unscraped windows and resumed (SIGUSR2) in the
        # scraped ones, so that the windows can be short and interleaved.
        n = int(SCRAPE_HZ * PAIRS * 2 * (WINDOW + 1)) + 10
        scraper = S.proc("scraper", ["taskset", "-c", str(CLIENT_CPU), TLSBENCH] + get +
                         ["--count", str(n), "--interval-ms", str(int(round(1000 / SCRAPE_HZ))), "--paused", "1",
                          "--trace", "1", "--seconds", str(PAIRS * 2 * (WINDOW + 2) + 30)],
                         cur + "-scraper.log", limit=int(PAIRS * 2 * (WINDOW + 2) + 60))
        try:
            time.sleep(0.5)         # its handshake happens before the first window
            spid = scraper.pid()
            if not spid or not scraper.alive():
                raise RuntimeError("scraper did not start: %s" % " | ".join(scraper.text()[-4:]))
            for i in range(PAIRS):
                order = (False, True) if (run + i) % 2 else (True, False)
                for scraped in order:
                    os.kill(spid, signal.SIGUSR2 if scraped else signal.SIGUSR1)
                    m = scraper.mark()
                    w = {"pair": i + 1, "scraped": scraped}
                    w.update(window(gen, pid, data_tid))
                    lat = [float(l.split()[2]) for l in scraper.text(m) if l.startswith("req ")]
                    bad = [l for l in scraper.text(m) if l.startswith("req ") and l.split()[1] != "200"]
                    w["scrapes"] = len(lat)
                    if bad:
                        raise RuntimeError("scraper: answers other than 200: %s" % bad[:3])
                    if scraped and len(lat) < SCRAPE_HZ * WINDOW * 0.7:
                        raise RuntimeError("scraper: only %d requests in a %.0f s window" % (len(lat), WINDOW))
                    if scraped:
                        w["scrape_latency_us"] = lat
                    out["windows"].append(w)
                    log("api:   run %d pair %2d %-9s %6.3f Mpps  CPU shares: control core %5.2f%%, data core %3.0f%%,"
                        " generator %3.0f%%; CPU 0 busy %3.0f%%; %d scrapes%s" % (
                            run, i + 1, "scraped" if scraped else "unscraped", w["mpps"],
                            100 * w["control_thread_cpu_share"], 100 * (w["data_thread_cpu_share"] or 0),
                            100 * w["generator_cpu_share"], 100 * w["host_cpu_busy"].get(SRV_CPU, 0), len(lat),
                            " (median %.0f us)" % med(lat) if lat else ""))
        finally:
            scraper.stop(first=signal.SIGTERM)
        lat = [x for w in out["windows"] for x in w.get("scrape_latency_us", [])]
        if lat:
            lat.sort()
            out["scrape_forwarding_10hz"] = {"requests": len(lat), "latency_us_median": med(lat),
                                             "latency_us_p99": lat[min(len(lat) - 1, int(0.99 * len(lat) + 0.999999) - 1)],
                                             "latency_us_max": lat[-1]}
        # 2b. forwarding: back-to-back scrapes
        out["scrape_forwarding"] = scrape_cost(pid, get, cur + "-scrape-fwd.log")
        if not px.alive():
            raise RuntimeError("pollux-hosted exited during the measurement")
    finally:
        if px:
            px.stop()
        gen.stop("quit")
        S.cleanup_files()
    return out


# ---------------------------------------------------------------- main
def summarize(hs, dp):
    out = {"handshakes": {}, "scrape": {}, "dataplane": {}}
    for s in HS_SERVERS:
        ss = [r for r in hs if r["server"] == s]
        out["handshakes"][s] = {"per_second": med(r["per_second"] for r in ss),
                                "latency_us_median": med(r["latency_us_median"] for r in ss),
                                "latency_us_p99": med(r["latency_us_p99"] for r in ss),
                                "server_cpu_share": med(r["server_cpu_share"] for r in ss),
                                "per_server_cpu_second": med(r["per_server_cpu_second"] for r in ss),
                                "failures": sum(r["failures"] for r in ss), "n": len(ss)}
    h = out["handshakes"]
    for s in ("pollux-poll", "pollux-halt"):
        a, b = h[s]["per_second"], h["nginx"]["per_second"]
        h[s]["ratio_vs_nginx"] = round(a / b, 3) if a and b else None
        a, b = h[s]["per_server_cpu_second"], h["nginx"]["per_server_cpu_second"]
        h[s]["cpu_ratio_vs_nginx"] = round(a / b, 3) if a and b else None
    conds = [("control core alone, polls", [r.get("scrape") for r in hs if r["server"] == "pollux-poll"]),
             ("control core alone, halts", [r.get("scrape") for r in hs if r["server"] == "pollux-halt"]),
             ("l2fwd idle", [d.get("scrape_idle") for d in dp]),
             ("l2fwd forwarding", [d.get("scrape_forwarding") for d in dp]),
             ("l2fwd forwarding, 10 Hz", [d.get("scrape_forwarding_10hz") for d in dp])]
    for name, xs in conds:
        xs = [x for x in xs if x]
        out["scrape"][name] = {"latency_us_median": med(x["latency_us_median"] for x in xs),
                               "control_cpu_us_per_request": med(x.get("control_cpu_us_per_request") for x in xs),
                               "latency_us_p99": med(x["latency_us_p99"] for x in xs),
                               "requests": sum(x["requests"] for x in xs), "sets": len(xs)}
    pairs = []
    for d in dp:
        for i in range(1, PAIRS + 1):
            a = [w for w in d["windows"] if w["pair"] == i and w["scraped"]]
            b = [w for w in d["windows"] if w["pair"] == i and not w["scraped"]]
            if a and b and b[0]["mpps"]:
                clean = all((w["data_thread_cpu_share"] or 0) >= CLEAN_SHARE and w["generator_cpu_share"] >= CLEAN_SHARE
                            for w in (a[0], b[0]))
                pairs.append((a[0], b[0], clean))
                a[0]["clean_pair"] = b[0]["clean_pair"] = clean
    # every pair, and apart the clean ones (both windows had their CPUs)
    use = pairs
    clean = [p for p in pairs if p[2]]
    ws = [w for a, b, _ in use for w in (a, b)]
    on = [a["mpps"] for a, b, _ in use]
    off = [b["mpps"] for a, b, _ in use]
    loss = lambda a, b: 100.0 * (b["mpps"] - a["mpps"]) / b["mpps"]
    paired = [loss(a, b) for a, b, _ in use]
    paired_clean = [loss(a, b) for a, b, _ in clean]
    mon, moff = med(on), med(off)
    cost = med(x.get("control_cpu_us_per_request") for d in dp for x in (d.get("scrape_forwarding"),) if x)
    share = med(w["data_thread_cpu_share"] for w in ws if not w["scraped"])
    # Mpps per CPU-second the data thread really got: the host's other
    # work, which takes CPU 0 from it at random, divided out
    per = lambda sc: med(w["mpps"] / w["data_thread_cpu_share"] for w in ws
                         if w["scraped"] == sc and w["data_thread_cpu_share"])
    pon, poff = per(True), per(False)
    out["dataplane"] = {
        "mpps_scraped": mon, "mpps_unscraped": moff,
        "loss_percent": round(100.0 * (moff - mon) / moff, 3) if mon and moff else None,
        "paired_loss_percent_median": round(med(paired), 3) if paired else None,
        "paired_loss_percent": [round(x, 3) for x in paired],
        # the spread of the per-pair losses: what this host can resolve
        "paired_loss_percent_quartiles": [round(q, 3) for q in statistics.quantiles(paired, n=4)]
        if len(paired) >= 2 else None,
        "control_cpu_share_scraped": med(w["control_thread_cpu_share"] for w in ws if w["scraped"]),
        "control_cpu_share_unscraped": med(w["control_thread_cpu_share"] for w in ws if not w["scraped"]),
        "data_cpu_share_scraped": med(w["data_thread_cpu_share"] for w in ws if w["scraped"]),
        "data_cpu_share_unscraped": med(w["data_thread_cpu_share"] for w in ws if not w["scraped"]),
        "pairs": len(pairs), "pairs_clean": len(clean),
        "paired_loss_percent_median_clean": round(med(paired_clean), 3) if paired_clean else None,
        "clean_share": CLEAN_SHARE,
        # what the scrapes' own CPU on core 0 can take from the data core,
        # which shares CPU 0 with it: SCRAPE_HZ x cost per scrape / its share
        "control_cpu_us_per_scrape_forwarding": cost,
        "expected_loss_percent_from_cpu": round(100.0 * SCRAPE_HZ * cost / 1e6 / share, 3) if cost and share else None,
        "mpps_per_data_cpu_scraped": pon, "mpps_per_data_cpu_unscraped": poff,
        "loss_percent_per_data_cpu": round(100.0 * (poff - pon) / poff, 3) if pon and poff else None}
    return out


def plot(sm):
    h, sc, dp = sm["handshakes"], sm["scrape"], sm["dataplane"]
    nan = lambda v, f="%.3f": f % v if v is not None else "NaN"
    with open(os.path.join(WORK, "hs.dat"), "w") as f:
        for i, s in enumerate(HS_SERVERS):
            f.write('%d "%s" %s %s\n' % (i, s, nan(h[s]["per_second"], "%.1f"),
                                         nan(h[s]["per_server_cpu_second"], "%.1f")))
    short = {"control core alone, polls": "alone,\\npolls", "control core alone, halts": "alone,\\nhalts",
             "l2fwd idle": "l2fwd\\nidle", "l2fwd forwarding": "l2fwd\\nforwarding",
             "l2fwd forwarding, 10 Hz": "forwarding,\\n%.0f Hz" % SCRAPE_HZ}
    with open(os.path.join(WORK, "scrape.dat"), "w") as f:
        for i, (name, v) in enumerate(sc.items()):
            f.write('%d "%s" %s %s\n' % (i, short.get(name, name), nan(v["latency_us_median"], "%.1f"),
                                         nan(v["latency_us_p99"], "%.1f")))
    with open(os.path.join(WORK, "dp.dat"), "w") as f:
        f.write('0 "unscraped" %s\n1 "scraped %.0f Hz" %s\n' % (nan(dp["mpps_unscraped"]), SCRAPE_HZ,
                                                                nan(dp["mpps_scraped"])))
    with open(os.path.join(WORK, "dpw.dat"), "w") as f:
        for w in DP_WINDOWS:
            f.write("%d %.4f %d\n" % (1 if w["scraped"] else 0, w["mpps"], 1 if w.get("clean_pair") else 0))
    gp = """set terminal pngcairo size 1500,520 font ',10'
set output '%(plot)s'
set multiplot layout 1,3 title "bench/api: hosted Pollux, server/appliance on CPU %(srv)d, clients and generator on CPU %(cli)d; medians of %(runs)d runs; shared noisy 2-CPU host"
set style fill solid 0.6 border -1
set boxwidth 0.6
set grid y
set yrange [0:*]
set title "Full TLS 1.2 handshakes/s (%(cipher)s, %(group)s; %(k)d clients)"
set ylabel "handshakes / s"
set key top left
plot '%(w)s/hs.dat' using ($1-0.15):3:(0.3):xtic(2) with boxes title 'per second', '' using ($1-0.15):3:(sprintf("%%.0f",$3)) with labels offset 0,0.7 notitle, '' using ($1+0.15):4:(0.3) with boxes title 'per CPU-second of the server', '' using ($1+0.15):4:(sprintf("%%.0f",$4)) with labels offset 0,0.7 notitle
set key top right
set key below
set title "GET /metrics over keep-alive TLS"
set ylabel "microseconds"
set logscale y
set yrange [10:*]
set xtics font ',9'
set bmargin 4
plot '%(w)s/scrape.dat' using ($1-0.15):3:(0.3):xtic(2) with boxes title 'median', '' using ($1+0.15):4:(0.3) with boxes title 'p99'
unset logscale y
set yrange [0:*]
set xtics font ',10'
set xrange [-0.6:1.6]
set offsets 0, 0, graph 0.35, 0
set key inside top left reverse Left
set title "l2fwd 64 B, burst 32, with/without a %(hz)s Hz scraper\\nloss %(loss)s %% (paired median; quartiles %(q)s), by CPU %(cpu)s %%"
set ylabel "Mpps forwarded back"
plot '%(w)s/dp.dat' using 1:3:xtic(2) with boxes title 'median', '' using 1:3:(sprintf("%%.3f",$3)) with labels offset 0,0.7 notitle, '%(w)s/dpw.dat' using ($1+0.38):($3 > 0 ? $2 : 1/0) with points pt 7 ps 0.7 lc rgb 'black' title 'each window (clean pair)', '' using ($1+0.38):($3 > 0 ? 1/0 : $2) with points pt 6 ps 0.7 lc rgb 'gray40' title 'each window (host took the CPU)'
unset multiplot
""" % {"plot": PLOT, "srv": SRV_CPU, "cli": CLIENT_CPU, "runs": RUNS, "cipher": CIPHER, "group": GROUP,
       "k": HS_CLIENTS, "w": WORK, "hz": "%.0f" % SCRAPE_HZ, "loss": nan(dp["paired_loss_percent_median"], "%.2f"),
       "q": " ".join("%.1f" % q for q in (dp["paired_loss_percent_quartiles"] or [])[::2]),
       "cpu": nan(dp["expected_loss_percent_from_cpu"], "%.2f")}
    with open(os.path.join(WORK, "api.gp"), "w") as f:
        f.write(gp)
    with open(os.path.join(WORK, "gnuplot.log"), "w") as errf:
        rc = subprocess.run(["gnuplot", os.path.join(WORK, "api.gp")], timeout=60, stderr=errf).returncode
    if rc:
        log("api: gnuplot failed (status %d): see build/api/gnuplot.log" % rc)


def main():
    S.catch_signals()
    S.fresh_logs()
    crt, key, fp = make_cert()
    per_run = len(HS_SERVERS) * (HS_SECONDS + 3) + 10 + PAIRS * 2 * (WINDOW + 1.5) + WARMUP
    log("api: %d runs (~%.0f s each): handshakes (%d clients, %.0f s) against %s; /metrics scrape latency "
        "(%d requests); l2fwd 64 B with and without a %.0f Hz scraper (%d pairs of %.0f s windows per run)"
        % (RUNS, per_run, HS_CLIENTS, HS_SECONDS, ", ".join(HS_SERVERS), SCRAPE_N, SCRAPE_HZ, PAIRS, WINDOW))
    log("api: servers and the appliance on CPU %d, clients and the generator on CPU %d; loads now: %s"
        % (SRV_CPU, CLIENT_CPU, open("/proc/loadavg").read().strip()))
    hs, dp, errors = [], [], []
    for run in range(1, RUNS + 1):
        k = (run - 1) % len(HS_SERVERS)
        for server in HS_SERVERS[k:] + HS_SERVERS[:k]:
            for attempt in (1, 2):
                try:
                    r = measure_hs(server, run, crt, key, fp)
                except Exception as e:                    # noqa: BLE001
                    errors.append("run %d handshakes %s (try %d): %s" % (run, server, attempt, e))
                    log("api: FAILED " + errors[-1])
                    continue
                hs.append(r)
                log("api: [run %d] %-11s %7.1f handshakes/s (%d, %d failed; latency median %.0f us, p99 %.0f us;"
                    " server %3.0f%% of a CPU)%s  %s" % (
                        run, server, r["per_second"], r["handshakes"], r["failures"], r["latency_us_median"],
                        r["latency_us_p99"], 100 * r["server_cpu_share"],
                        "  server counted %s" % r["server_handshakes"] if "server_handshakes" in r else "",
                        r["negotiated"]))
                if "scrape" in r:
                    log("api: [run %d] %-11s GET /metrics x%d: median %.0f us, p99 %.0f us (%d B)" % (
                        run, server, r["scrape"]["requests"], r["scrape"]["latency_us_median"],
                        r["scrape"]["latency_us_p99"], r["scrape"]["body_bytes"]))
                break
        for attempt in (1, 2):
            try:
                d = measure_dataplane(run, crt, key, fp)
            except Exception as e:                        # noqa: BLE001
                errors.append("run %d l2fwd (try %d): %s" % (run, attempt, e))
                log("api: FAILED " + errors[-1])
                continue
            dp.append(d)
            for name in ("scrape_idle", "scrape_forwarding"):
                log("api: [run %d] l2fwd %-10s GET /metrics x%d: median %.0f us, p99 %.0f us; control core CPU"
                    " %.0f us per request (over its own %.2f%% of a CPU)" % (
                        run, name.split("_")[1], d[name]["requests"], d[name]["latency_us_median"],
                        d[name]["latency_us_p99"], d[name]["control_cpu_us_per_request"],
                        100 * d[name]["control_baseline_cpu_share"]))
            break

    sm = summarize(hs, dp)
    DP_WINDOWS[:] = [w for d in dp for w in d["windows"]]
    res = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "host_cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
                         "?"),
        "host_cpus": os.cpu_count(), "loadavg_at_end": open("/proc/loadavg").read().strip(),
        "runs": RUNS, "hs_clients": HS_CLIENTS, "hs_seconds": HS_SECONDS, "scrape_n": SCRAPE_N, "pairs": PAIRS,
        "warmup_s": WARMUP, "window_s": WINDOW, "scrape_hz": SCRAPE_HZ, "frame": FRAME, "burst": BURST,
        "server_cpu": SRV_CPU, "client_cpu": CLIENT_CPU, "cipher": CIPHER, "group": GROUP,
        "nginx_version": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),
        "openssl_version": subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip(),
        "method": {
            "handshakes": "bench/api/tlsbench.c (OpenSSL client) on CPU %d: %d threads, each connect, full TLS 1.2 "
                          "handshake (no session resumption offered: no tickets, no client cache), close_notify, "
                          "close, for %.0f s; the server on CPU %d: Pollux (pollux-hosted --cores 1, the control "
                          "core alone, cores.idle poll or halt) or nginx (1 process, master_process off) with the "
                          "same ECDSA P-256 certificate, %s, ECDHE on %s. Pollux's own handshake counter is read "
                          "before and after as a check." % (CLIENT_CPU, HS_CLIENTS, HS_SECONDS, SRV_CPU, CIPHER, GROUP),
            "scrape": "one keep-alive TLS connection, %d GET /metrics one after the other, each timed from the "
                      "request's write to the body's last byte (Content-Length)" % SCRAPE_N,
            "dataplane": "bench/pps's loopback: dpdk-testpmd (vhost-user backend, flowgen %d B, burst %d) on CPU %d, "
                         "pollux-hosted l2fwd (macswap, cores.idle [halt, poll]) --cores 2 --cpus %d,%d plus the API; "
                         "Mpps = generator RX over %.0f s windows; per run %d pairs of windows, one with a "
                         "keep-alive scraper on CPU %d polling /metrics at %.0f Hz and one without, order alternating"
                         % (FRAME, BURST, CLIENT_CPU, SRV_CPU, SRV_CPU, WINDOW, PAIRS, CLIENT_CPU, SCRAPE_HZ),
        },
        "summary": sm, "handshake_samples": hs, "dataplane_runs": dp, "errors": errors,
    }
    write_results(RESULTS, res, ROOT)
    plot(sm)

    h, sc, d = sm["handshakes"], sm["scrape"], sm["dataplane"]
    for s in HS_SERVERS:
        log("api: handshakes/s %-11s %s (per CPU-second of the server %s)%s" % (
            s, fmt(h[s]["per_second"], "%.1f"), fmt(h[s]["per_server_cpu_second"], "%.1f"),
            "  = %sx nginx" % fmt(h[s].get("ratio_vs_nginx"), "%.3f") if s != "nginx" else ""))
    for name, v in sc.items():
        log("api: GET /metrics %-27s median %s us, p99 %s us (%d requests)" % (
            name, fmt(v["latency_us_median"], "%.0f"), fmt(v["latency_us_p99"], "%.0f"), v["requests"]))
    log("api: control core CPU per GET /metrics while forwarding: %s us; at %.0f Hz that is %s %% of the data core's"
        " CPU" % (fmt(d["control_cpu_us_per_scrape_forwarding"], "%.0f"), SCRAPE_HZ,
                  fmt(d["expected_loss_percent_from_cpu"], "%.3f")))
    log("api: l2fwd: %d pairs of windows, %d clean (data core and generator >= %.0f%% of their CPUs in both):"
        " paired loss over the clean ones %s %%" % (d["pairs"], d["pairs_clean"], 100 * CLEAN_SHARE,
                                                   fmt(d["paired_loss_percent_median_clean"], "%.2f")))
    log("api: l2fwd 64 B: unscraped %s Mpps, scraped %s Mpps: loss %s %% (paired median %s %%, quartiles %s; per data-core CPU %s %%);"
        " control core %s%% -> %s%% of a CPU" % (
                       fmt(d["mpps_unscraped"], "%.3f"), fmt(d["mpps_scraped"], "%.3f"), fmt(d["loss_percent"], "%.2f"),
                       fmt(d["paired_loss_percent_median"], "%.2f"),
                       "/".join("%.2f" % q for q in d["paired_loss_percent_quartiles"] or []) or "-",
                       fmt(d["loss_percent_per_data_cpu"], "%.2f"),
                       fmt(d["control_cpu_share_unscraped"] and 100 * d["control_cpu_share_unscraped"], "%.2f"),
                       fmt(d["control_cpu_share_scraped"] and 100 * d["control_cpu_share_scraped"], "%.2f")))
    if errors:
        log("api: %d measurement(s) failed; see results.json 'errors' and build/api/logs/" % len(errors))
    p, n = h["pollux-poll"]["per_second"], h["nginx"]["per_second"]
    if not p or not n:
        log("api: no headline figure")
        return 1
    log("api: TLS handshakes/s %.1f vs nginx %.1f = %.3fx" % (p, n, p / n))
    return 0


if __name__ == "__main__":
    rc = 1
    try:
        rc = main()
    finally:
        S.cleanup_all()
    sys.exit(rc)

"""Hosted l2fwd over vhost-user, end to end, against a live dpdk-testpmd.

    build/l2fwd_gen ==A== dpdk-testpmd (io: port 0 <-> port 1) ==B== build/pollux-hosted (l2fwd, macswap)

testpmd serves two vhost-user ports with N queues each and forwards port 0
queue i <-> port 1 queue i. Pollux (configs/l2fwd.json) connects to B with
N queue pairs, one data core each. The generator (test/hosted/l2fwd_gen.c
on test/lib/vu_frontend.c: Pollux's own vhost-user transport and
virtqueues) connects to A and sends L2FWD_FRAMES numbered, checksummed
frames of mixed sizes (60..1514 bytes) split over the N pairs, plus per
pair RUNTS frames under 14 bytes and LONGS over 1518 bytes, and checks
that every numbered frame comes back once, in order, on its pair, MACs
swapped and otherwise intact, and that nothing else comes back.

Pollux's data cores halt when idle (config below): on a 2-CPU machine five
spinning Pollux threads plus testpmd's lcores starved testpmd's vhost-user
message thread for over 30 s in CI while the generator set up its rings.

Then Pollux's last netstat counters (--append netstat=500) must agree:
per queue rx == tx == the frames that came back, runt == RUNTS,
too_long == LONGS, no other drops, no BROKEN queue, and the buffer
accounting free + rx posted + tx held == every buffer made. testpmd's own
forward statistics must show every frame and no drop.

Skipped where dpdk-testpmd is not on PATH. Every process runs in its own
process group, dies with the test process (PR_SET_PDEATHSIG), is waited
for under a deadline and killed by PID at the end; the sockets and DPDK's
runtime folder are removed.

Environment: L2FWD_FRAMES (default 1000000) scales the run down;
L2FWD_WINDOW (default 768) is the generator's in-flight limit per pair.
"""
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "pollux-hosted")
CFG = os.path.join(ROOT, "configs", "l2fwd.json")
# configs/l2fwd.json with every core halting after 256 idle turns, for at most 100 us
IDLE = {"idle": "halt", "halt_after": 256, "halt_max_us": 100}
GEN = os.path.join(ROOT, "build", "l2fwd_gen")
GEN_SRC = os.path.join(ROOT, "test", "hosted", "l2fwd_gen.c")
GEN_DEPS = [os.path.join(ROOT, "test", "lib", "vu_frontend.c")] + \
    [os.path.join(ROOT, "src", "drivers", f) for f in ("vhost_user.c", "virtio.c", "virtq.c")]
GEN_CFLAGS = ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
              "-Isrc", "-Itest/lib", "-D_GNU_SOURCE", "-DPOLLUX_HOSTED"]

TESTPMD = shutil.which("dpdk-testpmd")
FRAMES = int(os.environ.get("L2FWD_FRAMES", "1000000"))
WINDOW = int(os.environ.get("L2FWD_WINDOW", "768"))
RUNTS = 5                   # per queue pair: 1, 7 and 13 bytes
LONGS = 5                   # per queue pair: 1519, 1600 and 2000 bytes
NETSTAT_MS = 500
GEN_TIMEOUT = 110           # the generator's own alarm (s)
STARTUP_TIMEOUT = 30

QUEUE_RE = re.compile(r"netstat eth0 q(\d+): rx (\d+) tx (\d+) drop nobuf (\d+) runt (\d+) too_long (\d+) "
                      r"tx_too_long (\d+) tx_full (\d+) kicks (\d+)( BROKEN)?")
BUFS_RE = re.compile(r"netstat buffers: free (\d+) \+ rx posted (\d+) \+ tx held (\d+) = (\d+) of (\d+)")
QUEUE_FIELDS = ("rx", "tx", "nobuf", "runt", "too_long", "tx_too_long", "tx_full", "kicks")
GEN_Q_RE = re.compile(r"^gen q(\d+): sent (\d+) returned (\d+) intact (\d+) runts (\d+) too_long (\d+) "
                      r"errors (\d+) missing (\d+)", re.M)
GEN_TOTAL_RE = re.compile(r"^gen total: .* in ([\d.]+) s \((\d+) frames/s\)", re.M)

pytestmark = pytest.mark.skipif(TESTPMD is None, reason="dpdk-testpmd not on PATH (Debian package dpdk-dev)")


def _die_with_parent():
    """preexec_fn: own session (process group), SIGKILL when the test process dies."""
    os.setsid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))     # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Proc:
    """A child in its own process group with its output in a log file."""

    def __init__(self, name, argv, log):
        self.name, self.argv, self.log = name, argv, log
        with open(log, "wb") as out:
            self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                      cwd=ROOT, preexec_fn=_die_with_parent)

    def alive(self):
        return self.p.poll() is None

    def text(self):
        try:
            with open(self.log, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, grace=5.0):
        """sig to the PID, then SIGKILL to its process group after `grace` s."""
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, sig)
                self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait(timeout=10)
        return self.p.returncode


def tail(text, n=40):
    return "\n".join(text.splitlines()[-n:])


def wait_for(what, cond, proc, deadline_s):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if cond():
            return
        if proc is not None and not proc.alive():
            pytest.fail("%s exited (status %s) while waiting for %s:\n%s"
                        % (proc.name, proc.p.returncode, what, tail(proc.text())))
        time.sleep(0.05)
    pytest.fail("no %s within %d s%s" % (what, deadline_s, (":\n" + tail(proc.text())) if proc else ""))


@pytest.fixture(scope="module")
def gen_bin():
    """build/l2fwd_gen, rebuilt here when missing or older than its sources."""
    srcs = [GEN_SRC] + GEN_DEPS + [os.path.join(ROOT, "src", "drivers", h) for h in os.listdir(
        os.path.join(ROOT, "src", "drivers")) if h.endswith(".h")] + \
        [os.path.join(ROOT, "src", "core", "core.h"), os.path.join(ROOT, "test", "lib", "vu_frontend.h")]
    newest = max(os.path.getmtime(s) for s in srcs)
    if not os.path.exists(GEN) or os.path.getmtime(GEN) < newest:
        tmp = "%s.%d.tmp" % (GEN, os.getpid())
        cmd = ["gcc", *GEN_CFLAGS, "-o", tmp, os.path.relpath(GEN_SRC, ROOT)] + \
              [os.path.relpath(s, ROOT) for s in GEN_DEPS]
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, "building the generator failed:\n%s\n%s" % (" ".join(cmd), p.stdout + p.stderr)
        os.replace(tmp, GEN)
    return GEN


def dpdk_rundirs(prefix):
    dirs = ["/var/run/dpdk/" + prefix]
    if os.environ.get("XDG_RUNTIME_DIR"):
        dirs.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "dpdk", prefix))
    dirs.append("/tmp/dpdk/" + prefix)
    return dirs


def netstat_blocks(text, queues):
    """Every complete netstat report: ({q: counters}, buffers tuple, broken)."""
    blocks, cur, broken = [], {}, False
    for line in text.splitlines():
        m = QUEUE_RE.search(line)
        if m:
            cur[int(m.group(1))] = dict(zip(QUEUE_FIELDS, map(int, m.groups()[1:9])))
            broken |= m.group(10) is not None
            continue
        m = BUFS_RE.search(line)
        if m:
            if sorted(cur) == list(range(queues)):
                blocks.append((cur, tuple(map(int, m.groups())), broken))
            cur, broken = {}, False
    return blocks


def parse_testpmd_stats(text):
    """{port: {RX-packets, RX-dropped, TX-packets, TX-dropped}} from the closing forward statistics."""
    stats, port = {}, None
    for line in text.splitlines():
        m = re.search(r"Forward statistics for port (\d+)", line)
        if m:
            port = int(m.group(1))
            stats[port] = {}
            continue
        if "Accumulated forward statistics" in line:
            port = None
            continue
        if port is not None:
            for k, v in re.findall(r"(RX-packets|RX-dropped|TX-packets|TX-dropped): (\d+)", line):
                stats[port][k] = int(v)
    return stats


@pytest.mark.parametrize("queues", [1, 2, 4])
def test_l2fwd_vhost(queues, gen_bin, tmp_path):
    assert os.path.exists(BIN), "build/pollux-hosted missing: make hosted"
    t_start = time.monotonic()
    tag = "pollux-l2fwd-%d-q%d" % (os.getpid(), queues)
    sock_a, sock_b = "/tmp/%s-A.sock" % tag, "/tmp/%s-B.sock" % tag
    cpus = sorted(os.sched_getaffinity(0))[:2]
    c0, c1 = cpus[0], cpus[-1]
    procs = []
    timings = {}
    try:
        for s in (sock_a, sock_b):
            if os.path.exists(s):
                os.unlink(s)
        tp = Proc("dpdk-testpmd", [
            TESTPMD, "--lcores", "0@%d,1@%d" % (c0, c1), "--no-pci", "-m", "512", "--no-huge",
            "--file-prefix", tag,
            "--vdev", "net_vhost0,iface=%s,queues=%d" % (sock_a, queues),
            "--vdev", "net_vhost1,iface=%s,queues=%d" % (sock_b, queues), "--",
            "--forward-mode=io", "--auto-start", "--stats-period=1", "--total-num-mbufs=16384",
            "--rxq=%d" % queues, "--txq=%d" % queues], str(tmp_path / "testpmd.log"))
        procs.append(tp)
        wait_for("testpmd's vhost-user sockets", lambda: os.path.exists(sock_a) and os.path.exists(sock_b), tp,
                 STARTUP_TIMEOUT)
        timings["testpmd"] = time.monotonic() - t_start

        cfg = str(tmp_path / "l2fwd-halt.json")
        with open(CFG) as f:
            conf = json.load(f)
        conf["cores"] = IDLE
        with open(cfg, "w") as f:
            json.dump(conf, f)
        px = Proc("pollux-hosted", [
            BIN, "--cores", str(queues + 1), "--cpus", ",".join(map(str, cpus)), "--config", cfg,
            "--vhost-user", "%s,queues=%d" % (sock_b, queues), "--append", "netstat=%d" % NETSTAT_MS],
            str(tmp_path / "pollux.log"))
        procs.append(px)
        # the first netstat report comes after "pollux ready": every queue is up
        wait_for("netstat report from pollux", lambda: "netstat buffers" in px.text(), px, STARTUP_TIMEOUT)
        boot = px.text()
        assert re.search(r"eth0: virtio-net over vhost-user .* %d queue pairs?," % queues, boot), tail(boot)
        assert "l2fwd: eth0 -> eth0, macswap, %d queue" % queues in boot, tail(boot)
        timings["pollux"] = time.monotonic() - t_start

        t_gen = time.monotonic()
        g = subprocess.run([gen_bin, "--socket", sock_a, "--queues", str(queues), "--frames", str(FRAMES),
                            "--window", str(WINDOW), "--runts", str(RUNTS), "--long", str(LONGS),
                            "--timeout", str(GEN_TIMEOUT)],
                           cwd=ROOT, capture_output=True, text=True, timeout=GEN_TIMEOUT + 10,
                           preexec_fn=_die_with_parent)
        timings["generator"] = time.monotonic() - t_gen
        out = g.stdout + g.stderr
        with open(tmp_path / "gen.log", "w") as f:
            f.write(out)
        assert px.alive(), "pollux-hosted died:\n" + tail(px.text())
        assert tp.alive(), "dpdk-testpmd died:\n" + tail(tp.text())
        assert g.returncode == 0 and re.search(r"^\d+ passed, 0 failed$", out, re.M), \
            "generator failed (status %d):\n%s\n-- pollux:\n%s" % (g.returncode, tail(out, 60), tail(px.text(), 12))
        gq = {int(m.group(1)): [int(x) for x in m.groups()[1:]] for m in GEN_Q_RE.finditer(out)}
        assert sorted(gq) == list(range(queues)), out
        per_q = [FRAMES // queues + (q < FRAMES % queues) for q in range(queues)]
        for q in range(queues):
            sent, returned, intact, runts, longs, errors, missing = gq[q]
            assert (sent, returned, intact, runts, longs, errors, missing) == \
                (per_q[q], per_q[q], per_q[q], RUNTS, LONGS, 0, 0), "q%d: %s" % (q, out)

        # two more reports after the last frame: the counters have settled
        time.sleep(2.6 * NETSTAT_MS / 1000)
        rc = px.stop(signal.SIGTERM)
        plog = px.text()
        tp_rc = tp.stop(signal.SIGINT, grace=10)    # prints its forward statistics and exits
        tlog = tp.text()
        timings["total"] = time.monotonic() - t_start

        # ---- Pollux's counters
        assert rc in (0, -signal.SIGTERM), "pollux-hosted ended with %s before it was stopped:\n%s" % (rc, tail(plog))
        for bad in ("BROKEN", "panic", "fault on core", "check failed"):
            assert bad not in plog, tail(plog, 60)
        blocks = netstat_blocks(plog, queues)
        assert len(blocks) >= 2, tail(plog)
        (last, bufs, broken), (prev, prev_bufs, _) = blocks[-1], blocks[-2]
        assert not broken
        assert last == prev and bufs == prev_bufs, "counters still moving:\n%s" % tail(plog, 2 * (queues + 1))
        for q in range(queues):
            c = last[q]
            assert c["rx"] == per_q[q] and c["tx"] == per_q[q], "q%d: %s" % (q, c)
            assert c["runt"] == RUNTS and c["too_long"] == LONGS, "q%d: %s" % (q, c)
            assert c["nobuf"] == 0 and c["tx_too_long"] == 0 and c["tx_full"] == 0, "q%d: %s" % (q, c)
        free, posted, held, total_acc, total = bufs
        assert free + posted + held == total_acc, bufs
        assert total_acc == total, "buffers lost: free %d + rx posted %d + tx held %d = %d of %d" % bufs

        # ---- testpmd saw every frame, both ways, and dropped none
        assert tp_rc == 0, "dpdk-testpmd status %s:\n%s" % (tp_rc, tail(tlog))
        st = parse_testpmd_stats(tlog)
        into_a = FRAMES + queues * (RUNTS + LONGS)
        assert st.get(0) == {"RX-packets": into_a, "RX-dropped": 0, "TX-packets": FRAMES, "TX-dropped": 0}, st
        assert st.get(1) == {"RX-packets": FRAMES, "RX-dropped": 0, "TX-packets": into_a, "TX-dropped": 0}, st

        m = GEN_TOTAL_RE.search(out)
        print("\nl2fwd over vhost-user, %d queue pair%s: %d frames in %.1f s of traffic (%s frames/s); "
              "testpmd up %.1f s, pollux up %.1f s, generator %.1f s, whole case %.1f s"
              % (queues, "" if queues == 1 else "s", FRAMES, float(m.group(1)) if m else -1,
                 m.group(2) if m else "?", timings["testpmd"], timings["pollux"], timings["generator"],
                 timings["total"]))
    finally:
        for p in reversed(procs):
            p.stop(signal.SIGINT if p.name == "dpdk-testpmd" else signal.SIGTERM, grace=5)
        for s in (sock_a, sock_b):
            try:
                os.unlink(s)
            except FileNotFoundError:
                pass
        for d in dpdk_rundirs(tag):
            shutil.rmtree(d, ignore_errors=True)

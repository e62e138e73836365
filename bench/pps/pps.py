#!/usr/bin/python3
# bench/pps/pps.py — the vhost-user loopback packet-rate benchmark; run it
# through bench/pps/run (which builds what it needs first). See the header of
# bench/pps/run for what is measured and how.
#
# Everything started here runs in its own process group under `timeout`, is
# stopped by its process-group id at the end of each measurement (and on any
# exit of this script), and its vhost-user socket and /var/run/dpdk/<prefix>
# directory are removed (bench/lib/benchlib.py, shared with bench/api).
# Traffic stays on one vhost-user socket.

import datetime
import json
import os
import re
import shlex
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
from benchlib import Session, fmt, gen_stats, log, med, thread_times, write_results  # noqa: E402

WORK = os.path.join(ROOT, "build", "pps")
HOSTED = os.path.abspath(os.environ.get("POLLUX_HOSTED", os.path.join(ROOT, "build", "pollux-hosted")))
IMAGE = os.path.abspath(os.environ.get("POLLUX_IMAGE", os.path.join(ROOT, "build", "pollux.elf")))
BASE_CONFIG = os.path.join(ROOT, "configs", "l2fwd.json")
RESULTS = os.path.join(HERE, "results.json")
PLOT = os.path.join(HERE, "pps.png")


def env_list(name, default):
    return [int(x) for x in re.split(r"[,\s]+", os.environ.get(name, default).strip()) if x]


RUNS = int(os.environ.get("RUNS", "3"))
FRAME_SIZES = env_list("FRAME_SIZES", "64 128 256 512 1024 1518")
BURSTS = env_list("BURSTS", "1 8 32")
WARMUP = float(os.environ.get("WARMUP", "2"))
WINDOW = float(os.environ.get("WINDOW", "5"))
GEN_BURST = os.environ.get("GEN_BURST", "same")     # "same": the generator uses the frontend's burst
VM_POINT = os.environ.get("PPS_VM", "1") != "0"
# a measurement in which the frontend or generator thread got less of its CPU
# than this is "starved" (the host is shared): retried once, left out of the
# medians when an unstarved one exists
MIN_SHARE = float(os.environ.get("MIN_CPU_SHARE", "0.25"))
FE_CPU, GEN_CPU = 0, 1
HEAD_SIZE, HEAD_BURST = 64, 32
ALL_FRONTENDS = ["pollux", "dpdk-virtio-pmd", "dpdk-io"]
FRONTENDS = [f for f in ALL_FRONTENDS if f in os.environ.get("FRONTENDS", " ".join(ALL_FRONTENDS)).replace(",", " ").split()]
LABEL = {"pollux": "Pollux l2fwd (hosted, macswap)", "dpdk-virtio-pmd": "DPDK virtio-user PMD, testpmd macswap",
         "dpdk-io": "ceiling: DPDK virtio-user PMD, testpmd io"}

S = Session("pps", WORK)
SOCK = S.sock


# ---------------------------------------------------------------- host facts
def tsc_hz():
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=5).stdout
        m = re.findall(r"tsc: Refined TSC clocksource calibration: ([\d.]+) MHz", out) or \
            re.findall(r"tsc: Detected ([\d.]+) MHz", out)
        if m:
            return float(m[-1]) * 1e6, "dmesg"
    except (OSError, subprocess.SubprocessError):
        pass
    for l in open("/proc/cpuinfo"):
        if l.startswith("cpu MHz"):
            return float(l.split(":")[1]) * 1e6, "/proc/cpuinfo cpu MHz"
    return None, "unknown"


def cpu_model():
    return next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")


# ---------------------------------------------------------------- Pollux's own loop accounting
class PolluxLoopStats:
    """Reads sched_cores[] (the per-core loop's counters) from a running
    build/pollux-hosted through /proc/PID/mem: symbol from nm, layout from
    build/pps/offsets (compiled from src/sched/sched_priv.h)."""

    def __init__(self, pid, offs, sym):
        self.pid, self.o = pid, offs
        exe = os.path.realpath(HOSTED)
        base = None
        for l in open("/proc/%d/maps" % pid):
            f = l.split()
            if len(f) >= 6 and os.path.realpath(f[5]) == exe and int(f[2], 16) == 0:
                base = int(f[0].split("-")[0], 16)
                break
        if base is None:
            raise RuntimeError("no mapping of %s in /proc/%d/maps" % (exe, pid))
        self.addr = base + sym

    def read(self, core):
        o = self.o
        with open("/proc/%d/mem" % self.pid, "rb") as m:
            m.seek(self.addr + core * o["sched_core_size"])
            b = m.read(o["sched_core_size"])
            u64 = lambda off: struct.unpack_from("<Q", b, off)[0]
            r = {"turns": u64(o["turns"]), "busy_turns": u64(o["busy_turns"]),
                 "busy_cycles": u64(o["busy_cycles"]), "idle_cycles": u64(o["idle_cycles"]), "pollers": {}}
            n = min(struct.unpack_from("<I", b, o["npollers"])[0], o["max_pollers"])
            for i in range(n):
                po = o["pollers"] + i * o["poller_size"]
                name = "?"
                try:
                    m.seek(u64(po + o["p_name"]))
                    name = m.read(48).split(b"\0")[0].decode("ascii", "replace")
                except OSError:
                    pass
                r["pollers"][name] = {k: u64(po + o["p_" + k]) for k in ("calls", "busy_calls", "busy_cycles", "work")}
            return r


def pollux_layout():
    try:
        offs = json.loads(subprocess.run([os.path.join(WORK, "offsets")], capture_output=True, text=True,
                                         timeout=10, check=True).stdout)
        nm = subprocess.run(["nm", HOSTED], capture_output=True, text=True, timeout=30, check=True).stdout
        sym = next(int(l.split()[0], 16) for l in nm.splitlines() if l.split()[-1:] == ["sched_cores"])
        return offs, sym
    except Exception as e:                                # noqa: BLE001 — fall back to CPU time
        log("pps: Pollux loop counters unavailable (%s): busy cycles for Pollux will be missing" % e)
        return None, None


# ---------------------------------------------------------------- command lines
def dpdk_fe_argv(mode, burst):
    pfx = S.dpdk_prefix("f")
    return ["stdbuf", "-oL", "dpdk-testpmd", "--lcores", "0@%d,1@%d" % (FE_CPU, FE_CPU), "--no-pci", "-m", "256",
            "--no-huge", "--file-prefix", pfx, "--vdev", "net_virtio_user0,path=%s,queues=1,queue_size=1024" % SOCK,
            "--", "-i", "--forward-mode=%s" % mode, "--burst=%d" % burst, "--auto-start",
            "--total-num-mbufs=8192", "--record-core-cycles"]


def pollux_config(burst):
    """configs/l2fwd.json with l2fwd.burst = burst and the control core
    halting when idle (the data core polls)."""
    cfg = json.load(open(BASE_CONFIG))
    cfg.setdefault("l2fwd", {})["burst"] = burst
    cfg.setdefault("cores", {})["idle"] = ["halt", "poll"]
    path = os.path.join(WORK, "l2fwd-b%d.json" % burst)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path, cfg


def pollux_argv(burst):
    path, _ = pollux_config(burst)
    return [HOSTED, "--cores", "2", "--cpus", "%d,%d" % (FE_CPU, FE_CPU), "--config", path,
            "--vhost-user", "%s,queues=1" % SOCK, "--append", "netstat=1000"]


def vm_argv():
    path, _ = pollux_config(HEAD_BURST)
    out = subprocess.run([os.path.join(ROOT, "tools", "pollux-vm"), "--print", "--machine", "q35", "--smp", "2",
                          "--mem", "256M", "--config", path, "--append", "netstat=1000", "--image", IMAGE, "--",
                          "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem",
                          "-chardev", "socket,id=c0,path=%s" % SOCK, "-netdev", "vhost-user,id=n0,chardev=c0",
                          "-device", "virtio-net-pci,netdev=n0"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return ["taskset", "-c", str(FE_CPU)] + shlex.split(out)


# ---------------------------------------------------------------- measurement
def dpdk_fwd_stats(fe):
    i = fe.mark()
    if not fe.send("show fwd stats all"):
        return None
    r = fe.wait_for(r"CPU cycles/packet=([\d.]+) \(\w+ cycles=(\d+) / total (?:\S+ )?packets=(\d+)\)"
                    r"(?: at (\d+) MHz)?", i, 5)
    out = {}
    if r:
        out = {"cycles_per_rx_pkt": float(r[2].group(1)), "busy_cycles": int(r[2].group(2)),
               "rx_packets_counted": int(r[2].group(3)), "mhz": int(r[2].group(4) or 0)}
    else:
        fe.wait_for(r"\+{20}\s*$", i, 3)
    acc = False
    for line in fe.text(i):
        if "Accumulated forward statistics" in line or "Forward statistics for port 0" in line:
            acc = True
        m = acc and re.search(r"RX-packets:\s+(\d+)\s+RX-dropped:\s+(\d+)", line)
        if m:
            out["rx_packets"], out["rx_dropped"] = int(m.group(1)), int(m.group(2))
        m = acc and re.search(r"TX-packets:\s+(\d+)\s+TX-dropped:\s+(\d+)", line)
        if m:
            out["tx_packets"], out["tx_dropped"] = int(m.group(1)), int(m.group(2))
    return out


def pick_data_thread(before, after, main_pid, prefer=None):
    best, delta = None, -1
    for tid, (comm, ns) in after.items():
        if tid not in before:
            continue
        d = ns - before[tid][1]
        if prefer and comm.startswith(prefer):
            return tid, comm, d
        if tid != main_pid and d > delta:
            best, delta = (tid, comm, d), d
    return best if best else (None, None, 0)


def start_gen(size, burst, extra_limit=0):
    gb = burst if GEN_BURST == "same" else int(GEN_BURST)
    gen = S.start_generator(GEN_CPU, size, gb, "%s-gen.log" % CUR, int(WARMUP + WINDOW + 60 + extra_limit),
                            auto_start=True)
    return gen, gb


def wait_traffic(gen, fe, limit):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if not fe.alive():
            raise RuntimeError("%s exited (status %s) before any traffic came back: see build/pps/logs/%s-fe.log"
                               % (fe.name, fe.p.poll(), CUR))
        s = gen_stats(gen)
        if s and s[1] > 0:
            return s
        time.sleep(0.3)
    raise RuntimeError("no traffic came back within %.0f s (see build/pps/logs/%s-*.log)" % (limit, CUR))


def window(gen, on_begin, on_end):
    """Warm-up, then WINDOW seconds of per-second generator samples; on_begin/
    on_end bracket the frontend's own counters."""
    time.sleep(WARMUP)
    s0 = gen_stats(gen)
    if not s0:
        raise RuntimeError("generator stats unreadable")
    b = on_begin()
    samples = [s0]
    while True:
        nxt = s0[0] + len(samples)
        if nxt > s0[0] + WINDOW + 1e-3:
            break
        time.sleep(max(0.0, nxt - time.monotonic()))
        s = gen_stats(gen)
        if not s:
            raise RuntimeError("generator stats unreadable")
        samples.append(s)
    e = on_end(b)
    t = samples[-1][0] - s0[0]
    pkts = samples[-1][1] - s0[1]
    per_s = [round((b2[1] - a[1]) / (b2[0] - a[0]) / 1e6, 4) for a, b2 in zip(samples, samples[1:])]
    return {"window_s": round(t, 4), "rx_packets": pkts, "mpps": pkts / t / 1e6, "mpps_per_second": per_s,
            "gen_tx_packets": samples[-1][2] - s0[2] if samples[-1][2] is not None else None}, e


def measure(fe_name, size, burst, loop):
    gen, gb = start_gen(size, burst)
    fe = None
    try:
        if fe_name == "pollux":
            fe = S.proc("pollux-hosted", pollux_argv(burst), "%s-fe.log" % CUR, limit=int(WARMUP + WINDOW + 60))
        else:
            fe = S.proc("testpmd virtio-user", dpdk_fe_argv("macswap" if fe_name == "dpdk-virtio-pmd" else "io", burst),
                        "%s-fe.log" % CUR, interactive=True, limit=int(WARMUP + WINDOW + 60))
        wait_traffic(gen, fe, 20)
        pid = fe.pid()
        st = {"loop": None}
        if fe_name == "pollux" and loop[0]:
            try:
                st["loop"] = PolluxLoopStats(pid, loop[0], loop[1])
            except Exception as e:                   # noqa: BLE001
                log("pps: cannot read Pollux's loop counters: %s" % e)

        gpid = gen.pid()

        def begin():
            if fe_name != "pollux":
                fe.send("clear fwd stats all")
            lp = st["loop"].read(1) if st["loop"] else None
            return time.monotonic(), thread_times(pid), lp, thread_times(gpid)

        def end(b):
            tt = thread_times(pid)
            t = time.monotonic()
            lp = st["loop"].read(1) if st["loop"] else None
            gt = thread_times(gpid)
            fw = dpdk_fwd_stats(fe) if fe_name != "pollux" else None
            return b, (t, tt, lp, fw, gt)

        res, (b, e) = window(gen, begin, end)
        (tb, ttb, lpb, gtb), (te, tte, lpe, fw, gte) = b, e
        wall = te - tb
        pkts = res["rx_packets"]
        r = {"frontend": fe_name, "frame": size, "burst": burst, "gen_burst": gb}
        r.update(res)
        tid, comm, dns = pick_data_thread(ttb, tte, pid, "lcore-worker" if fe_name != "pollux" else None)
        others = {"%s/%d" % (tte[t][0], t): round((tte[t][1] - ttb[t][1]) / 1e9 / wall, 4)
                  for t in tte if t in ttb and t != tid}
        r["data_thread"] = comm
        r["data_thread_cpu_share"] = round(dns / 1e9 / wall, 4)
        r["other_threads_cpu_share"] = others
        _, _, gns = pick_data_thread(gtb, gte, gpid, "lcore-worker")
        r["gen_thread_cpu_share"] = round(gns / 1e9 / wall, 4)
        # what the loop would carry with the generator's CPU to itself
        r["mpps_per_gen_cpu"] = round(res["mpps"] / r["gen_thread_cpu_share"], 4) if gns else None
        r["cpu_cycles_per_pkt"] = round(dns / 1e9 * TSC_HZ / pkts, 1) if pkts else None
        busy = None                                  # the frontend's busy TSC cycles in the window
        if fe_name == "pollux" and lpb and lpe:
            pb = next((v for k, v in lpb["pollers"].items() if k.startswith("l2fwd")), None)
            pe = next((v for k, v in lpe["pollers"].items() if k.startswith("l2fwd")), None)
            if pb and pe:
                d = {k: pe[k] - pb[k] for k in pe}
                busy = d["busy_cycles"]
                r["frontend_counters"] = {"poller": d, "loop_busy_cycles": lpe["busy_cycles"] - lpb["busy_cycles"],
                                          "loop_idle_cycles": lpe["idle_cycles"] - lpb["idle_cycles"],
                                          "loop_turns": lpe["turns"] - lpb["turns"],
                                          "loop_busy_turns": lpe["busy_turns"] - lpb["busy_turns"]}
                if d["work"]:
                    r["busy_tsc_cycles_per_rx_pkt_own"] = round(d["busy_cycles"] / d["work"], 1)
                if d["busy_calls"]:
                    r["pkts_per_busy_call"] = round(d["work"] / d["busy_calls"], 2)
        elif fw:
            r["frontend_counters"] = fw
            busy = fw.get("busy_cycles")
            r["busy_tsc_cycles_per_rx_pkt_own"] = fw.get("cycles_per_rx_pkt")
        r["busy_tsc_cycles_per_pkt"] = round(busy / pkts, 1) if busy is not None and pkts else None
        # Busy cycles are TSC (wall) cycles: a preemption inside a busy poll
        # counts in full. The share of wall time spent busy is unbiased by
        # preemption (it lands in busy and idle polls alike), so busy on-CPU
        # cycles = busy fraction x on-CPU cycles.
        r["busy_fraction"] = round(busy / (wall * TSC_HZ), 4) if busy is not None else None
        r["busy_cycles_per_pkt"] = round(r["busy_fraction"] * dns / 1e9 * TSC_HZ / pkts, 1) \
            if busy is not None and pkts else None
        feat = fe_feats(gen)
        if feat:
            r["negotiated_features"] = feat
        return r
    finally:
        if fe:
            fe.stop("quit" if fe_name != "pollux" else None)
        gen.stop("quit")
        S.cleanup_files()


def fe_feats(gen):
    r = gen.wait_for(r"negotiated Virtio features: (0x[0-9a-f]+)", 0, 0)
    return r[2].group(1) if r else None


def measure_vm():
    gen, gb = start_gen(HEAD_SIZE, HEAD_BURST, 60)
    vm = None
    argv = vm_argv()
    accel = "tcg" if "tcg" in argv else ("kvm" if "kvm" in argv else "?")
    out = {"frame": HEAD_SIZE, "burst": HEAD_BURST, "gen_burst": gb, "accel": accel, "command": shlex.join(argv)}
    try:
        vm = S.proc("qemu", argv, "%s-vm.log" % CUR, limit=int(WARMUP + WINDOW + 120))
        wait_traffic(gen, vm, 90)
        res, _ = window(gen, lambda: None, lambda b: None)
        out.update(res)
        out["ok"] = True
        r = vm.wait_for(r"pollux ready: .*", 0, 0)
        out["ready_line"] = r[2].group(0) if r else None
        r = vm.wait_for(r"eth0: virtio-net over .*", 0, 0)
        out["nic_line"] = r[2].group(0) if r else None
        out["negotiated_features"] = fe_feats(gen)
    except Exception as e:                           # noqa: BLE001
        out["ok"] = False
        out["error"] = str(e)
        if vm:
            out["vm_console_tail"] = vm.text()[-15:]
    finally:
        if vm:
            vm.stop()
        gen.stop("quit")
        S.cleanup_files()
    return out


# ---------------------------------------------------------------- main
def main():
    global TSC_HZ, CUR
    S.catch_signals()
    S.fresh_logs()
    TSC_HZ, tsc_src = tsc_hz()
    loop = pollux_layout()
    points = [(s, HEAD_BURST) for s in FRAME_SIZES]
    for b in BURSTS:
        if (HEAD_SIZE, b) not in points:
            points.append((HEAD_SIZE, b))
    n = RUNS * len(points) * len(FRONTENDS)
    log("pps: %d runs x %d points x %d frontends = %d measurements (~%.0f s each: %.0f s warm-up + %.0f s window);"
        " frontend on CPU %d, generator on CPU %d" % (RUNS, len(points), len(FRONTENDS), n, WARMUP + WINDOW + 3,
                                                       WARMUP, WINDOW, FE_CPU, GEN_CPU))
    log("pps: TSC %.1f MHz (%s); loads now: %s" % (TSC_HZ / 1e6, tsc_src, open("/proc/loadavg").read().strip()))
    samples, errors = [], []
    k = 0
    for run in range(RUNS):
        for (size, burst) in points:
            order = FRONTENDS[run % len(FRONTENDS):] + FRONTENDS[:run % len(FRONTENDS)]
            for fe in order:
                k += 1
                tries = 0
                for attempt in (1, 2, 3):
                    CUR = "r%d-%s-%dB-b%d-t%d" % (run + 1, fe, size, burst, attempt)
                    try:
                        r = measure(fe, size, burst, loop)
                    except Exception as e:           # noqa: BLE001
                        msg = "run %d %dB burst %d %s (try %d): %s" % (run + 1, size, burst, fe, attempt, e)
                        errors.append(msg)
                        log("pps: FAILED " + msg)
                        if attempt == 2 and not tries:
                            break
                        continue
                    tries += 1
                    r["run"] = run + 1
                    r["try"] = attempt
                    r["starved"] = min(r["data_thread_cpu_share"], r["gen_thread_cpu_share"]) < MIN_SHARE
                    samples.append(r)
                    bc = r["busy_cycles_per_pkt"]
                    log("pps: [%3d/%d] run %d %4dB burst %2d %-15s %6.3f Mpps  busy %s cyc/pkt (%s busy)"
                        "  cpu %s cyc/pkt  CPU share: frontend %3.0f%%, generator %3.0f%%%s" % (
                            k, n, run + 1, size, burst, fe, r["mpps"], fmt(bc, "%5.0f"),
                            fmt(r["busy_fraction"] and 100 * r["busy_fraction"], "%3.0f%%"),
                            fmt(r["cpu_cycles_per_pkt"], "%5.0f"),
                            100 * r["data_thread_cpu_share"], 100 * r["gen_thread_cpu_share"],
                            "  STARVED (< %.0f%%): %s" % (100 * MIN_SHARE, "again" if tries == 1 else "kept, flagged")
                            if r["starved"] else ""))
                    if not r["starved"] or tries == 2:
                        break
    vm = None
    if VM_POINT:
        CUR = "vm"
        log("pps: Pollux VM (q35, 2 vCPUs, virtio-net-pci over vhost-user) at %dB burst %d, once" % (HEAD_SIZE, HEAD_BURST))
        vm = measure_vm()
        if vm["ok"]:
            log("pps: VM under %s: %.3f Mpps (functional point, %s)" % (
                vm["accel"].upper(), vm["mpps"],
                "TCG emulation: not a speed figure" if vm["accel"] == "tcg" else "hardware virtualization"))
        else:
            log("pps: VM point FAILED: %s" % vm["error"])

    table = []
    for (size, burst) in points:
        row = {"frame": size, "burst": burst}
        for fe in ALL_FRONTENDS:
            ss = [s for s in samples if s["frontend"] == fe and s["frame"] == size and s["burst"] == burst]
            ok = [s for s in ss if not s["starved"]]
            ss = ok or ss
            row[fe] = {k: med(s[k] for s in ss) for k in (
                "mpps", "busy_cycles_per_pkt", "cpu_cycles_per_pkt", "busy_tsc_cycles_per_pkt", "busy_fraction",
                "data_thread_cpu_share", "gen_thread_cpu_share", "mpps_per_gen_cpu")}
            row[fe]["n"] = len(ss)
            row[fe]["n_starved_left_out"] = len([s for s in samples if s["frontend"] == fe and s["frame"] == size
                                                 and s["burst"] == burst]) - len(ss)
        p, d, c = (row[f]["mpps"] for f in ALL_FRONTENDS)
        row["ratio_pollux_vs_dpdk_pmd"] = round(p / d, 3) if p and d else None
        row["ratio_pollux_vs_ceiling"] = round(p / c, 3) if p and c else None
        pb, db = row["pollux"]["busy_cycles_per_pkt"], row["dpdk-virtio-pmd"]["busy_cycles_per_pkt"]
        row["busy_cycles_ratio_pollux_vs_dpdk_pmd"] = round(pb / db, 3) if pb and db else None
        # paired: per run, same point, frontends measured back to back
        pr = []
        for run in range(1, RUNS + 1):
            a = [s["mpps"] for s in samples if s["run"] == run and s["frame"] == size and s["burst"] == burst
                 and s["frontend"] == "pollux" and not s["starved"]]
            b = [s["mpps"] for s in samples if s["run"] == run and s["frame"] == size and s["burst"] == burst
                 and s["frontend"] == "dpdk-virtio-pmd" and not s["starved"]]
            if a and b and b[0]:
                pr.append(a[0] / b[0])
        row["paired_ratio_pollux_vs_dpdk_pmd_median"] = round(med(pr), 3) if pr else None
        table.append(row)

    res = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "host_cpu": cpu_model(), "host_cpus": os.cpu_count(), "tsc_hz": TSC_HZ, "tsc_source": tsc_src,
        "loadavg_at_end": open("/proc/loadavg").read().strip(),
        "runs": RUNS, "warmup_s": WARMUP, "window_s": WINDOW, "frame_sizes": FRAME_SIZES, "bursts": BURSTS,
        "generator_burst": GEN_BURST, "frontend_cpu": FE_CPU, "generator_cpu": GEN_CPU,
        "min_cpu_share": MIN_SHARE, "pollux_hosted": HOSTED, "pollux_image": IMAGE,
        "method": {
            "mpps": "packets forwarded back: the generator's port RX-packets (testpmd 'show port stats all') over "
                    "a %.0f s window after %.0f s of traffic; per-second rates in mpps_per_second" % (WINDOW, WARMUP),
            "busy_tsc_cycles_per_pkt": "frontend's own busy TSC cycles in the window (cycles spent in polls that "
                                   "got packets) / packets forwarded back in the window (generator RX). DPDK: testpmd "
                                   "--record-core-cycles, 'clear fwd stats all' at the window start, 'show fwd stats "
                                   "all' at its end. Pollux: its loop's own per-poller busy_cycles of the l2fwd "
                                   "poller on core 1 (same definition: cycles of calls that did work), read from "
                                   "/proc/PID/mem (sched_cores, layout compiled from src/sched/sched_priv.h). "
                                   "TSC cycles are wall time: a preemption inside a busy poll counts in full",
            "busy_fraction": "busy TSC cycles / window TSC cycles (unbiased by preemption, which lands in busy and "
                             "idle polls alike)",
            "busy_cycles_per_pkt": "the headline cycles figure: busy_fraction x on-CPU cycles of the data thread / "
                                   "packets forwarded back = busy cycles the frontend really executed per packet",
            "mpps_per_gen_cpu": "mpps / the generator thread's CPU share: the loop's rate with the generator's CPU "
                                "to itself (when the generator, not the frontend, is the bottleneck)",
            "cpu_cycles_per_pkt": "on-CPU time of the frontend's data thread over the window (/proc/PID/task/TID/"
                                  "schedstat) x TSC Hz / packets forwarded back: all cycles the polling thread got, "
                                  "busy or idle",
        },
        "commands": {
            "generator": shlex.join(["timeout", "..."] + S.generator_argv(GEN_CPU, 64, 32, auto_start=True)),
            "pollux": shlex.join(["timeout", "..."] + pollux_argv(32)),
            "pollux_config_burst32": pollux_config(32)[1],
            "dpdk-virtio-pmd": shlex.join(["timeout", "..."] + dpdk_fe_argv("macswap", 32)),
            "dpdk-io": shlex.join(["timeout", "..."] + dpdk_fe_argv("io", 32)),
        },
        "medians": table, "samples": samples, "errors": errors, "vm_point": vm,
    }
    write_results(RESULTS, res, ROOT)
    plot(table, points)

    for row in table:
        log("pps: %4dB burst %2d: pollux %s, dpdk-virtio-pmd %s, ceiling %s Mpps; pollux/pmd %s, pollux/ceiling %s;"
            " busy cyc/pkt pollux %s pmd %s io %s" % (
                row["frame"], row["burst"], *(fmt(row[f]["mpps"], "%.3f") for f in ALL_FRONTENDS),
                fmt(row["ratio_pollux_vs_dpdk_pmd"], "%.2fx"), fmt(row["ratio_pollux_vs_ceiling"], "%.2fx"),
                *(fmt(row[f]["busy_cycles_per_pkt"], "%.0f") for f in ALL_FRONTENDS)))
    if vm:
        log("pps: Pollux VM (%s, functional point, not a speed figure): %s" % (
            vm["accel"].upper(), "%.3f Mpps at %dB" % (vm["mpps"], HEAD_SIZE) if vm["ok"] else "FAILED: " + vm["error"]))
    if errors:
        log("pps: %d measurement(s) failed; see results.json 'errors' and build/pps/logs/" % len(errors))
    head = next((r for r in table if r["frame"] == HEAD_SIZE and r["burst"] == HEAD_BURST), None)
    if not head or not head["pollux"]["mpps"] or not head["dpdk-virtio-pmd"]["mpps"]:
        log("pps: no headline figure (64B burst 32 missing for a frontend)")
        return 1
    log("pps: l2fwd 64B %.3f Mpps vs dpdk-virtio-pmd %.3f Mpps = %.2fx" % (
        head["pollux"]["mpps"], head["dpdk-virtio-pmd"]["mpps"], head["ratio_pollux_vs_dpdk_pmd"]))
    return 0


def plot(table, points):
    sizes = sorted({s for s, b in points if b == HEAD_BURST})
    bursts = sorted({b for s, b in points if s == HEAD_SIZE})
    get = {(r["frame"], r["burst"]): r for r in table}
    nan = lambda v, f: fmt(v, f) if v is not None else "NaN"

    def dat(name, xs, key):
        path = os.path.join(WORK, name)
        with open(path, "w") as f:
            for x in xs:
                r = get[key(x)]
                f.write("%d %s %s\n" % (x, " ".join(nan(r[fe]["mpps"], "%.4f") for fe in ALL_FRONTENDS),
                                        " ".join(nan(r[fe]["busy_cycles_per_pkt"], "%.1f") for fe in ALL_FRONTENDS)))
        return path

    bs = dat("by_size.dat", sizes, lambda s: (s, HEAD_BURST))
    bb = dat("by_burst.dat", bursts, lambda b: (HEAD_SIZE, b))
    titles = ["Pollux l2fwd (hosted)", "DPDK virtio-user PMD (testpmd macswap)", "ceiling: DPDK virtio-user PMD, io"]

    def panel(path, xs, col, title, xlabel, ylabel):
        have = [i for i, fe in enumerate(ALL_FRONTENDS)
                if any(get[k][fe]["mpps"] is not None for k in get)]
        head = "set title '%s'\nset xlabel '%s'\nset ylabel '%s'\n" % (title, xlabel, ylabel)
        if not xs or not have:
            return head + "set label 1 'no data' at graph 0.5,0.5 center\nplot [0:1][0:1] 2 notitle\nunset label 1\n"
        return head + "set xtics (%s)\nplot %s\n" % (
            ", ".join("'%d' %d" % (x, x) for x in xs),
            ", ".join("'%s' using 1:%d with linespoints lw 2 pt %d title '%s'" % (path, col + i, 7 + 2 * i, titles[i])
                      for i in have))

    gp = ("set terminal pngcairo size 1300,900 font ',10'\nset output '%s'\n" % PLOT +
          "set multiplot layout 2,2 title 'vhost-user loopback: testpmd flowgen (vhost-user backend, CPU %d) -> "
          "frontend (CPU %d) -> back. Median of %d runs, %.0f s windows, shared noisy 2-CPU host'\n"
          % (GEN_CPU, FE_CPU, RUNS, WINDOW) +
          "set grid\nset key top right\nset logscale x 2\nset yrange [0:*]\nset offsets graph 0.05, graph 0.05, 0, 0\n" +
          panel(bs, sizes, 2, "Packet rate vs frame size (burst %d)" % HEAD_BURST, "frame size (bytes)",
                "Mpps forwarded back") +
          panel(bb, bursts, 2, "Packet rate vs burst (%d-byte frames)" % HEAD_SIZE,
                "burst (frontend%s)" % (" and generator" if GEN_BURST == "same" else "; generator %s" % GEN_BURST),
                "Mpps forwarded back") +
          panel(bs, sizes, 5, "Frontend busy cycles per forwarded packet (burst %d)" % HEAD_BURST,
                "frame size (bytes)", "cycles / packet") +
          panel(bb, bursts, 5, "Frontend busy cycles per forwarded packet (%d-byte frames)" % HEAD_SIZE, "burst",
                "cycles / packet") +
          "unset multiplot\n")
    with open(os.path.join(WORK, "pps.gp"), "w") as f:
        f.write(gp)
    with open(os.path.join(WORK, "gnuplot.log"), "w") as errf:
        rc = subprocess.run(["gnuplot", os.path.join(WORK, "pps.gp")], timeout=60, stderr=errf).returncode
    if rc:
        log("pps: gnuplot failed (status %d): see build/pps/gnuplot.log" % rc)


TSC_HZ = None
CUR = "setup"

if __name__ == "__main__":
    try:
        rc = main()
    finally:
        S.cleanup_all()
    sys.exit(rc)

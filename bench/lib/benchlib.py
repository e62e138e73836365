"""bench/lib/benchlib.py — what the vhost-user benchmarks (bench/pps/pps.py,
bench/api/api.py) share: their child processes, DPDK's testpmd as the
vhost-user backend and traffic generator, its counters, per-thread CPU
time, and the clean-up.

A script makes one Session (a name, its work folder under build/) and
starts every program through session.proc(): each runs in its own process
group under `timeout`, its output read line by line into memory and a log
file in <work>/logs/, and is stopped by its process-group id when its
measurement ends and, through session.cleanup_all() (call it in a
`finally` and let session.catch_signals() call it on SIGTERM, SIGINT and
SIGHUP), on any exit of the script. The session's vhost-user socket and
the /var/run/dpdk/<prefix> folders of the DPDK prefixes it handed out are
removed then too. Traffic stays on that one socket."""
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time


def log(msg):
    print(msg, flush=True)


class Proc:
    """One program in its own process group under `timeout`, stdout+stderr
    read line by line (timestamped) into memory and a log file. Made by
    Session.proc."""

    def __init__(self, session, name, argv, logname, interactive=False, limit=120):
        self.session, self.name, self.argv = session, name, argv
        self.cmd = ["timeout", "-k", "3", "%d" % limit] + argv
        self.logf = open(os.path.join(session.logs, logname), "w")
        self.lines, self.eof = [], False
        self.cv = threading.Condition()
        self.p = subprocess.Popen(self.cmd, stdin=subprocess.PIPE if interactive else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        session.started.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self._pid = None

    def _read(self):
        for raw in iter(self.p.stdout.readline, b""):
            now = time.monotonic()
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self.cv:
                self.lines.append((now, line))
                self.cv.notify_all()
            try:
                self.logf.write("%9.3f %s\n" % (now - self.session.t0, line))
            except ValueError:
                pass
        with self.cv:
            self.eof = True
            self.cv.notify_all()

    def alive(self):
        return self.p.poll() is None

    def mark(self):
        with self.cv:
            return len(self.lines)

    def wait_for(self, regex, start=0, timeout=5.0):
        """First line at index >= start matching regex: (index, time, match), or None."""
        rx = re.compile(regex)
        end = time.monotonic() + timeout
        i = start
        with self.cv:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i][1])
                    if m:
                        return i, self.lines[i][0], m
                    i += 1
                left = end - time.monotonic()
                if left <= 0 or self.eof:
                    return None
                self.cv.wait(min(left, 0.2))

    def text(self, start=0, stop=None):
        with self.cv:
            return [l for _, l in self.lines[start:stop]]

    def send(self, line):
        """One line to an interactive program's stdin; False once it is gone."""
        try:
            self.p.stdin.write(line.encode() + b"\n")
            self.p.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def pid(self):
        """The program's own pid (the child of `timeout`)."""
        if self._pid:
            return self._pid
        for _ in range(100):
            try:
                kids = open("/proc/%d/task/%d/children" % (self.p.pid, self.p.pid)).read().split()
            except OSError:
                return None
            if kids:
                self._pid = int(kids[0])
                return self._pid
            time.sleep(0.02)
        return None

    def wait(self, timeout):
        """Waits up to timeout s for the program to exit, then for its output."""
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self.reader.join(timeout=2)

    def stop(self, quit_cmd=None, first=signal.SIGTERM):
        """quit_cmd on its stdin (5 s to exit), then `first` and SIGKILL to
        its process group, 3 s each; closes its log. Idempotent."""
        if self.alive() and quit_cmd and self.send(quit_cmd):
            self.wait(5)
        for sig, wait in ((first, 3), (signal.SIGKILL, 3)):
            if not self.alive():
                break
            try:
                os.killpg(self.p.pid, sig)          # our own group, by its id
            except ProcessLookupError:
                break
            self.wait(wait)
        try:
            if self.p.stdin:
                self.p.stdin.close()
        except OSError:
            pass
        self.reader.join(timeout=2)
        self.logf.close()
        if self in self.session.started:
            self.session.started.remove(self)


class Session:
    """One benchmark script's run: its work folder (build/<name>), logs,
    vhost-user socket, DPDK prefixes and every program it started."""

    def __init__(self, name, work):
        self.name, self.work = name, work
        self.logs = os.path.join(work, "logs")
        self.t0 = time.monotonic()
        self.tag = "%s%d" % (name, os.getpid())
        self.sock = os.path.join(work, self.tag + ".sock")
        self.started = []       # every Proc still running
        self.prefixes = set()   # DPDK --file-prefix values handed out

    def proc(self, name, argv, logname, interactive=False, limit=120):
        return Proc(self, name, argv, logname, interactive=interactive, limit=limit)

    def fresh_logs(self):
        """Creates the log folder, emptied of an earlier run's logs."""
        os.makedirs(self.logs, exist_ok=True)
        for f in os.listdir(self.logs):
            os.unlink(os.path.join(self.logs, f))

    def dpdk_prefix(self, suffix):
        """A DPDK --file-prefix of this session's, removed at clean-up."""
        pfx = self.tag + suffix
        self.prefixes.add(pfx)
        return pfx

    def cleanup_files(self):
        try:
            os.unlink(self.sock)
        except FileNotFoundError:
            pass
        for pfx in self.prefixes:
            shutil.rmtree("/var/run/dpdk/" + pfx, ignore_errors=True)

    def cleanup_all(self, *_):
        for p in list(self.started):
            p.stop()
        self.cleanup_files()

    def catch_signals(self):
        """SIGTERM, SIGINT, SIGHUP: stop everything, say so, exit 128 + signal."""
        def on_signal(signum, frame):
            self.cleanup_all()
            log("%s: stopped by signal %d; everything started here was stopped" % (self.name, signum))
            sys.exit(128 + signum)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, on_signal)

    # ------------------------------------------------------------ the generator
    def generator_argv(self, cpu, size, burst, auto_start):
        """dpdk-testpmd as the vhost-user backend on the session's socket
        (net_vhost0, one queue pair) and the traffic generator (flowgen:
        size-byte frames in bursts of burst, and it receives what comes
        back), both lcores on `cpu`, with an interactive prompt; started
        forwarding (auto_start) or waiting for `start`."""
        return ["stdbuf", "-oL", "dpdk-testpmd", "--lcores", "0@%d,1@%d" % (cpu, cpu), "--no-pci", "-m", "256",
                "--no-huge", "--file-prefix", self.dpdk_prefix("g"),
                "--vdev", "net_vhost0,iface=%s,queues=1" % self.sock, "--",
                "-i", "--forward-mode=flowgen", "--txpkts=%d" % size, "--burst=%d" % burst] + \
            (["--auto-start"] if auto_start else []) + ["--total-num-mbufs=8192"]

    def start_generator(self, cpu, size, burst, logname, limit, auto_start):
        """The generator (generator_argv), once its socket is there (20 s at
        most, else RuntimeError, the generator stopped). Removes a stale
        socket first."""
        self.cleanup_files()
        gen = self.proc("generator", self.generator_argv(cpu, size, burst, auto_start), logname,
                        interactive=True, limit=limit)
        end = time.monotonic() + 20
        while not os.path.exists(self.sock):
            if time.monotonic() > end or not gen.alive():
                gen.stop()
                raise RuntimeError("generator: no vhost-user socket %s within 20 s (see %s)" % (self.sock, logname))
            time.sleep(0.05)
        return gen


def gen_stats(gen):
    """(time, RX-packets, TX-packets) of the generator's port 0, through its
    prompt ('show port stats all'), or None."""
    i = gen.mark()
    if not gen.send("show port stats all"):
        return None
    r = gen.wait_for(r"^\s*Tx-pps:", i, 5)
    if not r:
        return None
    rx = tx = None
    t = None
    for k, line in enumerate(gen.text(i, r[0] + 1)):
        m = re.search(r"RX-packets:\s+(\d+)", line)
        if m:
            rx, t = int(m.group(1)), gen.lines[i + k][0]
        m = re.search(r"TX-packets:\s+(\d+)", line)
        if m:
            tx = int(m.group(1))
    return None if rx is None else (t, rx, tx)


# ---------------------------------------------------------------- host facts
def thread_times(pid):
    """{tid: (comm, ns on CPU)} from /proc/PID/task/*/schedstat."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tids:
        try:
            comm = open("/proc/%d/task/%s/comm" % (pid, t)).read().strip()
            ns = int(open("/proc/%d/task/%s/schedstat" % (pid, t)).read().split()[0])
            out[int(t)] = (comm, ns)
        except (OSError, ValueError, IndexError):
            pass
    return out


def thread_ns(pid):
    """{tid: ns on CPU} from /proc/PID/task/*/schedstat."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tids:
        try:
            out[int(t)] = int(open("/proc/%d/task/%s/schedstat" % (pid, t)).read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def med(xs):
    """The median of the values that are not None, or None."""
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, f):
    return f % v if v is not None else "-"


def write_results(path, res, root):
    """Writes res as JSON to path with every string's copy of root (the
    checkout's absolute path) made relative: results.json is committed, and
    the machine a run came from has no business in the repository."""
    import json

    prefix = root.rstrip("/") + "/"

    def rel(v):
        if isinstance(v, str):
            return v.replace(prefix, "").replace(root, ".")
        if isinstance(v, list):
            return [rel(x) for x in v]
        if isinstance(v, dict):
            return {k: rel(x) for k, x in v.items()}
        return v

    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rel(res), f, indent=1)
    os.replace(tmp, path)

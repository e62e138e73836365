"""bench/lib/vmbench.py — what the benches that put the Pollux VM against a
Linux guest on a tap (bench/tcp/run, bench/kv/run) share: a network
namespace per guest with a (multiqueue) tap, QEMU guests in process groups
of their own with their console read into memory, the Linux guest's
initramfs and its serial-console shell, and the CPU time of a guest.

A script makes one VmBench (its name, work folder under build/, guest
memory, Linux's extra command-line words), calls vb.install() before it
starts anything, and makes its namespaces with vb.net() and its guests
with vb.guest(). Every QEMU runs under `timeout` in its own process
group, inside its namespace, and is ended by group; every client started
through Net.run() (or registered in vb.clients) likewise. vb.cleanup()
ends them all and deletes the namespaces; install() runs it at exit and
on SIGINT/SIGTERM. Traffic stays inside the namespaces: 198.18.0.1/24 on
the namespace's side of the tap, the guest at 198.18.0.2.
"""
import atexit
import glob
import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import log

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
IMAGE = os.path.join(ROOT, "build", "pollux.elf")
LAUNCHER = os.path.join(ROOT, "tools", "pollux-vm")
HOST, GUEST = "198.18.0.1", "198.18.0.2"
GUEST_MAX_S = 4 * 3600          # timeout(1) around every QEMU: a safety net
BOOT_S = 240                    # to the ready line, per guest boot
BOOT_TRIES = 3
BOOT_FAIL_RE = re.compile(r"\*\*\* pollux (panic|halted)|Kernel panic")

# The Linux guest's /init: busybox, the virtio-net modules, eth0 at GUEST,
# then %(start)s (the servers, started in the background), a ready line,
# and shell commands read from the serial console (Guest.query).
INIT_SCRIPT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /tmp
for m in %(modules)s; do insmod /lib/modules/$m.ko || echo "linux: insmod $m failed"; done
ip link set lo up
n=0
while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
ip link set eth0 up
ip addr add %(guest)s/24 dev eth0
ulimit -n 65536
%(start)s
sleep 1
stty -echo
echo "linux ready: $(nproc) cpus, $(ls /sys/class/net/eth0/queues | grep -c rx) rx queues"
while read -r line; do eval "$line"; done
poweroff -f
"""


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    p.wait()


def group_cpu_s(pgid):
    """CPU seconds (user + system) of every live process in group pgid:
    the timeout(1) wrapper and its QEMU."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:          # field 5: pgrp
            total += int(fields[11]) + int(fields[12])   # utime, stime
    return total / tck


def group_cpu_split_s(pgid):
    """CPU seconds of group pgid's processes split by thread: (vcpu, rest).
    vCPU threads are QEMU's "CPU n/TCG" (or "/KVM") ones, named because
    every guest runs with -name ...,debug-threads=on; the rest is QEMU's
    main loop (the device models: virtio-net's tap I/O) and its helpers."""
    tck = os.sysconf("SC_CLK_TCK")
    vcpu = rest = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            if int(st[st.rindex(")") + 2:].split()[2]) != pgid:
                continue
            tasks = os.listdir("/proc/%s/task" % d)
        except (OSError, ValueError):
            continue
        for t in tasks:
            try:
                with open("/proc/%s/task/%s/stat" % (d, t)) as f:
                    ts = f.read()
                with open("/proc/%s/task/%s/comm" % (d, t)) as f:
                    name = f.read().strip()
            except OSError:
                continue
            fields = ts[ts.rindex(")") + 2:].split()
            v = int(fields[11]) + int(fields[12])
            if re.match(r"CPU \d+/", name):
                vcpu += v
            else:
                rest += v
    return vcpu / tck, rest / tck


class VmBench:
    """One bench script's run: its name (the prefix of every line it
    prints), work folder, the guests' memory, the image copy it boots,
    and everything it started (guests, namespaces, clients)."""

    def __init__(self, name, work, mem, linux_append=""):
        self.name, self.work, self.mem = name, work, mem
        self.image_run = os.path.join(work, "pollux.elf")   # a rebuild mid-run changes nothing
        self.linux_append = ("console=ttyS0 quiet panic=-1 " + linux_append).strip()
        self.guests = []
        self.namespaces = []
        self.clients = set()        # client processes running now (Net.run and the script's own)

    def log(self, msg):
        log(f"{self.name}: {msg}")

    def die(self, msg):
        print(f"{self.name}: error: {msg}", file=sys.stderr, flush=True)
        sys.exit(1)

    def cleanup(self):
        for p in list(self.clients):
            kill_group(p)
        for g in list(self.guests):
            g.stop()
        for ns in list(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
            self.namespaces.remove(ns)

    def install(self):
        """Clean-up at exit and on SIGTERM/SIGINT."""
        def on_signal(signum, frame):
            self.log(f"signal {signum}: cleaning up")
            self.cleanup()
            sys.exit(1)
        atexit.register(self.cleanup)
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def check_host(self, tools):
        """Root, the tools named, and a built image; dies otherwise."""
        if os.geteuid() != 0:
            self.die("needs root (network namespaces, tap devices)")
        for tool in tools:
            if not shutil.which(tool):
                self.die(f"no {tool} (make deps-bench)")
        if not os.path.exists(IMAGE):
            self.die(f"{IMAGE} missing: run make first")

    def net(self, tag, queues):
        return Net(self, tag, queues)

    def guest(self, name, kind, net, cmd, ready_re):
        """A guest on net's tap: cmd plus the tap's netdev and device."""
        return Guest(self, name, kind, net,
                     cmd + net.qemu_net_args() + ["-name", name + ",debug-threads=on"], ready_re)

    # ------------------------------------------------------------ commands
    def pollux_cmd(self, smp, config, append):
        out = subprocess.run([LAUNCHER, "--print", "--machine", "q35", "--smp", str(smp), "--mem",
                              self.mem, "--image", self.image_run, "--config", config,
                              "--append", append], check=True, capture_output=True, text=True).stdout
        return shlex.split(out)

    def linux_cmd(self, smp, kernel, initrd):
        """The Pollux command with only -kernel/-append/-initrd swapped."""
        c = self.pollux_cmd(smp, os.path.join(ROOT, "configs", "echo.json"), "")
        out = []
        i = 0
        while i < len(c):
            if c[i] in ("-kernel", "-append", "-initrd"):
                i += 2
                continue
            out.append(c[i])
            i += 1
        return out + ["-kernel", kernel, "-initrd", initrd, "-append", self.linux_append]

    # ------------------------------------------------------------ facts
    def copy_image(self):
        """Copies build/pollux.elf to the work folder; returns facts about
        it for results.json (path, SHA-256, git describe)."""
        os.makedirs(self.work, exist_ok=True)
        shutil.copy2(IMAGE, self.image_run)
        with open(self.image_run, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip() or None
        return {"image": os.path.relpath(IMAGE, ROOT), "image_sha256": sha, "git_describe": git}

    def host_facts(self):
        """QEMU's version line, the host CPU's model, the accelerator the
        launcher picks ("tcg -cpu max" here)."""
        qver = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                              text=True).stdout.splitlines()[0]
        cpu = "unknown"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        probe = self.pollux_cmd(2, os.path.join(ROOT, "configs", "echo.json"), "")
        accel = "%s -cpu %s" % (probe[probe.index("-accel") + 1], probe[probe.index("-cpu") + 1])
        return qver, cpu, accel

    # ------------------------------------------------------------ the Linux guest
    def find_kernel(self):
        ks = sorted(glob.glob("/boot/vmlinuz-*"))
        if not ks:
            self.die("no /boot/vmlinuz-* (package linux-image-amd64; make deps-bench)")
        return ks[-1]

    def build_initramfs(self, kernel, files, binaries, start):
        """The Linux guest's initramfs, into the work folder: busybox-static,
        the kernel's virtio_pci and virtio_net modules (with what they
        depend on), files ({path in the guest: host file}), binaries
        (host paths, copied to the same paths with the libraries ldd
        names), and INIT_SCRIPT with start (shell lines) starting the
        servers. Returns (path, module names, files copied for binaries)."""
        if not os.path.exists("/bin/busybox"):
            self.die("no /bin/busybox (package busybox-static; make deps-bench)")
        if shutil.which("cpio") is None:
            self.die("no cpio (package cpio; make deps-bench)")
        kver = os.path.basename(kernel)[len("vmlinuz-"):]
        mods = module_order(kver, ["virtio_pci", "virtio_net"])
        os.makedirs(self.work, exist_ok=True)
        tree = tempfile.mkdtemp(prefix="initramfs.", dir=self.work)
        try:
            for d in ("bin", "dev", "proc", "sys", "tmp", "etc", "lib/modules"):
                os.makedirs(os.path.join(tree, d))
            shutil.copy2("/bin/busybox", os.path.join(tree, "bin", "busybox"))
            for dst, src in files.items():
                full = os.path.join(tree, dst.lstrip("/"))
                os.makedirs(os.path.dirname(full), exist_ok=True)
                shutil.copy2(src, full)
            for n, path in mods:
                if path.endswith((".xz", ".zst", ".gz")):
                    self.die(f"module {path} is compressed: busybox insmod needs a plain .ko")
                shutil.copy(path, os.path.join(tree, "lib", "modules", n + ".ko"))
            libs = []
            for b in binaries:
                if not os.path.exists(b):
                    self.die(f"no {b} (make deps-bench)")
                libs += copy_with_libs(tree, b)
            with open(os.path.join(tree, "init"), "w") as f:
                f.write(INIT_SCRIPT % {"modules": " ".join(n for n, _ in mods), "guest": GUEST,
                                       "start": start})
            os.chmod(os.path.join(tree, "init"), 0o755)
            out = os.path.join(self.work, "initramfs.cpio")
            names = subprocess.run(["find", "."], cwd=tree, check=True, capture_output=True).stdout
            with open(out, "wb") as f:
                subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=tree, input=names,
                               stdout=f, check=True)
        finally:
            shutil.rmtree(tree, ignore_errors=True)
        return out, [n for n, _ in mods], libs


def module_order(kver, names):
    """The .ko files for names and everything they depend on (modinfo),
    dependencies first."""
    order, seen = [], set()

    def visit(n):
        if n in seen:
            return
        seen.add(n)
        r = sh("modinfo", "-k", kver, "-F", "depends", n)
        for d in filter(None, r.stdout.strip().split(",")):
            visit(d)
        path = sh("modinfo", "-k", kver, "-n", n).stdout.strip()
        order.append((n, path))

    for n in names:
        visit(n)
    return order


def copy_with_libs(tree, binary):
    """binary and the shared libraries ldd names, at the same paths."""
    files = [binary]
    for l in sh("ldd", binary).stdout.splitlines():
        m = re.search(r"(/\S+) \(0x", l)
        if m:
            files.append(m.group(1))
    for f in files:
        dst = os.path.join(tree, f.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(f, dst)           # follows symlinks: the real file
    return files


def gnuplot_term(size):
    """pngcairo where gnuplot has it, else png; size "W,H"."""
    terms = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True).stderr
    return f"pngcairo size {size} font ',10'" if "pngcairo" in terms else f"png size {size}"


# ------------------------------------------------------------------ network

class Net:
    """A namespace with one tap (queues taps for multiqueue); the guest's
    QEMU and the clients run inside it."""

    def __init__(self, vb, tag, queues):
        self.vb = vb
        self.ns = "pollux-b%s%d-%s" % (vb.name[:3], os.getpid(), tag)
        self.tap = "btap-%s" % tag
        self.queues = queues
        sh("ip", "netns", "add", self.ns)
        vb.namespaces.append(self.ns)
        mq = ["multi_queue"] if queues > 1 else []
        self.ip("tuntap", "add", "dev", self.tap, "mode", "tap", *mq)
        self.ip("addr", "add", HOST + "/24", "dev", self.tap)
        self.ip("link", "set", self.tap, "up")
        self.ip("link", "set", "lo", "up")
        # a client that closes first keeps its TIME_WAITs here; give it
        # the whole port range and let it reuse them (both per namespace)
        self.run("sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65535", check=True)
        self.run("sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1", check=True)

    def ip(self, *args):
        return sh("ip", "-n", self.ns, *args)

    def popen(self, *args, **kw):
        """A client in the namespace, in a process group of its own that
        cleanup() ends; the caller waits for it and discards it from
        vb.clients."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns, *args], start_new_session=True, **kw)
        self.vb.clients.add(p)
        return p

    def run(self, *args, timeout=60, check=False, input=None):
        """Runs a client in the namespace to its end (or kills it after
        timeout and raises subprocess.TimeoutExpired)."""
        p = self.popen(*args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(p)
            raise
        finally:
            self.vb.clients.discard(p)
        if check and p.returncode:
            raise subprocess.CalledProcessError(p.returncode, args, out, err)
        return subprocess.CompletedProcess(args, p.returncode, out, err)

    def qemu_net_args(self):
        q = self.queues
        nd = "tap,id=n0,ifname=%s,script=no,downscript=no" % self.tap
        dev = "virtio-net-pci,netdev=n0"
        if q > 1:
            nd += ",queues=%d" % q
            dev += ",mq=on,vectors=%d" % (2 * q + 2)
        return ["-netdev", nd, "-device", dev]

    def close(self):
        sh("ip", "netns", "del", self.ns, check=False)
        if self.ns in self.vb.namespaces:
            self.vb.namespaces.remove(self.ns)


# ------------------------------------------------------------------ guests

class Guest:
    """One QEMU, started in its own process group inside net's namespace;
    a thread collects its console lines."""

    def __init__(self, vb, name, kind, net, cmd, ready_re):
        self.vb = vb
        self.name, self.kind, self.net, self.cmd = name, kind, net, cmd
        self.ready_re = re.compile(ready_re)
        self.p = None
        self.lines = []
        self.boots = 0
        self.boot_failures = []
        self.boot_s = BOOT_S            # a script may lower these (e.g. memory probes)
        self.tries = BOOT_TRIES
        self.exit_statuses = []         # QEMU's exit status after each failed boot (None: running)

    def start(self):
        """Boots to the ready line. A boot that fails (a panic line, an
        exit, no ready line in BOOT_S) is retried up to BOOT_TRIES times
        in all (self.tries, self.boot_s); each failure is recorded in
        boot_failures, QEMU's exit status in exit_statuses."""
        for attempt in range(self.tries):
            err = self._boot()
            if err is None:
                return
            self.boot_failures.append(err)
            self.vb.log(f"  {self.name}: boot failed ({err}); "
                        + ("retrying" if attempt + 1 < self.tries else "giving up"))
        raise RuntimeError(f"{self.name}: {self.tries} boots failed, last: {err}")

    def _boot(self):
        self.lines = []
        self.cv = threading.Condition()
        self.ready_line = None
        full = ["ip", "netns", "exec", self.net.ns, "timeout", "-k", "5", str(GUEST_MAX_S)] + self.cmd
        self.p = subprocess.Popen(full, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        if self not in self.vb.guests:
            self.vb.guests.append(self)
        self.boots += 1
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        i = self.wait_for(lambda l: self.ready_re.search(l) or BOOT_FAIL_RE.search(l), self.boot_s)
        if i is not None and self.ready_re.search(self.lines[i]):
            self.ready_line = self.lines[i]
            return None
        if i is not None:
            time.sleep(0.5)         # the rest of the panic report
        tail = " | ".join(l.strip() for l in self.lines[-6:] if l.strip())
        why = "no ready line in %d s" % self.boot_s if i is None else "panic"
        if self.p.poll() is None and i is None:
            try:
                self.p.wait(timeout=1)      # an exit just now: its status
            except subprocess.TimeoutExpired:
                pass
        self.exit_statuses.append(self.p.poll())
        if self.p.poll() is not None:
            why = "QEMU exited with %s" % self.p.returncode
        self.stop()
        return f"{why}: {tail[-400:]}"

    def _read(self):
        for raw in self.p.stdout:
            l = raw.decode(errors="replace").replace("\r", "").rstrip("\n")
            with self.cv:
                self.lines.append(l)
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def wait_for(self, pred, tmo, start=0):
        """Waits for a console line (index >= start) matching pred;
        returns its index, or None on timeout or exit."""
        end = time.time() + tmo
        i = start
        with self.cv:
            while True:
                while i < len(self.lines):
                    if pred(self.lines[i]):
                        return i
                    i += 1
                left = end - time.time()
                if left <= 0 or self.p.poll() is not None:
                    return None
                self.cv.wait(min(left, 1.0))

    def console(self, start=0):
        """The console lines from index start, as they are now."""
        with self.cv:
            return list(self.lines[start:])

    def cpu_s(self):
        return group_cpu_s(self.p.pid) if self.p and self.p.poll() is None else 0.0

    def cpu_split_s(self):
        """(vCPU threads, the rest of QEMU) CPU seconds so far."""
        return group_cpu_split_s(self.p.pid) if self.p and self.p.poll() is None else (0.0, 0.0)

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def stop(self):
        p = self.p
        if p is None:
            return
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        for f in (p.stdin, p.stdout):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        self.p = None
        if self in self.vb.guests:
            self.vb.guests.remove(self)

    def restart(self):
        self.vb.log(f"  restarting {self.name}")
        self.stop()
        time.sleep(1)
        self.start()

    # -- Linux: shell commands over the serial console
    _seq = 0

    def query(self, command, tmo=60):
        """Runs a shell command in the Linux guest's /init loop and returns
        its output lines (between two markers the command can't contain
        literally)."""
        Guest._seq += 1
        n = Guest._seq
        begin, end = "@@B%d" % n, "@@E%d" % n
        start = len(self.lines)
        line = "echo @@B$((%d)); %s; echo @@E$((%d))\n" % (n, command, n)
        self.p.stdin.write(line.encode())
        self.p.stdin.flush()
        ie = self.wait_for(lambda l: l.strip() == end, tmo, start)
        if ie is None:
            raise RuntimeError(f"{self.name}: no answer to {command!r}")
        with self.cv:
            seg = self.lines[start:ie]
        ib = max(i for i, l in enumerate(seg) if l.strip() == begin)
        return seg[ib + 1:]

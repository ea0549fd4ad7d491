"""Helpers the benchmark scenarios share (bench/tcp.py, bench/tls.py).

Files whose name starts with "_" are not scenarios: bench/run.sh skips them.
Python 3 standard library only.
"""

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

MIB = 1 << 20
GIB = 1 << 30
HOST = "127.0.0.1"          # all traffic stays on loopback


def die(msg, code=2):
    print("bench/%s: %s" % (os.path.basename(sys.argv[0]), msg),
          file=sys.stderr, flush=True)
    sys.exit(code)


def out(*args):
    print(*args, flush=True)


def parse_size(s):
    s = s.strip().upper()
    if s.endswith("IB"):
        s = s[:-2]
    elif s.endswith("B"):
        s = s[:-1]
    mult = 1
    if s and s[-1] in "KMGT":
        mult = 1 << (10 * ("KMGT".index(s[-1]) + 1))
        s = s[:-1]
    try:
        n = int(s) * mult
    except ValueError:
        die("BENCH_BYTES: not a size: %r" % s)
    if n <= 0:
        die("BENCH_BYTES must be positive")
    return n


def env_int(name, default, lo, hi):
    v = os.environ.get(name, "")
    if v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        die("%s: not a number: %r" % (name, v))
    if not lo <= n <= hi:
        die("%s must be between %d and %d" % (name, lo, hi))
    return n


def human(n):
    if n % GIB == 0:
        return "%d GiB" % (n // GIB)
    if n % MIB == 0:
        return "%d MiB" % (n // MIB)
    return "%d bytes" % n


class Proc:
    """A child we started, reaped by a thread with os.wait4.

    The thread first waits with WNOWAIT, so the PID stays a zombie (and
    cannot be reused) until the exit time has been taken and `exited` set
    under the lock; kill() only signals a PID that has not exited yet.
    """

    def __init__(self, argv, **kw):
        self.argv = argv
        self.lock = threading.Lock()
        self.exited = False
        self.t_exit = None
        self.status = None      # returncode, negative for a signal
        self.cpu = None         # user + sys seconds from wait4 rusage
        self.done = threading.Event()
        self.p = subprocess.Popen(argv, **kw)
        self.pid = self.p.pid
        threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self):
        while True:
            try:
                os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue
        t = time.monotonic()
        with self.lock:
            self.exited = True
            self.t_exit = t
        while True:
            try:
                _, st, ru = os.wait4(self.pid, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                st, ru = 255 << 8, None
                break
        self.status = os.waitstatus_to_exitcode(st)
        self.cpu = (ru.ru_utime + ru.ru_stime) if ru else None
        self.p.returncode = self.status   # keep Popen from reaping again
        self.done.set()

    def wait(self, deadline):
        return self.done.wait(max(0.0, deadline - time.monotonic()))

    def kill(self, sig):
        with self.lock:
            if not self.exited:
                try:
                    os.kill(self.pid, sig)
                except ProcessLookupError:
                    pass

    def status_kib(self, key):
        """A VmHWM/VmRSS-style field of /proc/PID/status while alive."""
        with self.lock:
            if self.exited:
                return None
            try:
                with open("/proc/%d/status" % self.pid) as f:
                    for line in f:
                        if line.startswith(key + ":"):
                            return int(line.split()[1])
            except OSError:
                pass
        return None


def stop_all(procs):
    """SIGTERM, then SIGKILL, only the PIDs we started; bounded."""
    live = [p for p in procs if p is not None and not p.done.is_set()]
    for p in live:
        p.kill(signal.SIGTERM)
    deadline = time.monotonic() + 2.0
    for p in live:
        p.wait(deadline)
    for p in live:
        if not p.done.is_set():
            p.kill(signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    for p in live:
        p.wait(deadline)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def is_listening(port):
    """True if something listens on 127.0.0.1:port (or 0.0.0.0:port).

    Read from /proc/net/tcp rather than by connecting: a test connection
    would be the one connection a single-shot server serves.
    """
    want = "%04X" % port
    try:
        with open("/proc/net/tcp") as f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) < 4 or fields[3] != "0A":
                    continue
                addr, _, p = fields[1].partition(":")
                if p == want and addr in ("0100007F", "7F000001", "00000000"):
                    return True
    except OSError:
        pass
    return False


class Run:
    """The children and descriptors of one run, released by cleanup()."""

    def __init__(self, cfg):
        self.procs = []
        self.fds = []
        tmp = cfg["tmp"]
        self.port_file = os.path.join(tmp, "port")
        self.errlog_s = os.path.join(tmp, "server.err")
        self.errlog_c = os.path.join(tmp, "client.err")

    def start(self, argv, **kw):
        p = Proc(argv, **kw)
        self.procs.append(p)
        return p

    def fd(self, fd):
        self.fds.append(fd)
        return fd

    def close(self, fd):
        if fd in self.fds:
            self.fds.remove(fd)
            os.close(fd)

    def cleanup(self):
        stop_all(self.procs)
        for fd in list(self.fds):
            self.close(fd)
        for p in self.procs:
            if p.p.stdout is not None:
                p.p.stdout.close()


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def median_or_none(xs):
    return statistics.median(xs) if xs else None


def make_file(path, nbytes):
    """Random, non-sparse content, written once and synced to disk so that
    write-back does not disturb the first runs."""
    block = os.urandom(8 * MIB)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        left = nbytes
        while left > 0:
            n = os.write(fd, block[: min(left, len(block))])
            left -= n
        os.fsync(fd)
    finally:
        os.close(fd)

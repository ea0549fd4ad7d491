#!/usr/bin/env python3
"""Chat fan-out: sockkit chat -l against ncat --chat, on loopback only.

Run by bench/run.sh (``sh bench/run.sh chat``); Python 3 standard library.

Per round and tool, with one epoll load client (this process) holding
every member socket:

  join      N members connect; time until each has its first line from
            the room (sockkit "* welcome", ncat "already connected")
  fanout    K members each send L lines; lines delivered per second
            until every member has every line but its own
  mute      the same with one member that never reads: do the others
            still get every line ("stalled" if not).  At these volumes
            the mute member's socket buffers may absorb everything, so
            tests/31-chat-load.bats is the real check of eviction
  churn     C quick connect-and-close clients, then: is the room alive?
  join RSS  the server's peak resident memory (VmHWM) once all have
            joined, before any fan-out: the join storm's cost
  rss       the server's peak resident memory (VmHWM) before the churn

ncat aborts at about 1021 members (select), so it runs only at the sizes
given in BENCH_CHAT_NCAT_SIZES.  Every wait is bounded.

Environment:
  SK                 sockkit binary (default ./sockkit)
  BENCH_RUNS         rounds (default 3)
  BENCH_CHAT_SIZES   member counts for sockkit (default 100,1000,10000)
  BENCH_CHAT_NCAT_SIZES  member counts for ncat too (default 100,1000)
  BENCH_CHAT_SENDERS K (default 10); BENCH_CHAT_LINES L (default 100)
  BENCH_CHAT_CHURN   C (default 50)
  BENCH_TIMEOUT      seconds before one phase gives up (default 60)
"""

import os
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from tcp import is_listening

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HOST = "127.0.0.1"


def env_list(name, default):
    return [int(x) for x in os.environ.get(name, default).split(",") if x]


def out(*a):
    print(*a, flush=True)


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(tool, sk, port):
    if tool == "sockkit":
        argv = [sk, "chat", "-l", "--max-queue", "4M", HOST, str(port)]
    else:
        argv = ["ncat", "--chat", "-l", HOST, str(port)]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Watch /proc/net/tcp, not a test connection: a connect-and-close
    # probe is the very churn that can make ncat --chat exit.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if is_listening(port):
            return p
        time.sleep(0.05)
    p.kill()
    raise RuntimeError(tool + " did not start")


def hwm_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Load:
    """N member sockets on one epoll; counts lines holding a token."""

    def __init__(self, port, n, first, timeout):
        self.sel = selectors.DefaultSelector()
        self.socks, self.buf, self.count = [], {}, {}
        self.timeout = timeout
        t0 = time.monotonic()
        for _ in range(n):
            s = socket.create_connection((HOST, port), timeout=timeout)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)
            self.socks.append(s)
            self.buf[s] = b""
            self.count[s] = 0
        ok = self.pump(first, lambda: all(self.count[s] for s in self.socks))
        self.join_s = time.monotonic() - t0 if ok else None

    def pump(self, token, done, skip=()):
        deadline = time.monotonic() + self.timeout
        while not done():
            if time.monotonic() > deadline:
                return False
            for key, _ in self.sel.select(0.5):
                s = key.fileobj
                if s in skip:
                    continue
                try:
                    b = s.recv(1 << 20)
                except (BlockingIOError, ConnectionError):
                    continue
                if not b:
                    self.sel.unregister(s)
                    continue
                data = self.buf[s] + b
                cut = data.rfind(b"\n") + 1
                self.count[s] += data[:cut].count(token)
                self.buf[s] = data[cut:]
        return True

    def fanout(self, k, lines, mute=None):
        """K senders, L lines each; return lines delivered per second."""
        for s in self.socks:
            self.count[s] = 0
        if mute is not None:
            self.sel.unregister(mute)
        readers = [s for s in self.socks if s is not mute]
        want = {s: k * lines - (lines if i < k else 0)
                for i, s in enumerate(readers)}
        payload = b"".join(b"zq line %d of the fan-out test\n" % j
                           for j in range(lines))
        t0 = time.monotonic()
        pending = {s: memoryview(payload) for s in readers[:k]}

        def done():
            for s, mv in list(pending.items()):
                try:
                    n = s.send(mv)
                    pending[s] = mv[n:]
                    if not len(pending[s]):
                        del pending[s]
                except BlockingIOError:
                    pass
            return not pending and all(self.count[s] >= want[s]
                                       for s in readers)
        ok = self.pump(b"zq line", done)
        dt = time.monotonic() - t0
        total = sum(min(self.count[s], want[s]) for s in readers)
        return (total / dt if ok else None), total

    def close(self):
        for s in self.socks:
            s.close()


def churn(port, c):
    for i in range(c):
        try:
            s = socket.create_connection((HOST, port), timeout=5)
            if i % 2:
                s.send(b"x\n")
            s.close()
        except OSError:
            return False
    try:
        s = socket.create_connection((HOST, port), timeout=5)
        s.settimeout(5)
        alive = len(s.recv(100)) > 0
        s.close()
        return alive
    except OSError:
        return False


def one(tool, sk, n, k, lines, c, timeout):
    port = free_port()
    p = start(tool, sk, port)
    first = b"* welcome" if tool == "sockkit" else b"already connected"
    r = {"tool": tool, "n": n}
    try:
        load = Load(port, n, first, timeout)
        r["join_s"] = load.join_s
        r["join_rss_mib"] = hwm_mib(p.pid)
        r["lps"], _ = load.fanout(k, lines) if load.join_s else (None, 0)
        mute = load.socks[-1]
        r["mute_lps"], _ = load.fanout(k, lines, mute) if load.join_s \
            else (None, 0)
        r["rss_mib"] = hwm_mib(p.pid)
        load.close()
        r["churn_ok"] = churn(port, c) and p.poll() is None
    except (OSError, RuntimeError) as e:
        r["error"] = str(e)
        r["rss_mib"] = hwm_mib(p.pid)
    p.kill()
    p.wait()
    return r


def fmt(v, f="%.3f"):
    return "-" if v is None else f % v


def main():
    sk = os.environ.get("SK", os.path.join(ROOT, "sockkit"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    sizes = env_list("BENCH_CHAT_SIZES", "100,1000,10000")
    nsizes = env_list("BENCH_CHAT_NCAT_SIZES", "100,1000")
    k = int(os.environ.get("BENCH_CHAT_SENDERS", "10"))
    lines = int(os.environ.get("BENCH_CHAT_LINES", "100"))
    c = int(os.environ.get("BENCH_CHAT_CHURN", "50"))
    timeout = float(os.environ.get("BENCH_TIMEOUT", "60"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tools = ["sockkit"] + (["ncat"] if shutil.which("ncat") else [])
    out("chat fan-out: %d senders x %d lines, churn %d, %d rounds" %
        (k, lines, c, runs))
    out("%-8s %6s %9s %9s %12s %12s %6s %8s" % ("tool", "N", "join s",
        "join MiB", "lines/s", "mute l/s", "churn", "RSS MiB"))
    failed = False
    res = {}
    for n in sizes:
        for rnd in range(runs):
            for tool in tools:
                if tool == "ncat" and n not in nsizes:
                    continue
                if n + 10 > hard:
                    continue
                r = one(tool, sk, n, k, lines, c, timeout)
                res.setdefault((tool, n), []).append(r)
                if tool == "sockkit" and ("error" in r or not r["lps"]):
                    failed = True
                out("%-8s %6d %9s %9s %12s %12s %6s %8.1f%s" % (tool, n,
                    fmt(r.get("join_s")), fmt(r.get("join_rss_mib"),
                    "%.1f"), fmt(r.get("lps"), "%.0f"),
                    fmt(r.get("mute_lps"), "%.0f") if r.get("mute_lps")
                    else "stalled", "ok" if r.get("churn_ok") else "died",
                    r["rss_mib"], "  " + r.get("error", "")))
    out("\nmedians and ratios (sockkit/ncat):")
    for n in sizes:
        s = res.get(("sockkit", n), [])
        m = res.get(("ncat", n), [])

        def med(rs, key):
            v = [r[key] for r in rs if r.get(key)]
            return statistics.median(v) if v else None
        sj, sl, sr = med(s, "join_s"), med(s, "lps"), med(s, "rss_mib")
        sjr = med(s, "join_rss_mib")
        nj, nl, nr = med(m, "join_s"), med(m, "lps"), med(m, "rss_mib")
        line = ("N=%d sockkit join %s s (RSS %s MiB), %s lines/s, "
                "RSS %s MiB") % (n, fmt(sj), fmt(sjr, "%.1f"),
                                 fmt(sl, "%.0f"), fmt(sr, "%.1f"))
        if m:
            line += "; ncat join %s s, %s lines/s, RSS %s MiB" % (
                fmt(nj), fmt(nl, "%.0f"), fmt(nr, "%.1f"))
            if sj and nj:
                line += "; join x%.1f faster" % (nj / sj)
            if sl and nl:
                line += ", fan-out x%.1f" % (sl / nl)
        out(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

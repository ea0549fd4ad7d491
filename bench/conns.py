#!/usr/bin/env python3
"""Many concurrent connections to one echo server: sockkit against ncat, socat.

Run by bench/run.sh (``sh bench/run.sh conns``); Python 3 standard library
plus the C load client bench/connload.c, compiled here with cc.

Servers (all on 127.0.0.1):

  sockkit  sockkit tcp-serve -k --echo           one process, epoll
  ncat     ncat -k -l -m N --exec /bin/cat       a process per connection
  socat    socat TCP-LISTEN:P,fork,reuseaddr PIPE  a process per connection

(``ncat -k -l`` alone does not echo: it writes clients to stdout and
broadcasts stdin, so --exec /bin/cat is ncat's echo service.)

Per run, connload opens the connections (at most 256 connects in flight),
sends one line on each and waits for its echo (the "held" phase); then the
server is measured while every connection is open; then connload keeps one
line in flight on every connection for BENCH_SECONDS and counts round trips.

Reported per tool, medians over rounds (tools alternate within a round):
connections that echoed, echo round trips per second, the server's main
process peak RSS (VmHWM), and for forking servers the PSS summed over the
whole process tree and the number of processes.

Environment:
  SK                 sockkit binary (default ./sockkit)
  BENCH_CONNS        connections for sockkit (default 10000)
  BENCH_FORK_CONNS   connections for the forking servers (default 1000:
                     a process or two per connection)
  BENCH_SECONDS      round-trip phase length (default 5)
  BENCH_RUNS         rounds (default 3)
  BENCH_TOOLS        comma-separated subset: sockkit,ncat,socat

Exit status: 0 if every run that was attempted completed (a tool that holds
fewer connections is a result, not a failure), 1 if a run failed, 2 on a
usage error.
"""

import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import tcp  # noqa: E402  (Proc, stop_all, ports, versions)

HOST = tcp.HOST
RSS_TARGET_MIB = 64
MIB = 1 << 20


def out(*args):
    print(*args, flush=True)


def make_tools(sk, conns, fork_conns):
    ncat = shutil.which("ncat")
    socat = shutil.which("socat")
    sk_ok = os.path.isfile(sk) and os.access(sk, os.X_OK)
    tools = [
        tcp.Tool("sockkit", sk if sk_ok else None,
                 lambda port, pf: [sk, "tcp-serve", "-k", "--echo",
                                   "--port-file", pf, HOST, "0"],
                 None, uses_port_file=True),
        tcp.Tool("ncat", ncat,
                 lambda port, pf: [ncat, "-k", "-l", "-m",
                                   str(fork_conns + 10), "--exec", "/bin/cat",
                                   HOST, str(port)], None),
        tcp.Tool("socat", socat,
                 lambda port, pf: [socat, "TCP-LISTEN:%d,bind=%s,fork,"
                                   "reuseaddr,backlog=4096" % (port, HOST),
                                   "PIPE"], None),
    ]
    for t in tools:
        t.conns = conns if t.name == "sockkit" else fork_conns
    return tools


def build_connload(tmp):
    exe = os.path.join(tmp, "connload")
    r = subprocess.run(["cc", "-O2", "-o", exe,
                        os.path.join(HERE, "connload.c")],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        tcp.die("cannot build connload: " + r.stderr.strip(), 1)
    return exe


def status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def tree(pid):
    """PIDs of pid and all its descendants."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += kids.get(p, [])
    return found


def tree_pss_kib(pid):
    total, n = 0, 0
    for p in tree(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        n += 1
                        break
        except OSError:
            pass
    return total, n


def read_line(p, deadline):
    """One line from p's stdout pipe, or None at the deadline."""
    fd = p.p.stdout.fileno()
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        b = os.read(fd, 4096)
        if not b:
            return None
        buf += b
    return dict(kv.split("=", 1) for kv in buf.decode().split()[1:])


class Result:
    def __init__(self, tool, rnd):
        self.tool, self.round = tool, rnd
        self.ok, self.why = False, ""
        self.conns = self.echoed = self.rtps = None
        self.hwm = self.base = self.pss = self.procs = None
        self.setup = None


def one_run(tool, rnd, cfg):
    r = Result(tool.name, rnd)
    procs = []
    try:
        _one_run(tool, cfg, r, procs)
    except OSError as e:
        r.why = "cannot start: %s" % e
    finally:
        tcp.stop_all(procs)
        for p in procs:
            for f in (p.p.stdin, p.p.stdout):
                if f is not None:
                    f.close()
    return r


def _one_run(tool, cfg, r, procs):
    pf = os.path.join(cfg["tmp"], "port")
    errlog = os.path.join(cfg["tmp"], "server.err")
    if os.path.exists(pf):
        os.unlink(pf)
    port = None if tool.uses_port_file else tcp.free_port()
    with open(errlog, "wb") as err:
        server = tcp.Proc(tool.server(port, pf), stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=err)
    procs.append(server)
    try:
        port = tcp.wait_listening(server, tool, port, pf)
    except RuntimeError as e:
        r.why = "%s: %s" % (e, tcp.tail(errlog))
        return
    r.base = status_kib(server.pid, "VmHWM")
    r.conns = tool.conns
    load = tcp.Proc([cfg["connload"], HOST, str(port), "--conns",
                     str(tool.conns), "--seconds", str(cfg["seconds"]),
                     "--sync"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    procs.append(load)
    held = read_line(load, time.monotonic() + 120)
    if held is None:
        r.why = "connload gave no result within 120 s"
        return
    r.echoed = int(held["echoed"])
    r.setup = float(held["setup_s"])
    r.hwm = status_kib(server.pid, "VmHWM")
    r.pss, r.procs = tree_pss_kib(server.pid)
    load.p.stdin.write(b"x")
    load.p.stdin.flush()
    done = read_line(load, time.monotonic() + cfg["seconds"] + 60)
    if done is None:
        r.why = "connload did not finish the round-trip phase"
        return
    r.rtps = float(done["rt_per_s"])
    hwm = status_kib(server.pid, "VmHWM")
    r.hwm = hwm if hwm is not None else r.hwm
    if server.done.is_set():
        r.why = "server exited (status %s): %s" % (server.status,
                                                   tcp.tail(errlog))
        return
    r.ok = True


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def report(tools, results, cfg):
    out("")
    out("-- conns: %d round(s), %g s of round trips per run --"
        % (cfg["runs"], cfg["seconds"]))
    out("   echoed = connections that echoed their first line; rt/s = echo "
        "round trips per second, one line in flight per connection")
    out("   %-8s %6s %7s %8s %10s %9s %11s %6s %9s" % (
        "tool", "ok", "conns", "echoed", "rt/s", "HWM MiB", "tree PSS MiB",
        "procs", "setup s"))
    summary = {}
    for t in tools:
        rs = results.get(t.name)
        if rs is None:
            out("   %-8s SKIPPED (not installed)" % t.name)
            continue
        good = [r for r in rs if r.ok]
        s = dict(ok=len(good), runs=len(rs), conns=t.conns,
                 echoed=med([r.echoed for r in good]),
                 rtps=med([r.rtps for r in good]),
                 hwm=med([r.hwm for r in good]),
                 base=med([r.base for r in good]),
                 pss=med([r.pss for r in good]),
                 procs=med([r.procs for r in good]),
                 setup=med([r.setup for r in good]))
        summary[t.name] = s
        out("   %-8s %6s %7d %8s %10s %9s %11s %6s %9s" % (
            t.name, "%d/%d" % (s["ok"], s["runs"]), t.conns,
            tcp.fmt(s["echoed"], ".0f"), tcp.fmt(s["rtps"], ".0f"),
            tcp.fmt(s["hwm"] and s["hwm"] / 1024, ".1f"),
            tcp.fmt(s["pss"] and s["pss"] / 1024, ".1f"),
            tcp.fmt(s["procs"], ".0f"), tcp.fmt(s["setup"], ".2f")))
    s = summary.get("sockkit")
    verdicts = []
    if s and s["hwm"] is not None and s["echoed"] is not None:
        per = (s["hwm"] - (s["base"] or 0)) * 1024 / max(1, s["echoed"])
        out("   sockkit memory per connection: %.0f bytes "
            "(peak RSS growth / connections)" % per)
        verdicts.append(("held", "sockkit echoes on %d connections"
                         % s["conns"], s["echoed"],
                         s["echoed"] >= s["conns"]))
        verdicts.append(("rss_mib", "sockkit peak RSS < %d MiB"
                         % RSS_TARGET_MIB, s["hwm"] / 1024,
                         s["hwm"] / 1024 < RSS_TARGET_MIB))
    out("   targets:")
    for key, want, val, ok in verdicts:
        out("     %-40s %-8s %s" % (want, tcp.fmt(val, ".1f"),
                                    "PASS" if ok else "MISS"))
    if not verdicts:
        out("     n/a (no sockkit result)")
    return summary, verdicts


def main():
    sk = os.environ.get("SK", "") or "./sockkit"
    if not os.path.isabs(sk):
        sk = os.path.normpath(os.path.join(ROOT, sk))
    cfg = {
        "conns": tcp.env_int("BENCH_CONNS", 10000, 1, 1000000),
        "fork_conns": tcp.env_int("BENCH_FORK_CONNS", 1000, 1, 100000),
        "seconds": tcp.env_int("BENCH_SECONDS", 5, 1, 3600),
        "runs": tcp.env_int("BENCH_RUNS", 3, 1, 1000),
    }
    tools = make_tools(sk, cfg["conns"], cfg["fork_conns"])
    only = [s for s in os.environ.get("BENCH_TOOLS", "").split(",") if s]
    tools = [t for t in tools if not only or t.name in only]
    if shutil.which("cc") is None:
        tcp.die("cc not found (needed for bench/connload.c)", 1)
    out("== conns: concurrent echo connections on %s, %d round(s) =="
        % (HOST, cfg["runs"]))
    present = []
    for t in tools:
        if t.path is None:
            out("   %-8s not found: SKIPPED" % t.name)
            continue
        out("   %-8s %s: %s, %d connections" % (
            t.name, t.path, tcp.tool_version(t), t.conns))
        present.append(t)
    tmp = tempfile.mkdtemp(prefix="sockkit-conns-", dir="/tmp")
    cfg["tmp"] = tmp
    failed = 0
    mlines = []
    results = {t.name: [] for t in present}
    try:
        cfg["connload"] = build_connload(tmp)
        for rnd in range(1, cfg["runs"] + 1):
            for t in present:
                r = one_run(t, rnd, cfg)
                results[t.name].append(r)
                if r.ok:
                    out("   round %d %-8s echoed %d/%d in %.2f s, %.0f rt/s,"
                        " HWM %.1f MiB, tree PSS %.1f MiB in %d process(es)"
                        % (rnd, t.name, r.echoed, r.conns, r.setup, r.rtps,
                           r.hwm / 1024, r.pss / 1024, r.procs))
                else:
                    failed += 1
                    out("   round %d %-8s FAILED: %s" % (rnd, t.name, r.why))
        summary, verdicts = report(tools, results, cfg)
        for name, s in summary.items():
            mlines.append(
                "BENCH conns tool=%s conns=%d ok=%d runs=%d echoed=%s "
                "rt_per_s=%s hwm_kib=%s tree_pss_kib=%s procs=%s"
                % (name, s["conns"], s["ok"], s["runs"],
                   tcp.fmt(s["echoed"], ".0f"), tcp.fmt(s["rtps"], ".0f"),
                   tcp.fmt(s["hwm"], ".0f"), tcp.fmt(s["pss"], ".0f"),
                   tcp.fmt(s["procs"], ".0f")))
        for key, want, val, ok in verdicts:
            mlines.append("TARGET conns %s value=%s result=%s"
                          % (key, tcp.fmt(val, ".1f"),
                             "pass" if ok else "miss"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out("")
    out("-- conns: machine-readable summary --")
    for line in mlines:
        out(line)
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

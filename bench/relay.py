#!/usr/bin/env python3
"""The relay (tcp-serve --to) against socat fork and haproxy, on loopback.

Run by bench/run.sh (``sh bench/run.sh relay``); Python 3 standard library
and cc only.

Two scenarios:

  bulk   BENCH_RELAY_BYTES (default 1 GiB) through one relayed connection:
         sockkit tcp-connect < FILE -> relay -> sockkit tcp-serve --recv-only
         > /dev/null.  The relays, alternating within each round:
           sockkit     tcp-serve --to 127.0.0.1:Q
           socat-8k    socat TCP-LISTEN:P,fork,reuseaddr TCP:127.0.0.1:Q
           socat-128k  the same with -b 131072
           haproxy     tcp mode, option splice-request/splice-response
                       (forced splice), foreground (-db), config in a temp dir
         Per run: the relay process's CPU seconds (user + sys, from wait4
         rusage once it is stopped, so socat's reaped children count too),
         and MiB/s from the client's start until client and receiver have
         both exited.  The receiver's -v count checks every byte arrived.
  pairs  as many concurrent relayed pairs as the descriptor limit allows
         (soft limit raised to hard; (hard - 200) / 2 pairs), each echoing
         4 KiB through sockkit's relay to bench/echoback.c, driven by
         bench/relayload.c: all correct, relay peak RSS (VmHWM), and the
         seconds until the first 1000 pairs had their bytes back.

Targets (issue 13): sockkit relay CPU-s/GiB <= haproxy's; MiB/s >= socat
-b 131072's; every pair correct; VmHWM <= 64 MiB; 1000 pairs in <= 0.5 s.
Missing tools are skipped; a missed target is reported, not a failure.

Environment:
  SK                 sockkit binary (default ./sockkit)
  BENCH_RELAY_BYTES  bytes per bulk run (default 1G)
  BENCH_RUNS         rounds (default 3)
  BENCH_TIMEOUT      seconds before a run is killed (default 120)
  BENCH_TOOLS        comma-separated subset: sockkit,socat-8k,socat-128k,haproxy
  BENCH_PAIRS        pairs for the pairs scenario (default: from the limit)
  BENCH_SCENARIOS    comma-separated subset: bulk,pairs

Exit status: 0 if every attempted run completed, 1 if one failed, 2 on a
usage error.
"""

import os
import re
import resource
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
import tcp  # noqa: E402  (Proc, stop_all, ports, sizes)

HOST = tcp.HOST
MIB = 1 << 20
GIB = 1 << 30
RSS_TARGET_MIB = 64
T1000_TARGET = 0.5


def out(*args):
    print(*args, flush=True)


# ---------------------------------------------------------------- tools --

def haproxy_config(tmp, port, target):
    path = os.path.join(tmp, "haproxy.cfg")
    with open(path, "w") as f:
        f.write("""global
    maxconn 4000
defaults
    mode tcp
    timeout connect 10s
    timeout client 120s
    timeout server 120s
    option splice-request
    option splice-response
frontend relay
    bind %s:%d
    default_backend target
backend target
    server t %s:%d
""" % (HOST, port, HOST, target))
    return path


def make_relays(sk, tmp):
    socat = shutil.which("socat")
    haproxy = shutil.which("haproxy")
    sk_ok = os.path.isfile(sk) and os.access(sk, os.X_OK)

    def socat_argv(extra):
        return lambda port, pf, target: [socat] + extra + [
            "TCP-LISTEN:%d,bind=%s,fork,reuseaddr" % (port, HOST),
            "TCP:%s:%d" % (HOST, target)]
    return [
        tcp.Tool("sockkit", sk if sk_ok else None,
                 lambda port, pf, target: [
                     sk, "tcp-serve", "--to", "%s:%d" % (HOST, target),
                     "--port-file", pf, HOST, "0"],
                 None, uses_port_file=True),
        tcp.Tool("socat-8k", socat, socat_argv([]), None),
        tcp.Tool("socat-128k", socat, socat_argv(["-b", "131072"]), None),
        tcp.Tool("haproxy", haproxy,
                 lambda port, pf, target: [
                     haproxy, "-db", "-f", haproxy_config(tmp, port, target)],
                 None),
    ]


def version(t):
    argv = {"sockkit": [t.path, "--version"], "haproxy": [t.path, "-v"]}.get(
        t.name, [t.path, "-V"])
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=5,
                           stdin=subprocess.DEVNULL, errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return "version unknown"
    for line in (r.stdout + r.stderr).splitlines():
        if "version" in line.lower() or t.name == "sockkit":
            return line.strip()
    return "version unknown"


# ------------------------------------------------------------ processes --

def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return f.read().split()
    except OSError:
        return []


def start_listening(run, argv_fn, tool, target, errpath, **kw):
    """Start a server from argv_fn(port, pf, target); return (proc, port)."""
    for _ in range(1 if tool.uses_port_file else 3):
        try:
            os.unlink(run.port_file)
        except FileNotFoundError:
            pass
        port = None if tool.uses_port_file else tcp.free_port()
        with open(errpath, "wb") as err:
            p = run.start(argv_fn(port, run.port_file, target), stderr=err,
                          **kw)
        try:
            return p, tcp.wait_listening(p, tool, port, run.port_file)
        except RuntimeError as e:
            tcp.stop_all([p])
            why = "%s: %s" % (e, tcp.tail(errpath))
    raise RuntimeError(why)


class Bulk:
    def __init__(self, tool, rnd):
        self.tool = tool
        self.round = rnd
        self.ok = False
        self.why = ""
        self.cpu = None
        self.wall = None
        self.nbytes = None

    def cpu_per_gib(self):
        return self.cpu / (self.nbytes / GIB)

    def mibps(self):
        return self.nbytes / MIB / self.wall


def bulk_run(tool, rnd, cfg):
    r = Bulk(tool.name, rnd)
    run = tcp.Run(cfg)
    try:
        _bulk_run(tool, cfg, r, run)
    except (OSError, RuntimeError) as e:
        r.why = str(e)
    finally:
        run.cleanup()
    return r


def _bulk_run(tool, cfg, r, run):
    nbytes = cfg["bytes"]
    tmp = cfg["tmp"]
    sk = cfg["sk"]
    sink_err = os.path.join(tmp, "sink.err")
    relay_err = os.path.join(tmp, "relay.err")
    # The receiver's stdin stays open and unread: it never half-closes
    # first (socat would then cut the transfer 0.5 s later).
    hold_r, hold_w = (run.fd(fd) for fd in os.pipe())
    devnull = run.fd(os.open(os.devnull, os.O_WRONLY))
    skt = tcp.Tool("sink", sk, None, None, uses_port_file=True)
    sink, sport = start_listening(
        run, lambda port, pf, t: [sk, "tcp-serve", "-v", "--recv-only",
                                  "--port-file", pf, HOST, "0"],
        skt, None, sink_err, stdin=hold_r, stdout=devnull)
    relay, rport = start_listening(
        run, tool.server, tool, sport, relay_err,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    cli_in = run.fd(os.open(cfg["file"], os.O_RDONLY))
    t0 = time.monotonic()
    client = run.start([sk, "tcp-connect", HOST, str(rport)], stdin=cli_in,
                       stdout=devnull, stderr=subprocess.DEVNULL)
    deadline = t0 + cfg["timeout"]
    client.wait(deadline)
    sink.wait(deadline)
    if not (client.done.is_set() and sink.done.is_set()):
        r.why = "TIMEOUT after %d s" % cfg["timeout"]
        return
    t_end = max(client.t_exit, sink.t_exit)
    # socat's connection process is reaped by its parent before we stop it,
    # so that its CPU time is in the parent's rusage.
    grace = time.monotonic() + 5
    while children(relay.pid) and time.monotonic() < grace:
        time.sleep(0.02)
    relay.kill(signal.SIGTERM)
    if not relay.wait(time.monotonic() + 5):
        r.why = "relay did not stop"
        return
    with open(sink_err, errors="replace") as f:
        m = re.search(r"received (\d+) bytes", f.read())
    got = int(m.group(1)) if m else -1
    bad = []
    if client.status != 0:
        bad.append("client exit %s" % client.status)
    if sink.status != 0:
        bad.append("receiver exit %s (%s)" % (sink.status, tcp.tail(sink_err)))
    if got != nbytes:
        bad.append("receiver got %d of %d bytes (relay: %s)" % (
            got, nbytes, tcp.tail(relay_err)))
    if bad:
        r.why = "; ".join(bad)
        return
    r.ok = True
    r.nbytes = nbytes
    r.wall = t_end - t0
    r.cpu = relay.cpu


def med(xs):
    return statistics.median(xs) if xs else None


def bulk(cfg, tools):
    out("")
    out("-- relay bulk: %s through one connection, %d round(s) --"
        % (tcp.human(cfg["bytes"]), cfg["runs"]))
    present = []
    for t in tools:
        if t.path is None:
            out("   %-10s not found: SKIPPED" % t.name)
            continue
        out("   %-10s %s: %s" % (t.name, t.path, version(t)))
        present.append(t)
    res = {t.name: [] for t in present}
    failed = 0
    for rnd in range(1, cfg["runs"] + 1):
        for t in present:
            r = bulk_run(t, rnd, cfg)
            res[t.name].append(r)
            if r.ok:
                out("   round %d %-10s %6.0f MiB/s  relay %.3f CPU-s/GiB"
                    % (rnd, t.name, r.mibps(), r.cpu_per_gib()))
            else:
                failed += 1
                out("   round %d %-10s FAILED: %s" % (rnd, t.name, r.why))
    out("")
    out("   %-10s %10s %16s %14s %14s" % ("relay", "MiB/s", "CPU-s/GiB",
                                          "sk/this MiB/s", "sk/this CPU"))
    summary = {}
    for t in present:
        ok = [r for r in res[t.name] if r.ok]
        summary[t.name] = (med([r.mibps() for r in ok]),
                           med([r.cpu_per_gib() for r in ok]))
    sk = summary.get("sockkit", (None, None))
    for t in present:
        tp, cpu = summary[t.name]
        # Ratios within a round, then the median of them.
        tr, cr = [], []
        for a, b in zip(res.get("sockkit", []), res[t.name]):
            if a.ok and b.ok:
                tr.append(a.mibps() / b.mibps())
                cr.append(a.cpu_per_gib() / b.cpu_per_gib())
        out("   %-10s %10s %16s %14s %14s" % (
            t.name, tcp.fmt(tp, ".0f"), tcp.fmt(cpu, ".3f"),
            tcp.fmt(med(tr), ".2f"), tcp.fmt(med(cr), ".2f")))
        out("BENCH relay bulk tool=%s mib_s=%s cpu_s_per_gib=%s "
            "sk_tput_ratio=%s sk_cpu_ratio=%s" % (
                t.name, tcp.fmt(tp, ".1f"), tcp.fmt(cpu, ".3f"),
                tcp.fmt(med(tr), ".3f"), tcp.fmt(med(cr), ".3f")))
    out("")
    out("   targets:")
    if sk[1] is not None and "haproxy" in summary and summary["haproxy"][1]:
        h = summary["haproxy"][1]
        out("     CPU-s/GiB <= haproxy's (%.3f)      %.3f  %s"
            % (h, sk[1], "PASS" if sk[1] <= h else "MISS"))
    if sk[0] is not None and "socat-128k" in summary and \
            summary["socat-128k"][0]:
        s = summary["socat-128k"][0]
        out("     MiB/s >= socat -b 131072's (%.0f)   %.0f  %s"
            % (s, sk[0], "PASS" if sk[0] >= s else "MISS"))
    return failed


# ---------------------------------------------------------------- pairs --

def build(tmp, name):
    exe = os.path.join(tmp, name)
    r = subprocess.run(["cc", "-O2", "-o", exe,
                        os.path.join(HERE, name + ".c")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        tcp.die("cannot build %s: %s" % (name, r.stderr.strip()), 1)
    return exe


def vm(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def pairs_run(cfg, n, rnd):
    run = tcp.Run(cfg)
    tmp = cfg["tmp"]
    res = {"ok": False, "why": ""}
    try:
        back = run.start([cfg["echoback"], os.path.join(tmp, "bport")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(tmp, "bport")):
            if time.monotonic() > deadline or back.done.is_set():
                raise RuntimeError("echoback did not start")
            time.sleep(0.01)
        time.sleep(0.05)
        with open(os.path.join(tmp, "bport")) as f:
            bport = int(f.read())
        os.unlink(os.path.join(tmp, "bport"))
        sk = tcp.Tool("sockkit", cfg["sk"], None, None, uses_port_file=True)
        relay, rport = start_listening(
            run, lambda port, pf, t: [
                cfg["sk"], "tcp-serve", "-m", str(n + 100), "--to",
                "%s:%d" % (HOST, t), "--port-file", pf, HOST, "0"],
            sk, bport, os.path.join(tmp, "relay.err"),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        load = run.start([cfg["relayload"], HOST, str(rport), str(n),
                          "4096"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = load.p.stdout.readline().decode()
        m = dict(kv.split("=") for kv in line.split()[1:] if "=" in kv)
        if not m:
            raise RuntimeError("relayload gave no result")
        res["fds"] = len(os.listdir("/proc/%d/fd" % relay.pid))
        res["hwm"] = vm(relay.pid, "VmHWM")
        load.p.stdin.write(b"x")
        load.p.stdin.close()
        load.wait(time.monotonic() + 30)
        res.update({k: float(v) for k, v in m.items()})
        res["ok"] = True
    except (OSError, RuntimeError, ValueError) as e:
        res["why"] = str(e)
    finally:
        run.cleanup()
    return res


def pairs(cfg):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        hard = soft
    n = cfg["pairs"] or max(1, (min(hard, 1 << 20) - 200) // 2)
    out("")
    out("-- relay pairs: %d concurrent pairs (descriptor limit %d), 4 KiB "
        "echoed each, %d round(s) --" % (n, hard, cfg["runs"]))
    if cfg["sk_path"] is None:
        out("   sockkit not found: SKIPPED")
        return 0
    cfg["echoback"] = build(cfg["tmp"], "echoback")
    cfg["relayload"] = build(cfg["tmp"], "relayload")
    rs, failed = [], 0
    for rnd in range(1, cfg["runs"] + 1):
        r = pairs_run(cfg, n, rnd)
        if not r["ok"]:
            failed += 1
            out("   round %d FAILED: %s" % (rnd, r["why"]))
            continue
        rs.append(r)
        out("   round %d echoed %d/%d (failed %d, bad bytes %d), first 1000 "
            "in %.3f s, all in %.2f s, relay VmHWM %.1f MiB, %d fds"
            % (rnd, r["echoed"], n, r["failed"], r["bad"], r["t1000"],
               r["total"], r["hwm"] / 1024, r["fds"]))
    if not rs:
        return failed
    echoed = min(r["echoed"] for r in rs)
    bad = max(r["bad"] + r["failed"] for r in rs)
    hwm = med([r["hwm"] / 1024 for r in rs])
    t1000 = med([r["t1000"] for r in rs])
    out("BENCH relay pairs pairs=%d echoed_min=%d bad=%d hwm_mib=%.1f "
        "t1000_s=%.3f" % (n, echoed, bad, hwm, t1000))
    out("   targets:")
    out("     every pair correct               %d/%d  %s"
        % (echoed, n, "PASS" if echoed == n and bad == 0 else "MISS"))
    out("     relay VmHWM <= %d MiB             %.1f  %s"
        % (RSS_TARGET_MIB, hwm, "PASS" if hwm <= RSS_TARGET_MIB else "MISS"))
    out("     1000 pairs in <= %.1f s            %.3f  %s"
        % (T1000_TARGET, t1000, "PASS" if 0 <= t1000 <= T1000_TARGET
           else "MISS"))
    return failed


def main():
    sk = os.environ.get("SK", "") or "./sockkit"
    if not os.path.isabs(sk):
        sk = os.path.normpath(os.path.join(ROOT, sk))
    cfg = {
        "sk": sk,
        "sk_path": sk if os.access(sk, os.X_OK) else None,
        "bytes": tcp.parse_size(os.environ.get("BENCH_RELAY_BYTES", "1G")),
        "runs": tcp.env_int("BENCH_RUNS", 3, 1, 1000),
        "timeout": tcp.env_int("BENCH_TIMEOUT", 120, 1, 86400),
        "pairs": tcp.env_int("BENCH_PAIRS", 0, 0, 10000000),
    }
    scen = [s for s in os.environ.get("BENCH_SCENARIOS", "").split(",") if s]
    only = [s for s in os.environ.get("BENCH_TOOLS", "").split(",") if s]
    if shutil.which("cc") is None:
        tcp.die("cc not found (needed for bench/echoback.c)", 1)
    out("== relay: tcp-serve --to against socat fork and haproxy, on %s =="
        % HOST)
    tmp = tempfile.mkdtemp(prefix="sockkit-relay-", dir="/tmp")
    cfg["tmp"] = tmp
    failed = 0
    try:
        if not scen or "bulk" in scen:
            if cfg["sk_path"] is None:
                tcp.die("%s: not executable (the endpoints are sockkit)"
                        % sk, 1)
            cfg["file"] = os.path.join(tmp, "data")
            with open("/dev/urandom", "rb") as src, \
                    open(cfg["file"], "wb") as dst:
                left = cfg["bytes"]
                while left > 0:
                    b = src.read(min(left, 1 << 20))
                    dst.write(b)
                    left -= len(b)
            tools = [t for t in make_relays(sk, tmp)
                     if not only or t.name in only]
            failed += bulk(cfg, tools)
        if not scen or "pairs" in scen:
            failed += pairs(cfg)
    except KeyboardInterrupt:
        out("relay: interrupted")
        return 130
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

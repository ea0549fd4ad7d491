#!/usr/bin/env python3
"""Time server requests per second over loopback; Python 3 stdlib only.

Run by bench/run.sh (``sh bench/run.sh time``).  bench/udpload.c (built
here into build/udpload with cc -O2) keeps a bounded window of requests
outstanding from several source sockets for BENCH_SECONDS and reports
replies/s and p50/p99 latency.  Two scenarios:

  ntp       sockkit timeserver --proto ntp  vs  chronyd (foreground child,
            temporary config: loopback port, local stratum 10)
  strftime  sockkit timeserver (strftime)   vs  bench/_pystrftime.py

Tools alternate within each round (A B, A B, ...); medians over rounds
and sockkit/other ratios are printed.  Server CPU per request is the
server's utime+stime delta from /proc/PID/stat over the measured run,
divided by the replies.  Target (issue 6): sockkit's CPU per NTP request
at most chronyd's (about 3.7 us measured on this machine).

Environment: SK, BENCH_RUNS (default 3), BENCH_SECONDS (default 3),
BENCH_WINDOW (default 256), BENCH_SOCKETS (default 8),
BENCH_SCENARIOS (comma-separated subset).  Exit 1 if a run failed.
"""

import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HOST = "127.0.0.1"
START_WAIT = 10.0
TICK = os.sysconf("SC_CLK_TCK")
CHRONYD_CPU_US = 3.7


def out(*args):
    print(*args, flush=True)


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        sys.exit("bench/time.py: %s must be a number" % name)


def build_udpload():
    src = os.path.join(HERE, "udpload.c")
    exe = os.path.join(ROOT, "build", "udpload")
    if (not os.path.exists(exe) or
            os.path.getmtime(exe) < os.path.getmtime(src)):
        os.makedirs(os.path.dirname(exe), exist_ok=True)
        subprocess.run(["cc", "-O2", "-o", exe, src], check=True)
    return exe


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])    # utime, stime


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ntp_answers(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(bytes([0x23]) + bytes(47), (HOST, port))
        return len(s.recvfrom(100)[0]) == 48
    except OSError:
        return False
    finally:
        s.close()


def wait_port_file(path, proc):
    end = time.monotonic() + START_WAIT
    while time.monotonic() < end and proc.poll() is None:
        try:
            with open(path) as f:
                return int(f.read())
        except (OSError, ValueError):
            time.sleep(0.02)
    return None


class Server:
    """A server child: start() returns its port or None; stop() kills it."""

    def __init__(self, name, tmp):
        self.name, self.tmp, self.proc = name, tmp, None

    def start(self, proto):
        pf = os.path.join(self.tmp, "port.%s" % self.name)
        if os.path.exists(pf):
            os.unlink(pf)
        err = open(os.path.join(self.tmp, self.name + ".err"), "w")
        if self.name == "chronyd":
            return self.start_chronyd(err)
        if self.name == "sockkit":
            # One source asks as fast as it can: no default rate limit.
            argv = [os.environ["SK"], "timeserver", "--proto", proto,
                    "--rate-limit", "0", "--port-file", pf, HOST, "0"]
        else:
            argv = [sys.executable, os.path.join(HERE, "_pystrftime.py"), pf]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=err)
        return wait_port_file(pf, self.proc)

    def start_chronyd(self, err):
        port = free_port()
        conf = os.path.join(self.tmp, "chrony.conf")
        with open(conf, "w") as f:
            f.write("port %d\nbindaddress %s\nlocal stratum 10\n"
                    "allow %s\ncmdport 0\nbindcmdaddress /\npidfile %s\n" %
                    (port, HOST, HOST, os.path.join(self.tmp, "chronyd.pid")))
        self.proc = subprocess.Popen(
            ["chronyd", "-f", conf, "-d", "-x", "-u", "root"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        end = time.monotonic() + START_WAIT
        while time.monotonic() < end and self.proc.poll() is None:
            if ntp_answers(port):
                return port
        return None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def measure(udpload, server, proto, cfg):
    port = server.start(proto)
    if port is None:
        server.stop()
        return None
    try:
        t0 = cpu_ticks(server.proc.pid)
        r = subprocess.run(
            [udpload, HOST, str(port), "--proto", proto,
             "--window", str(cfg["window"]), "--sockets",
             str(cfg["sockets"]), "--seconds", str(cfg["seconds"])],
            capture_output=True, text=True, timeout=cfg["seconds"] + 30)
        t1 = cpu_ticks(server.proc.pid)
    finally:
        server.stop()
    if r.returncode != 0:
        out("  %s: udpload failed: %s" % (server.name, r.stderr.strip()))
        return None
    kv = dict(f.split("=", 1) for f in r.stdout.split())
    replies = int(kv["replies"])
    cpu_us = (t1 - t0) / TICK * 1e6 / replies if replies else float("nan")
    return {"rps": float(kv["rps"]), "p50": int(kv["p50_us"]),
            "p99": int(kv["p99_us"]), "cpu": cpu_us,
            "lost": int(kv["lost"])}


def scenario(udpload, proto, tools, cfg, tmp):
    out("== %s: %s, window %d, %d sockets, %d s per run, %d rounds" % (
        proto, " vs ".join(tools), cfg["window"], cfg["sockets"],
        cfg["seconds"], cfg["runs"]))
    out("  %-10s %5s %10s %7s %7s %9s %6s" % (
        "tool", "round", "req/s", "p50us", "p99us", "cpu us/req", "lost"))
    res = {t: [] for t in tools}
    failed = False
    for rnd in range(cfg["runs"]):
        for t in tools:
            m = measure(udpload, Server(t, tmp), proto, cfg)
            if m is None:
                out("  %-10s %5d  FAILED (see %s/%s.err)" % (t, rnd + 1,
                                                            tmp, t))
                failed = True
                continue
            res[t].append(m)
            out("  %-10s %5d %10.0f %7d %7d %9.2f %6d" % (
                t, rnd + 1, m["rps"], m["p50"], m["p99"], m["cpu"],
                m["lost"]))
    med = {}
    for t in tools:
        if res[t]:
            med[t] = {k: statistics.median(m[k] for m in res[t])
                      for k in ("rps", "p50", "p99", "cpu")}
            out("  %-10s median %10.0f %7.0f %7.0f %9.2f" % (
                t, med[t]["rps"], med[t]["p50"], med[t]["p99"],
                med[t]["cpu"]))
    a, b = tools
    if a in med and b in med:
        out("  ratio %s/%s: req/s %.2f, p50 %.2f, p99 %.2f, cpu/req %.2f" % (
            a, b, med[a]["rps"] / med[b]["rps"], med[a]["p50"] / med[b]["p50"],
            med[a]["p99"] / med[b]["p99"], med[a]["cpu"] / med[b]["cpu"]))
        out("SUMMARY time.%s sockkit_rps=%.0f other_rps=%.0f "
            "sockkit_cpu_us=%.2f other_cpu_us=%.2f" % (
                proto, med[a]["rps"], med[b]["rps"], med[a]["cpu"],
                med[b]["cpu"]))
    if proto == "ntp" and a in med:
        limit = med[b]["cpu"] if b in med else CHRONYD_CPU_US
        out("  target: sockkit cpu/req %.2f us <= chronyd's %.2f us: %s" % (
            med[a]["cpu"], limit, "met" if med[a]["cpu"] <= limit
            else "MISSED"))
    return not failed


def main():
    os.environ.setdefault("SK", os.path.join(ROOT, "sockkit"))
    if not os.access(os.environ["SK"], os.X_OK):
        sys.exit("bench/time.py: no sockkit binary at %s" % os.environ["SK"])
    cfg = {"runs": env_int("BENCH_RUNS", 3),
           "seconds": env_int("BENCH_SECONDS", 3),
           "window": env_int("BENCH_WINDOW", 256),
           "sockets": env_int("BENCH_SOCKETS", 8)}
    want = os.environ.get("BENCH_SCENARIOS", "ntp,strftime").split(",")
    udpload = build_udpload()
    out("time: UDP requests per second (udpload, loopback only)")
    ok = True
    with tempfile.TemporaryDirectory(prefix="sockkit-bench-time.") as tmp:
        if "ntp" in want:
            if shutil.which("chronyd") is None or os.geteuid() != 0:
                out("== ntp: chronyd skipped (%s)" % (
                    "not installed" if shutil.which("chronyd") is None
                    else "needs root"))
            else:
                ok &= scenario(udpload, "ntp", ["sockkit", "chronyd"], cfg,
                               tmp)
        if "strftime" in want:
            ok &= scenario(udpload, "strftime", ["sockkit", "python"], cfg,
                           tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""TCP bulk throughput over loopback: sockkit against nc.openbsd, ncat, socat.

Run by bench/run.sh (``sh bench/run.sh tcp``); Python 3 standard library only.

Two scenarios, each BENCH_BYTES (default 2 GiB) per run:

  file-devnull  client stdin is a regular file, server stdout is /dev/null
  pipe-pipe     client stdin is a pipe fed by ``cat FILE``, server stdout is
                a pipe into ``wc -c`` (which also checks the byte count)

Within each round every tool runs once, always in the same order
(A B C D, A B C D, ...), so that slow drift of a shared machine hits every
tool alike; sockkit/tool ratios are taken within a round and the median of
those per-round ratios is reported.

Per run: wall time from client start until client and server have both
exited, MiB/s, and CPU seconds (user + sys) of client + server from wait4(2)
rusage.  Producer and consumer (cat, wc) are never counted.

Environment:
  SK             sockkit binary (default ./sockkit, relative to the repo root)
  BENCH_BYTES    bytes per run, suffixes K M G (binary) allowed (default 2G)
  BENCH_RUNS     rounds (default 5)
  BENCH_TIMEOUT  seconds before a run is killed and reported (default 120)
  BENCH_TOOLS    comma-separated subset of tools (default: all)
  BENCH_SCENARIOS  comma-separated subset of scenarios (default: all)

Exit status: 0 if every run that was attempted succeeded (missing tools are
skipped, not failures; missed performance targets are reported, not
failures), 1 if some run failed or timed out, 2 on a usage error.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from _bench import (GIB, MIB, Run, die, env_int, fmt, free_port, human,
                    is_listening, make_file, median_or_none, out, parse_size,
                    stop_all)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HOST = "127.0.0.1"          # all traffic stays on loopback
LISTEN_WAIT = 10.0          # seconds a server may take to start listening
REAP_GRACE = 5.0            # seconds for producer/consumer after the tools

# Targets from the issue.  "vs" ratios are sockkit/nc.openbsd throughput,
# medians of per-round ratios; cpu is sockkit's own client+server CPU.
TARGETS = {
    "file-devnull": {"vs": "nc.openbsd", "tput_ratio": 3.0, "cpu_s_per_gib": 0.45},
    "pipe-pipe": {"vs": "nc.openbsd", "tput_ratio": 1.4, "cpu_s_per_gib": None},
}

SCENARIOS = [
    ("file-devnull", "file -> /dev/null"),
    ("pipe-pipe", "pipe (cat FILE |) -> pipe (| wc -c)"),
]


# ---------------------------------------------------------------- tools --

class Tool:
    """How to start one tool as server and as client.

    server(port, port_file) and client(port) return argv lists.  A tool with
    uses_port_file=True reports its own kernel-chosen port in port_file;
    for the others the harness picks a free port and watches /proc/net/tcp.
    """

    def __init__(self, name, path, server, client, uses_port_file=False):
        self.name = name
        self.path = path
        self.server = server
        self.client = client
        self.uses_port_file = uses_port_file


def make_tools(sk):
    def which(name):
        return shutil.which(name)

    nc = which("nc.openbsd")
    ncat = which("ncat")
    socat = which("socat")
    sk_ok = os.path.isfile(sk) and os.access(sk, os.X_OK)
    return [
        Tool("sockkit", sk if sk_ok else None,
             lambda port, pf: [sk, "tcp-serve", "--port-file", pf, HOST, "0"],
             lambda port: [sk, "tcp-connect", HOST, str(port)],
             uses_port_file=True),
        Tool("nc.openbsd", nc,
             lambda port, pf: [nc, "-l", HOST, str(port)],
             lambda port: [nc, "-N", HOST, str(port)]),
        Tool("ncat", ncat,
             lambda port, pf: [ncat, "-l", "--recv-only", HOST, str(port)],
             lambda port: [ncat, "--send-only", HOST, str(port)]),
        Tool("socat", socat,
             lambda port, pf: [socat, "-u",
                               "TCP-LISTEN:%d,bind=%s,reuseaddr" % (port, HOST),
                               "STDOUT"],
             lambda port: [socat, "-u", "STDIN", "TCP:%s:%d" % (HOST, port)]),
    ]


def tool_version(t):
    """One line naming the tool's version, for the record; never fatal."""
    cmds = {
        "sockkit": [[t.path, "--version"]],
        "nc.openbsd": [["dpkg-query", "-W", "-f=${Package} ${Version}",
                        "netcat-openbsd"]],
        "ncat": [[t.path, "--version"]],
        "socat": [[t.path, "-V"]],
    }.get(t.name, [])
    for argv in cmds:
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=5, text=True,
                               errors="replace")
        except (OSError, subprocess.TimeoutExpired):
            continue
        for line in (r.stdout + r.stderr).splitlines():
            line = line.strip()
            if line and ("version" in line.lower()
                         or t.name in ("nc.openbsd", "sockkit")):
                return line
    return "version unknown"


# ------------------------------------------------------------ processes --

def wait_listening(server, tool, port, port_file):
    """Return the port the server listens on, or raise RuntimeError."""
    deadline = time.monotonic() + LISTEN_WAIT
    delay = 0.001
    while time.monotonic() < deadline:
        if server.done.is_set():
            raise RuntimeError("server exited (status %s) before listening"
                               % server.status)
        if tool.uses_port_file:
            try:
                with open(port_file) as f:
                    s = f.read()
                if s.endswith("\n") and s.strip().isdigit():
                    return int(s)
            except FileNotFoundError:
                pass
        elif is_listening(port):
            return port
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    raise RuntimeError("server not listening after %.0f s" % LISTEN_WAIT)


def tail(path, n=300):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    data = data[-n:].decode("utf-8", "replace").strip()
    return " | ".join(data.splitlines())


# ------------------------------------------------------------------ run --

class Result:
    def __init__(self, tool, scenario, rnd):
        self.tool = tool
        self.scenario = scenario
        self.round = rnd
        self.ok = False
        self.why = ""
        self.wall = None
        self.cpu = None
        self.cpu_client = None
        self.cpu_server = None
        self.nbytes = None
        self.verified = ""

    def mibps(self):
        return self.nbytes / MIB / self.wall

    def cpu_per_gib(self):
        return self.cpu / (self.nbytes / GIB)


def one_run(tool, scenario, rnd, cfg):
    r = Result(tool.name, scenario, rnd)
    run = Run(cfg)
    try:
        _one_run(tool, scenario, cfg, r, run)
    except OSError as e:
        r.ok = False
        r.why = "cannot start: %s" % e
    finally:
        run.cleanup()
    return r


def _one_run(tool, scenario, cfg, r, run):
    nbytes = cfg["bytes"]
    pipe_scenario = scenario == "pipe-pipe"

    # Server stdin: a pipe we hold open until the run ends, so that no
    # server sees EOF on stdin (and half-closes towards the client) before
    # the client has sent everything.
    hold_r, hold_w = (run.fd(fd) for fd in os.pipe())

    consumer = None
    if pipe_scenario:
        cons_r, srv_out = (run.fd(fd) for fd in os.pipe())
        consumer = run.start(["wc", "-c"], stdin=cons_r,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        run.close(cons_r)
    else:
        srv_out = run.fd(os.open(os.devnull, os.O_WRONLY))

    server = None
    # A port the harness picked may be taken by someone else meanwhile.
    for _ in range(1 if tool.uses_port_file else 3):
        try:
            os.unlink(run.port_file)
        except FileNotFoundError:
            pass
        port = None if tool.uses_port_file else free_port()
        with open(run.errlog_s, "wb") as err:
            # sockkit's receiver runs as users start one in the
            # background: stdin /dev/null, which it half-closes at once.
            server = run.start(tool.server(port, run.port_file),
                               stdin=subprocess.DEVNULL
                               if tool.name == "sockkit" else hold_r,
                               stdout=srv_out, stderr=err)
        try:
            port = wait_listening(server, tool, port, run.port_file)
            break
        except RuntimeError as e:
            stop_all([server])
            r.why = "%s: %s" % (e, tail(run.errlog_s))
            server = None
    if server is None:
        return
    run.close(srv_out)
    run.close(hold_r)

    producer = None
    if pipe_scenario:
        producer = run.start(["cat", cfg["file"]], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        cli_in = producer.p.stdout.fileno()
    else:
        cli_in = run.fd(os.open(cfg["file"], os.O_RDONLY))

    with open(run.errlog_c, "wb") as err:
        t0 = time.monotonic()
        client = run.start(tool.client(port), stdin=cli_in,
                           stdout=subprocess.DEVNULL, stderr=err)
    if producer is not None:
        producer.p.stdout.close()

    deadline = t0 + cfg["timeout"]
    client.wait(deadline)
    server.wait(deadline)
    if not (client.done.is_set() and server.done.is_set()):
        stop_all(run.procs)
        r.why = "TIMEOUT after %d s (killed)" % cfg["timeout"]
        return
    t_end = max(client.t_exit, server.t_exit)
    run.close(hold_w)

    # Producer and consumer: bounded, not timed, not counted.
    grace = time.monotonic() + REAP_GRACE
    for p in (producer, consumer):
        if p is not None and not p.wait(grace):
            r.why = "%s did not finish" % p.argv[0]
            return

    bad = []
    if client.status != 0:
        bad.append("client exit %s (%s)" % (client.status, tail(run.errlog_c)))
    if server.status != 0:
        bad.append("server exit %s (%s)" % (server.status, tail(run.errlog_s)))
    if pipe_scenario:
        try:
            got = int(consumer.p.stdout.read().split()[0])
        except (ValueError, IndexError):
            got = -1
        r.verified = "consumer counted %d bytes" % got
        if got != nbytes:
            bad.append("consumer got %d of %d bytes" % (got, nbytes))
        if producer.status != 0:
            bad.append("producer exit %s" % producer.status)
    else:
        # The client's stdin shares its file offset with our descriptor, so
        # it shows how much of the file the client read.  (The server writes
        # to /dev/null, which cannot count bytes.)
        pos = os.lseek(cli_in, 0, os.SEEK_CUR)
        r.verified = "client read %d bytes of stdin" % pos
        if pos != nbytes:
            bad.append("client read %d of %d bytes of stdin" % (pos, nbytes))
    if bad:
        r.why = "; ".join(bad)
        return

    r.ok = True
    r.nbytes = nbytes
    r.wall = t_end - t0
    r.cpu_client = client.cpu
    r.cpu_server = server.cpu
    r.cpu = client.cpu + server.cpu


# --------------------------------------------------------------- report --

def report(scenario, title, tools, results, cfg):
    runs = cfg["runs"]
    out("")
    out("-- %s: %s, %s per run, %d round(s) --" % ("tcp", title,
                                                human(cfg["bytes"]), runs))
    out("   CPU = user+sys of client + server (wait4 rusage)%s"
        % ("; cat producer and wc consumer not counted"
           if scenario == "pipe-pipe" else ""))
    out("   ratios: sockkit/tool within each round, median over rounds "
        "(throughput: higher is better for sockkit; CPU: lower is better)")
    hdr = "%-11s %6s %12s %11s %10s %12s %10s" % (
        "tool", "ok", "MiB/s", "CPU s/GiB", "wall s", "tput ratio", "CPU ratio")
    out("   " + hdr)
    summary = {}
    sk = {r.round: r for r in results.get("sockkit", []) if r.ok}
    for t in tools:
        rs = results.get(t.name)
        if rs is None:
            out("   %-11s %s" % (t.name, "SKIPPED (not installed)"))
            continue
        good = [r for r in rs if r.ok]
        tput = median_or_none([r.mibps() for r in good])
        cpu = median_or_none([r.cpu_per_gib() for r in good])
        wall = median_or_none([r.wall for r in good])
        tr = cr = None
        if t.name != "sockkit":
            pairs = [(sk[r.round], r) for r in good if r.round in sk]
            tr = median_or_none([a.mibps() / b.mibps() for a, b in pairs])
            cr = median_or_none([a.cpu / b.cpu for a, b in pairs if b.cpu > 0])
        summary[t.name] = dict(ok=len(good), runs=len(rs), mibps=tput,
                               cpu=cpu, wall=wall, tr=tr, cr=cr)
        out("   %-11s %6s %12s %11s %10s %12s %10s" % (
            t.name, "%d/%d" % (len(good), len(rs)), fmt(tput, ".1f"),
            fmt(cpu, ".3f"), fmt(wall, ".3f"),
            fmt(tr, ".2f") + ("x" if tr is not None else ""),
            fmt(cr, ".2f") + ("x" if cr is not None else "")))

    # Targets.
    tg = TARGETS[scenario]
    verdicts = []
    s = summary.get("sockkit")
    v = summary.get(tg["vs"])
    tr = v["tr"] if v else None
    want = "throughput sockkit/%s >= %.1fx" % (tg["vs"], tg["tput_ratio"])
    verdicts.append(("tput_ratio_vs_" + tg["vs"], want, tr,
                     None if tr is None else tr >= tg["tput_ratio"]))
    cpu = s["cpu"] if s else None
    if tg["cpu_s_per_gib"] is not None:
        want = "sockkit CPU <= %.2f s/GiB" % tg["cpu_s_per_gib"]
        verdicts.append(("cpu_s_per_gib", want, cpu,
                         None if cpu is None else
                         cpu <= tg["cpu_s_per_gib"]))
    out("   targets:")
    for key, want, val, ok in verdicts:
        out("     %-40s %-8s %s" % (
            want, fmt(val, ".2f"),
            "n/a (no sockkit or no %s results)" % tg["vs"]
            if ok is None else ("PASS" if ok else "MISS")))
    return summary, verdicts


def machine(scenario, summary, verdicts, cfg):
    lines = []
    for name, s in summary.items():
        lines.append(
            "BENCH tcp scenario=%s tool=%s bytes=%d ok=%d runs=%d "
            "mibps=%s cpu_s_per_gib=%s wall_s=%s ratio_tput=%s ratio_cpu=%s"
            % (scenario, name, cfg["bytes"], s["ok"], s["runs"],
               fmt(s["mibps"], ".1f"), fmt(s["cpu"], ".4f"),
               fmt(s["wall"], ".4f"), fmt(s["tr"], ".3f"),
               fmt(s["cr"], ".3f")))
    for key, want, val, ok in verdicts:
        lines.append("TARGET tcp scenario=%s %s value=%s result=%s"
                     % (scenario, key, fmt(val, ".3f"),
                        "na" if ok is None else ("pass" if ok else "miss")))
    return lines


# ----------------------------------------------------------------- main --

def main():
    sk = os.environ.get("SK", "") or "./sockkit"
    if not os.path.isabs(sk):
        sk = os.path.normpath(os.path.join(ROOT, sk))
    cfg = {
        "bytes": parse_size(os.environ.get("BENCH_BYTES", "") or "2G"),
        "runs": env_int("BENCH_RUNS", 5, 1, 1000),
        "timeout": env_int("BENCH_TIMEOUT", 120, 1, 86400),
    }
    tools = make_tools(sk)
    only = [s for s in os.environ.get("BENCH_TOOLS", "").split(",") if s]
    if only:
        unknown = set(only) - {t.name for t in tools}
        if unknown:
            die("BENCH_TOOLS: unknown tool(s): %s" % ", ".join(sorted(unknown)))
        tools = [t for t in tools if t.name in only]
    scen = SCENARIOS
    only = [s for s in os.environ.get("BENCH_SCENARIOS", "").split(",") if s]
    if only:
        unknown = set(only) - {s for s, _ in SCENARIOS}
        if unknown:
            die("BENCH_SCENARIOS: unknown: %s" % ", ".join(sorted(unknown)))
        scen = [s for s in SCENARIOS if s[0] in only]
    for prog in ("cat", "wc"):
        if shutil.which(prog) is None:
            die("%s not found" % prog, 1)

    out("== tcp: bulk throughput over %s, %s per run, %d round(s), "
        "timeout %d s per run ==" % (HOST, human(cfg["bytes"]), cfg["runs"],
                                     cfg["timeout"]))
    present = []
    for t in tools:
        if t.path is None:
            where = " (SK=%s)" % sk if t.name == "sockkit" else ""
            out("   %-11s not found%s: SKIPPED" % (t.name, where))
        else:
            out("   %-11s %s: %s" % (t.name, t.path, tool_version(t)))
            present.append(t)
    if not present:
        out("   no tool available; nothing to measure")
        return 0

    need = cfg["bytes"] + 256 * MIB
    if shutil.disk_usage("/tmp").free < need:
        die("/tmp has less than %s free" % human(need), 1)

    tmp = tempfile.mkdtemp(prefix="sockkit-bench-", dir="/tmp")
    cfg["tmp"] = tmp
    cfg["file"] = os.path.join(tmp, "data")
    failed = 0
    mlines = []
    try:
        t = time.monotonic()
        make_file(cfg["file"], cfg["bytes"])
        out("   test file %s (%s) written in %.1f s"
            % (cfg["file"], human(cfg["bytes"]), time.monotonic() - t))
        for scenario, title in scen:
            out("")
            out("-- tcp %s: runs --" % scenario)
            results = {t.name: [] for t in present}
            for rnd in range(1, cfg["runs"] + 1):
                for tool in present:
                    r = one_run(tool, scenario, rnd, cfg)
                    results[tool.name].append(r)
                    if r.ok:
                        out("   round %d %-11s %9.1f MiB/s  wall %7.3f s  "
                            "CPU %6.3f s (client %.3f + server %.3f) = "
                            "%.3f s/GiB  [%s]"
                            % (rnd, tool.name, r.mibps(), r.wall, r.cpu,
                               r.cpu_client, r.cpu_server, r.cpu_per_gib(),
                               r.verified))
                    else:
                        failed += 1
                        out("   round %d %-11s FAILED: %s" % (rnd, tool.name,
                                                             r.why))
                    mlines.append(
                        "RUN tcp scenario=%s round=%d tool=%s status=%s "
                        "wall_s=%s mibps=%s cpu_s=%s"
                        % (scenario, rnd, tool.name,
                           "ok" if r.ok else "failed",
                           fmt(r.wall, ".4f"),
                           fmt(r.mibps() if r.ok else None, ".1f"),
                           fmt(r.cpu, ".4f")))
            summary, verdicts = report(scenario, title, tools, results, cfg)
            mlines += ["BENCH tcp scenario=%s tool=%s status=skipped"
                       % (scenario, t.name) for t in tools if t.path is None]
            mlines += machine(scenario, summary, verdicts, cfg)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    out("")
    out("-- tcp: machine-readable summary --")
    for line in mlines:
        out(line)
    if failed:
        out("tcp: %d run(s) FAILED" % failed)
        return 1
    return 0


if __name__ == "__main__":
    # SIGTERM/SIGINT: unwind so that children are stopped and the temp
    # directory removed (the finally clauses above).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

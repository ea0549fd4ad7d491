#!/usr/bin/env python3
"""TLS over loopback: sockkit --tls against ncat --ssl, socat OPENSSL and
openssl s_server/s_client.

Run by bench/run.sh (``sh bench/run.sh tls``); Python 3 standard library
and the openssl CLI (for the certificate) only.

Scenarios:

  upload    BENCH_BYTES (default 1 GiB) per run, client stdin is a regular
            file, server stdout is /dev/null
  download  the other way: server stdin is the file, client stdout is
            /dev/null
  clients   BENCH_TLS_CLIENTS (default 1000) concurrent TLS clients on one
            ``tcp-serve -k --tls --echo`` (ephemeral certificate, clients
            check its printed pin): each sends 4 KiB and reads it back, then
            all stay connected, idle, until every one is done.  Peak RSS
            (VmHWM) of the server while they are connected, and the time
            until all are set up (bench/_tlsload.py, python asyncio + ssl)

Bulk runs: every tool uses the same ECDSA P-256 certificate (made here with
the openssl CLI), TLS 1.3 with each tool's defaults; the negotiated protocol
and cipher are printed.  Within each round every tool runs once, always in
the same order, so that drift of a shared machine hits every tool alike;
sockkit/tool ratios are taken within a round and the median of those
per-round ratios is reported.  Per run: wall time from client start until
client and server have both exited, MiB/s, and CPU seconds (user + sys) of
the client and of the server, separately, from wait4(2) rusage.

Targets (issue 12), in both directions: sockkit/ncat throughput >= 2x,
sockkit <= 1.0 CPU-s per GiB on each side; "clients": all served, server
peak RSS <= 64 MiB.  Missed targets are reported, not failures.

Before the timed rounds each tool does one untimed check run per direction
whose receiver writes into ``wc -c`` instead of /dev/null: all bytes must
arrive.  Timed runs check exit statuses, that the sender read its whole
file (the file offset it shares with us), and for sockkit the receiver's
own -v byte count.

How the anchors are driven (each checked to deliver every byte):
  ncat     server ``ncat --ssl --ssl-cert C --ssl-key K -l --recv-only`` with
           stdin held open (at stdin EOF its listener half-closes with a bare
           FIN and truncates uploads); client ``ncat --ssl`` without
           --send-only (with it the client closes at once at EOF of its
           stdin and the tail of the upload is lost: 61-66 of 64 MiB
           arrived in 4 of 4 tries, client exit 0; issue 12's naive-close
           trap).  Download: ``-l --send-only`` / ``--recv-only``.
  socat    ``socat -u OPENSSL-LISTEN:P,bind=127.0.0.1,reuseaddr,cert=C,key=K,
           verify=0 STDOUT`` / ``socat -u STDIN OPENSSL:127.0.0.1:P,verify=0``
  openssl  ``s_server -quiet -naccept 1`` (stdin held open);
           ``s_client -quiet -no_ign_eof -nocommands`` (-quiet alone implies
           -ign_eof, so s_client would never exit at EOF of its stdin; without
           -nocommands a chunk of data starting with Q or R is a command).
           Not in "download": s_server with a file as stdin sometimes sends
           16 KiB and stalls.
  The ncat client prints no cipher: the check run lets it meet
  ``openssl s_server -brief``, which does.

Environment:
  SK             sockkit binary (default ./sockkit, relative to the repo root)
  BENCH_BYTES    bytes per bulk run, suffixes K M G (binary) (default 1G)
  BENCH_RUNS     rounds (default 5)
  BENCH_TIMEOUT  seconds before a run is killed and reported (default 120)
  BENCH_TOOLS    comma-separated subset: sockkit,ncat,socat,openssl
  BENCH_SCENARIOS  comma-separated subset: upload,download,clients
  BENCH_TLS_CLIENTS  clients in "clients" (default 1000)

Exit status: 0 if every run that was attempted succeeded (missing tools are
skipped, not failures; missed performance targets are reported, not
failures), 1 if some run failed, timed out or lost bytes, 2 on a usage
error.
"""

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from _bench import (GIB, MIB, Proc, Run, die, env_int, fmt, free_port, human,
                    is_listening, make_file, median_or_none, out, parse_size,
                    stop_all)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HOST = "127.0.0.1"          # all traffic stays on loopback
LISTEN_WAIT = 10.0          # seconds a server may take to start listening
REAP_GRACE = 5.0            # seconds for the wc consumer after the tools
ECHO_SIZE = 4096            # bytes each "clients" client echoes

# Targets from issue 12.  Ratios are sockkit/ncat throughput, medians of
# per-round ratios; CPU is sockkit's own, per side (client and server).
TARGETS = {"vs": "ncat", "tput_ratio": 2.0, "cpu_s_per_gib_side": 1.0,
           "clients_peak_mib": 64.0}

BULK = [
    ("upload", "client: file -> TLS -> server: /dev/null"),
    ("download", "server: file -> TLS -> client: /dev/null"),
]
ALL_SCENARIOS = [s for s, _ in BULK] + ["clients"]


# ---------------------------------------------------------------- tools --

class Tool:
    """How to start one tool as TLS server and client, in each direction.

    server(d, port, port_file, probe) and client(d, port, probe) return argv
    lists; d is "upload" or "download"; probe adds flags that make the tool
    print the negotiated protocol and cipher (check runs only).  A tool with
    uses_port_file=True reports its own kernel-chosen port in port_file;
    for the others the harness picks a free port and watches /proc/net/tcp.
    hold_stdin: the tool's receiving side gets a pipe that stays open for
    the whole run as stdin (else /dev/null).  skip: scenarios the tool
    cannot be driven in, with the reason.
    """

    def __init__(self, name, path, server, client, uses_port_file=False,
                 hold_stdin=True, skip=None):
        self.skip = skip or {}  # scenario -> why the tool is not run there
        self.name = name
        self.path = path
        self.server = server
        self.client = client
        self.uses_port_file = uses_port_file
        self.hold_stdin = hold_stdin


def make_tools(sk, cert, key):
    ncat = shutil.which("ncat")
    socat = shutil.which("socat")
    ossl = shutil.which("openssl")
    sk_ok = os.path.isfile(sk) and os.access(sk, os.X_OK)

    def sk_server(d, port, pf, probe):
        return [sk, "tcp-serve", "-v", "--tls", "--tls-cert", cert,
                "--tls-key", key, "--port-file", pf, HOST, "0"]

    def sk_client(d, port, probe):
        return [sk, "tcp-connect", "-v", "--tls", "--tls-ca", cert,
                HOST, str(port)]

    def ncat_server(d, port, pf, probe):
        return [ncat, "--ssl", "--ssl-cert", cert, "--ssl-key", key, "-l",
                "--recv-only" if d == "upload" else "--send-only",
                HOST, str(port)]

    def ncat_client(d, port, probe):
        # Not --send-only for the upload: see the module docstring.
        return [ncat, "--ssl"] + ([] if d == "upload" else ["--recv-only"]) \
            + [HOST, str(port)]

    def socat_server(d, port, pf, probe):
        a = ("OPENSSL-LISTEN:%d,bind=%s,reuseaddr,cert=%s,key=%s,verify=0"
             % (port, HOST, cert, key))
        return [socat, "-u"] + ([a, "STDOUT"] if d == "upload"
                                else ["STDIN", a])

    def socat_client(d, port, probe):
        a = "OPENSSL:%s:%d,verify=0" % (HOST, port)
        return [socat] + (["-d", "-d"] if probe else []) + ["-u"] + \
            (["STDIN", a] if d == "upload" else [a, "STDOUT"])

    def ossl_server(d, port, pf, probe):
        return [ossl, "s_server", "-quiet", "-naccept", "1",
                "-accept", "%s:%d" % (HOST, port), "-cert", cert,
                "-key", key]

    def ossl_client(d, port, probe):
        # -brief implies -quiet (and so -ign_eof), like -quiet itself.
        argv = [ossl, "s_client", "-brief" if probe else "-quiet"]
        if d == "upload":
            argv += ["-no_ign_eof", "-nocommands"]
        return argv + ["-connect", "%s:%d" % (HOST, port)]

    return [
        Tool("sockkit", sk if sk_ok else None, sk_server, sk_client,
             uses_port_file=True, hold_stdin=False),
        Tool("ncat", ncat, ncat_server, ncat_client),
        Tool("socat", socat, socat_server, socat_client),
        Tool("openssl", ossl, ossl_server, ossl_client,
             skip={"download": "s_server with a file as stdin sometimes "
                   "sends 16 KiB and stalls (3 of 5 tries)"}),
    ]


def tool_version(t):
    """One line naming the tool's version, for the record; never fatal."""
    cmds = {
        "sockkit": [t.path, "--version"],
        "ncat": [t.path, "--version"],
        "socat": [t.path, "-V"],
        "openssl": [t.path, "version"],
    }
    try:
        r = subprocess.run(cmds[t.name], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=5, text=True,
                           errors="replace")
    except (OSError, subprocess.TimeoutExpired, KeyError):
        return "version unknown"
    for line in (r.stdout + r.stderr).splitlines():
        line = line.strip()
        if line and ("version" in line.lower()
                     or t.name in ("sockkit", "openssl")):
            return line
    return "version unknown"


def negotiated(tool, errs):
    """'TLSv1.3 TLS_AES_256_GCM_SHA384' from a check run's stderr logs."""
    text = "\n".join(errs)
    if tool == "sockkit":
        m = re.search(r": (TLSv[\d.]+), (TLS_\w+|[A-Z0-9-]+),", text)
        return m and "%s %s" % m.groups()
    if tool == "socat":
        v = re.search(r"SSL proto version used: (\S+)", text)
        c = re.search(r"SSL connection using (\S+)", text)
        return v and c and "%s %s" % (v.group(1), c.group(1))
    if tool in ("openssl", "ncat-probe"):
        v = re.search(r"Protocol version: (\S+)", text)
        c = re.search(r"Ciphersuite: (\S+)", text)
        return v and c and "%s %s" % (v.group(1), c.group(1))
    return None


# ------------------------------------------------------------ processes --

def wait_listening(server, uses_port_file, port, port_file):
    """Return the port the server listens on, or raise RuntimeError."""
    deadline = time.monotonic() + LISTEN_WAIT
    delay = 0.001
    while time.monotonic() < deadline:
        if server.done.is_set():
            raise RuntimeError("server exited (status %s) before listening"
                               % server.status)
        if uses_port_file:
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


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def tail(path, n=300):
    return " | ".join(read_text(path)[-n:].strip().splitlines())


# ------------------------------------------------------------------ run --

class Result:
    def __init__(self, tool, scenario, rnd):
        self.tool = tool
        self.scenario = scenario
        self.round = rnd
        self.ok = False
        self.why = ""
        self.wall = None
        self.cpu_client = None
        self.cpu_server = None
        self.nbytes = None
        self.verified = ""
        self.proto = None

    def mibps(self):
        return self.nbytes / MIB / self.wall

    def cpu(self):
        return self.cpu_client + self.cpu_server

    def cpu_gib(self, x):
        return x / (self.nbytes / GIB)


def one_run(tool, scenario, rnd, cfg, check=False):
    r = Result(tool.name, scenario, rnd)
    run = Run(cfg)
    try:
        _one_run(tool, scenario, cfg, r, run, check)
    except OSError as e:
        r.ok = False
        r.why = "cannot start: %s" % e
    finally:
        run.cleanup()
    return r


def _one_run(tool, d, cfg, r, run, check):
    """One bulk transfer; d is "upload" or "download".  With check, the
    receiver writes into wc -c (which must count every byte) and the tools
    print what they negotiated."""
    nbytes = cfg["bytes"]
    up = d == "upload"

    # A stdin that stays open until the run ends, for the side that only
    # receives (unless the tool is sockkit, whose receivers run as users
    # start them: stdin /dev/null, half-closed at once with close_notify).
    hold_r, hold_w = (run.fd(fd) for fd in os.pipe())
    idle_in = hold_r if tool.hold_stdin else subprocess.DEVNULL

    consumer = None
    if check:
        cons_r, recv_out = (run.fd(fd) for fd in os.pipe())
        consumer = run.start(["wc", "-c"], stdin=cons_r,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        run.close(cons_r)
    else:
        recv_out = run.fd(os.open(os.devnull, os.O_WRONLY))
    src = run.fd(os.open(cfg["file"], os.O_RDONLY))

    server = None
    # A port the harness picked may be taken by someone else meanwhile.
    for _ in range(1 if tool.uses_port_file else 3):
        try:
            os.unlink(run.port_file)
        except FileNotFoundError:
            pass
        port = None if tool.uses_port_file else free_port()
        with open(run.errlog_s, "wb") as err:
            server = run.start(tool.server(d, port, run.port_file, check),
                               stdin=idle_in if up else src,
                               stdout=recv_out if up else subprocess.DEVNULL,
                               stderr=err)
        try:
            port = wait_listening(server, tool.uses_port_file, port,
                                  run.port_file)
            break
        except RuntimeError as e:
            stop_all([server])
            r.why = "%s: %s" % (e, tail(run.errlog_s))
            server = None
    if server is None:
        return

    with open(run.errlog_c, "wb") as err:
        t0 = time.monotonic()
        client = run.start(tool.client(d, port, check),
                           stdin=src if up else idle_in,
                           stdout=subprocess.DEVNULL if up else recv_out,
                           stderr=err)
    run.close(recv_out)
    run.close(hold_r)

    deadline = t0 + cfg["timeout"]
    client.wait(deadline)
    server.wait(deadline)
    if not (client.done.is_set() and server.done.is_set()):
        hung = " and ".join(n for n, p in (("client", client),
                                           ("server", server))
                            if not p.done.is_set())
        stop_all(run.procs)
        r.why = "TIMEOUT after %d s (%s killed; client: %s; server: %s)" % (
            cfg["timeout"], hung, tail(run.errlog_c), tail(run.errlog_s))
        return
    t_end = max(client.t_exit, server.t_exit)
    run.close(hold_w)

    bad = []
    if client.status != 0:
        bad.append("client exit %s (%s)" % (client.status, tail(run.errlog_c)))
    if server.status != 0:
        bad.append("server exit %s (%s)" % (server.status, tail(run.errlog_s)))
    # The sender's stdin shares its file offset with our descriptor: how
    # much of the file the sender read.
    pos = os.lseek(src, 0, os.SEEK_CUR)
    r.verified = "sender read %d" % pos
    if pos != nbytes:
        bad.append("sender read %d of %d bytes of its file" % (pos, nbytes))
    if tool.name == "sockkit":
        m = re.search(r"received (\d+) bytes",
                      read_text(run.errlog_s if up else run.errlog_c))
        got = int(m.group(1)) if m else -1
        r.verified += ", receiver -v: received %d" % got
        if got != nbytes:
            bad.append("receiver says it received %d of %d bytes"
                       % (got, nbytes))
    if consumer is not None:
        if not consumer.wait(time.monotonic() + REAP_GRACE):
            bad.append("wc -c did not finish")
        else:
            try:
                got = int(consumer.p.stdout.read().split()[0])
            except (ValueError, IndexError):
                got = -1
            r.verified += ", wc -c counted %d" % got
            if got != nbytes:
                bad.append("RECEIVER GOT %d OF %d BYTES" % (got, nbytes))
        r.proto = negotiated(tool.name, [read_text(run.errlog_s),
                                         read_text(run.errlog_c)])
    if bad:
        r.why = "; ".join(bad)
        return

    r.ok = True
    r.nbytes = nbytes
    r.wall = t_end - t0
    r.cpu_client = client.cpu
    r.cpu_server = server.cpu


def ncat_probe(ncat, ossl, cfg):
    """ncat prints no cipher: let an ncat client meet openssl s_server
    -brief, which does.  Returns 'TLSv1.3 TLS_...' or None."""
    run = Run(cfg)
    try:
        # s_server's stdin stays open: at its EOF it would stop at once.
        hold_r, hold_w = (run.fd(fd) for fd in os.pipe())
        for _ in range(3):
            port = free_port()
            with open(run.errlog_s, "wb") as err:
                srv = run.start([ossl, "s_server", "-brief", "-naccept", "1",
                                 "-accept", "%s:%d" % (HOST, port),
                                 "-cert", cfg["cert"], "-key", cfg["key"]],
                                stdin=hold_r,
                                stdout=subprocess.DEVNULL, stderr=err)
            try:
                wait_listening(srv, False, port, None)
                break
            except RuntimeError:
                stop_all([srv])
        else:
            return None
        cli = run.start([ncat, "--ssl", HOST, str(port)],
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        cli.wait(deadline)
        srv.wait(deadline)
        return negotiated("ncat-probe", [read_text(run.errlog_s)])
    except OSError:
        return None
    finally:
        run.cleanup()


# --------------------------------------------------------------- report --

def report(scenario, title, tools, results, cfg):
    out("")
    out("-- tls %s: %s, %s per run, %d round(s) --" % (
        scenario, title, human(cfg["bytes"]), cfg["runs"]))
    out("   CPU = user+sys from wait4 rusage, per GiB, client and server "
        "separately; ratios: sockkit/tool within each round, median over "
        "rounds")
    out("   %-9s %5s %9s %10s %10s %8s %10s %10s" % (
        "tool", "ok", "MiB/s", "cli CPU/G", "srv CPU/G", "wall s",
        "tput ratio", "CPU ratio"))
    summary = {}
    sk = {r.round: r for r in results.get("sockkit", []) if r.ok}
    for t in tools:
        rs = results.get(t.name)
        if rs is None:
            out("   %-9s %s" % (t.name, "SKIPPED (%s)" % (
                "not installed" if t.path is None else "not run here")))
            continue
        good = [r for r in rs if r.ok]
        tput = median_or_none([r.mibps() for r in good])
        cc = median_or_none([r.cpu_gib(r.cpu_client) for r in good])
        cs = median_or_none([r.cpu_gib(r.cpu_server) for r in good])
        wall = median_or_none([r.wall for r in good])
        tr = cr = None
        if t.name != "sockkit":
            pairs = [(sk[r.round], r) for r in good if r.round in sk]
            tr = median_or_none([a.mibps() / b.mibps() for a, b in pairs])
            cr = median_or_none([a.cpu() / b.cpu() for a, b in pairs
                                 if b.cpu() > 0])
        summary[t.name] = dict(ok=len(good), runs=len(rs), mibps=tput,
                               cpu_c=cc, cpu_s=cs, wall=wall, tr=tr, cr=cr)
        out("   %-9s %5s %9s %10s %10s %8s %10s %10s" % (
            t.name, "%d/%d" % (len(good), len(rs)), fmt(tput, ".1f"),
            fmt(cc, ".3f"), fmt(cs, ".3f"), fmt(wall, ".3f"),
            fmt(tr, ".2f") + ("x" if tr is not None else ""),
            fmt(cr, ".2f") + ("x" if cr is not None else "")))

    verdicts = []
    s = summary.get("sockkit")
    v = summary.get(TARGETS["vs"])
    tr = v["tr"] if v else None
    verdicts.append(("tput_ratio_vs_" + TARGETS["vs"],
                     "throughput sockkit/%s >= %.1fx"
                     % (TARGETS["vs"], TARGETS["tput_ratio"]), tr,
                     None if tr is None else tr >= TARGETS["tput_ratio"]))
    lim = TARGETS["cpu_s_per_gib_side"]
    for side, key in (("client", "cpu_c"), ("server", "cpu_s")):
        val = s[key] if s else None
        verdicts.append(("cpu_s_per_gib_" + side,
                         "sockkit %s CPU <= %.1f s/GiB" % (side, lim), val,
                         None if val is None else val <= lim))
    out("   targets:")
    for key, want, val, ok in verdicts:
        out("     %-38s %-8s %s" % (
            want, fmt(val, ".2f"),
            "n/a (missing results)" if ok is None
            else ("PASS" if ok else "MISS")))
    return summary, verdicts


def machine(scenario, summary, verdicts, cfg):
    lines = []
    for name, s in summary.items():
        lines.append(
            "BENCH tls scenario=%s tool=%s bytes=%d ok=%d runs=%d mibps=%s "
            "cpu_client_s_per_gib=%s cpu_server_s_per_gib=%s wall_s=%s "
            "ratio_tput=%s ratio_cpu=%s"
            % (scenario, name, cfg["bytes"], s["ok"], s["runs"],
               fmt(s["mibps"], ".1f"), fmt(s["cpu_c"], ".4f"),
               fmt(s["cpu_s"], ".4f"), fmt(s["wall"], ".4f"),
               fmt(s["tr"], ".3f"), fmt(s["cr"], ".3f")))
    for key, want, val, ok in verdicts:
        lines.append("TARGET tls scenario=%s %s value=%s result=%s"
                     % (scenario, key, fmt(val, ".3f"),
                        "na" if ok is None else ("pass" if ok else "miss")))
    return lines


# -------------------------------------------------------------- clients --

def clients_scenario(sk, cfg):
    """1,000 TLS echo clients on one tcp-serve -k --tls --echo.
    Returns (ok, machine lines)."""
    n = cfg["clients"]
    tmp = cfg["tmp"]
    pf = os.path.join(tmp, "port.clients")
    errlog = os.path.join(tmp, "clients-server.err")
    loaderr = os.path.join(tmp, "clients-load.err")
    out("")
    out("-- tls clients: %d concurrent TLS echo clients (%d bytes each) on "
        "one tcp-serve -k --tls --echo --"
        % (n, ECHO_SIZE))
    procs = []
    res = {"ok": None, "peak_kib": None, "after_kib": None}
    why = []
    try:
        with open(errlog, "wb") as err:
            srv = Proc([sk, "tcp-serve", "-k", "--tls", "--echo",
                        "--port-file", pf, HOST, "0"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=err)
        procs.append(srv)
        port = wait_listening(srv, True, None, pf)
        m = re.search(r"TLS certificate (SHA256:[0-9A-Fa-f]{64})",
                      read_text(errlog))
        if not m:
            raise RuntimeError("no certificate pin on stderr: %s"
                               % tail(errlog))
        pin = m.group(1)
        base = srv.status_kib("VmRSS")
        out("   server pid %d, port %d, ephemeral certificate %s..., "
            "RSS before %s MiB" % (srv.pid, port, pin[:23],
                                   fmt(base and base / 1024, ".1f")))
        with open(loaderr, "wb") as err:
            load = Proc([sys.executable, os.path.join(HERE, "_tlsload.py"),
                         str(port), pin, str(n), str(ECHO_SIZE),
                         str(cfg["timeout"])],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=err)
        procs.append(load)

        def line(prefix, secs):
            deadline = time.monotonic() + secs
            fd = load.p.stdout.fileno()
            buf = b""
            while time.monotonic() < deadline:
                rl, _, _ = select.select([fd], [], [], 0.2)
                if rl:
                    b = os.read(fd, 65536)
                    if not b:
                        break
                    buf += b
                    if b"\n" in buf:
                        ln = buf.split(b"\n", 1)[0].decode()
                        if ln.startswith(prefix + " "):
                            return json.loads(ln[len(prefix) + 1:])
                        buf = buf.split(b"\n", 1)[1]
            raise RuntimeError("load generator: no %s line (%s)"
                               % (prefix, tail(loaderr)))

        ready = line("READY", cfg["timeout"] + 30)
        # Every client is connected and idle now: the high-water mark
        # covers the set-up and the idle plateau.
        time.sleep(0.5)
        peak = srv.status_kib("VmHWM")
        rss = srv.status_kib("VmRSS")
        if srv.done.is_set():
            why.append("server exited (status %s): %s"
                       % (srv.status, tail(errlog)))
        load.p.stdin.write(b"close\n")
        load.p.stdin.flush()
        done = line("DONE", 60)
        time.sleep(1.0)
        peak = max(x for x in (peak, srv.status_kib("VmHWM"), -1)
                   if x is not None)
        after = srv.status_kib("VmRSS")
        alive = not srv.done.is_set()
        res.update(peak_kib=peak, after_kib=after)
        out("   served %d/%d (%d failed)%s; protocol %s"
            % (ready["ok"], n, ready["failed"],
               "; errors: %s" % ready["errors"] if ready["errors"] else "",
               ", ".join(ready["protocol"]) or "-"))
        out("   set-up time (all %d echoed back): %s s; handshake p50 %s s, "
            "p99 %s s, max %s s"
            % (n, fmt(ready["setup_s"], ".2f"),
               fmt(ready["handshake_p50_s"], ".2f"),
               fmt(ready["handshake_p99_s"], ".2f"),
               fmt(ready["handshake_max_s"], ".2f")))
        out("   server peak RSS (VmHWM) %s MiB (%s KiB a client over the "
            "%s MiB before); RSS with all idle %s MiB, 1 s after all left "
            "%s MiB"
            % (fmt(peak / 1024, ".1f"),
               fmt(base and (peak - base) / n, ".1f"),
               fmt(base and base / 1024, ".1f"),
               fmt(rss and rss / 1024, ".1f"),
               fmt(after and after / 1024, ".1f")))
        out("   close: %d/%d closed cleanly (close_notify both ways) in "
            "%.2f s; server %s"
            % (done["closed_clean"], n, done["close_s"],
               "still running" if alive else
               "EXITED (status %s)" % srv.status))
        if ready["ok"] != n:
            why.append("%d of %d clients not served" % (n - ready["ok"], n))
        if not alive:
            why.append("server exited: %s" % tail(errlog))
        res["ok"] = not why
        res.update(ready=ready, done=done, rss=rss)
    except (RuntimeError, OSError, ValueError) as e:
        why.append(str(e))
        res["ok"] = False
    finally:
        if procs and procs[-1] is not procs[0]:
            try:
                procs[-1].p.stdin.close()
            except OSError:
                pass
            procs[-1].wait(time.monotonic() + 15)
        stop_all(procs)
        for p in procs:
            if p.p.stdout is not None:
                p.p.stdout.close()
    if res["ok"] is not None and all(p.cpu is not None for p in procs) \
            and len(procs) == 2:
        # The set-up time above is mostly the python clients' handshakes.
        out("   CPU (wait4 rusage, whole scenario): server %.2f s, "
            "load generator %.2f s" % (procs[0].cpu, procs[1].cpu))
        res["cpu"] = (procs[0].cpu, procs[1].cpu)

    peak = res["peak_kib"]
    lim = TARGETS["clients_peak_mib"]
    val = peak / 1024 if peak is not None and peak >= 0 else None
    ok = None if val is None else val <= lim
    out("   targets:")
    out("     %-38s %-8s %s" % ("all %d served" % n,
                                "%s/%d" % (res.get("ready", {}).get("ok", "-"),
                                           n),
                                "PASS" if res["ok"] else "FAIL"))
    out("     %-38s %-8s %s" % ("server peak RSS <= %d MiB" % lim,
                                fmt(val, ".1f"),
                                "n/a" if ok is None
                                else ("PASS" if ok else "MISS")))
    if why:
        out("   FAILED: %s" % "; ".join(why))
    rd = res.get("ready", {})
    lines = [
        "BENCH tls scenario=clients tool=sockkit clients=%d ok=%s "
        "setup_s=%s peak_rss_mib=%s idle_rss_mib=%s after_rss_mib=%s "
        "server_cpu_s=%s"
        % (n, rd.get("ok", "-"), fmt(rd.get("setup_s"), ".3f"),
           fmt(val, ".1f"),
           fmt(res.get("rss") and res["rss"] / 1024, ".1f"),
           fmt(res["after_kib"] and res["after_kib"] / 1024, ".1f"),
           fmt(res.get("cpu", (None,))[0], ".3f")),
        "TARGET tls scenario=clients all_served value=%s result=%s"
        % (rd.get("ok", "-"), "pass" if res["ok"] else "fail"),
        "TARGET tls scenario=clients peak_rss_mib value=%s result=%s"
        % (fmt(val, ".1f"),
           "na" if ok is None else ("pass" if ok else "miss")),
    ]
    return bool(res["ok"]), lines


# ----------------------------------------------------------------- main --

def make_cert(ossl, tmp):
    """A self-signed ECDSA P-256 certificate for 127.0.0.1 (CN and IP SAN),
    the kind sockkit makes for itself; every tool serves this one."""
    cert = os.path.join(tmp, "cert.pem")
    key = os.path.join(tmp, "key.pem")
    r = subprocess.run(
        [ossl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    if r.returncode != 0:
        die("openssl req failed: %s"
            % r.stderr.decode("utf-8", "replace").strip(), 1)
    return cert, key


def main():
    sk = os.environ.get("SK", "") or "./sockkit"
    if not os.path.isabs(sk):
        sk = os.path.normpath(os.path.join(ROOT, sk))
    cfg = {
        "bytes": parse_size(os.environ.get("BENCH_BYTES", "") or "1G"),
        "runs": env_int("BENCH_RUNS", 5, 1, 1000),
        "timeout": env_int("BENCH_TIMEOUT", 120, 1, 86400),
        "clients": env_int("BENCH_TLS_CLIENTS", 1000, 1, 100000),
    }
    only = [s for s in os.environ.get("BENCH_SCENARIOS", "").split(",") if s]
    unknown = set(only) - set(ALL_SCENARIOS)
    if unknown:
        die("BENCH_SCENARIOS: unknown: %s" % ", ".join(sorted(unknown)))
    scen = [s for s in ALL_SCENARIOS if not only or s in only]
    tool_names = ["sockkit", "ncat", "socat", "openssl"]
    only = [s for s in os.environ.get("BENCH_TOOLS", "").split(",") if s]
    unknown = set(only) - set(tool_names)
    if unknown:
        die("BENCH_TOOLS: unknown tool(s): %s" % ", ".join(sorted(unknown)))
    if shutil.which("wc") is None:
        die("wc not found", 1)

    out("== tls: TLS over %s: bulk %s per run, %d round(s), timeout %d s "
        "per run; %d echo clients ==" % (HOST, human(cfg["bytes"]),
                                         cfg["runs"], cfg["timeout"],
                                         cfg["clients"]))
    ossl = shutil.which("openssl")
    if ossl is None:
        out("   openssl CLI not found (needed for the certificate): SKIPPED")
        return 0
    tmp = tempfile.mkdtemp(prefix="sockkit-bench-tls-", dir="/tmp")
    cfg["tmp"] = tmp
    cfg["file"] = os.path.join(tmp, "data")
    failed = 0
    mlines = []
    try:
        cfg["cert"], cfg["key"] = make_cert(ossl, tmp)
        tools = make_tools(sk, cfg["cert"], cfg["key"])
        if only:
            tools = [t for t in tools if t.name in only]
        present = []
        for t in tools:
            if t.path is None:
                where = " (SK=%s)" % sk if t.name == "sockkit" else ""
                out("   %-9s not found%s: SKIPPED" % (t.name, where))
            else:
                out("   %-9s %s: %s" % (t.name, t.path, tool_version(t)))
                present.append(t)
        try:
            kulp = open("/proc/sys/net/ipv4/tcp_available_ulp").read().split()
        except OSError:
            kulp = []
        out("   kernel TLS (tls in tcp_available_ulp): %s"
            % ("yes" if "tls" in kulp else "no"))

        bulk = [(s, t) for s, t in BULK if s in scen]
        if bulk and present:
            need = cfg["bytes"] + 256 * MIB
            if shutil.disk_usage(tmp).free < need:
                die("%s has less than %s free" % (tmp, human(need)), 1)
            t = time.monotonic()
            make_file(cfg["file"], cfg["bytes"])
            out("   test file %s (%s) written in %.1f s"
                % (cfg["file"], human(cfg["bytes"]), time.monotonic() - t))
        elif bulk:
            out("   no tool available for the bulk scenarios")
            bulk = []
        for scenario, title in bulk:
            out("")
            out("-- tls %s: check runs (receiver into wc -c, untimed) --"
                % scenario)
            stools = []
            for tool in present:
                if scenario in tool.skip:
                    out("   %-9s not run: %s" % (tool.name,
                                                 tool.skip[scenario]))
                    mlines.append("BENCH tls scenario=%s tool=%s "
                                  "status=skipped" % (scenario, tool.name))
                else:
                    stools.append(tool)
            for tool in stools:
                r = one_run(tool, scenario, 0, cfg, check=True)
                proto = r.proto
                if tool.name == "ncat" and proto is None and r.ok:
                    p = ncat_probe(tool.path, ossl, cfg)
                    proto = p and "%s (ncat client vs openssl s_server)" % p
                if r.ok:
                    out("   %-9s ok: %s; negotiated %s"
                        % (tool.name, r.verified, proto or "unknown"))
                else:
                    failed += 1
                    out("   %-9s FAILED: %s" % (tool.name, r.why))
                mlines.append("CHECK tls scenario=%s tool=%s status=%s "
                              "negotiated=%s"
                              % (scenario, tool.name,
                                 "ok" if r.ok else "failed",
                                 (proto or "unknown").split(" (")[0]
                                 .replace(" ", "/")))
            out("")
            out("-- tls %s: runs --" % scenario)
            results = {t.name: [] for t in stools}
            for rnd in range(1, cfg["runs"] + 1):
                for tool in stools:
                    r = one_run(tool, scenario, rnd, cfg)
                    results[tool.name].append(r)
                    if r.ok:
                        out("   round %d %-9s %8.1f MiB/s  wall %7.3f s  "
                            "CPU client %.3f + server %.3f s = %.2f + %.2f "
                            "s/GiB  [%s]"
                            % (rnd, tool.name, r.mibps(), r.wall,
                               r.cpu_client, r.cpu_server,
                               r.cpu_gib(r.cpu_client),
                               r.cpu_gib(r.cpu_server), r.verified))
                    else:
                        failed += 1
                        out("   round %d %-9s FAILED: %s"
                            % (rnd, tool.name, r.why))
                    mlines.append(
                        "RUN tls scenario=%s round=%d tool=%s status=%s "
                        "wall_s=%s mibps=%s cpu_client_s=%s cpu_server_s=%s"
                        % (scenario, rnd, tool.name,
                           "ok" if r.ok else "failed", fmt(r.wall, ".4f"),
                           fmt(r.mibps() if r.ok else None, ".1f"),
                           fmt(r.cpu_client, ".4f"),
                           fmt(r.cpu_server, ".4f")))
            summary, verdicts = report(scenario, title, tools, results, cfg)
            mlines += ["BENCH tls scenario=%s tool=%s status=skipped"
                       % (scenario, t.name) for t in tools if t.path is None]
            mlines += machine(scenario, summary, verdicts, cfg)
        try:
            os.unlink(cfg["file"])
        except FileNotFoundError:
            pass

        if "clients" in scen:
            if not any(t.name == "sockkit" for t in present):
                out("")
                out("-- tls clients: sockkit not available: SKIPPED --")
                mlines.append("BENCH tls scenario=clients tool=sockkit "
                              "status=skipped")
            else:
                ok, lines = clients_scenario(sk, cfg)
                mlines += lines
                if not ok:
                    failed += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    out("")
    out("-- tls: machine-readable summary --")
    for line in mlines:
        out(line)
    if failed:
        out("tls: %d run(s) FAILED" % failed)
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

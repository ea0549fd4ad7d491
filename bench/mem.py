#!/usr/bin/env python3
"""Memory bounds: the peak RSS of sockkit servers under hostile loads.

Run by bench/run.sh (``sh bench/run.sh mem``); Python 3 standard library,
loopback only, ports from the kernel (port 0 and --port-file), every wait
bounded, only the processes started here are killed, by PID.

Each scenario starts one server, loads it, and reports its peak resident
memory (VmHWM) against the target (96 MiB), plus what the scenario is
about (drops, stalls, memory after the load has gone):

  kstdin    tcp-serve -k --frame line, endless stdin (yes), 50 clients
            that never read
  kpartial  tcp-serve -k --frame line, 30 clients each sending an
            unfinished 15 MiB line
  mute      chat -l, 50 members that never read, 4 fast senders of short
            lines for 3 s
  longburst chat -l, 2 members each send 256 KiB of lines of 8191 NUL
            bytes to 10 members that read: readers dropped?
  shortburst chat -l, 1000 members that read; one sends 256 KiB of
            one-character lines, another "ping" just after it starts:
            how long until every reader has the ping, members dropped
  nick      chat -l, 1000 members that read; one sends 20000 /nick lines,
            another "ping": how long until every reader has the ping
  join      chat -l --max-clients 20000, N members (default 19000: the
            descriptor limit is 20000 a process) connect and never read:
            time until a last member gets its welcome, RSS once all left
  pty       chat -l with its console on a pty that is never read: 400
            lines of 1 KiB to a reader; newcomer's welcome delay

Environment:
  SK             sockkit binary (default ./sockkit)
  BENCH_MEM      comma-separated subset of the scenarios above
  BENCH_MEM_JOIN members for "join" (default 19000)
  BENCH_TIMEOUT  seconds before one phase gives up (default 60)
"""

import os
import pty
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import time
import tty

HOST = "127.0.0.1"
TARGET_MIB = 96
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "60"))
MiB = 1 << 20


def out(*a):
    print(*a, flush=True)


def status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def mib(kib):
    return "%.1f" % (kib / 1024) if kib >= 0 else "?"


class Server:
    """SK ARGS --port-file, with stdio as given; killed by its PID."""

    def __init__(self, args, stdin=subprocess.DEVNULL, stdout=None):
        self.dir = tempfile.mkdtemp(prefix="skmem.")
        pf = os.path.join(self.dir, "port")
        self.errpath = os.path.join(self.dir, "err")
        self.err = open(self.errpath, "w")
        sk = os.environ.get("SK", "./sockkit")
        self.p = subprocess.Popen([sk] + args + ["--port-file", pf],
                                  stdin=stdin,
                                  stdout=stdout or subprocess.DEVNULL,
                                  stderr=self.err, close_fds=True)
        deadline = time.monotonic() + 10
        while not (os.path.exists(pf) and os.path.getsize(pf) > 0):
            if time.monotonic() > deadline or self.p.poll() is not None:
                self.stop()
                raise RuntimeError("server did not start: " + self.errors())
            time.sleep(0.02)
        self.port = int(open(pf).read())

    def hwm(self):
        return status_kib(self.p.pid, "VmHWM")

    def rss(self):
        return status_kib(self.p.pid, "VmRSS")

    def errors(self):
        self.err.flush()
        with open(self.errpath) as f:
            return f.read()

    def count(self, text):
        return self.errors().count(text)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.err.close()


def connect(port, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect((HOST, port))
    s.setblocking(False)
    return s


def wait_for(pred, secs=TIMEOUT, step=0.05):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


class Readers:
    """Member sockets that read everything; each keeps a short tail."""

    def __init__(self, port, n):
        self.sel = selectors.DefaultSelector()
        self.tail = {}
        self.closed = set()
        for _ in range(n):
            s = connect(port)
            self.sel.register(s, selectors.EVENT_READ)
            self.tail[s] = b""
            self.seen = {}

    def pump(self, secs):
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            ev = self.sel.select(0.05)
            if not ev:
                return
            for key, _ in ev:
                s = key.fileobj
                try:
                    b = s.recv(1 << 20)
                except (BlockingIOError, ConnectionError):
                    continue
                if not b:
                    self.sel.unregister(s)
                    self.closed.add(s)
                    continue
                t = self.tail[s] + b
                for tok in self.want:
                    if tok in t:
                        self.seen.setdefault(tok, set()).add(s)
                self.tail[s] = t[-256:]

    def until_all(self, tokens, secs):
        self.want = tokens
        deadline = time.monotonic() + secs
        live = lambda: [s for s in self.tail if s not in self.closed]
        while time.monotonic() < deadline and not self.closed:
            if all(set(live()) <= self.seen.get(t, set()) for t in tokens):
                return True
            self.pump(0.2)
        return False

    def close(self):
        for s in self.tail:
            s.close()


def welcome_nick(s):
    buf = b""
    deadline = time.monotonic() + 10
    while b"* welcome, " not in buf or b":" not in buf.split(
            b"* welcome, ", 1)[1]:
        if time.monotonic() > deadline:
            raise RuntimeError("no welcome")
        try:
            b = s.recv(65536)
            if not b:
                raise RuntimeError("closed before the welcome")
            buf += b
        except BlockingIOError:
            time.sleep(0.005)
    return buf.split(b"* welcome, ", 1)[1].split(b":", 1)[0]


def send_all(socks_data, drain=(), secs=TIMEOUT):
    """Send each socket its data, reading and dropping what arrives."""
    sel = selectors.DefaultSelector()
    views = {}
    for s, d in socks_data:
        views[s] = memoryview(d)
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
    for s in drain:
        if s not in views:
            sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + secs
    while views and time.monotonic() < deadline:
        for key, ev in sel.select(0.1):
            s = key.fileobj
            if ev & selectors.EVENT_READ:
                try:
                    while s.recv(1 << 20):
                        pass
                except (BlockingIOError, ConnectionError):
                    pass
            if ev & selectors.EVENT_WRITE and s in views:
                try:
                    n = s.send(views[s][:1 << 18])
                except BlockingIOError:
                    n = 0
                except OSError:
                    n = len(views[s])
                views[s] = views[s][n:]
                if not len(views[s]):
                    del views[s]
                    sel.modify(s, selectors.EVENT_READ)
    return not views


def drain(socks, secs):
    """Read and drop what arrives on socks for secs seconds."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        for key, _ in sel.select(0.05):
            try:
                while key.fileobj.recv(1 << 20):
                    pass
            except (BlockingIOError, ConnectionError):
                pass
    sel.close()


def kstdin():
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        srv = Server(["tcp-serve", "-k", "-v", "--frame", "line", HOST, "0"],
                     stdin=yes.stdout)
    finally:
        yes.stdout.close()
    socks = [connect(srv.port, 4096) for _ in range(50)]
    wait_for(lambda: srv.count("too slow") >= 50, 30)
    time.sleep(0.5)
    r = dict(peak=srv.hwm(), after=srv.rss(), note="%d of 50 dropped" %
             srv.count("too slow"))
    for s in socks:
        s.close()
    srv.stop()
    yes.kill()
    yes.wait()
    return r


def kpartial():
    srv = Server(["tcp-serve", "-k", "-v", "--frame", "line", HOST, "0"])
    socks = [connect(srv.port) for _ in range(30)]
    line = b"x" * (15 * MiB)
    send_all([(s, line) for s in socks], secs=TIMEOUT)
    time.sleep(0.5)
    r = dict(peak=srv.hwm(), after=srv.rss(), note="%d of 30 dropped" %
             srv.count("memory budget reached"))
    for s in socks:
        s.close()
    srv.stop()
    return r


def mute():
    srv = Server(["chat", "-l", "-vv", HOST, "0"])
    mutes = [connect(srv.port, 4096) for _ in range(50)]
    senders = [connect(srv.port) for _ in range(4)]
    line = b"hello, world: a short line\n"
    t_end = time.monotonic() + 3
    while time.monotonic() < t_end:
        send_all([(s, line * 2000) for s in senders], drain=senders, secs=5)
    # The senders read on while the room works through their lines.
    drain(senders, 1.0)
    r = dict(peak=srv.hwm(), after=srv.rss(),
             note="%d of 54 members dropped as too slow (50 never read)" %
             srv.count(": too slow"))
    for s in mutes + senders:
        s.close()
    srv.stop()
    return r


def longburst():
    srv = Server(["chat", "-l", HOST, "0"])
    readers = Readers(srv.port, 10)
    senders = [connect(srv.port) for _ in range(2)]
    nicks = [welcome_nick(s) for s in senders]
    data = (b"\0" * 8191 + b"\n") * 32 + b"end\n"
    t0 = time.monotonic()
    send_all([(s, data) for s in senders], drain=senders, secs=TIMEOUT)
    ok = readers.until_all([b"<" + n + b"> end\n" for n in nicks], TIMEOUT)
    r = dict(peak=srv.hwm(), after=srv.rss(),
             note="%s in %.1f s, %d of 10 readers dropped" %
             ("all got all" if ok else "NOT ALL DELIVERED",
              time.monotonic() - t0, len(readers.closed)))
    readers.close()
    srv.stop()
    return r


def burst_room(lines, endnick=None, nmembers=1000):
    """A room of N readers; one member sends lines, another a ping."""
    srv = Server(["chat", "-l", "--max-clients", "20000", HOST, "0"])
    readers = Readers(srv.port, nmembers)
    readers.until_all([b"* welcome"], TIMEOUT)
    a = connect(srv.port)
    b = connect(srv.port)
    na = welcome_nick(a)
    nb = welcome_nick(b)
    readers.until_all([b"<" + nb + b"> ", b"* " + nb], 5)
    t0 = time.monotonic()
    send_all([(a, lines + b"end\n")], drain=[a, b], secs=TIMEOUT)
    b.setblocking(True)
    b.sendall(b"ping\n")
    b.setblocking(False)
    tping = None
    want_ping = b"<" + nb + b"> ping\n"
    if readers.until_all([want_ping], TIMEOUT):
        tping = time.monotonic() - t0
    ok = readers.until_all([want_ping, b"<" + (endnick or na) + b"> end\n"],
                           TIMEOUT)
    tall = time.monotonic() - t0
    r = dict(peak=srv.hwm(), after=srv.rss(),
             note="ping after %s, all lines in %.1f s%s, %d of %d dropped" %
             ("%.2f s" % tping if tping is not None else "NEVER", tall,
              "" if ok else " (NOT ALL)", len(readers.closed), nmembers))
    readers.close()
    a.close()
    b.close()
    srv.stop()
    return r


def shortburst():
    return burst_room(b"a\n" * (128 * 1024))


def nick():
    return burst_room(b"".join(b"/nick n%d\n" % (i % 2)
                               for i in range(20000)), b"n1")


def join():
    n = int(os.environ.get("BENCH_MEM_JOIN", "19000"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    n = min(n, hard - 100)
    srv = Server(["chat", "-l", "--max-clients", "20000", HOST, "0"])
    t0 = time.monotonic()
    socks = []
    for _ in range(n):
        socks.append(connect(srv.port, 4096))
    last = connect(srv.port)
    try:
        welcome_nick(last)
        tjoin = "%.1f s" % (time.monotonic() - t0)
    except RuntimeError:
        tjoin = "NO WELCOME"
    peak = srv.hwm()
    for s in socks:
        s.close()
    last.close()
    # Memory after every member has left.
    wait_for(lambda: False, 3)
    r = dict(peak=max(peak, srv.hwm()), after=srv.rss(),
             note="%d joined in %s" % (n, tjoin))
    srv.stop()
    return r


def ptyroom():
    master, slave = pty.openpty()
    tty.setraw(slave)
    srv = Server(["chat", "-l", HOST, "0"], stdin=slave, stdout=slave)
    os.close(slave)
    try:
        reader = connect(srv.port)
        welcome_nick(reader)
        sender = connect(srv.port)
        welcome_nick(sender)
        sender.setblocking(True)
        sender.sendall((b"y" * 1023 + b"\n") * 400 + b"done\n")
        buf = b""
        got = 0
        deadline = time.monotonic() + 5
        while b"> done\n" not in buf and time.monotonic() < deadline:
            try:
                b = reader.recv(1 << 20)
                got += b.count(b"yyyy\n")
                buf = buf[-16:] + b
            except BlockingIOError:
                time.sleep(0.01)
        t0 = time.monotonic()
        new = connect(srv.port)
        try:
            welcome_nick(new)
            tw = "%.2f s" % (time.monotonic() - t0)
        except RuntimeError:
            tw = "NEVER"
        r = dict(peak=srv.hwm(), after=srv.rss(),
                 note="%d of 400 lines delivered, welcome after %s" %
                 (got, tw))
    finally:
        srv.stop()
        os.close(master)
    return r


SCENARIOS = [
    ("kstdin", kstdin), ("kpartial", kpartial), ("mute", mute),
    ("longburst", longburst), ("shortburst", shortburst), ("nick", nick),
    ("join", join), ("pty", ptyroom),
]


def main():
    want = [x for x in os.environ.get("BENCH_MEM", "").split(",") if x]
    out("memory: peak RSS (VmHWM) per scenario, target < %d MiB" %
        TARGET_MIB)
    out("%-11s %9s %9s  %s" % ("scenario", "peak MiB", "after MiB", "notes"))
    failed = []
    for name, fn in SCENARIOS:
        if want and name not in want:
            continue
        try:
            r = fn()
        except (RuntimeError, OSError) as e:
            out("%-11s %9s %9s  error: %s" % (name, "-", "-", e))
            failed.append(name)
            continue
        over = r["peak"] < 0 or r["peak"] / 1024 >= TARGET_MIB
        out("%-11s %9s %9s  %s%s" % (name, mib(r["peak"]), mib(r["after"]),
                                     r["note"], "  OVER TARGET" if over
                                     else ""))
        out("summary mem %s peak_mib=%s after_mib=%s" %
            (name, mib(r["peak"]), mib(r["after"])))
        if over:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

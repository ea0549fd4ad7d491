#!/usr/bin/env python3
"""Chat room members for the sockkit tests; stdlib only, loopback only.

usage: chatpeer.py HOST PORT MODE [ARG...]

  script STEP...   one member running STEPs in order, then printing every
                   line it received; a STEP is
                     >TEXT   send TEXT and a newline
                     ?TEXT   wait until a received line equals TEXT
                     ~TEXT   wait until a received line contains TEXT
                     !BYTES  send BYTES (Python escapes) as they are
                     shut    shut down writing, then read to EOF
                     close   close at once
  many N           N members at once (selectors/epoll); once all are in,
                   one sends "ping" and each other one must receive it;
                   prints "N joined" and "N received"
  mute             join and never read; runs until killed
  flood MB         send MB megabytes in 1 KiB lines, then "done"; read
                   and drop what arrives meanwhile
  churn N          N quick connect-and-close members: a third reset, a
                   third send "half a line" and half-close
  jointime N CMD...  run CMD HOST PORT N times, stdin open, and time each
                   from its start to the reply to its /nick; prints the
                   times and "median MS"
  storm N H        an observer and 10 members join; then N members
                   connect at once while the 10 each send a private
                   line to the observer and a line to the room; all
                   send a line and half-close at once; each member's
                   lines must be the observer's between its own join
                   and leave notices (none of its own), after H lines
                   of history; prints "N+11 views agree" then the
                   observer's lines

Every wait is bounded (10 s, then exit 1 with what was received).
"""
import os
import selectors
import socket
import struct
import sys
import time

WAIT = 10.0


class Member:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=WAIT)
        self.buf = b""
        self.lines = []
        self.eof = False
        self.pos = 0            # lines before this one are matched

    def fill(self, deadline):
        self.s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            b = self.s.recv(65536)
        except socket.timeout:
            return
        except ConnectionResetError:
            b = b""
        if not b:
            self.eof = True
            return
        self.buf += b
        *done, self.buf = self.buf.split(b"\n")
        self.lines += [x.decode("utf-8", "replace") for x in done]

    def wait(self, pred):
        deadline = time.monotonic() + WAIT
        while True:
            for i in range(self.pos, len(self.lines)):
                if pred(self.lines[i]):
                    self.pos = i + 1
                    return True
            self.pos = len(self.lines)
            if self.eof or time.monotonic() > deadline:
                return False
            self.fill(deadline)


def script(host, port, steps):
    m = Member(host, port)
    ok = True
    for st in steps:
        if st.startswith(">"):
            m.s.sendall(st[1:].encode() + b"\n")
        elif st.startswith("!"):
            m.s.sendall(st[1:].encode().decode("unicode_escape")
                        .encode("latin-1"))
        elif st.startswith("?"):
            ok = m.wait(lambda l, t=st[1:]: l == t)
        elif st.startswith("~"):
            ok = m.wait(lambda l, t=st[1:]: t in l)
        elif st == "shut":
            m.s.shutdown(socket.SHUT_WR)
            m.wait(lambda l: False)
        elif st == "close":
            break
        if not ok:
            print("chatpeer: no line for step %r" % st, file=sys.stderr)
            break
    m.s.close()
    for line in m.lines:
        print(line)
    return 0 if ok else 1


def many(host, port, n):
    sel = selectors.DefaultSelector()
    socks = []
    bufs = {}
    t0 = time.monotonic()
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=WAIT)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
        bufs[s] = bytearray()

    def pump(pred_count, want, deadline):
        while time.monotonic() < deadline:
            if pred_count() >= want:
                return True
            for key, _ in sel.select(0.2):
                try:
                    b = key.fileobj.recv(262144)
                except (BlockingIOError, ConnectionResetError):
                    continue
                if b:
                    bufs[key.fileobj] += b
        return pred_count() >= want

    deadline = t0 + 3 * WAIT
    welcomed = lambda: sum(b"* welcome" in bufs[s] for s in socks)
    if not pump(welcomed, n, deadline):
        print("chatpeer: %d of %d joined" % (welcomed(), n), file=sys.stderr)
        return 1
    print("%d joined" % n)
    # Forget the join notices, then one line must reach every other one.
    for s in socks:
        bufs[s] = bytearray()
    socks[0].setblocking(True)
    socks[0].sendall(b"ping\n")
    socks[0].setblocking(False)
    got = lambda: sum(b"> ping\n" in bufs[s] for s in socks[1:])
    if not pump(got, n - 1, time.monotonic() + 3 * WAIT):
        print("chatpeer: %d of %d received" % (got(), n - 1),
              file=sys.stderr)
        return 1
    print("%d received" % (n - 1))
    return 0


def mute(host, port):
    s = socket.create_connection((host, port), timeout=WAIT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    print("muted", flush=True)
    while True:
        time.sleep(1)


def flood(host, port, mb):
    s = socket.create_connection((host, port), timeout=WAIT)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    data = memoryview((b"x" * 1023 + b"\n") * 1024 * mb + b"done\n")
    off = 0
    deadline = time.monotonic() + 3 * WAIT
    while off < len(data) and time.monotonic() < deadline:
        for _, ev in sel.select(0.2):
            if ev & selectors.EVENT_READ:
                try:
                    s.recv(262144)
                except (BlockingIOError, ConnectionResetError):
                    pass
            if ev & selectors.EVENT_WRITE:
                try:
                    off += s.send(data[off:off + 262144])
                except BlockingIOError:
                    pass
    print("sent %d" % off)
    s.close()
    return 0 if off == len(data) else 1


def churn(host, port, n):
    for i in range(n):
        s = socket.create_connection((host, port), timeout=WAIT)
        if i % 3 == 0:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        elif i % 3 == 1:
            # Half-close after a line without newline; a close with
            # unread data would reset and lose the line.
            s.sendall(b"half a line")
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        s.close()
    print("churned %d" % n)
    return 0


class Peer:
    """A non-blocking member in storm(): its bytes and lines."""

    def __init__(self, host, port, sel, block):
        self.s = socket.socket()
        if block:
            self.s.settimeout(WAIT)
            self.s.connect((host, port))
        self.s.setblocking(False)
        if not block:
            self.s.connect_ex((host, port))
        self.buf = b""
        self.lines = []
        self.eof = False
        sel.register(self.s, selectors.EVENT_READ, self)

    def read(self, sel):
        try:
            b = self.s.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionError:
            b = b""
        if not b:
            self.eof = True
            sel.unregister(self.s)
            return
        *done, self.buf = (self.buf + b).split(b"\n")
        self.lines += [x.decode() for x in done]

    def nick(self):
        for x in self.lines:
            if x.startswith("* welcome, "):
                return x[len("* welcome, "):].split(":")[0]
        return None

    def send(self, text):
        self.s.setblocking(True)
        self.s.sendall(text.encode() + b"\n")
        self.s.setblocking(False)


def storm_pump(sel, done):
    deadline = time.monotonic() + 3 * WAIT
    while not done():
        if time.monotonic() > deadline:
            return False
        for key, _ in sel.select(0.2):
            key.data.read(sel)
    return True


def welcome(p):
    return next(i for i, x in enumerate(p.lines)
                if x.startswith("* welcome, "))


def storm_check(obs, ps, hist):
    """Return why the members' views disagree with the observer's."""
    w = welcome(obs)
    full = ["* %s has joined" % obs.nick()] + obs.lines[w + 1:]
    for p in ps:
        x = p.nick()
        w = welcome(p)
        try:
            j = full.index("* %s has joined" % x)
            lv = full.index("* %s has left" % x)
        except ValueError:
            return "%s: the observer saw no join or leave" % x
        want = [y for y in full[j + 1:lv] if not y.startswith("<%s> " % x)
                and " (private) " not in y]
        if p.lines[:w] != full[max(0, j - hist):j]:
            return "%s: history %r" % (x, p.lines[:w])
        if p.lines[w + 1:] != want:
            return "%s: got %r, want %r" % (x, p.lines[w + 1:], want)
    return None


def storm(host, port, n, hist):
    sel = selectors.DefaultSelector()
    obs = Peer(host, port, sel, True)
    early = [Peer(host, port, sel, True) for _ in range(10)]
    if not storm_pump(sel, lambda: all(p.nick() for p in early + [obs])):
        print("chatpeer: the first 11 did not join", file=sys.stderr)
        return 1
    late = [Peer(host, port, sel, False) for _ in range(n)]
    # A private line goes out at once, after what came before it.
    for i, p in enumerate(early):
        p.send("/msg %s p %d\nearly %d" % (obs.nick(), i, i))
    ps = early + late
    if not storm_pump(sel, lambda: all(p.nick() for p in ps)):
        print("chatpeer: %d of %d joined" % (
            sum(bool(p.nick()) for p in ps), len(ps)), file=sys.stderr)
        return 1
    for p in ps:
        p.send("bye from %s" % p.nick())
        p.s.shutdown(socket.SHUT_WR)
    left = lambda: sum(x.endswith(" has left") for x in obs.lines)
    if not storm_pump(sel, lambda: all(p.eof for p in ps) and
                      left() == len(ps)):
        print("chatpeer: %d of %d left" % (left(), len(ps)),
              file=sys.stderr)
        return 1
    for p in early:
        x = p.nick()
        i = next(k for k, y in enumerate(obs.lines)
                 if y.startswith("<%s> (private) " % x))
        if not obs.lines[i + 1].startswith("<%s> early" % x):
            print("chatpeer: a line came between %r and %r" % (
                obs.lines[i], obs.lines[i + 1]), file=sys.stderr)
            return 1
    why = storm_check(obs, ps, hist)
    if why is not None:
        print("chatpeer: " + why, file=sys.stderr)
        return 1
    print("%d views agree" % (len(ps) + 1))
    for x in obs.lines:
        print(x)
    return 0


def jointime(host, port, n, cmd):
    """Run cmd + [host, port] n times as a member with its stdin open;
    print each time from start to the reply to its /nick, and the median
    (milliseconds)."""
    import statistics
    import subprocess
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        p = subprocess.Popen(cmd + [host, str(port)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        deadline = t0 + WAIT
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        buf = b""
        while b"is now known as" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                p.kill()
                p.wait()
                print("chatpeer: no /nick reply", file=sys.stderr)
                return 1
            b = os.read(p.stdout.fileno(), 4096)
            if not b:
                print("chatpeer: no /nick reply", file=sys.stderr)
                return 1
            buf += b
        times.append((time.monotonic() - t0) * 1000)
        p.stdin.close()
        try:
            p.wait(WAIT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    print(" ".join("%.1f" % t for t in times))
    print("median %.1f" % statistics.median(times))
    return 0


def main():
    host, port, mode, rest = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                              sys.argv[4:])
    if mode == "script":
        return script(host, port, rest)
    if mode == "many":
        return many(host, port, int(rest[0]))
    if mode == "mute":
        return mute(host, port)
    if mode == "flood":
        return flood(host, port, int(rest[0]))
    if mode == "churn":
        return churn(host, port, int(rest[0]))
    if mode == "storm":
        return storm(host, port, int(rest[0]), int(rest[1]))
    if mode == "jointime":
        return jointime(host, port, int(rest[0]), rest[1:])
    print("chatpeer: unknown mode " + mode, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

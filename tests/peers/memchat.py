#!/usr/bin/env python3
"""Chat room bursts for the sockkit memory tests; stdlib only, loopback only.

usage: memchat.py HOST PORT MODE [ARG...]

  burst R S KB LEN  R readers that read at once and S senders join; each
                    sender sends KB KiB in lines of LEN NUL bytes, then
                    "done"; every reader must get every sender's "done"
                    and no "has left" notice; prints "R readers got all"
  join N            N members join one after another, each must get its
                    welcome (after any history) and is then closed;
                    prints "N welcomed"
  flood R KB KIND   R members that read join; one more sends KB KiB of
                    one-character lines (KIND "chars") or of "/nick"
                    commands (KIND "nick"), then another sends "ping"
                    right after; every reader must get the ping within
                    SECS (env MEMCHAT_SECS, default 10) and none may be
                    dropped; prints "R readers got the ping"
  hog MB            one member joins and never reads; a second sends MB
                    MiB in 1 KiB lines, then "done"; the sender must see
                    "* guest1 has left (memory budget reached)"; prints
                    that line

Every wait is bounded (10 s without progress, then exit 1 with a reason).
"""
import selectors
import socket
import sys
import time

WAIT = 10.0


def connect(host, port):
    s = socket.create_connection((host, port), timeout=WAIT)
    s.setblocking(False)
    return s


def burst(host, port, nread, nsend, kb, linelen):
    sel = selectors.DefaultSelector()
    readers = [connect(host, port) for _ in range(nread)]
    bufs = {s: bytearray() for s in readers}
    for s in readers:
        sel.register(s, selectors.EVENT_READ)
    senders = [connect(host, port) for _ in range(nsend)]
    # Every member's welcome first, so the nicks are known.
    nicks = []
    for s in senders:
        buf = b""
        deadline = time.monotonic() + WAIT
        while b"* welcome, " not in buf or b":" not in buf.split(
                b"* welcome, ", 1)[1]:
            if time.monotonic() > deadline:
                print("memchat: no welcome", file=sys.stderr)
                return 1
            try:
                buf += s.recv(4096)
            except BlockingIOError:
                time.sleep(0.01)
        nicks.append(buf.split(b"* welcome, ", 1)[1].split(b":", 1)[0])
    line = b"\0" * linelen + b"\n"
    data = line * (kb * 1024 // len(line))
    out = {s: memoryview(data + b"done\n") for s in senders}
    for s in senders:
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
    want = [b"<" + n + b"> done\n" for n in nicks]
    last = time.monotonic()
    while True:
        if all(all(w in bufs[r] for w in want) for r in readers):
            break
        if time.monotonic() - last > WAIT:
            print("memchat: stalled", file=sys.stderr)
            return 1
        for key, ev in sel.select(0.2):
            s = key.fileobj
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(1 << 20)
                except (BlockingIOError, ConnectionResetError):
                    b = None
                if b == b"" and s in bufs:
                    print("memchat: a reader was closed", file=sys.stderr)
                    return 1
                if b and s in bufs:
                    bufs[s] += b
                    # Keep the tail only: "done" lines and notices.
                    if len(bufs[s]) > 1 << 22:
                        keep = bufs[s][-65536:]
                        if b"has left" in bufs[s]:
                            keep += b"* has left\n"
                        bufs[s] = keep
                    last = time.monotonic()
            if ev & selectors.EVENT_WRITE and s in out:
                try:
                    n = s.send(out[s][:262144])
                except BlockingIOError:
                    n = 0
                out[s] = out[s][n:]
                if n:
                    last = time.monotonic()
                if not len(out[s]):
                    del out[s]
                    sel.modify(s, selectors.EVENT_READ)
    for r in readers:
        if b"has left" in bufs[r]:
            print("memchat: a reader saw: %r" %
                  [x for x in bufs[r].split(b"\n") if b"has left" in x][:3],
                  file=sys.stderr)
            return 1
    print("%d readers got all" % nread)
    return 0


def join(host, port, n):
    for i in range(n):
        s = socket.create_connection((host, port), timeout=WAIT)
        buf = b""
        deadline = time.monotonic() + WAIT
        while b"* welcome, " not in buf:
            if time.monotonic() > deadline:
                print("memchat: member %d: no welcome" % i, file=sys.stderr)
                return 1
            b = s.recv(1 << 20)
            if not b:
                print("memchat: member %d closed after %d bytes" %
                      (i, len(buf)), file=sys.stderr)
                return 1
            buf += b
        s.close()
    print("%d welcomed" % n)
    return 0


def hog(host, port, mb):
    mute = socket.create_connection((host, port), timeout=WAIT)
    mute.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s = socket.create_connection((host, port), timeout=WAIT)
    s.setblocking(False)
    data = memoryview((b"x" * 1023 + b"\n") * (mb * 1024) + b"done\n")
    buf = b""
    want = b"* guest1 has left (memory budget reached)\n"
    last = time.monotonic()
    while want not in buf:
        if time.monotonic() - last > WAIT:
            print("memchat: no notice; got %r" % buf[-200:], file=sys.stderr)
            return 1
        try:
            b = s.recv(1 << 20)
            if not b:
                print("memchat: closed", file=sys.stderr)
                return 1
            buf = buf[-4096:] + b
            last = time.monotonic()
        except BlockingIOError:
            pass
        if len(data):
            try:
                n = s.send(data[:65536])
                data = data[n:]
                last = time.monotonic()
            except BlockingIOError:
                time.sleep(0.001)
    print(want.decode().strip())
    mute.close()
    return 0


def flood(host, port, nread, kb, kind):
    secs = float(__import__("os").environ.get("MEMCHAT_SECS", "10"))
    sel = selectors.DefaultSelector()
    readers = [connect(host, port) for _ in range(nread)]
    tails = {s: b"" for s in readers}
    for s in readers:
        sel.register(s, selectors.EVENT_READ)
    a = socket.create_connection((host, port), timeout=WAIT)
    b = socket.create_connection((host, port), timeout=WAIT)
    buf = b""
    while b"* welcome, " not in buf or b":" not in buf.split(
            b"* welcome, ", 1)[1]:
        buf += b.recv(4096)
    nick = buf.split(b"* welcome, ", 1)[1].split(b":", 1)[0]
    want = b"<" + nick + b"> ping\n"
    if kind == "nick":
        data = b"".join(b"/nick n%d\n" % (i % 2) for i in range(kb * 128))
    else:
        data = b"a\n" * (kb * 512)
    data = memoryview(data)
    a.setblocking(False)
    got = set()
    deadline = None
    while len(got) < nread:
        if len(data):
            try:
                data = data[a.send(data[:65536]):]
            except BlockingIOError:
                pass
            if not len(data) and deadline is None:
                b.sendall(b"ping\n")
                deadline = time.monotonic() + secs
        try:
            a.recv(1 << 20)
        except BlockingIOError:
            pass
        if deadline is not None and time.monotonic() > deadline:
            print("memchat: %d of %d readers got the ping in %g s" %
                  (len(got), nread, secs), file=sys.stderr)
            return 1
        for key, _ in sel.select(0.01):
            s = key.fileobj
            try:
                d = s.recv(1 << 20)
            except (BlockingIOError, ConnectionResetError):
                continue
            if not d:
                print("memchat: a reader was closed", file=sys.stderr)
                return 1
            t = tails[s] + d
            if want in t:
                got.add(s)
            tails[s] = t[-64:]
    print("%d readers got the ping" % nread)
    return 0


def main(argv):
    host, port, mode = argv[1], int(argv[2]), argv[3]
    if mode == "flood":
        return flood(host, port, int(argv[4]), int(argv[5]), argv[6])
    args = [int(x) for x in argv[4:]]
    if mode == "burst":
        return burst(host, port, *args)
    if mode == "join":
        return join(host, port, *args)
    if mode == "hog":
        return hog(host, port, *args)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

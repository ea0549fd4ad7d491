#!/usr/bin/env python3
"""Many-connection peers for the tcp-serve -k tests (stdlib only).

usage: multi.py MODE [ARG...]

  echo HOST PORT N SECS      open N connections at once (epoll, at most
                             200 connects in flight), send one line on
                             each and wait for its echo; print
                             "N connected N echoed"; exit 1 unless all
                             echoed within SECS
  hold HOST PORT N SECS      open N connections, check that each echoes a
                             line, print "ready N", then hold them open for
                             SECS (or until killed)
  interleave HOST PORT NLINES LEN PIECE
                             two connections, A and B, each sending NLINES
                             lines of LEN letters ('a' on A, 'b' on B) in
                             PIECE-byte pieces, alternating A, B, A, B
  send HOST PORT TEXT        print our own HOST:PORT ([v6]:PORT), send
                             TEXT, close
  lines HOST PORT PREFIX NBYTES
                             send about NBYTES of lines "PREFIX:hex...\\n"
                             as fast as the server takes them, close, and
                             print "SHA256 COUNT" of what was sent
  recv HOST PORT NBYTES SECS read until NBYTES have arrived (or EOF or
                             SECS); print "COUNT SHA256" of what arrived
  noread HOST PORT SECS      connect with a small receive buffer, print
                             "connected", never read; exit after SECS
  cycles HOST PORT N         N times: connect, send "cycle I\\n", close;
                             every third connection sends nothing and
                             closes with a reset instead
  echobig HOST PORT NBYTES   send NBYTES without reading until the server
                             stops taking them, then send the rest while
                             reading; print "COUNT same|differ" for the
                             bytes that came back
  slowcat CHUNK DELAY        copy stdin to stdout, CHUNK bytes at most
                             every DELAY seconds (a slow reader)
  feed FILE CHUNK DELAY      copy FILE to stdout, CHUNK bytes every DELAY
                             seconds (a paced writer)
"""
import hashlib
import os
import resource
import selectors
import socket
import struct
import sys
import time

INFLIGHT = 200          # connects in progress at once


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def open_many(host, port, n, deadline):
    """Connect n non-blocking sockets, INFLIGHT at a time; return them."""
    sel = selectors.DefaultSelector()
    done, todo, pending = [], n, 0
    while (todo > 0 or pending > 0) and time.monotonic() < deadline:
        while todo > 0 and pending < INFLIGHT:
            s = socket.socket(family(host), socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((host, port))
            sel.register(s, selectors.EVENT_WRITE)
            todo -= 1
            pending += 1
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e != 0:
                sys.exit("multi.py: connect: %s" % os.strerror(e))
            done.append(s)
    sel.close()
    return done


def echo_all(socks, deadline):
    """Send a line on each socket, wait for the echoes; return how many."""
    sel = selectors.DefaultSelector()
    want = {}
    for i, s in enumerate(socks):
        line = b"line %d from a client of many\n" % i
        s.send(line)
        want[s] = (line, bytearray())
        sel.register(s, selectors.EVENT_READ)
    ok = 0
    while want and time.monotonic() < deadline:
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            s = key.fileobj
            line, got = want[s]
            try:
                b = s.recv(4096)
            except ConnectionError:
                b = b""
            got += b
            if not b or len(got) >= len(line):
                ok += bytes(got) == line
                sel.unregister(s)
                del want[s]
    sel.close()
    return ok


def mode_echo(host, port, n, secs):
    raise_fd_limit(n)
    deadline = time.monotonic() + secs
    socks = open_many(host, port, n, deadline)
    ok = echo_all(socks, deadline)
    print("%d connected %d echoed" % (len(socks), ok), flush=True)
    return socks, ok == n


def mode_interleave(host, port, nlines, length, piece):
    a = socket.create_connection((host, port), timeout=10)
    b = socket.create_connection((host, port), timeout=10)
    for s in (a, b):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    da = (b"a" * length + b"\n") * nlines
    db = (b"b" * length + b"\n") * nlines
    for off in range(0, len(da), piece):
        a.sendall(da[off:off + piece])
        b.sendall(db[off:off + piece])
        # Give the server a chance to read each piece on its own.
        time.sleep(0.0005)
    a.close()
    b.close()


def mode_send(host, port, text):
    c = socket.create_connection((host, port), timeout=10)
    h, p = c.getsockname()[:2]
    print(("[%s]:%d" if ":" in h else "%s:%d") % (h, p), flush=True)
    c.sendall(text.encode())
    c.close()


def mode_lines(host, port, prefix, nbytes):
    c = socket.create_connection((host, port), timeout=30)
    h = hashlib.sha256()
    seed, sent, buf = hashlib.sha256(prefix.encode()).digest(), 0, []
    while sent < nbytes:
        seed = hashlib.sha256(seed).digest()
        line = prefix.encode() + b":" + seed.hex().encode() * 3 + b"\n"
        buf.append(line)
        sent += len(line)
        if len(buf) == 512:
            chunk = b"".join(buf)
            h.update(chunk)
            c.sendall(chunk)
            buf = []
    chunk = b"".join(buf)
    h.update(chunk)
    c.sendall(chunk)
    c.close()
    print(h.hexdigest(), sent, flush=True)


def mode_recv(host, port, nbytes, secs):
    c = socket.create_connection((host, port), timeout=10)
    print("connected", file=sys.stderr, flush=True)
    h, n = hashlib.sha256(), 0
    deadline = time.monotonic() + secs
    while n < nbytes:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        c.settimeout(left)
        try:
            b = c.recv(65536)
        except (socket.timeout, ConnectionError):
            break
        if not b:
            break
        h.update(b)
        n += len(b)
    print(n, h.hexdigest(), flush=True)


def mode_noread(host, port, secs):
    c = socket.socket(family(host), socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect((host, port))
    print("connected", flush=True)
    time.sleep(secs)


def mode_cycles(host, port, n):
    for i in range(n):
        c = socket.create_connection((host, port), timeout=10)
        if i % 3 == 2:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        else:
            c.sendall(b"cycle %d\n" % i)
        c.close()


def mode_echobig(host, port, nbytes):
    c = socket.create_connection((host, port), timeout=10)
    c.setblocking(False)
    data = os.urandom(nbytes)
    sent, got = 0, bytearray()
    # Phase 1: write only, until nothing more has gone for 0.3 s.
    idle = time.monotonic() + 10
    while sent < nbytes and time.monotonic() < idle:
        try:
            sent += c.send(data[sent:sent + 65536])
            idle = time.monotonic() + 0.3
        except BlockingIOError:
            time.sleep(0.01)
    print("stalled after %d" % sent, file=sys.stderr, flush=True)
    sel = selectors.DefaultSelector()
    sel.register(c, selectors.EVENT_READ | selectors.EVENT_WRITE)
    deadline = time.monotonic() + 30
    while len(got) < nbytes and time.monotonic() < deadline:
        for _, ev in sel.select(1):
            if ev & selectors.EVENT_READ:
                b = c.recv(65536)
                if not b:
                    deadline = 0
                    break
                got += b
            if ev & selectors.EVENT_WRITE and sent < nbytes:
                sent += c.send(data[sent:sent + 65536])
                if sent == nbytes:
                    sel.modify(c, selectors.EVENT_READ)
    print(len(got), "same" if bytes(got) == data else "differ", flush=True)


def copy(src, dst, chunk, delay):
    while True:
        b = os.read(src, chunk)
        if not b:
            break
        while b:
            b = b[os.write(dst, b):]
        time.sleep(delay)


def main():
    mode, a = sys.argv[1], sys.argv[2:]
    if mode == "echo":
        _, ok = mode_echo(a[0], int(a[1]), int(a[2]), float(a[3]))
        sys.exit(0 if ok else 1)
    elif mode == "hold":
        socks, ok = mode_echo(a[0], int(a[1]), int(a[2]), 10)
        if not ok:
            sys.exit(1)
        print("ready %d" % len(socks), flush=True)
        time.sleep(float(a[3]))
    elif mode == "interleave":
        mode_interleave(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]))
    elif mode == "send":
        mode_send(a[0], int(a[1]), a[2])
    elif mode == "lines":
        mode_lines(a[0], int(a[1]), a[2], int(a[3]))
    elif mode == "recv":
        mode_recv(a[0], int(a[1]), int(a[2]), float(a[3]))
    elif mode == "noread":
        mode_noread(a[0], int(a[1]), float(a[2]))
    elif mode == "cycles":
        mode_cycles(a[0], int(a[1]), int(a[2]))
    elif mode == "echobig":
        mode_echobig(a[0], int(a[1]), int(a[2]))
    elif mode == "slowcat":
        copy(0, 1, int(a[0]), float(a[1]))
    elif mode == "feed":
        fd = os.open(a[0], os.O_RDONLY)
        copy(fd, 1, int(a[1]), float(a[2]))
    else:
        sys.exit("multi.py: unknown mode " + mode)


if __name__ == "__main__":
    main()

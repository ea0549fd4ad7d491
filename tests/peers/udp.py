#!/usr/bin/env python3
"""UDP and Unix datagram peers for the sockkit tests.

usage: udp.py [--host HOST] PORTFILE MODE ARG...

HOST (default 127.0.0.1) is where servers bind and clients send; servers
write their port to PORTFILE (clients take "-"), as helpers.bash wants.  Every
datagram written to a record file is one line: its Python repr (b'...').
Every mode gives up after 10 s, so no test can hang on it.

  record OUT N               bind port 0, write the port to PORTFILE, take
                             N datagrams and write them to OUT
  sizes OUT N                as record, but write each datagram's length
  reply DELAY TEXT...
                             answer every datagram, after DELAY seconds,
                             with each TEXT as its own datagram
  send PORT OUT DATA...      from a new socket send each DATA to HOST PORT,
                             then record each reply to OUT as it comes
  unix-reply PATH TEXT       bind the Unix datagram socket PATH and answer
                             every datagram with TEXT
  unix-send PATH OUT DATA    from a bound temporary Unix datagram socket,
                             send DATA to PATH and record replies to OUT
"""
import os
import socket
import sys
import tempfile
import time

LIMIT = 10.0


def write_atomic(path, data):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(data)
    os.rename(tmp, path)


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def bound(host, portfile):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.bind((host, 0))
    write_atomic(portfile, "%d\n" % s.getsockname()[1])
    return s


def take(s, n, fmt, out):
    lines = []
    s.settimeout(LIMIT)
    try:
        while len(lines) < n:
            lines.append(fmt(s.recv(70000)))
    except socket.timeout:
        pass
    write_atomic(out, "".join(x + "\n" for x in lines))


def record_replies(s, out):
    """Append each reply to out as it comes, until LIMIT passes."""
    deadline = time.monotonic() + LIMIT
    with open(out, "a") as f:
        while time.monotonic() < deadline:
            s.settimeout(deadline - time.monotonic())
            try:
                f.write(repr(s.recv(70000)) + "\n")
                f.flush()
            except (socket.timeout, ConnectionRefusedError):
                break


def reply(s, delay, texts):
    s.settimeout(LIMIT)
    while True:
        try:
            data, peer = s.recvfrom(70000)
        except socket.timeout:
            return
        time.sleep(delay)
        for t in texts:
            s.sendto(t.encode().decode("unicode_escape").encode("latin-1"),
                     peer)


def main():
    args = sys.argv[1:]
    host = "127.0.0.1"
    if args[0] == "--host":
        host, args = args[1], args[2:]
    pf, mode, args = args[0], args[1], args[2:]
    if mode in ("record", "sizes"):
        fmt = repr if mode == "record" else (lambda d: str(len(d)))
        take(bound(host, pf), int(args[1]), fmt, args[0])
    elif mode == "reply":
        reply(bound(host, pf), float(args[0]), args[1:])
    elif mode == "send":
        s = socket.socket(family(host), socket.SOCK_DGRAM)
        open(args[1], "w").close()
        for d in args[2:]:
            s.sendto(d.encode(), (host, int(args[0])))
        record_replies(s, args[1])
    elif mode == "unix-reply":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(args[0])
        try:
            reply(s, 0, args[1:])
        finally:
            os.unlink(args[0])
    elif mode == "unix-send":
        d = tempfile.mkdtemp()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(os.path.join(d, "c"))
        open(args[1], "w").close()
        s.sendto(args[2].encode(), args[0])
        try:
            record_replies(s, args[1])
        finally:
            os.unlink(os.path.join(d, "c"))
            os.rmdir(d)
    else:
        sys.exit("udp.py: unknown mode " + mode)


if __name__ == "__main__":
    main()

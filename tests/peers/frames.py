#!/usr/bin/env python3
"""A raw framing peer for the sockkit tests (SPEC.md, Framing).

usage: frames.py client HOST PORT [OPTIONS] ITEM...
       frames.py server PORTFILE [OPTIONS] ITEM...

The client connects to HOST PORT; the server binds 127.0.0.1 port 0,
writes the port and a newline to PORTFILE atomically and accepts one
connection. Either then sends the ITEMs, shuts down writing (unless
--hold), reads until the other side closes (at most 10 s) and writes what
it received to stdout as one line of hex.

  frame:TEXT   a len32 frame: 4-byte big-endian length, then TEXT
  hdr:N        only a len32 header announcing N bytes
  raw:TEXT     TEXT as it is
  TEXT takes Python escapes (\\n, \\r, \\x00) and *N repeats: x*1000.

  --bytewise   send one byte per segment (TCP_NODELAY, 2 ms apart)
  --hold       keep the write side open after the items
  --name FILE  write this end's address, HOST:PORT, to FILE first

Exit 0 once the other side has closed (a reset counts), 3 if it has not
within 10 seconds, 2 on a usage error.
"""
import os
import socket
import struct
import sys
import time


def usage():
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    sys.exit(2)


def text(s):
    if "*" in s:
        s, n = s.rsplit("*", 1)
        return text(s) * int(n)
    return s.encode("latin-1").decode("unicode_escape").encode("latin-1")


def encode(item):
    kind, _, arg = item.partition(":")
    if kind == "frame":
        payload = text(arg)
        return struct.pack(">I", len(payload)) + payload
    if kind == "hdr":
        return struct.pack(">I", int(arg))
    if kind == "raw":
        return text(arg)
    usage()


def write_atomic(path, data):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(data)
    os.rename(tmp, path)


def connect(args):
    if args[0] == "client" and len(args) >= 3:
        return socket.create_connection((args[1], int(args[2]))), args[3:]
    if args[0] == "server" and len(args) >= 2:
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        write_atomic(args[1], "%d\n" % lsock.getsockname()[1])
        sock, _ = lsock.accept()
        lsock.close()
        return sock, args[2:]
    usage()


def send(sock, data, bytewise):
    if not bytewise:
        sock.sendall(data)
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(data)):
        sock.sendall(data[i:i + 1])
        time.sleep(0.002)


def receive(sock):
    """Read until the other side closes; return (data, closed)."""
    buf = bytearray()
    deadline = time.monotonic() + 10
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(buf), False
        sock.settimeout(left)
        try:
            b = sock.recv(65536)
        except socket.timeout:
            return bytes(buf), False
        except ConnectionResetError:
            return bytes(buf), True
        if not b:
            return bytes(buf), True
        buf += b


def main():
    if len(sys.argv) < 2:
        usage()
    sock, rest = connect(sys.argv[1:])
    opts, items = {}, []
    while rest:
        a = rest.pop(0)
        if a in ("--bytewise", "--hold"):
            opts[a] = True
        elif a == "--name" and rest:
            opts[a] = rest.pop(0)
        else:
            items.append(a)
    data = b"".join(encode(i) for i in items)
    if "--name" in opts:
        host, port = sock.getsockname()[:2]
        write_atomic(opts["--name"], "%s:%d\n" % (host, port))
    try:
        send(sock, data, opts.get("--bytewise"))
        if not opts.get("--hold"):
            sock.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got, closed = receive(sock)
    print(got.hex())
    if not closed:
        print("frames.py: the other side did not close", file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    main()

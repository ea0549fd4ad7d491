#!/usr/bin/env python3
"""A one-connection TCP server for the sockkit tests.

usage: server.py [--host HOST] PORTFILE MODE [ARG...]

It binds HOST (default 127.0.0.1) port 0, writes the port and a newline to
PORTFILE atomically, accepts one connection and serves it as MODE says:

  count                reply "got N" once the client's EOF has come
  eofcheck SECS        wait up to SECS for EOF; reply "eof N" or "no-eof N"
  bye                  send "bye" and close, reading nothing
  halfclose FILE       send "hi", shut down writing, record all received
  reset                close at once with a reset (SO_LINGER 0)
  hold                 send nothing; close at the client's EOF (or 10 s)
  record FILE [TEXT]   send TEXT (if any), record all received to FILE
  sendwait TEXT SECS FILE
                       send TEXT, then record "N eof|no-eof" of what comes
                       in the next SECS, then close
  slowrecord SECS FILE send "x", read nothing for SECS, then record
                       "N eof" or "N reset" for what comes
  peer FILE            record the client's "HOST PORT", then read to EOF
  echo                 send back everything until EOF
"""
import os
import socket
import struct
import sys
import time


def write_atomic(path, data):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def read_until(c, secs):
    """Read until EOF or secs pass; return (data, got_eof)."""
    buf = bytearray()
    deadline = time.monotonic() + secs
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(buf), False
        c.settimeout(left)
        try:
            b = c.recv(65536)
        except socket.timeout:
            return bytes(buf), False
        if not b:
            return bytes(buf), True
        buf += b


def main():
    args = sys.argv[1:]
    host = "127.0.0.1"
    if args[0] == "--host":
        host = args[1]
        args = args[2:]
    portfile, mode, rest = args[0], args[1], args[2:]
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, 0))
    ls.listen(8)
    write_atomic(portfile, b"%d\n" % ls.getsockname()[1])
    ls.settimeout(10)
    c, addr = ls.accept()
    ls.close()
    if mode == "count":
        data, _ = read_until(c, 10)
        c.sendall(b"got %d\n" % len(data))
    elif mode == "eofcheck":
        data, eof = read_until(c, float(rest[0]))
        c.sendall(b"%s %d\n" % (b"eof" if eof else b"no-eof", len(data)))
    elif mode == "bye":
        c.sendall(b"bye\n")
    elif mode == "halfclose":
        c.sendall(b"hi\n")
        c.shutdown(socket.SHUT_WR)
        data, _ = read_until(c, 10)
        write_atomic(rest[0], data)
    elif mode == "reset":
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
    elif mode == "hold":
        read_until(c, 10)
    elif mode == "record":
        if len(rest) > 1:
            c.sendall(rest[1].encode())
        data, _ = read_until(c, 10)
        write_atomic(rest[0], data)
    elif mode == "sendwait":
        c.sendall(rest[0].encode())
        data, eof = read_until(c, float(rest[1]))
        write_atomic(rest[2], b"%d %s\n" % (len(data),
                                            b"eof" if eof else b"no-eof"))
    elif mode == "slowrecord":
        c.sendall(b"x")
        time.sleep(float(rest[0]))
        n, how = 0, b"timeout"
        c.settimeout(10)
        try:
            while True:
                b = c.recv(1 << 20)
                if not b:
                    how = b"eof"
                    break
                n += len(b)
        except ConnectionResetError:
            how = b"reset"
        except socket.timeout:
            pass
        write_atomic(rest[1], b"%d %s\n" % (n, how))
    elif mode == "peer":
        write_atomic(rest[0], ("%s %d\n" % (addr[0], addr[1])).encode())
        read_until(c, 10)
    elif mode == "echo":
        c.settimeout(10)
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
    else:
        sys.exit("server.py: unknown mode " + mode)
    c.close()


if __name__ == "__main__":
    main()

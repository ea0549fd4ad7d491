#!/usr/bin/env python3
"""A TCP client for the sockkit tests; what it receives goes to stdout.

usage: client.py HOST PORT MODE [ARG...]

  readsend TEXT        read to EOF, then send TEXT and close
  eofcheck SECS        read until EOF or SECS; then print "eof"/"no-eof"
  sendclose TEXT       send TEXT, shut down writing, read to EOF
  sendwait TEXT SECS   send TEXT, shut down writing, then print
                       "N eof|no-eof" for what came within SECS
  sendpeek TEXT SECS   send TEXT, keep writing open, then print
                       "N eof|no-eof" for what came within SECS
  hold                 send nothing; read to EOF (at most 10 s)
  reset                close at once with a reset (SO_LINGER 0)
"""
import socket
import struct
import sys
import time


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
        except ConnectionResetError:
            return bytes(buf) + b"[reset]", True
        if not b:
            return bytes(buf), True
        buf += b


def main():
    host, port, mode, rest = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                              sys.argv[4:])
    c = socket.create_connection((host, port), timeout=10)
    out = sys.stdout.buffer
    if mode == "readsend":
        data, _ = read_until(c, 10)
        out.write(data)
        c.sendall(rest[0].encode())
    elif mode == "eofcheck":
        data, eof = read_until(c, float(rest[0]))
        out.write(data + (b"eof\n" if eof else b"no-eof\n"))
    elif mode == "sendclose":
        c.sendall(rest[0].encode())
        try:
            c.shutdown(socket.SHUT_WR)
        except OSError:
            out.write(b"[shutdown failed]")
        out.write(read_until(c, 10)[0])
    elif mode == "sendwait":
        c.sendall(rest[0].encode())
        c.shutdown(socket.SHUT_WR)
        data, eof = read_until(c, float(rest[1]))
        out.write(b"%d %s\n" % (len(data), b"eof" if eof else b"no-eof"))
    elif mode == "sendpeek":
        c.sendall(rest[0].encode())
        data, eof = read_until(c, float(rest[1]))
        out.write(b"%d %s\n" % (len(data), b"eof" if eof else b"no-eof"))
    elif mode == "hold":
        out.write(read_until(c, 10)[0])
    elif mode == "reset":
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
    else:
        sys.exit("client.py: unknown mode " + mode)
    out.flush()
    c.close()


if __name__ == "__main__":
    main()

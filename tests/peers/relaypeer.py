#!/usr/bin/env python3
"""Peers for the relay tests (tcp-serve --to, tests/60-relay.bats).

usage: relaypeer.py server ADDR MODE [ARGS]
       relaypeer.py client ADDR MODE [ARGS]

ADDR is a port file (the server binds 127.0.0.1, or ::1 with -6 before
it, port 0 and writes the port and a newline there atomically; the
client reads the port from it), or unix:PATH.  A server serves every
connection in a thread of its own until killed.

server modes:
  both FILE RESULT  send FILE then shut down writing, while reading to
                    EOF; write "N SHA256 HOW" to RESULT (HOW: eof, reset)
  sink RESULT       read to EOF, write "N SHA256 HOW" to RESULT
  replyeof          read to EOF, then send "got N SHA256\\n" and close
  rst               read a byte, then close with a reset (SO_LINGER 0)
  http BODY         answer each HTTP request with 200 and BODY, close
  full              accept nothing, with a full backlog: connects hang
  mux STATUS        first byte S: send without end, and write the bytes
                    sent so far to STATUS every 100 ms; E: echo

client modes:
  both FILE RESULT  as the server's both
  idle TEXT SECS    send TEXT, then read nothing for SECS
  rst TEXT          send TEXT, wait 0.2 s, close with a reset
  wait [TEXT]       send TEXT if given, read to EOF or error (10 s at
                    most); print "eof N" or "reset N" (N bytes read)
"""
import hashlib
import os
import socket
import struct
import sys
import threading
import time


def usage():
    sys.stderr.write(__doc__)
    sys.exit(2)


def write_atomic(path, data):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def read_all(c, deadline=10.0):
    """Read to EOF; return (bytes, sha256 hex, how)."""
    h, n, how = hashlib.sha256(), 0, "eof"
    c.settimeout(deadline)
    try:
        while True:
            b = c.recv(1 << 16)
            if not b:
                break
            h.update(b)
            n += len(b)
    except (ConnectionResetError, BrokenPipeError):
        how = "reset"
    except socket.timeout:
        how = "timeout"
    return n, h.hexdigest(), how


def send_file(c, path):
    def run():
        try:
            with open(path, "rb") as f:
                while True:
                    b = f.read(1 << 16)
                    if not b:
                        break
                    c.sendall(b)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def both(c, path, result):
    t = send_file(c, path)
    n, sha, how = read_all(c, 60)
    t.join(60)
    write_atomic(result, ("%d %s %s\n" % (n, sha, how)).encode())


def rst_close(c):
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


def http(c, body):
    req = b""
    c.settimeout(10)
    while b"\r\n\r\n" not in req:
        b = c.recv(4096)
        if not b:
            return
        req += b
    with open(body, "rb") as f:
        data = f.read()
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(data)
              + data)
    c.shutdown(socket.SHUT_WR)
    read_all(c, 5)


def mux(c, status):
    first = c.recv(1)
    if first == b"E":
        while True:
            b = c.recv(1 << 16)
            if not b:
                break
            c.sendall(b)
        return
    sent = [0]
    stop = threading.Event()

    def report():
        while not stop.wait(0.1):
            write_atomic(status, b"%d\n" % sent[0])
    threading.Thread(target=report, daemon=True).start()
    chunk = b"s" * 65536
    try:
        while True:
            sent[0] += c.send(chunk)
    except OSError:
        stop.set()


def serve_one(c, mode, args):
    try:
        if mode == "both":
            both(c, args[0], args[1])
        elif mode == "sink":
            n, sha, how = read_all(c)
            write_atomic(args[0], ("%d %s %s\n" % (n, sha, how)).encode())
        elif mode == "replyeof":
            n, sha, _ = read_all(c)
            c.sendall(b"got %d %s\n" % (n, sha.encode()))
        elif mode == "rst":
            c.recv(1)
            rst_close(c)
            return
        elif mode == "http":
            http(c, args[0])
        elif mode == "mux":
            mux(c, args[0])
    except OSError:
        pass
    c.close()


def full(addr):
    """Fill a backlog of 0 with our own connects; then answer nothing."""
    s = socket.socket(socket.AF_INET)
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    held = []
    for _ in range(3):
        c = socket.socket(socket.AF_INET)
        c.setblocking(False)
        c.connect_ex(s.getsockname())
        held.append(c)
    time.sleep(0.2)
    write_atomic(addr, b"%d\n" % s.getsockname()[1])
    while True:
        time.sleep(60)


def listener(addr, v6):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(addr[5:])
        s.listen(128)
        return s
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::1" if v6 else "127.0.0.1", 0))
    s.listen(128)
    write_atomic(addr, b"%d\n" % s.getsockname()[1])
    return s


def connect(addr):
    if addr.startswith("unix:"):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(addr[5:])
        return c
    with open(addr) as f:
        port = int(f.read())
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def client(addr, mode, args):
    c = connect(addr)
    c.settimeout(None)
    if mode == "both":
        both(c, args[0], args[1])
    elif mode == "idle":
        c.sendall(args[0].encode())
        time.sleep(float(args[1]))
    elif mode == "rst":
        c.sendall(args[0].encode())
        time.sleep(0.2)
        rst_close(c)
    elif mode == "wait":
        if args:
            c.sendall(args[0].encode())
        n, _, how = read_all(c)
        print("%s %d" % (how, n), flush=True)
    else:
        usage()


def main():
    a = sys.argv[1:]
    v6 = False
    if len(a) < 3:
        usage()
    role = a.pop(0)
    if a[0] == "-6":
        v6 = True
        a.pop(0)
    addr, mode, args = a[0], a[1], a[2:]
    if role == "client":
        client(addr, mode, args)
        return
    if role != "server":
        usage()
    if mode == "full":
        full(addr)
    s = listener(addr, v6)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve_one, args=(c, mode, args),
                         daemon=True).start()


if __name__ == "__main__":
    main()

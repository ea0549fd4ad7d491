#!/usr/bin/env python3
"""Peers for the proxy tests (tests/70-proxy.bats).

usage: proxypeer.py PORTFILE exchange N FILE RESULT
       proxypeer.py PORTFILE silent
       proxypeer.py PORTFILE banner TEXT

Each binds 127.0.0.1 port 0, writes the port and a newline to PORTFILE
atomically and accepts one connection, then:

  exchange  reads exactly N bytes while sending FILE, writes "N SHA256"
            of what it read to RESULT, then closes (for proxies that
            tear the tunnel down at a client's half-close)
  silent    accepts connections and never answers (a stuck proxy)
  banner    sends TEXT and a CRLF, then reads until EOF (an ssh server's
            first words)
"""
import hashlib
import os
import socket
import sys
import threading
import time


def write_atomic(path, data):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(data)
    os.rename(tmp, path)


def exchange(c, n, path, result):
    def send():
        with open(path, "rb") as f:
            c.sendall(f.read())
    t = threading.Thread(target=send)
    t.start()
    h, got = hashlib.sha256(), 0
    c.settimeout(10)
    while got < n:
        b = c.recv(min(65536, n - got))
        if not b:
            break
        h.update(b)
        got += len(b)
    t.join(10)
    write_atomic(result, "%d %s\n" % (got, h.hexdigest()))
    c.close()


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    write_atomic(sys.argv[1], "%d\n" % s.getsockname()[1])
    mode = sys.argv[2]
    if mode == "silent":
        held = []
        deadline = time.monotonic() + 60
        s.settimeout(1)
        while time.monotonic() < deadline:
            try:
                held.append(s.accept()[0])
            except socket.timeout:
                pass
        return
    c = s.accept()[0]
    if mode == "exchange":
        exchange(c, int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif mode == "banner":
        c.sendall(sys.argv[3].encode() + b"\r\n")
        c.settimeout(10)
        while c.recv(65536):
            pass


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""An SMTP-like one-connection server that rejects bare LF, as real ones do.

usage: smtp.py PORTFILE [RECORD]

It binds 127.0.0.1 port 0, writes the port to PORTFILE atomically, greets
with "220 ready", and answers each line: "500 bare LF" (then closes) if it
ends in LF without CR, "221 bye" (then closes) to QUIT, "250 ok" to
anything else.  With RECORD, every byte received is written there.
"""
import os
import socket
import sys


def main():
    pf = sys.argv[1]
    record = sys.argv[2] if len(sys.argv) > 2 else None
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    tmp = "%s.%d.tmp" % (pf, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(tmp, pf)
    s.settimeout(10)
    c, _ = s.accept()
    c.settimeout(10)
    c.sendall(b"220 ready\r\n")
    buf = b""
    got = b""
    while True:
        b = c.recv(4096)
        if not b:
            break
        got += b
        buf += b
        done = False
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.endswith(b"\r"):
                c.sendall(b"500 bare LF\r\n")
                done = True
                break
            if line[:-1].upper() == b"QUIT":
                c.sendall(b"221 bye\r\n")
                done = True
                break
            c.sendall(b"250 ok\r\n")
        if done:
            break
    if record:
        with open(record, "wb") as f:
            f.write(got)
    c.close()


main()

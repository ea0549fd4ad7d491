#!/usr/bin/env python3
"""Ports for the sockkit tests.

usage: ports.py free           print a port that was free a moment ago
       ports.py PORTFILE range hold P and P+2 listening and P+1 bound but
                               not listening (so closed) on 127.0.0.1;
                               write P to PORTFILE; wait to be killed
"""
import os
import signal
import socket
import sys


def bound(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", port))
    return s


def main():
    if sys.argv[1] == "free":
        s = bound(0)
        print(s.getsockname()[1])
        s.close()
        return
    for _ in range(100):
        a = bound(0)
        p = a.getsockname()[1]
        try:
            b, c = bound(p + 1), bound(p + 2)
        except OSError:
            a.close()
            continue
        a.listen(8)
        c.listen(8)
        tmp = "%s.%d.tmp" % (sys.argv[1], os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % p)
        os.rename(tmp, sys.argv[1])
        signal.pause()
    sys.exit("ports.py: no three free ports in a row")


if __name__ == "__main__":
    main()

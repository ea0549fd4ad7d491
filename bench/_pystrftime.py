#!/usr/bin/env python3
"""A straightforward Python UDP strftime server, the baseline for bench/time.py.

usage: _pystrftime.py PORTFILE   (binds 127.0.0.1 port 0, writes the port)
"""
import os
import socket
import sys
import time

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(tmp, sys.argv[1])
while True:
    data, addr = s.recvfrom(1024)
    fmt = data.decode("utf-8", "replace").rstrip("\r\n") or "%Y-%m-%d %X"
    s.sendto(time.strftime(fmt).encode()[:512], addr)

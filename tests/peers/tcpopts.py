#!/usr/bin/env python3
"""Print the TCP options of another process's connected TCP sockets.

usage: tcpopts.py PID

For each connected TCP socket of PID (taken with pidfd_getfd(2), which
needs the right to ptrace PID) print one line:

  keepalive=0|1 idle=N intvl=N cnt=N nodelay=0|1

Exits 77 if the sockets cannot be taken (no pidfd_getfd, no permission).
"""
import ctypes
import os
import socket
import sys

SYS_PIDFD_GETFD = 438


def main():
    pid = int(sys.argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        pidfd = os.pidfd_open(pid)
    except OSError as e:
        print("pidfd_open: %s" % e, file=sys.stderr)
        sys.exit(77)
    found = 0
    for name in sorted(os.listdir("/proc/%d/fd" % pid), key=int):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except OSError:
            continue
        if not link.startswith("socket:"):
            continue
        fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(name), 0)
        if fd < 0:
            print("pidfd_getfd: %s" % os.strerror(ctypes.get_errno()),
                  file=sys.stderr)
            sys.exit(77)
        s = socket.socket(fileno=fd)
        try:
            if s.type != socket.SOCK_STREAM or s.family not in (
                    socket.AF_INET, socket.AF_INET6):
                continue
            try:
                s.getpeername()
            except OSError:
                continue
            g = lambda lvl, opt: s.getsockopt(lvl, opt)
            print("keepalive=%d idle=%d intvl=%d cnt=%d nodelay=%d" % (
                g(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0,
                g(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                g(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                g(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                g(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0))
            found += 1
        finally:
            s.close()
    sys.exit(0 if found else 1)


main()

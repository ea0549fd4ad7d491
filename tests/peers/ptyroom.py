#!/usr/bin/env python3
"""A chat room whose host terminal is never read; stdlib only, loopback only.

usage: ptyroom.py SK N LEN [noread]

Runs "SK chat -l 127.0.0.1 0" with standard input and output on a pty
whose master is not read, then: a reader and a sender join; the sender
sends N lines of LEN bytes and "done"; the reader must get them all.
Then a newcomer must get its welcome.  Then "/quit" is typed on the
terminal and the terminal is read until the room exits (with "noread",
never read: the room must give up on it and exit within 20 s).  Prints
"N lines", "welcome", "exit STATUS"; exits 1 at the first step that does
not happen within 10 s.
"""
import os
import pty
import socket
import subprocess
import sys
import tempfile
import time
import tty

WAIT = 10.0


def recv_until(s, want, deadline):
    buf = b""
    while want not in buf:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            b = s.recv(1 << 20)
        except socket.timeout:
            return None
        if not b:
            return None
        buf = buf[-len(want):] + b if len(buf) > 1 << 20 else buf + b
    return buf


def main(sk, n, linelen, noread=False):
    master, slave = pty.openpty()
    tty.setraw(slave)
    d = tempfile.mkdtemp()
    pf = os.path.join(d, "port")
    p = subprocess.Popen([sk, "chat", "-l", "127.0.0.1", "0",
                          "--port-file", pf], stdin=slave, stdout=slave,
                         stderr=open(os.path.join(d, "err"), "w"),
                         close_fds=True)
    os.close(slave)
    try:
        deadline = time.monotonic() + WAIT
        while not (os.path.exists(pf) and os.path.getsize(pf) > 0):
            if time.monotonic() > deadline or p.poll() is not None:
                print("ptyroom: no port", file=sys.stderr)
                return 1
            time.sleep(0.02)
        port = int(open(pf).read())
        reader = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        if recv_until(reader, b"* welcome", time.monotonic() + WAIT) is None:
            print("ptyroom: reader: no welcome", file=sys.stderr)
            return 1
        sender = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        line = b"y" * linelen + b"\n"
        sender.sendall(line * n + b"done\n")
        if recv_until(reader, b"> done\n", time.monotonic() + WAIT) is None:
            print("ptyroom: the reader did not get all the lines",
                  file=sys.stderr)
            return 1
        print("%d lines" % n)
        new = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        if recv_until(new, b"* welcome", time.monotonic() + 2) is None:
            print("ptyroom: no welcome within 2 s", file=sys.stderr)
            return 1
        print("welcome")
        os.write(master, b"/quit\n")
        # Now read the terminal, so that what the room queued is written.
        deadline = time.monotonic() + (2 * WAIT if noread else WAIT)
        os.set_blocking(master, False)
        while p.poll() is None and time.monotonic() < deadline:
            try:
                if noread:
                    raise BlockingIOError
                os.read(master, 1 << 16)
            except (BlockingIOError, OSError):
                time.sleep(0.01)
        if p.poll() is None:
            print("ptyroom: /quit did not end the room", file=sys.stderr)
            return 1
        print("exit %d" % p.returncode)
        return 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        sys.stderr.write(open(os.path.join(d, "err")).read())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                  sys.argv[4:] == ["noread"]))

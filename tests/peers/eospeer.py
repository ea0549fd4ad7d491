#!/usr/bin/env python3
"""End-of-stream peers for the sockkit tests (SPEC.md, End of stream).

usage: eospeer.py server PORTFILE MODE [OPTIONS]
       eospeer.py client HOST PORT MODE [OPTIONS]
       eospeer.py tty [--type TEXT --after FILE] SECS CMD [ARG...]

The server binds 127.0.0.1 port 0, writes the port and a newline to
PORTFILE atomically and accepts one connection; the client connects to
HOST PORT. Either then plays MODE:

  sink RESULT     read to EOF (at most 10 s) and write "N SHA256 HOW" to
                  RESULT, HOW being eof, reset or timeout
  readclose N     read N bytes, then close with the rest unread (the
                  kernel answers it with a reset)
  spew SIZE RESULT
                  send SIZE bytes of "spew\\n" lines, then shut down
                  writing, while reading to EOF as sink does
  trickle RESULT  send "x\\n" every 50 ms until the connection fails,
                  while reading to EOF as sink does

  --send FILE     first send FILE's contents
  --halfclose     shut down writing at once (after --send)
  --sleep SECS    then read nothing for SECS
  --rst           close with a reset (SO_LINGER 0) instead (readclose)

tty runs CMD with a new pseudo-terminal as its stdin (stdout and stderr
are inherited) and exits with CMD's status (128 + signal if killed by
one), or 124, killing CMD, if it has not exited within SECS. With
--type, once FILE is not empty, TEXT (Python escapes) is typed, then an
end-of-file (^D) at the start of a line.
"""
import hashlib
import os
import socket
import struct
import subprocess
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


def sink(c, result):
    h, n, how = hashlib.sha256(), 0, "timeout"
    deadline = time.monotonic() + 10
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            c.settimeout(left)
            b = c.recv(1 << 20)
            if not b:
                how = "eof"
                break
            h.update(b)
            n += len(b)
    except ConnectionResetError:
        how = "reset"
    except socket.timeout:
        pass
    write_atomic(result, ("%d %s %s\n" % (n, h.hexdigest(), how)).encode())


def spew(c, size):
    line = b"spew\n" * 13107
    try:
        while size > 0:
            chunk = line[:size]
            c.sendall(chunk)
            size -= len(chunk)
        c.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def trickle(c):
    try:
        while True:
            c.sendall(b"x\n")
            time.sleep(0.05)
    except OSError:
        pass


def readclose(c, n, rst):
    c.settimeout(10)
    got = 0
    while got < n:
        b = c.recv(min(65536, n - got))
        if not b:
            break
        got += len(b)
    if rst:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))


def play(c, mode, args):
    opts = {"--send": None, "--halfclose": False, "--sleep": "0",
            "--rst": False}
    rest = []
    while args:
        a = args.pop(0)
        if a in ("--halfclose", "--rst"):
            opts[a] = True
        elif a in opts:
            opts[a] = args.pop(0)
        else:
            rest.append(a)
    if opts["--send"]:
        with open(opts["--send"], "rb") as f:
            c.sendall(f.read())
    if opts["--halfclose"]:
        c.shutdown(socket.SHUT_WR)
    time.sleep(float(opts["--sleep"]))
    if mode == "sink" and len(rest) == 1:
        sink(c, rest[0])
    elif mode == "readclose" and len(rest) == 1:
        readclose(c, int(rest[0]), opts["--rst"])
    elif mode == "spew" and len(rest) == 2:
        t = threading.Thread(target=spew, args=(c, int(rest[0])))
        t.start()
        sink(c, rest[1])
        t.join()
    elif mode == "trickle" and len(rest) == 1:
        threading.Thread(target=trickle, args=(c,), daemon=True).start()
        sink(c, rest[0])
    else:
        usage()
    c.close()


def tty(args):
    text, after = None, None
    while args and args[0].startswith("--"):
        if args[0] == "--type":
            text = args[1].encode("latin-1").decode("unicode_escape")
        elif args[0] == "--after":
            after = args[1]
        else:
            usage()
        args = args[2:]
    secs, cmd = float(args[0]), args[1:]
    master, slave = os.openpty()
    p = subprocess.Popen(cmd, stdin=slave)
    os.close(slave)
    # Whatever the terminal echoes is read and dropped, so it never fills.
    threading.Thread(target=lambda: drain(master), daemon=True).start()
    deadline = time.monotonic() + secs
    if text is not None:
        while not (os.path.exists(after) and os.path.getsize(after)):
            if p.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        os.write(master, text.encode("latin-1") + b"\x04")
    try:
        rc = p.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        sys.stderr.write("eospeer.py: %s still running after %gs\n" %
                         (cmd[0], secs))
        sys.exit(124)
    sys.exit(128 - rc if rc < 0 else rc)


def drain(fd):
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass


def main():
    args = sys.argv[1:]
    if not args:
        usage()
    if args[0] == "tty" and len(args) >= 3:
        tty(args[1:])
    elif args[0] == "server" and len(args) >= 3:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        write_atomic(args[1], b"%d\n" % ls.getsockname()[1])
        ls.settimeout(10)
        c, _ = ls.accept()
        ls.close()
        play(c, args[2], args[3:])
    elif args[0] == "client" and len(args) >= 4:
        c = socket.create_connection((args[1], int(args[2])), timeout=10)
        play(c, args[3], args[4:])
    else:
        usage()


if __name__ == "__main__":
    main()

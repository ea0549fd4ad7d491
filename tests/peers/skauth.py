#!/usr/bin/env python3
"""An independent SKAUTH1 peer for the tests (SPEC.md, Authentication).

    skauth.py client HOST PORT KEYFILE [--bad-proof|--silence|--garbage|
                                        --reset]
    skauth.py server PORTFILE KEYFILE [--bad-proof|--silence|--garbage]

The server binds 127.0.0.1 port 0, writes the port and a newline to
PORTFILE atomically and serves one connection. After the handshake each
side sends its stdin, half-closes, and writes what it receives to stdout.
--bad-proof sends a wrong HMAC, --silence sends nothing, --garbage sends
junk instead of the handshake; then the peer waits for the other side to
close. --reset (client only) sends its proof and at once resets the
connection (SO_LINGER 0), then exits 0. Exit 0 on success, 1 with "authentication failed" on stderr when
the handshake fails or the other side closes, 2 on a usage error or when
the other side has not closed within 10 seconds.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import threading

MAGIC = b"SKAUTH1\n"
GARBAGE = b"GET / HTTP/1.0\r\n\r\n" + b"\xff" * 64


def mac(key, label, first, second):
    return hmac.new(key, label + first + second, hashlib.sha256).digest()


def recv_exact(sock, n):
    """Read exactly n bytes, never more: what follows is stream data."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def spoil(proof, how):
    return bytes([proof[0] ^ 1]) + proof[1:] if how == "--bad-proof" else proof


def client(sock, key, how):
    if how == "--garbage":
        sock.sendall(GARBAGE)
        return False
    greeting = recv_exact(sock, 40)
    if greeting[:8] != MAGIC:
        return False
    ns, nc = greeting[8:], os.urandom(32)
    if how == "--silence":
        return False
    sock.sendall(nc + spoil(mac(key, b"client", ns, nc), how))
    if how == "--reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        sock.close()
        sys.exit(0)
    return hmac.compare_digest(recv_exact(sock, 32),
                               mac(key, b"server", nc, ns))


def server(sock, key, how):
    if how == "--garbage":
        sock.sendall(GARBAGE)
        return False
    if how == "--silence":
        return False
    ns = os.urandom(32)
    sock.sendall(MAGIC + ns)
    msg = recv_exact(sock, 64)
    nc = msg[:32]
    if how != "--bad-proof" and not hmac.compare_digest(
            msg[32:], mac(key, b"client", ns, nc)):
        return False
    sock.sendall(spoil(mac(key, b"server", nc, ns), how))
    return how is None


def send_stdin(sock):
    try:
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def relay(sock):
    t = threading.Thread(target=send_stdin, args=(sock,), daemon=True)
    t.start()
    while True:
        data = sock.recv(65536)
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    t.join()


def wait_close(sock):
    """After misbehaving, wait for the other side to drop us."""
    sock.settimeout(10)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        print("skauth: other side did not close", file=sys.stderr)
        sys.exit(2)
    except OSError:
        pass


def connect(args):
    if args[0] == "client":
        return socket.create_connection((args[1], int(args[2]))), args[3]
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    tmp = args[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.rename(tmp, args[1])
    sock, _ = lsock.accept()
    lsock.close()
    return sock, args[2]


def main():
    args = sys.argv[1:]
    how = args.pop() if args and args[-1].startswith("--") else None
    want = {"client": 4, "server": 3}
    if not args or want.get(args[0]) != len(args) or how not in (
            None, "--bad-proof", "--silence", "--garbage", "--reset") or (
            how == "--reset" and args[0] != "client"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    sock, keyfile = connect(args)
    with open(keyfile, "rb") as f:
        key = f.read()
    key = key[:-1] if key.endswith(b"\n") else key
    role = client if args[0] == "client" else server
    try:
        good = role(sock, key, how)
    except (EOFError, ConnectionError):
        good = False
    if how is not None:
        wait_close(sock)
    if not good:
        print("authentication failed", file=sys.stderr)
        sys.exit(1)
    relay(sock)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""TLS peers with exact control of close_notify, for tests/55-tls.bats.

usage: tlspeer.py server PORTFILE [OPTIONS] STEP...
       tlspeer.py client HOST PORT [OPTIONS] STEP...
       tlspeer.py raw HOST PORT RESULT [BYTES]

The server binds 127.0.0.1 (--host) port 0, writes the port and a
newline to PORTFILE atomically and serves one connection; the client
connects to HOST PORT.  TLS runs over memory BIOs, so the raw socket
stays ours: a close_notify and a TCP FIN are separate steps.  After the
handshake the STEPs run in order:

  recv:RESULT     read until the peer's end (at most 10 s) and write
                  "N SHA256 HOW" to RESULT: HOW is close_notify (the
                  peer's TLS end), fin (a TCP EOF without close_notify),
                  reset, timeout or error:REASON
  send:FILE       send FILE's contents (16 KiB records)
  notify          send close_notify (without waiting for the peer's)
  fin             shutdown(SHUT_WR) on the raw socket, no close_notify
  drain           read and discard raw bytes until TCP EOF (at most 10 s)
  sleep:SECS      do nothing for SECS
  readn:N:FILE    read exactly N bytes of data (at most 10 s) into FILE
  ticket:FILE     client: write "ticket yes" or "ticket no" to FILE:
                  whether the server sent a TLS 1.3 session ticket

then the socket is closed.  A failed handshake writes "handshake
REASON" to the --result file (if given) and exits 1.

raw is no TLS at all: connect, send BYTES (Python escapes, e.g.
'GET / HTTP/1.0\\r\\n\\r\\n') if given, then read until the server closes
(at most 15 s) and write "eof SECS N" (or "reset SECS N", "timeout SECS
N") to RESULT: the seconds from connect to the close and the number of
bytes the server sent.

  --cert FILE --key FILE  our certificate and key (a server needs them)
  --ca FILE       verify the peer against FILE (client: with hostname
                  check against --name; server: require a client cert)
  --name NAME     client: server_hostname (SNI and, with --ca, the name
                  checked); default none
  --sni FILE      server: write the SNI name the client sent, or
                  "none", to FILE
  --tickets N     server: TLS 1.3 session tickets to send (default 2)
  --result FILE   write "handshake ok VERSION" or "handshake REASON"
  --host ADDR     server: bind ADDR instead of 127.0.0.1
"""
import hashlib
import os
import socket
import ssl
import sys
import time


def usage():
    sys.stderr.write(__doc__)
    sys.exit(2)


def write_atomic(path, text):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


class Tls:
    def __init__(self, sock, ctx, server_side, name):
        self.sock = sock
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=server_side,
                                server_hostname=name)
        self.tcp_eof = False

    def flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        data = self.sock.recv(1 << 16)
        if data:
            self.inc.write(data)
        else:
            self.tcp_eof = True
            self.inc.write_eof()

    def handshake(self):
        deadline = time.monotonic() + 10
        while True:
            try:
                self.obj.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                if self.tcp_eof:
                    raise ssl.SSLEOFError("EOF in handshake")
                self.fill(deadline)

    def recv(self):
        """Read to the peer's end: (count, sha256 hex, how)."""
        h, n = hashlib.sha256(), 0
        deadline = time.monotonic() + 10
        how = "timeout"
        try:
            while True:
                try:
                    data = self.obj.read(1 << 16)
                except ssl.SSLWantReadError:
                    self.flush()
                    if self.tcp_eof:
                        how = "fin"
                        break
                    self.fill(deadline)
                    continue
                if not data:
                    # the peer's close_notify (SSL_ERROR_ZERO_RETURN)
                    how = "close_notify"
                    break
                h.update(data)
                n += len(data)
        except ssl.SSLZeroReturnError:
            how = "close_notify"
        except ssl.SSLEOFError:
            how = "fin"
        except ConnectionResetError:
            how = "reset"
        except socket.timeout:
            how = "timeout"
        except ssl.SSLError as e:
            how = "error:%s" % (e.reason or e)
        self.flush()
        return n, h.hexdigest(), how

    def send(self, data):
        for i in range(0, len(data), 16384):
            self.obj.write(data[i:i + 16384])
            self.flush()

    def notify(self):
        try:
            self.obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass
        self.flush()

    def readn(self, count):
        buf = b""
        deadline = time.monotonic() + 10
        while len(buf) < count:
            try:
                buf += self.obj.read(count - len(buf))
            except ssl.SSLWantReadError:
                self.flush()
                if self.tcp_eof:
                    break
                self.fill(deadline)
        return buf

    def drain(self):
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(deadline - time.monotonic())
                if not self.sock.recv(1 << 16):
                    return
        except OSError:
            pass


def raw(host, port, result, data):
    t0 = time.monotonic()
    s = socket.create_connection((host, int(port)), timeout=10)
    if data:
        s.sendall(data.encode("latin-1").decode("unicode_escape")
                  .encode("latin-1"))
    n, how = 0, "timeout"
    deadline = t0 + 15
    try:
        while time.monotonic() < deadline:
            s.settimeout(deadline - time.monotonic())
            b = s.recv(1 << 16)
            if not b:
                how = "eof"
                break
            n += len(b)
    except ConnectionResetError:
        how = "reset"
    except socket.timeout:
        pass
    write_atomic(result, "%s %.2f %d\n" % (how, time.monotonic() - t0, n))


def main():
    args = sys.argv[1:]
    if args and args[0] == "raw":
        if len(args) not in (4, 5):
            usage()
        raw(args[1], args[2], args[3], args[4] if len(args) == 5 else "")
        return
    if not args or args[0] not in ("server", "client"):
        usage()
    role = args.pop(0)
    if role == "server":
        if not args:
            usage()
        portfile = args.pop(0)
    else:
        if len(args) < 2:
            usage()
        host, port = args.pop(0), int(args.pop(0))
    opts = {"tickets": "2", "host": "127.0.0.1"}
    steps = []
    while args:
        a = args.pop(0)
        if a.startswith("--"):
            if not args:
                usage()
            opts[a[2:]] = args.pop(0)
        else:
            steps.append(a)

    if role == "server":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.num_tickets = int(opts["tickets"])
        if "ca" in opts:
            ctx.load_verify_locations(opts["ca"])
            ctx.verify_mode = ssl.CERT_REQUIRED
        sni = opts.get("sni")
        if sni:
            def record(obj, name, c):
                write_atomic(sni, "%s\n" % (name if name else "none"))
            ctx.sni_callback = record
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if "ca" in opts:
            ctx.load_verify_locations(opts["ca"])
            ctx.check_hostname = "name" in opts
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    if "cert" in opts:
        ctx.load_cert_chain(opts["cert"], opts.get("key"))

    if role == "server":
        fam = socket.AF_INET6 if ":" in opts["host"] else socket.AF_INET
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((opts["host"], 0))
        ls.listen(1)
        write_atomic(portfile, "%d\n" % ls.getsockname()[1])
        ls.settimeout(20)
        sock, _ = ls.accept()
        ls.close()
    else:
        sock = socket.create_connection((host, port), timeout=10)

    tls = Tls(sock, ctx, role == "server", opts.get("name"))
    result = opts.get("result")
    try:
        tls.handshake()
    except (ssl.SSLError, OSError) as e:
        reason = getattr(e, "reason", None) or type(e).__name__
        if result:
            write_atomic(result, "handshake %s\n" % reason)
        sys.stderr.write("tlspeer: handshake: %s\n" % e)
        sock.close()
        sys.exit(1)
    if result:
        write_atomic(result, "handshake ok %s\n" % tls.obj.version())

    for step in steps:
        verb, _, arg = step.partition(":")
        if verb == "recv":
            n, digest, how = tls.recv()
            write_atomic(arg, "%d %s %s\n" % (n, digest, how))
        elif verb == "send":
            with open(arg, "rb") as f:
                tls.send(f.read())
        elif verb == "notify":
            tls.notify()
        elif verb == "fin":
            sock.shutdown(socket.SHUT_WR)
        elif verb == "drain":
            tls.drain()
        elif verb == "readn":
            count, _, path = arg.partition(":")
            with open(path, "wb") as f:
                f.write(tls.readn(int(count)))
        elif verb == "ticket":
            session = tls.obj.session
            write_atomic(arg, "ticket %s\n" % (
                "yes" if session is not None and session.has_ticket
                else "no"))
        elif verb == "sleep":
            time.sleep(float(arg))
        else:
            usage()
    sock.close()


if __name__ == "__main__":
    main()

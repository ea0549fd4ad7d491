#!/usr/bin/env python3
"""A checking client for sockkit timeserver; standard library only.

usage: tsclient.py MODE [options] PORT [ARG...]

modes:
  udp PORT REQ...      send each REQ (backslash escapes allowed) as one
                       datagram, print each reply (repr with --repr)
  tcp PORT REQ...      connect, send each REQ as one write, half-close,
                       print everything received
  count PORT N         send N datagrams at once, then count the replies
                       that come within --wait seconds; print the count
  ntp PORT             send an SNTPv4 request and check the reply; print
                       "stratum=N version=V refid=R offset=S"
  ntp-garbage PORT     send bad NTP packets, then a good one; print how
                       many replies came and check it was the good one
  rfc868 PORT          ask for RFC 868 time; check 4 bytes, now; print "ok"
  idle PORT            connect, send nothing, wait for the server to close
  timecheck PORT OFF   ask for "%s" and "%Y-%m-%d %H:%M:%S"; check the
                       second is the first seen OFF seconds east of UTC
                       and both are now (2 s tolerance); print "ok"

options: --host H (default 127.0.0.1), --bind ADDR (source address),
--unix PATH (Unix datagram server; the client binds a temporary path),
--timeout S (default 5), --wait S (count: default 1), --repr, --version V,
--connect (connected UDP socket: replies only from the address asked)
"""
import argparse
import calendar
import os
import socket
import struct
import sys
import tempfile
import time

NTP_EPOCH = 2208988800


def unescape(s):
    return s.encode("utf-8").decode("unicode_escape").encode("latin-1")


def udp_socket(a):
    if a.unix:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        d = tempfile.mkdtemp()
        s.bind(os.path.join(d, "client.sock"))
        return s, a.unix
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if a.bind:
        s.bind((a.bind, 0))
    return s, (a.host, a.port)


def ask(a, req):
    s, dst = udp_socket(a)
    s.settimeout(a.timeout)
    if a.connect:
        # A connected socket takes replies only from the address asked.
        s.connect(dst)
        s.send(req)
    else:
        s.sendto(req, dst)
    data, _ = s.recvfrom(4096)
    s.close()
    return data


def mode_udp(a):
    for r in a.args:
        data = ask(a, unescape(r))
        print(repr(data) if a.repr else data.decode("utf-8", "replace"),
              flush=True)


def mode_tcp(a):
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    for r in a.args:
        s.sendall(unescape(r))
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    sys.stdout.write(repr(out) + "\n" if a.repr else
                     out.decode("utf-8", "replace"))


def mode_count(a):
    s, dst = udp_socket(a)
    n = int(a.args[0])
    for i in range(n):
        s.sendto(b"%s", dst)
    got = 0
    s.settimeout(a.wait)
    try:
        while True:
            s.recvfrom(4096)
            got += 1
    except socket.timeout:
        pass
    print(got)


def ntp_request(version):
    tx = time.time() + NTP_EPOCH
    txts = (int(tx) << 32) | int((tx % 1) * (1 << 32))
    pkt = bytes([version << 3 | 3, 0, 6, 0xec]) + bytes(36)
    return pkt + struct.pack("!Q", txts), txts


def ntp_check(a, data, txts, version):
    if len(data) != 48:
        sys.exit("reply of %d bytes, not 48" % len(data))
    li_vn_mode, stratum = data[0], data[1]
    if li_vn_mode & 7 != 4 or (li_vn_mode >> 3) & 7 != version:
        sys.exit("bad mode or version: %#x" % li_vn_mode)
    if li_vn_mode >> 6 != 0:
        sys.exit("leap indicator %d" % (li_vn_mode >> 6))
    origin, = struct.unpack("!Q", data[24:32])
    if origin != txts:
        sys.exit("origin %x is not our transmit %x" % (origin, txts))
    rx, tx = struct.unpack("!QQ", data[32:48])
    off = tx / (1 << 32) - NTP_EPOCH - time.time()
    if abs(off) > 2 or rx > tx:
        sys.exit("bad timestamps: offset %f" % off)
    print("stratum=%d version=%d refid=%s offset=%s" % (
        stratum, version, data[12:16].decode("ascii", "replace"),
        "small" if abs(off) < 0.5 else "%.3f" % off))


def mode_ntp(a):
    req, txts = ntp_request(a.version)
    ntp_check(a, ask(a, req), txts, a.version)


def mode_ntp_garbage(a):
    s, dst = udp_socket(a)
    good, txts = ntp_request(4)
    bad = [b"", b"x", good[:47], bytes([4 << 3 | 4]) + good[1:],
           bytes([0 << 3 | 3]) + good[1:], bytes([7 << 3 | 3]) + good[1:],
           bytes([4 << 3 | 5]) + os.urandom(47)]
    for b in bad:
        s.sendto(b, dst)
    s.sendto(good, dst)
    s.settimeout(a.timeout)
    data, _ = s.recvfrom(4096)
    ntp_check(a, data, txts, 4)
    s.settimeout(0.5)
    extra = 0
    try:
        while True:
            s.recvfrom(4096)
            extra += 1
    except socket.timeout:
        pass
    print("extra=%d" % extra)


def mode_rfc868(a):
    data = ask(a, b"\n")
    if len(data) != 4:
        sys.exit("reply of %d bytes, not 4" % len(data))
    t, = struct.unpack("!I", data)
    now = (int(time.time()) + NTP_EPOCH) % (1 << 32)
    if abs(t - now) > 2:
        sys.exit("time %d, expected %d" % (t, now))
    print("ok")


def mode_idle(a):
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    t0 = time.monotonic()
    if s.recv(1) != b"":
        sys.exit("data from the server")
    print("closed after %.1f s" % (time.monotonic() - t0))


def mode_timecheck(a):
    off = float(a.args[0])
    epoch = int(ask(a, b"%s"))
    now = time.time()
    if abs(epoch - now) > 2:
        sys.exit("%%s gave %d, now is %.0f" % (epoch, now))
    text = ask(a, b"%Y-%m-%d %H:%M:%S").decode()
    local = calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))
    if abs(local - off - now) > 2:
        sys.exit("%s is %.0f s from UTC now, expected %.0f" % (
            text, local - now, off))
    print("ok")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--bind")
    p.add_argument("--unix")
    p.add_argument("--timeout", type=float, default=5)
    p.add_argument("--wait", type=float, default=1)
    p.add_argument("--version", type=int, default=4)
    p.add_argument("--repr", action="store_true")
    p.add_argument("--connect", action="store_true")
    p.add_argument("port")
    p.add_argument("args", nargs="*")
    a = p.parse_args()
    a.port = int(a.port) if not a.unix else 0
    modes = {"udp": mode_udp, "tcp": mode_tcp, "count": mode_count,
             "ntp": mode_ntp, "ntp-garbage": mode_ntp_garbage,
             "timecheck": mode_timecheck, "rfc868": mode_rfc868,
             "idle": mode_idle}
    if a.mode not in modes:
        p.error("unknown mode " + a.mode)
    try:
        modes[a.mode](a)
    except socket.timeout:
        sys.exit("tsclient: timed out waiting for a reply")


if __name__ == "__main__":
    main()

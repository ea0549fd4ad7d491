#!/usr/bin/env python3
"""Check a sockkit --hexdump file and print the bytes of one direction.

usage: hexdump.py FILE DIR [PEER]

DIR is '>' (sent to the peer) or '<' (received).  Every record must be a
header "YYYY-MM-DDTHH:MM:SS.ffffffZ D PEER: N bytes at OFF" followed by
its hex lines "D OFFSET  hex...  |ascii|" whose bytes, offsets and ASCII
column agree; offsets of a direction (of one PEER) must follow on.  The
bytes of direction DIR (for PEER if given) go to stdout; exit 1 with a
reason on the first thing that does not match.
"""
import re
import sys

HEAD = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) ([<>]) (.+): "
                  r"(\d+) bytes at (\d+)$")
LINE = re.compile(r"^([<>]) ([0-9a-f]{8}) ((?: [ 0-9a-f]{2}){8} "
                  r"(?: [ 0-9a-f]{2}){8})  \|(.*)\|$")


def fail(n, why, line):
    sys.exit("hexdump.py: line %d: %s: %r" % (n, why, line))


def main():
    path, want = sys.argv[1], sys.argv[2]
    peer = sys.argv[3] if len(sys.argv) > 3 else None
    offs = {}
    out = bytearray()
    lines = open(path, "rb").read().decode("latin-1").split("\n")
    if lines[-1] != "":
        fail(len(lines), "no final newline", lines[-1])
    i, n = 0, len(lines) - 1
    while i < n:
        m = HEAD.match(lines[i])
        if not m:
            fail(i + 1, "not a header", lines[i])
        d, who, count, off = m.group(2), m.group(3), int(m.group(4)), \
            int(m.group(5))
        if offs.get((d, who), 0) != off:
            fail(i + 1, "offset %d, expected %d" % (off, offs.get((d, who), 0)),
                 lines[i])
        i += 1
        got = bytearray()
        while len(got) < count:
            m = LINE.match(lines[i]) if i < n else None
            if not m or m.group(1) != d or int(m.group(2), 16) != off + len(got):
                fail(i + 1, "bad hex line", lines[i] if i < n else "")
            b = bytes.fromhex(m.group(3))
            asc = "".join(chr(c) if 32 <= c < 127 else "." for c in b)
            if asc != m.group(4) or len(b) > 16:
                fail(i + 1, "ASCII column does not match", lines[i])
            got += b
            i += 1
        if len(got) != count:
            fail(i, "byte count %d, header says %d" % (len(got), count), "")
        offs[(d, who)] = off + count
        if d == want and (peer is None or peer == who):
            out += got
    sys.stdout.buffer.write(out)


main()

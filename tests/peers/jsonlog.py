#!/usr/bin/env python3
"""Check the --log json lines of a sockkit stderr file and summarise them.

usage: jsonlog.py FILE

Every line of FILE that starts with '{' must be one JSON object with a
"time" (UTC, ISO 8601, milliseconds), an "event" and a "peer"
(HOST:PORT); a "close" or "leave" event must have integer "sent",
"received" and "duration_ms" (>= 0) and a "reason".  For each event one
line goes to stdout:

  EVENT HOST SENT RECEIVED REASON STATUS NICK

with '-' for what the event does not have.  Exit 1 on the first line
that does not match.
"""
import json
import re
import sys


def main():
    for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
        if not line.startswith("{"):
            continue
        try:
            e = json.loads(line)
        except ValueError as x:
            sys.exit("jsonlog.py: line %d: %s: %r" % (n, x, line))
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
                            e.get("time", "")):
            sys.exit("jsonlog.py: line %d: bad time: %r" % (n, line))
        m = re.fullmatch(r"(.+):(\d+)", e.get("peer", ""))
        if not m or "event" not in e:
            sys.exit("jsonlog.py: line %d: no event or peer: %r" % (n, line))
        if e["event"] in ("close", "leave"):
            for k in ("sent", "received", "duration_ms"):
                if not isinstance(e.get(k), int) or e[k] < 0:
                    sys.exit("jsonlog.py: line %d: bad %s: %r" % (n, k, line))
            if not isinstance(e.get("reason"), str):
                sys.exit("jsonlog.py: line %d: no reason: %r" % (n, line))
        print(" ".join(str(e.get(k, "-")) for k in (
            "event",)) + " " + m.group(1) + " " + " ".join(
            str(e.get(k, "-")) for k in ("sent", "received", "reason",
                                         "status", "nick")))


main()

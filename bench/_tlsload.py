#!/usr/bin/env python3
"""TLS echo load for bench/tls.py: N concurrent clients, asyncio + ssl.

Not a scenario (the leading "_" keeps bench/run.sh from running it).

    python3 bench/_tlsload.py PORT PIN CLIENTS SIZE TIMEOUT

Opens CLIENTS TLS connections to 127.0.0.1:PORT at once, checks each
server certificate against PIN ("SHA256:<hex>" of the DER certificate, as
sockkit prints it), sends SIZE random bytes on each, and reads them back.
Every connection then stays open and idle.  When all are done (or TIMEOUT
seconds have passed) it prints one line

    READY {"ok": ..., "failed": ..., "setup_s": ..., ...}

and waits for a line (or EOF) on stdin; then it closes every connection
(close_notify; asyncio waits for the server's, bounded), and prints

    DONE {"closed_clean": ..., "close_s": ...}

Raises RLIMIT_NOFILE to its hard limit first.  Python 3 standard library.
"""

import asyncio
import hashlib
import json
import os
import resource
import ssl
import sys
import time

HOST = "127.0.0.1"


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


class Client:
    def __init__(self):
        self.reader = None
        self.writer = None
        self.t_hs = None        # handshake done, seconds since start
        self.t_echo = None      # echo complete
        self.err = None


async def one(c, port, pin, size, ctx, t0):
    payload = os.urandom(size)
    try:
        c.reader, c.writer = await asyncio.open_connection(
            HOST, port, ssl=ctx, server_hostname=None,
            ssl_handshake_timeout=60)
        c.t_hs = time.monotonic() - t0
        sslobj = c.writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True)
        got = "SHA256:" + hashlib.sha256(der).hexdigest()
        if got.lower() != pin.lower():
            raise RuntimeError("pin mismatch: %s" % got)
        c.version = sslobj.version()
        c.cipher = sslobj.cipher()[0]
        c.writer.write(payload)
        await c.writer.drain()
        back = await c.reader.readexactly(size)
        if back != payload:
            raise RuntimeError("echo differs")
        c.t_echo = time.monotonic() - t0
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError,
            asyncio.TimeoutError, RuntimeError) as e:
        c.err = "%s: %s" % (type(e).__name__, e)


async def close_one(c):
    """close_notify, then the server's (asyncio waits for it); True if
    that happened without an error within 10 s."""
    if c.writer is None:
        return False
    try:
        c.writer.close()
        await asyncio.wait_for(c.writer.wait_closed(), 10)
        return c.err is None
    except (OSError, ssl.SSLError, asyncio.TimeoutError):
        return False


async def main(port, pin, n, size, timeout):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE        # the pin is checked instead
    clients = [Client() for _ in range(n)]
    t0 = time.monotonic()
    tasks = [asyncio.ensure_future(one(c, port, pin, size, ctx, t0))
             for c in clients]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for t in pending:
        t.cancel()
    for c in clients:
        if c.t_echo is None and c.err is None:
            c.err = "timeout after %d s" % timeout
    good = [c for c in clients if c.err is None]
    errs = {}
    for c in clients:
        if c.err is not None:
            errs[c.err] = errs.get(c.err, 0) + 1
    hs = [c.t_hs for c in clients if c.t_hs is not None]
    echo = [c.t_echo for c in good]
    ready = {
        "clients": n, "ok": len(good), "failed": n - len(good),
        "setup_s": max(echo) if echo else None,
        "handshake_p50_s": pct(hs, 50), "handshake_p99_s": pct(hs, 99),
        "handshake_max_s": max(hs) if hs else None,
        "echo_p50_s": pct(echo, 50),
        "protocol": sorted({"%s %s" % (c.version, c.cipher) for c in good}),
        "errors": sorted(errs.items(), key=lambda kv: -kv[1])[:5],
    }
    print("READY " + json.dumps(ready), flush=True)

    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)

    t1 = time.monotonic()
    res = await asyncio.gather(*(close_one(c) for c in clients))
    print("DONE " + json.dumps({"closed_clean": sum(1 for r in res if r),
                                "close_s": time.monotonic() - t1}),
          flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 6:
        print("usage: _tlsload.py PORT PIN CLIENTS SIZE TIMEOUT", file=sys.stderr)
        sys.exit(2)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                     int(sys.argv[4]), float(sys.argv[5])))

#!/usr/bin/env python3
"""UDP over loopback: sockkit against nc.openbsd, ncat and socat.

Run by bench/run.sh (``sh bench/run.sh udp``); Python 3 standard library
only, plus bench/udpblast.c (built into build/udpblast with cc).

Two parts:

  receive  a paced sender (udpblast) offers BENCH_UDP_COUNT (default
           200000) datagrams of 64 and of 1400 bytes at 50k, 100k, 200k
           and 400k per second to each listener:
             sockkit udp-listen --frame raw 127.0.0.1 PORT
             nc.openbsd -d -u -l 127.0.0.1 PORT
             ncat -u -l --recv-only 127.0.0.1 PORT
             socat -u UDP-RECV:PORT,bind=127.0.0.1 STDOUT
           with stdout to a file.  Every datagram ends in a newline, so
           the bytes written divided by the size is the count received.
           Reported: the rate the sender reached, datagrams received per
           second (received / sending time), loss, and listener CPU
           seconds (user + sys, from wait4).  Tools alternate within each
           round (BENCH_RUNS rounds, default 3); medians are reported.
  split    each sender reads a file of lines (100 short lines, one of
           30000 bytes, one of 65507, two short ones), once as a file and
           once through a pipe (cat FILE |), and sends it to a Python
           receiver that records each datagram's size:
             sockkit udp-send -w 0, nc.openbsd -u -q 0, ncat -u
             --send-only, socat -u STDIN UDP-SENDTO
           Reported: datagrams, whether they are exactly the lines, the
           largest datagram, and whether bytes were lost (truncation).
  big      one datagram each of 100, 8193, 16385, 30000 and 65507 bytes
           to each listener: bytes written against bytes sent shows which
           listeners truncate large datagrams.

The machine may be shared and have few CPUs: the paced sender itself may
not reach the offered rate, and the numbers are noisy.  Missed targets are
reported, not failures.  Exit 1 only if a run failed to start or hung.
"""

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HOST = "127.0.0.1"
SIZES = (64, 1400)
RATES = (50000, 100000, 200000, 400000)
DRAIN = 0.5                 # seconds for a listener to catch up
TARGET_LOSS = 0.1           # percent, sockkit at 400k/s of 64 B


def out(*args):
    print(*args, flush=True)


def sk():
    p = os.environ.get("SK", "./sockkit")
    return p if os.path.isabs(p) else os.path.join(ROOT, p)


def blaster():
    src = os.path.join(HERE, "udpblast.c")
    exe = os.path.join(ROOT, "build", "udpblast")
    if (not os.path.exists(exe) or
            os.path.getmtime(exe) < os.path.getmtime(src)):
        os.makedirs(os.path.dirname(exe), exist_ok=True)
        subprocess.run(["cc", "-O2", "-o", exe, src], check=True)
    return exe


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bound(port):
    """True once some socket is bound to UDP port on 127.0.0.1."""
    want = ":%04X" % port
    with open("/proc/net/udp") as f:
        return any(line.split()[1].endswith(want) for line in f
                   if line.split()[1] != "local_address")


def listener(tool, port):
    p = str(port)
    return {
        "sockkit": [sk(), "udp-listen", "--frame", "raw", HOST, p],
        "nc.openbsd": ["nc.openbsd", "-d", "-u", "-l", HOST, p],
        "ncat": ["ncat", "-u", "-l", "--recv-only", HOST, p],
        "socat": ["socat", "-u", "UDP-RECV:%s,bind=%s" % (p, HOST),
                  "STDOUT"],
    }[tool]


def reap(proc):
    """SIGTERM proc, wait4 it; return CPU seconds (user + sys)."""
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pid, _, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = 0
            return ru.ru_utime + ru.ru_stime
        time.sleep(0.02)
    proc.kill()
    _, _, ru = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return ru.ru_utime + ru.ru_stime


def receive_run(tool, size, rate, count, exe, tmp):
    port = free_port()
    path = os.path.join(tmp, "recv.out")
    with open(path, "wb") as f:
        proc = subprocess.Popen(listener(tool, port), stdin=subprocess.PIPE,
                                stdout=f, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not bound(port):
        if time.monotonic() > deadline or proc.poll() is not None:
            reap(proc)
            return None
        time.sleep(0.01)
    r = subprocess.run([exe, HOST, str(port), str(count), str(size),
                        str(rate)], capture_output=True, text=True,
                       timeout=count / rate * 4 + 30)
    kv = dict(x.split("=") for x in r.stdout.split())
    time.sleep(DRAIN)
    cpu = reap(proc)
    got = os.path.getsize(path) // size
    secs = float(kv["seconds"])
    return {"offered": float(kv["rate"]), "rps": got / secs,
            "loss": 100.0 * (count - got) / count, "cpu": cpu}


def receive(tools, count, runs, exe, tmp):
    out("== receive: %d datagrams at fixed rates, listener stdout to a "
        "file (%d rounds, medians) ==" % (count, runs))
    out("%-5s %-8s %-11s %10s %10s %8s %7s" % (
        "size", "rate", "tool", "offered/s", "recv/s", "loss%", "cpu_s"))
    failed = False
    summary = {}
    for size in SIZES:
        for rate in RATES:
            res = {t: [] for t in tools}
            for _ in range(runs):
                for t in tools:
                    r = receive_run(t, size, rate, count, exe, tmp)
                    if r is None:
                        failed = True
                    else:
                        res[t].append(r)
            for t in tools:
                if not res[t]:
                    out("%-5d %-8d %-11s  failed" % (size, rate, t))
                    continue
                m = {k: statistics.median(x[k] for x in res[t])
                     for k in res[t][0]}
                summary[(size, rate, t)] = m
                out("%-5d %-8d %-11s %10.0f %10.0f %8.3f %7.2f" % (
                    size, rate, t, m["offered"], m["rps"], m["loss"],
                    m["cpu"]))
    m = summary.get((64, 400000, "sockkit"))
    if m is not None:
        out("target: sockkit loss at 400k/s of 64 B under %.1f%%: %s "
            "(%.3f%%, offered %.0f/s)" % (
                TARGET_LOSS, "met" if m["loss"] < TARGET_LOSS else "MISSED",
                m["loss"], m["offered"]))
    return failed


def sizes_receiver(port_box, sizes, ready):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)    # SO_RCVBUFFORCE
    except OSError:
        pass
    s.bind((HOST, 0))
    port_box.append(s.getsockname()[1])
    ready.set()
    s.settimeout(1.5)
    try:
        while True:
            sizes.append(len(s.recv(70000)))
    except socket.timeout:
        pass
    s.close()


def sender(tool, port):
    p = str(port)
    return {
        "sockkit": [sk(), "udp-send", "-w", "0", HOST, p],
        "nc.openbsd": ["nc.openbsd", "-u", "-q", "0", HOST, p],
        "ncat": ["ncat", "-u", "--send-only", HOST, p],
        "socat": ["socat", "-u", "STDIN", "UDP-SENDTO:%s:%s" % (HOST, p)],
    }[tool]


def split_run(tool, path, pipe):
    box, sizes, ready = [], [], threading.Event()
    th = threading.Thread(target=sizes_receiver, args=(box, sizes, ready))
    th.start()
    ready.wait()
    cmd = sender(tool, box[0])
    if pipe:
        cat = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
        subprocess.run(cmd, stdin=cat.stdout, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        cat.stdout.close()
        cat.wait()
    else:
        with open(path, "rb") as f:
            subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
    th.join()
    return sizes


def split(tools, tmp):
    lines = [b"line %d" % i for i in range(100)]
    lines += [b"x" * 30000, b"y" * 65507, b"end 1", b"end 2"]
    path = os.path.join(tmp, "lines")
    with open(path, "wb") as f:
        f.write(b"".join(x + b"\n" for x in lines))
    want = [len(x) for x in lines]
    total = sum(len(x) + 1 for x in lines)
    out("\n== split: %d lines (%d bytes; longest 65507) from a file and a "
        "pipe ==" % (len(lines), total))
    out("%-11s %-5s %10s %14s %9s %11s" % (
        "tool", "input", "datagrams", "one-per-line", "largest",
        "bytes-lost"))
    for t in tools:
        for pipe in (False, True):
            got = split_run(t, path, pipe)
            exact = got == want
            # sockkit drops the newline of each line; the others keep it.
            sent = sum(got) + (len(got) if t == "sockkit" else 0)
            out("%-11s %-5s %10d %14s %9d %11d" % (
                t, "pipe" if pipe else "file", len(got),
                "yes" if exact else "no", max(got or [0]),
                total - sent))


def big(tools, tmp):
    sizes = (100, 8193, 16385, 30000, 65507)
    out("\n== big: one datagram each of %s bytes to each listener ==" %
        ", ".join(map(str, sizes)))
    out("%-11s %10s %10s" % ("tool", "expected", "written"))
    for t in tools:
        port = free_port()
        path = os.path.join(tmp, "big.out")
        with open(path, "wb") as f:
            proc = subprocess.Popen(listener(t, port),
                                    stdin=subprocess.PIPE, stdout=f,
                                    stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not bound(port) and time.monotonic() < deadline:
            time.sleep(0.01)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for n in sizes:
            s.sendto(b"z" * n, (HOST, port))
        s.close()
        time.sleep(DRAIN)
        reap(proc)
        out("%-11s %10d %10d" % (t, sum(sizes), os.path.getsize(path)))


def main():
    count = int(os.environ.get("BENCH_UDP_COUNT", "200000"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    want = os.environ.get("BENCH_TOOLS", "sockkit,nc.openbsd,ncat,socat")
    tools = []
    for t in want.split(","):
        if t == "sockkit" and not os.access(sk(), os.X_OK):
            out("skip sockkit: %s is not built" % sk())
        elif t != "sockkit" and shutil.which(t) is None:
            out("skip %s: not installed" % t)
        else:
            tools.append(t)
    out("udp: sockkit against %s" % ", ".join(tools))
    exe = blaster()
    with tempfile.TemporaryDirectory() as tmp:
        failed = receive(tools, count, runs, exe, tmp)
        big(tools, tmp)
        split(tools, tmp)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

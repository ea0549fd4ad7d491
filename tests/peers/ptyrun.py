#!/usr/bin/env python3
"""ptyrun.py CMD...: run CMD with a terminal (a pty no one types into) as
its stdin, stdout and stderr as they are; exit with CMD's status.  The
pty's master stays open until CMD exits, so stdin never ends."""
import os
import pty
import subprocess
import sys

master, slave = pty.openpty()
p = subprocess.Popen(sys.argv[1:], stdin=slave, close_fds=True)
os.close(slave)
rc = p.wait(timeout=20)
os.close(master)
sys.exit(rc if rc >= 0 else 128 - rc)

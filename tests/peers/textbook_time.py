#!/usr/bin/env python3
"""The textbook UDP time client: send a strftime format, print the reply.

usage: textbook_time.py HOST PORT FORMAT
"""
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
data, addr = s.recvfrom(1024)
print(data.decode())

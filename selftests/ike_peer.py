#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""An IKE-speaking carrier for the tests: attaches esptcp, binds SAs with the
SOL_ESPTCP socket options, then sends --count IKE messages of varied sizes
while checking every message the peer sends: each must arrive whole, in
order, with its digest intact.  Exits 0 only if all of that held.

  ike_peer.py listen PORT [--in SPI@ADDR] [--out SPI@ADDR] [--count N] [-6]
  ike_peer.py connect HOST PORT [...]

--ulp espintcp attaches upstream's ULP instead (no SA binding: upstream finds
the socket from the type-7 state's ports); --hold keeps the connection open
until killed, after printing its local port.  --go FILE waits for FILE to
exist before the first message; --linger keeps the connection (and so the
SAs bound to it) after a clean exchange, until SIGTERM, which then exits 0.
"""
import argparse
import hashlib
import ipaddress
import os
import select
import signal
import socket
import struct
import sys
import time

TCP_ULP = 31
SOL_ESPTCP = 0x4554
ESPTCP_SO_BIND = 1
DIR_IN, DIR_OUT = 1, 2


def sa(spec, direction):
    spi, addr = spec.split("@")
    ip = ipaddress.ip_address(addr)
    fam = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    return struct.pack("=HBBIi16s", fam, direction, 0, socket.htonl(int(spi, 0)), 0,
                       ip.packed.ljust(16, b"\0"))


def message(i):
    size = 40 + (i * 997) % 3000
    body = bytes((i + k) & 0xFF for k in range(size))
    head = struct.pack("!II", 0, i)          # non-ESP marker, then our counter
    return head + hashlib.sha256(head + body).digest() + body


def check(msg, want):
    marker, i = struct.unpack("!II", msg[:8])
    digest, body = msg[8:40], msg[40:]
    return marker == 0 and i == want and hashlib.sha256(msg[:8] + body).digest() == digest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["listen", "connect"])
    ap.add_argument("rest", nargs="+")
    ap.add_argument("--in", dest="sa_in", action="append", default=[])
    ap.add_argument("--out", dest="sa_out", action="append", default=[])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("-6", dest="v6", action="store_true")
    ap.add_argument("-4", dest="v4", action="store_true")
    ap.add_argument("--ulp", default="esptcp")
    ap.add_argument("--hold", action="store_true")
    ap.add_argument("--go")
    ap.add_argument("--linger", action="store_true")
    a = ap.parse_args()
    done = False
    # killed before a clean exchange is a failure; after it, the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0 if done else "ike_peer: killed"))
    fam = socket.AF_INET6 if a.v6 else socket.AF_INET

    if a.mode == "listen":
        ls = socket.socket(fam, socket.SOCK_STREAM)
        # IKE messages wait within the receive buffer; leave room for bursts
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("::" if a.v6 else "0.0.0.0", int(a.rest[0])))
        ls.listen(1)
        print("ike_peer: listening", flush=True)
        s, _ = ls.accept()
        if s.recv(6, socket.MSG_WAITALL) != b"IKETCP":
            sys.exit("ike_peer: no IKETCP prefix")
    else:
        s = socket.socket(fam if ":" not in a.rest[0] else socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.connect((a.rest[0], int(a.rest[1])))
        s.sendall(b"IKETCP")
    s.setsockopt(socket.IPPROTO_TCP, TCP_ULP, a.ulp.encode())
    for spec in a.sa_in:
        s.setsockopt(SOL_ESPTCP, ESPTCP_SO_BIND, sa(spec, DIR_IN))
    for spec in a.sa_out:
        s.setsockopt(SOL_ESPTCP, ESPTCP_SO_BIND, sa(spec, DIR_OUT))
    print(f"ike_peer: ready, local port {s.getsockname()[1]} peer port {s.getpeername()[1]}",
          flush=True)
    if a.hold:
        while True:
            time.sleep(3600)

    # a safety net: 100 messages beside 4 iperf3 streams on the debug
    # kernel have taken over 120 s on a loaded machine
    deadline = time.time() + 300
    while a.go and not os.path.exists(a.go) and time.time() < deadline:
        time.sleep(0.05)
    sent = got = 0
    s.setblocking(False)
    while (sent < a.count or got < a.count) and time.time() < deadline:
        want = select.POLLIN | (select.POLLOUT if sent < a.count else 0)
        p = select.poll()
        p.register(s, want)
        for _, ev in p.poll(1000):
            if ev & select.POLLIN:
                try:
                    msg = s.recv(65536)
                except BlockingIOError:
                    continue  # woken before a whole message was queued
                if not msg:
                    sys.exit(f"ike_peer: EOF after {got} messages")
                if not check(msg, got):
                    sys.exit(f"ike_peer: message {got} damaged ({len(msg)} bytes)")
                got += 1
            if ev & select.POLLOUT and sent < a.count:
                try:
                    s.send(message(sent))
                    sent += 1
                except BlockingIOError:
                    pass
    print(f"ike_peer: sent {sent} received {got} intact", flush=True)
    done = sent == a.count and got == a.count
    if done and a.linger:
        while True:
            time.sleep(3600)
    # let the peer finish reading before the connection goes
    time.sleep(1)
    sys.exit(0 if done else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""INVITE -> 180 round trips with microsecond resolution (sipp's are whole ms).

    latency.py uas IP PORT SECONDS         answer every INVITE with 180 at once
    latency.py uac LOCAL_IP PORT TARGET_IP TARGET_PORT CALLS [FIRST]
                                            print one round trip (ms) per line;
                                            calls numbered from FIRST (default 0)
Loopback only.
"""

import socket
import sys
import time

_INVITE = (
    "INVITE sip:0155512345@{tip}:{tport} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP {ip}:{port};branch=z9hG4bKlat{n};rport\r\n"
    "Max-Forwards: 70\r\n"
    'From: "Latency" <sip:0033147000002@{ip}:{port}>;tag=lat{n}\r\n'
    "To: <sip:0155512345@{tip}:{tport}>\r\n"
    "Call-ID: lat-{n}-{stamp}@{ip}\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:0033147000002@{ip}:{port}>\r\n"
    "Content-Length: 0\r\n\r\n"
)


def _loopback(ip):
    if not ip.startswith("127."):
        sys.exit("latency: loopback addresses only")


def uas(ip, port, seconds):
    _loopback(ip)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))
    s.settimeout(0.5)
    end = time.time() + seconds
    while time.time() < end:
        try:
            data, peer = s.recvfrom(8192)
        except TimeoutError:
            continue
        if not data.startswith(b"INVITE "):
            continue
        head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        keep = [
            h
            for h in head[1:]
            if h.split(b":", 1)[0].lower()
            in (b"via", b"v", b"from", b"f", b"to", b"t", b"call-id", b"i", b"cseq")
        ]
        reply = b"SIP/2.0 180 Ringing\r\n" + b"\r\n".join(keep) + b"\r\nContent-Length: 0\r\n\r\n"
        s.sendto(reply, peer)


def uac(ip, port, tip, tport, calls, first=0):
    _loopback(ip)
    _loopback(tip)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))
    s.settimeout(2)
    stamp = int(time.time())
    for n in range(first, first + calls):
        msg = _INVITE.format(ip=ip, port=port, tip=tip, tport=tport, n=n, stamp=stamp).encode()
        start = time.perf_counter()
        s.sendto(msg, (tip, tport))
        while True:
            try:
                data, _ = s.recvfrom(8192)
            except TimeoutError:
                print("lost")
                break
            if data.startswith(b"SIP/2.0 180") and (b"z9hG4bKlat%d;" % n) in data:
                print("%.4f" % ((time.perf_counter() - start) * 1000))
                break
        time.sleep(0.01)


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "uas":
        uas(a[2], int(a[3]), float(a[4]))
    else:
        uac(a[2], int(a[3]), a[4], int(a[5]), int(a[6]), int(a[7]) if len(a) > 7 else 0)

#!/usr/bin/env python3
"""Capture real scanner datagrams on loopback into host_tests/data/scanners/.

Runs SIPVicious's svmap (OPTIONS, normal and compact), svwar (REGISTER, and
INVITE with -m INVITE) against a silent UDP listener on a 127.x address, keeps
the first datagram each tool sends, and writes the 2007-style "John Doe" INVITE
(the one behind the 0033147310370 calls) from its well-known shape. Everything
stays on 127.x.y.z; each tool runs with a hard time limit and the listener
stops by itself.

    .venv/bin/python tools/capture_scanners.py [--host 127.0.0.7] [--port 15060]
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "host_tests", "data", "scanners")
TOOL_SECONDS = 8

# The scanner floods of 2007-2010 that rang phones at night with "John Doe"
# calling 0033147310370 used this shape (To a French number, From 4000 at the
# target's own address, an SDP with session name "Session SDP").
JOHN_DOE = (
    "INVITE sip:0033147310370@{host} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP {src}:5061;branch=z9hG4bK-1807216331;rport\r\n"
    "Max-Forwards: 70\r\n"
    'To: "0033147310370"<sip:0033147310370@{host}>\r\n'
    'From: "John Doe"<sip:4000@{host}>;tag=3665d3e0\r\n'
    "Call-ID: 2125233412@{src}\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:4000@{src}:5061>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: {length}\r\n"
    "\r\n"
)
JOHN_DOE_SDP = (
    "v=0\r\n"
    "o=1234 1234 1234 IN IP4 {src}\r\n"
    "s=Session SDP\r\n"
    "c=IN IP4 {src}\r\n"
    "t=0 0\r\n"
    "m=audio 9876 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
)


def find_tool(name):
    exe = shutil.which(
        name, path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    )
    if not exe:
        sys.exit("capture_scanners: `%s` not found (pip install sipvicious)" % name)
    return exe


class Listener:
    """A silent UDP sink on host:port that keeps what it receives, for a while."""

    def __init__(self, host, port, seconds):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.deadline = time.monotonic() + seconds
        self.datagrams = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while time.monotonic() < self.deadline and len(self.datagrams) < 1000:
            try:
                data, source = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            with self.lock:
                self.datagrams.append((data, source))

    def take(self):
        with self.lock:
            got, self.datagrams = self.datagrams, []
        return got

    def close(self):
        self.deadline = 0
        self.thread.join()
        self.sock.close()


def run_tool(cmd):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_SECONDS)
        return proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        return "timeout", ""


def first_of(datagrams, method):
    for data, _source in datagrams:
        if data.startswith(method + b" "):
            return data
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.7", help="listener address (%(default)s)")
    ap.add_argument("--port", type=int, default=15060, help="listener port (%(default)s)")
    ap.add_argument("--scanner", default="127.0.0.5", help="svmap source address")
    ap.add_argument("--scanner-port", type=int, default=15061, help="scanners' source port")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    for addr in (args.host, args.scanner):
        if not addr.startswith("127."):
            sys.exit("capture_scanners: loopback addresses only (127.x.y.z)")
    svmap = find_tool("sipvicious_svmap")
    svwar = find_tool("sipvicious_svwar")
    target = "%s" % args.host
    sport = str(args.scanner_port)
    runs = (
        (
            "svmap_options",
            b"OPTIONS",
            [svmap, "-b", args.scanner, "-P", sport, "-p", str(args.port), "--first", "1", target],
        ),
        (
            "svmap_options_compact",
            b"OPTIONS",
            [
                svmap,
                "-c",
                "-b",
                args.scanner,
                "-P",
                sport,
                "-p",
                str(args.port),
                "--first",
                "1",
                target,
            ],
        ),
        (
            "svwar_register",
            b"REGISTER",
            [
                svwar,
                "-P",
                sport,
                "-p",
                str(args.port),
                "-e",
                "100",
                "--force",
                "--maximumtime",
                "2",
                target,
            ],
        ),
        (
            "svwar_invite",
            b"INVITE",
            [
                svwar,
                "-m",
                "INVITE",
                "-P",
                sport,
                "-p",
                str(args.port),
                "-e",
                "100",
                "--force",
                "--maximumtime",
                "2",
                target,
            ],
        ),
    )
    os.makedirs(args.out, exist_ok=True)
    listener = Listener(args.host, args.port, TOOL_SECONDS * (len(runs) + 1))
    failures = 0
    try:
        for name, method, cmd in runs:
            code, output = run_tool(cmd)
            time.sleep(0.3)
            data = first_of(listener.take(), method)
            if data is None:
                print("%s: nothing captured (exit %s) %s" % (name, code, output.strip()[-200:]))
                failures += 1
                continue
            with open(os.path.join(args.out, name + ".sip"), "wb") as f:
                f.write(data)
            print("%s: %d bytes (tool exit %s)" % (name, len(data), code))
    finally:
        listener.close()
    src = "192.0.2.66"  # documentation address: the scanner's, as the datagram states it
    sdp = JOHN_DOE_SDP.format(src=src)
    john = JOHN_DOE.format(host="198.51.100.20", src=src, length=len(sdp)) + sdp
    with open(os.path.join(args.out, "johndoe_invite.sip"), "wb") as f:
        f.write(john.encode())
    print("johndoe_invite: %d bytes (written from its known shape)" % len(john))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

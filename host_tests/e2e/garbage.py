"""Datagrams nobody should send: the RFC 4475 torture messages and seeded random
mutations of them and of a plain INVITE. Deterministic for a given seed, so a failure
can be replayed.

Every IPv4 literal in a message is rewritten to a loopback address (the sender's), and
a mutation that makes a new non-loopback one (a flipped bit turns 127.0.0.5 into
27.0.0.5) is drawn again, so that even a firmware that answered a Via or forwarded a
response by one would only ever send on loopback.
"""

import os
import random
import re

from peers import ROOT

CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpus", "rfc4475")
_IPV4 = re.compile(rb"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")

PLAIN_INVITE = (
    b"INVITE sip:0033147310370@HOST SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP HOST:5070;branch=z9hG4bK-garbage-1;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "John Doe" <sip:4000@HOST>;tag=1234\r\n'
    b"To: <sip:0033147310370@HOST>\r\n"
    b"Call-ID: garbage-1@HOST\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:4000@HOST:5070>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 60\r\n\r\n"
    b"v=0\r\no=- 1 1 IN IP4 HOST\r\ns=-\r\nc=IN IP4 HOST\r\nt=0 0\r\n"
    b"m=audio 7078 RTP/AVP 0\r\n"
)


_DOTTED = re.compile(rb"[0-9.]+")


def loopback_only(data):
    """True when every dotted-decimal IPv4 address in data is a loopback one."""
    for run in _DOTTED.findall(data):
        for start in range(len(run)):
            parts = run[start:].split(b".")
            if len(parts) < 4 or (start and run[start - 1 : start] != b"."):
                continue
            octets = parts[:4]
            if all(o.isdigit() and len(o) <= 3 and int(o) <= 255 for o in octets):
                if int(octets[0]) != 127:
                    return False
    return True


def rfc4475(loopback_ip):
    """Every torture message of the corpus, as (name, bytes)."""
    found = []
    for name in sorted(os.listdir(CORPUS)):
        if name.endswith(".dat"):
            with open(os.path.join(CORPUS, name), "rb") as f:
                found.append((name, _IPV4.sub(loopback_ip.encode(), f.read())))
    return found


def _mutate(rng, data):
    data = bytearray(data)
    how = rng.randrange(9)
    if how == 0 and data:  # flip some bits
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif how == 1:  # cut it short
        del data[rng.randrange(len(data) + 1) :]
    elif how == 2:  # random bytes
        data = bytearray(rng.randbytes(rng.randint(0, 1500)))
    elif how == 3:  # shuffle the lines
        lines = bytes(data).split(b"\r\n")
        rng.shuffle(lines)
        data = bytearray(b"\r\n".join(lines))
    elif how == 4:  # repeat a line many times
        lines = bytes(data).split(b"\r\n")
        line = lines[rng.randrange(len(lines))]
        at = rng.randrange(len(lines))
        lines[at:at] = [line] * rng.randint(2, 300)
        data = bytearray(b"\r\n".join(lines))
    elif how == 5:  # NULs and high bytes sprinkled in
        for _ in range(rng.randint(1, 20)):
            data.insert(rng.randrange(len(data) + 1), rng.choice((0, 0xFF, 0x80, 0x0A, 0x0D)))
    elif how == 6:  # a huge value in some header
        lines = bytes(data).split(b"\r\n")
        at = rng.randrange(len(lines))
        lines[at] = lines[at] + b"x" * rng.randint(100, 9000)
        data = bytearray(b"\r\n".join(lines))
    elif how == 7:  # numbers gone wild (Content-Length, CSeq, Max-Forwards, ports)
        text = re.sub(
            rb"\d+", lambda m: str(rng.choice((0, -1, 2**31, 2**64, 99999999))).encode(), data
        )
        data = bytearray(text)
    else:  # two messages glued together
        data = data + data
    return bytes(data)


def mutated(count, loopback_ip, seed=4475):
    """`count` datagrams: mutations of the corpus and of a plain John Doe INVITE."""
    rng = random.Random(seed)
    plain = PLAIN_INVITE.replace(b"HOST", loopback_ip.encode())
    bases = [data for _, data in rfc4475(loopback_ip)] + [plain] * 10
    out = []
    while len(out) < count:
        data = _mutate(rng, rng.choice(bases))
        if rng.randrange(4) == 0:
            data = _mutate(rng, data)
        data = data[:65000] or b"\r\n"
        if loopback_only(data):
            out.append(data)
    return out

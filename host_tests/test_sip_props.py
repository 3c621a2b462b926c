"""Property tests of hushgate.sip (CPython, hypothesis)."""

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hushgate import sip
from hushgate.sip import SipError, caller_number, parse, response

CORPUS = "../shared/corpus/rfc4475/"
SCANNERS = "host_tests/data/scanners/"


def _seeds():
    out = []
    for folder in (CORPUS, SCANNERS):
        for name in sorted(os.listdir(folder)):
            if name.endswith((".dat", ".sip")):
                with open(folder + name, "rb") as f:
                    out.append(f.read())
    return out


SEEDS = _seeds()


def exercise(msg):
    """Read everything a caller may read; only SipError may come out."""
    for value in (msg.uri, msg.reason, msg.body, msg.call_id, msg.cseq_method):
        assert isinstance(value, bytes)
    assert 0 <= msg.cseq_num < 2**31
    try:
        assert msg.vias() and all(isinstance(v, bytes) for v in msg.vias())
    except SipError:
        assert msg.get(b"via")  # the top one is checked at parse, the others when read
    assert msg._h[6] >= 5  # header lines counted (sip._COUNT)
    for name in (b"from", b"to", b"contact", b"p-asserted-identity", b"route"):
        try:
            addr = msg.name_addr(name)
        except SipError:
            continue
        if addr is not None:
            assert isinstance(addr.display, str)
            for value in (addr.scheme, addr.user, addr.host, addr.uri):
                assert isinstance(value, bytes)
            assert addr.port is None or 0 < addr.port < 100000
            assert isinstance(addr.params, dict)
            assert addr.tag is None or addr.tag == addr.params[b"tag"]
    for name in (b"via", b"contact", b"route", b"x-unknown", b"allow", b"max-forwards"):
        msg.get(name)
        try:
            msg.get_all(name)
        except SipError:
            assert name == b"via"  # a Via below the top, checked when read (docs/sip.md)
    try:
        assert isinstance(caller_number(msg), str)
    except SipError:
        pass
    assert msg.to_bytes().endswith(msg.body)
    if msg.method is not None:
        try:
            answer = response(msg, 480, b"Temporarily Unavailable", to_tag=b"t1")
        except SipError:  # it copies every Via: one below the top was malformed
            return
        parse(answer)


def parse_or_sip_error(data):
    try:
        msg = parse(data)
    except SipError:
        return None
    exercise(msg)
    return msg


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
@example(b"INVITE sip:a@b SIP/2.0\r\n\r\n")
@example(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\n\r\n")
def test_any_bytes_give_a_message_or_sip_error(data):
    parse_or_sip_error(data)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(st.integers(0, 5000), st.integers(0, 40), st.binary(max_size=12)),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_real_messages_give_a_message_or_sip_error(seed, edits):
    data = bytearray(seed)
    for at, cut, insert in edits:
        at %= len(data) + 1
        data[at : at + cut] = insert
    parse_or_sip_error(bytes(data))


@given(st.sampled_from(SEEDS), st.integers(0, 5000))
def test_any_truncation(seed, n):
    parse_or_sip_error(seed[: n % (len(seed) + 1)])


token = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~",
    min_size=1,
    max_size=12,
).map(str.encode)
label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
host = st.lists(label, min_size=1, max_size=4).map(lambda parts: ".".join(parts).encode())
user = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.",
    min_size=1,
    max_size=16,
).map(str.encode)
display = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, blacklist_characters='"\\'),
    max_size=20,
)
methods = st.sampled_from([b"INVITE", b"OPTIONS", b"REGISTER", b"BYE", b"NOTIFY"]) | token
header_value = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30
).map(str.encode)


@st.composite
def messages(draw):
    method = draw(methods)
    fields = {
        "method": method,
        "uri": b"sip:" + draw(user) + b"@" + draw(host),
        "vias": [
            b"SIP/2.0/UDP "
            + draw(host)
            + b":%d;branch=z9hG4bK" % draw(st.integers(1, 65535))
            + draw(token)
            for _ in range(draw(st.integers(1, 4)))
        ],
        "display": draw(display),
        "from_user": draw(user),
        "from_host": draw(host),
        "from_tag": draw(token),
        "to_user": draw(user),
        "to_tag": draw(st.none() | token),
        "call_id": draw(token) + b"@" + draw(host),
        "cseq": draw(st.integers(0, 2**31 - 1)),
        "extra": draw(
            st.lists(
                st.tuples(token.map(lambda t: b"X-" + t), header_value),
                max_size=4,
            )
        ),
        "body": draw(st.binary(max_size=200)),
        "compact": draw(st.booleans()),
        "vias_one_line": draw(st.booleans()),
    }
    return fields


def build(f):
    c = f["compact"]
    lines = [b"%s %s SIP/2.0" % (f["method"], f["uri"])]
    if f["vias_one_line"]:
        lines.append((b"v: " if c else b"Via: ") + b", ".join(f["vias"]))
    else:
        for v in f["vias"]:
            lines.append((b"v: " if c else b"Via: ") + v)
    quoted = f["display"].encode()
    lines.append(
        (b"f: " if c else b"From: ")
        + b'"%s" <sip:%s@%s>;tag=%s' % (quoted, f["from_user"], f["from_host"], f["from_tag"])
    )
    to = b"<sip:%s@example.net>" % f["to_user"]
    if f["to_tag"] is not None:
        to += b";tag=" + f["to_tag"]
    lines.append((b"t: " if c else b"To: ") + to)
    lines.append((b"i: " if c else b"Call-ID: ") + f["call_id"])
    lines.append(b"CSeq: %d %s" % (f["cseq"], f["method"]))
    for name, value in f["extra"]:
        lines.append(name + b": " + value)
    lines.append((b"l: " if c else b"Content-Length: ") + b"%d" % len(f["body"]))
    return b"\r\n".join(lines) + b"\r\n\r\n" + f["body"]


def check_fields(msg, f):
    assert msg.method == f["method"]
    assert msg.uri == f["uri"]
    assert msg.vias() == f["vias"]
    frm = msg.name_addr(b"from")
    assert frm.display == f["display"]
    assert frm.user == f["from_user"] and frm.host == f["from_host"]
    assert frm.tag == f["from_tag"]
    to = msg.name_addr(b"to")
    assert to.user == f["to_user"] and to.tag == f["to_tag"]
    assert msg.call_id == f["call_id"]
    assert msg.cseq_num == f["cseq"] and msg.cseq_method == f["method"]
    for name, _value in f["extra"]:
        assert msg.get_all(name) == [v for n, v in f["extra"] if n.lower() == name.lower()]
    assert msg.body == f["body"]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_parse_of_serialised_keeps_every_field(f):
    data = build(f)
    msg = parse(data)
    check_fields(msg, f)
    again = parse(msg.to_bytes())
    check_fields(again, f)
    assert again.to_bytes() == msg.to_bytes()
    assert parse(data + b"trailing datagram bytes").to_bytes() == data


@given(messages(), st.integers(10, 4096))
def test_size_limit_is_exact(f, limit):
    data = build(f)
    try:
        parse(data, max_size=limit)
        assert len(data) <= limit
    except SipError:
        assert len(data) > limit


@given(messages())
def test_response_copies_what_8_2_6_says(f):
    msg = parse(build(f))
    out = parse(response(msg, 486, "Busy Here", to_tag=b"hg1"))
    assert out.status == 486 and out.reason == b"Busy Here"
    assert out.vias() == f["vias"]
    assert out.call_id == f["call_id"] and out.cseq_num == f["cseq"]
    assert out.get(b"from") == msg.get(b"from")
    assert out.name_addr(b"to").tag == (f["to_tag"] or b"hg1")


def test_limit_class_attribute_is_used():
    assert sip.Message.max_size == sip.MAX_SIZE == 4096

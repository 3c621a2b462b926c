"""Property tests of hushgate.proxy (CPython, hypothesis)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_proxy import ATA, ME, PROVIDER, SCANNER, StandInGate, Verdict
from test_sip_props import SEEDS, build, messages

from hushgate.proxy import Proxy
from hushgate.sip import SipError, parse, response

FORWARD = 0
ANSWER = 1
DROP = 2
SLOW = [HealthCheck.too_slow]


def make_proxy(verdict=None):
    proxy = Proxy(ME, StandInGate(verdict))
    proxy.ata = ATA
    proxy.provider = PROVIDER
    return proxy


def same_call(a, b):
    """Call-ID, CSeq, From, To and body byte for byte."""
    assert a.call_id == b.call_id
    assert a.get(b"cseq") == b.get(b"cseq")
    assert a.get(b"from") == b.get(b"from")
    assert a.get(b"to") == b.get(b"to")
    assert a.body == b.body


def as_invite(f):
    f = dict(f, method=b"INVITE", to_tag=None)
    return f


@settings(max_examples=200, suppress_health_check=SLOW)
@given(messages(), st.booleans())
def test_one_hop_preserves_the_call(f, outbound):
    proxy = make_proxy()
    if outbound:
        data, source = build(f), ATA
    else:
        data, source = build(as_invite(f)), PROVIDER
    sent = parse(data)
    out = proxy.handle(data, source, 0)
    assert len(out) == 1
    fwd, dest = out[0]
    assert dest == (PROVIDER if outbound else ATA)
    got = parse(fwd)
    same_call(got, sent)
    assert got.method == sent.method and got.uri == sent.uri
    assert len(got.vias()) == len(sent.vias()) + 1
    assert got.vias()[0].startswith(b"SIP/2.0/UDP 192.168.1.50:5060;branch=z9hG4bKhg")
    # the same datagram again leaves identically (a retransmission)
    assert proxy.handle(data, source, 10) == out
    # and the answer finds its way back, our Via gone
    answer = response(got, 200, b"OK", to_tag=b"x")
    back = proxy.handle(answer, ATA if not outbound else PROVIDER, 20)
    assert len(back) == 1
    reply = parse(back[0][0])
    assert reply.vias()[1:] == sent.vias()[1:]
    # the sender's Via may have gained received=/rport= (its real address)
    assert reply.vias()[0].startswith(sent.vias()[0])
    assert reply.call_id == sent.call_id and reply.get(b"cseq") == sent.get(b"cseq")


@settings(max_examples=150, suppress_health_check=SLOW)
@given(messages(), st.integers(400, 699))
def test_rejection_is_stable(f, code):
    data = build(as_invite(f))
    first = make_proxy(Verdict(ANSWER, code, "no")).handle(data, PROVIDER, 0)
    again = make_proxy(Verdict(ANSWER, code, "no")).handle(data, PROVIDER, 5)
    assert first == again and len(first) == 1
    reply = parse(first[0][0])
    assert reply.status == code and reply.name_addr(b"to").tag


@settings(max_examples=600, suppress_health_check=SLOW)
@given(
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(st.integers(0, 5000), st.integers(0, 30), st.binary(max_size=10)),
        max_size=3,
    ),
    st.sampled_from([ATA, PROVIDER, SCANNER]),
    st.sampled_from([FORWARD, ANSWER, DROP]),
)
def test_any_datagram_from_anyone_never_raises(seed, edits, source, action):
    data = bytearray(seed)
    for at, cut, insert in edits:
        at %= len(data) + 1
        data[at : at + cut] = insert
    proxy = make_proxy(Verdict(action, 480, "quiet"))
    out_list = proxy.handle(bytes(data), source, 0)
    assert proxy.stats["errors"] == 0  # the safety net never caught anything
    for out, dest in out_list:
        assert isinstance(dest, tuple) and len(dest) == 2
        try:
            parse(out)
        except SipError:
            raise AssertionError("proxy sent an unparsable datagram: %r" % out[:200])


@settings(max_examples=100, suppress_health_check=SLOW)
@given(st.lists(st.binary(min_size=1, max_size=12), min_size=1, max_size=60))
def test_tables_stay_bounded(call_ids):
    proxy = make_proxy()
    proxy.dialogs_max = 5
    proxy.verdicts_max = 4
    for n, cid in enumerate(call_ids):
        token = cid.hex().encode()
        data = (
            b"INVITE sip:1@192.168.1.50 SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK%d\r\n"
            b"From: <sip:2@p>;tag=f\r\nTo: <sip:1@p>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
            b"Content-Length: 0\r\n\r\n" % (n, token)
        )
        proxy.handle(data, PROVIDER, n * 1000)
        assert len(proxy._dialogs) <= 5
        assert len(proxy._verdicts) <= 4

# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
from binascii import crc32

from hushgate import sip
from hushgate.proxy import Proxy
from hushgate.sip import parse, response

FORWARD = 0
ANSWER = 1
DROP = 2

ME = ("192.168.1.50", 5060)
ATA = ("192.168.1.60", 5060)
PROVIDER = ("203.0.113.5", 5060)
SCANNER = ("198.51.100.66", 5061)
NOW = 1000


class Verdict:
    def __init__(self, action, code=0, reason=""):
        self.action = action
        self.code = code
        self.reason = reason


class StandInGate:
    """Lets in-dialog requests (of known dialogs) and the provider's initial INVITEs
    through, drops the rest."""

    def __init__(self, verdict=None):
        self.verdict = verdict or Verdict(FORWARD)
        self.admitting = True
        self.admits = 0
        self.decided = []
        self.providers_seen = []
        self.unread = 0  # refused by refuse_stranger

    def admit(self, ip, now_ms):
        self.admits += 1
        return self.admitting

    def decide(self, msg, source, now_ms, in_dialog):
        self.decided.append((msg.method, in_dialog))
        if msg.name_addr(b"to").tag or msg.method in (b"ACK", b"BYE", b"CANCEL"):
            return Verdict(FORWARD) if in_dialog else Verdict(DROP, 0, "not in dialog")
        if msg.method == b"INVITE" and source[0] == PROVIDER[0]:
            return self.verdict
        return Verdict(DROP, 0, "stranger")

    def refuse_stranger(self, ip, data):
        # As the real gate: anyone but the provider, except an INVITE (logged there).
        if ip == PROVIDER[0] or (data[0] == 73 and data[1] == 78 and data[2] == 86):  # INV
            return False
        self.unread += 1
        return True

    def provider_seen(self, ip):
        self.providers_seen.append(ip)


def key(call_id):
    # How the proxy's tables know a Call-ID: a 30-bit hash.
    return crc32(call_id) & 0x3FFFFFFF


def make_proxy(verdict=None):
    proxy = Proxy(ME, StandInGate(verdict))
    proxy.ata = ATA
    proxy.provider = PROVIDER
    return proxy


SDP = b"v=0\r\no=- 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n"


def inbound_invite(call_id=b"in-1@203.0.113.5", mf=b"69", cseq=b"1"):
    return (
        b"INVITE sip:0612345678@192.168.1.50 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKprov1;rport\r\n"
        b"Max-Forwards: " + mf + b"\r\n"
        b'From: "Alice" <sip:+33147310370@provider.example>;tag=a1\r\n'
        b"To: <sip:0612345678@provider.example>\r\n"
        b"Call-ID: " + call_id + b"\r\n"
        b"CSeq: " + cseq + b" INVITE\r\n"
        b"Contact: <sip:+33147310370@203.0.113.5>\r\n"
        b"Content-Type: application/sdp\r\n"
        b"Content-Length: %d\r\n\r\n" % len(SDP)
    ) + SDP


def ata_request(method, call_id=b"out-1@192.168.1.60", to_tag=b"", branch=b"z9hG4bKata1", cseq=1):
    to = b"<sip:0147310370@provider.example>"
    if to_tag:
        to += b";tag=" + to_tag
    return (
        b"%s sip:0147310370@provider.example SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.168.1.60:5060;branch=%s;rport\r\n"
        b"Route: <sip:192.168.1.50;lr>\r\n"
        b"Max-Forwards: 70\r\n"
        b"From: <sip:0612345678@provider.example>;tag=ata-tag\r\n"
        b"To: %s\r\n"
        b"Call-ID: %s\r\n"
        b"CSeq: %d %s\r\n"
        b"Content-Length: 0\r\n\r\n" % (method, branch, to, call_id, cseq, method)
    )


def only(out):
    assert len(out) == 1, out
    return out[0]


def answer(forwarded, code, reason, to_tag=b"callee"):
    return response(parse(forwarded), code, reason, to_tag=to_tag)


def test_register_out_and_200_back():
    proxy = make_proxy()
    register = ata_request(b"REGISTER", call_id=b"reg-1@192.168.1.60")
    data, dest = only(proxy.handle(register, ATA, NOW))
    assert dest == PROVIDER
    out = parse(data)
    vias = out.vias()
    assert len(vias) == 2
    assert vias[0].startswith(b"SIP/2.0/UDP 192.168.1.50:5060;branch=z9hG4bKhg")
    assert vias[0].endswith(b";rport")
    assert vias[1] == b"SIP/2.0/UDP 192.168.1.60:5060;branch=z9hG4bKata1;rport"
    assert out.get(b"max-forwards") == b"69"
    assert out.get(b"route") is None  # the Route toward hushgate was ours
    assert out.call_id == b"reg-1@192.168.1.60" and out.cseq_method == b"REGISTER"
    assert only(proxy.handle(register, ATA, NOW + 500)) == (data, dest)  # retransmission
    ok = answer(data, 200, b"OK")
    back, dest = only(proxy.handle(ok, PROVIDER, NOW + 40))
    assert dest == ATA
    assert parse(back).vias() == [vias[1]]
    assert back == response(parse(register), 200, b"OK", to_tag=b"callee")
    assert proxy.gate.providers_seen == [PROVIDER[0]]
    assert proxy.last_register == (NOW + 40, 200)
    assert proxy.gate.decided == []  # nothing from the ATA meets the gate


def test_route_toward_provider_kept():
    proxy = make_proxy()
    req = ata_request(b"INVITE").replace(
        b"Route: <sip:192.168.1.50;lr>", b"Route: <sip:192.168.1.50;lr>, <sip:sbc.example;lr>"
    )
    data, dest = only(proxy.handle(req, ATA, NOW))
    assert dest == PROVIDER
    assert parse(data).get_all(b"route") == [b"<sip:sbc.example;lr>"]
    other = ata_request(b"INVITE").replace(b"<sip:192.168.1.50;lr>", b"<sip:sbc.example;lr>")
    data, dest = only(proxy.handle(other, ATA, NOW))
    assert parse(data).get(b"route") == b"<sip:sbc.example;lr>"


def test_inbound_invite_answered_and_hung_up_from_either_side():
    for bye_from_ata in (True, False):
        proxy = make_proxy()
        gate = proxy.gate
        invite = inbound_invite()
        data, dest = only(proxy.handle(invite, PROVIDER, NOW))
        assert dest == ATA
        fwd = parse(data)
        vias = fwd.vias()
        assert vias[0].startswith(b"SIP/2.0/UDP 192.168.1.50:5060;branch=z9hG4bKhg")
        # the provider asked for rport: the port it sent from is filled in
        assert vias[1] == b"SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKprov1;rport=5060"
        assert fwd.get(b"max-forwards") == b"68"
        assert fwd.body == SDP
        assert gate.decided == [(b"INVITE", False)]
        for code, reason in ((180, b"Ringing"), (200, b"OK")):
            back, dest = only(proxy.handle(answer(data, code, reason), ATA, NOW + 10))
            assert dest == PROVIDER
            got = parse(back)
            assert got.status == code and got.vias() == [vias[1]]
        ack = invite.replace(b"INVITE sip:", b"ACK sip:").replace(b"1 INVITE", b"1 ACK")
        ack = ack.replace(b"provider.example>\r\n", b"provider.example>;tag=callee\r\n", 1)
        ack = ack.replace(b"z9hG4bKprov1", b"z9hG4bKprov2")
        data, dest = only(proxy.handle(ack, PROVIDER, NOW + 20))
        assert dest == ATA and parse(data).method == b"ACK"
        assert gate.decided[-1] == (b"ACK", True)
        if bye_from_ata:
            bye = ata_request(b"BYE", call_id=b"in-1@203.0.113.5", to_tag=b"a1", cseq=2)
            data, dest = only(proxy.handle(bye, ATA, NOW + 30))
            assert dest == PROVIDER and parse(data).method == b"BYE"
            back, dest = only(proxy.handle(answer(data, 200, b"OK", b"a1"), PROVIDER, NOW + 31))
            assert dest == ATA and parse(back).cseq_method == b"BYE"
        else:
            bye = ack.replace(b"ACK sip:", b"BYE sip:").replace(b"1 ACK", b"2 BYE")
            bye = bye.replace(b"z9hG4bKprov2", b"z9hG4bKprov3")
            data, dest = only(proxy.handle(bye, PROVIDER, NOW + 30))
            assert dest == ATA and gate.decided[-1] == (b"BYE", True)
            back, dest = only(proxy.handle(answer(data, 200, b"OK"), ATA, NOW + 31))
            assert dest == PROVIDER and parse(back).status == 200


def test_cancel_of_a_ringing_call_keeps_the_invite_branch():
    proxy = make_proxy()
    invite = inbound_invite()
    data, _ = only(proxy.handle(invite, PROVIDER, NOW))
    only(proxy.handle(answer(data, 180, b"Ringing"), ATA, NOW + 5))
    cancel = invite.replace(b"INVITE sip:", b"CANCEL sip:").replace(b"1 INVITE", b"1 CANCEL")
    cancel = cancel.replace(b"Content-Type: application/sdp\r\n", b"")
    cancel = cancel[: cancel.find(b"Content-Length")] + b"Content-Length: 0\r\n\r\n"
    out, dest = only(proxy.handle(cancel, PROVIDER, NOW + 900))
    assert dest == ATA
    assert parse(out).vias()[0] == parse(data).vias()[0]  # same branch as the INVITE
    # the ATA cancels its own call: the CANCEL follows the INVITE to the provider
    inv = ata_request(b"INVITE")
    fwd, dest = only(proxy.handle(inv, ATA, NOW))
    can, dest2 = only(proxy.handle(ata_request(b"CANCEL"), ATA, NOW + 100))
    assert dest == dest2 == PROVIDER
    assert parse(can).vias()[0] == parse(fwd).vias()[0]
    other = only(proxy.handle(ata_request(b"INVITE", call_id=b"out-2"), ATA, NOW))[0]
    assert parse(other).vias()[0] != parse(fwd).vias()[0]


def test_retransmitted_invite_forwarded_identically_gate_asked_once():
    proxy = make_proxy()
    invite = inbound_invite()
    first = proxy.handle(invite, PROVIDER, NOW)
    again = proxy.handle(invite, PROVIDER, NOW + 500)
    assert first == again
    assert proxy.gate.decided == [(b"INVITE", False)]
    assert proxy.stats["retransmissions"] == 1
    # a copy of it from another source is no retransmission: it meets the gate
    assert not proxy.handle(invite, SCANNER, NOW + 600)
    assert proxy.gate.decided == [(b"INVITE", False), (b"INVITE", True)]


def test_rejected_invite_same_answer_on_retransmission():
    proxy = make_proxy(Verdict(ANSWER, 480, "Temporarily Unavailable"))
    invite = inbound_invite()
    reply, dest = only(proxy.handle(invite, PROVIDER, NOW))
    assert dest == PROVIDER
    got = parse(reply)
    assert got.status == 480 and got.reason == b"Temporarily Unavailable"
    assert got.name_addr(b"to").tag.startswith(b"hg")
    assert got.vias() == parse(invite).vias()
    assert proxy.handle(invite, PROVIDER, NOW + 500) == [(reply, dest)]
    assert len(proxy.gate.decided) == 1
    ack = invite.replace(b"INVITE sip:", b"ACK sip:").replace(b"1 INVITE", b"1 ACK")
    tag = got.name_addr(b"to").tag
    ack = ack.replace(b"provider.example>\r\n", b"provider.example>;tag=" + tag + b"\r\n", 1)
    assert not proxy.handle(ack, PROVIDER, NOW + 600)  # our answer's ACK stops here
    assert len(proxy.gate.decided) == 1
    # a new Proxy (after a reboot) gives the same To tag
    assert (
        only(make_proxy(Verdict(ANSWER, 480, "x")).handle(invite, PROVIDER, NOW))[0].find(tag) > 0
    )


def test_response_for_someone_else_dropped():
    proxy = make_proxy()
    stray = (
        b"SIP/2.0 200 OK\r\n"
        b"Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKhg0000000000\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert not proxy.handle(stray, SCANNER, NOW)
    # our address but not our branch shape
    fake = stray.replace(b"10.0.0.9:5060;branch=z9hG4bKhg", b"192.168.1.50:5060;branch=z9hG4bK")
    assert not proxy.handle(fake, SCANNER, NOW)
    assert proxy.stats["dropped_not_ours"] == 2
    assert proxy.gate.decided == []


def test_response_via_list_in_one_line_and_received():
    proxy = make_proxy()
    resp = (
        b"SIP/2.0 180 Ringing\r\n"
        b"Via: SIP/2.0/UDP 192.168.1.50;branch=z9hG4bKhgabc, "
        b"SIP/2.0/UDP sbc.example:5070;received=203.0.113.7;rport=40000;branch=z9hG4bKp\r\n"
        b"Via: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKq\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    out, dest = only(proxy.handle(resp, ATA, NOW))
    assert dest == ("203.0.113.7", 40000)
    assert parse(out).vias() == [
        b"SIP/2.0/UDP sbc.example:5070;received=203.0.113.7;rport=40000;branch=z9hG4bKp",
        b"SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKq",
    ]


def test_max_forwards_zero_answered_483_never_forwarded():
    proxy = make_proxy()
    req = ata_request(b"OPTIONS").replace(b"Max-Forwards: 70", b"Max-Forwards: 0")
    out, dest = only(proxy.handle(req, ATA, NOW))
    assert dest == ATA and parse(out).status == 483
    out, dest = only(proxy.handle(inbound_invite(mf=b"0"), PROVIDER, NOW))
    assert dest == PROVIDER and parse(out).status == 483
    assert proxy.stats["too_many_hops"] == 2
    missing = inbound_invite(call_id=b"mf-missing").replace(b"Max-Forwards: 69\r\n", b"")
    out, dest = only(proxy.handle(missing, PROVIDER, NOW))
    assert dest == ATA and parse(out).get(b"max-forwards") == b"70"


def test_scanners_and_strangers_get_nothing():
    proxy = make_proxy()
    for name in ("svmap_options", "svwar_register", "svwar_invite", "johndoe_invite"):
        with open("host_tests/data/scanners/%s.sip" % name, "rb") as f:
            data = f.read()
        assert not proxy.handle(data, SCANNER, NOW), name
    # in-dialog request for a dialog nobody started
    bye = inbound_invite(call_id=b"nobody").replace(b"INVITE sip:", b"BYE sip:")
    bye = bye.replace(b"1 INVITE", b"1 BYE")
    assert not proxy.handle(bye, PROVIDER, NOW)
    assert proxy.gate.decided[-1] == (b"BYE", False)
    # Garbage: a stranger's is refused unread, the provider's meets the parser.
    assert not proxy.handle(b"garbage\r\n\r\n", SCANNER, NOW)
    assert proxy.stats["dropped_bad"] == 0 and proxy.gate.unread == 3
    assert not proxy.handle(b"garbage\r\n\r\n", PROVIDER, NOW)
    assert proxy.stats["dropped_bad"] == 1
    assert not proxy.handle(b"\r\n\r\n", PROVIDER, NOW)
    assert proxy.stats["keepalives"] == 1


def test_refused_source_costs_no_parse_and_no_heap():
    proxy = make_proxy()
    proxy.gate.admitting = False
    data = inbound_invite()
    assert not proxy.handle(data, SCANNER, NOW)
    assert proxy.gate.decided == [] and proxy.stats["dropped_admit"] == 1
    try:
        import micropython
    except ImportError:
        micropython = None
    if micropython is not None and hasattr(micropython, "heap_lock"):
        micropython.heap_lock()
        try:
            for _ in range(100):
                out = proxy.handle(data, SCANNER, NOW)
        finally:
            micropython.heap_unlock()
        assert not out and proxy.stats["dropped_admit"] == 101


def test_refused_datagrams_take_nothing_from_the_heap():
    # MicroPython puts a call's frame on the heap when it needs more than 11 words
    # (under heap_lock it falls back to the C stack, so only the count of bytes ever
    # allocated shows it): handle()'s front is kept small so that a datagram refused
    # before parsing (admit, a stranger's request, a keep-alive) costs no heap.
    try:
        from micropython import mem_total
    except ImportError:
        return  # CPython, or a port without the statistics
    proxy = make_proxy()
    options = inbound_invite(call_id=b"scan").replace(b"INVITE", b"OPTIONS")
    view = memoryview(bytearray(options))
    for data in (options, view, b"\r\n\r\n"):
        proxy.handle(data, SCANNER, NOW)  # first calls: counters made
    proxy.gate.admitting = False
    proxy.handle(options, SCANNER, NOW)
    before = mem_total()
    for _ in range(50):
        proxy.handle(options, SCANNER, NOW)
    after = mem_total()
    assert after == before, after - before
    proxy.gate.admitting = True
    before = mem_total()
    for _ in range(50):
        proxy.handle(options, SCANNER, NOW)
        proxy.handle(view, SCANNER, NOW)
        proxy.handle(b"\r\n\r\n", SCANNER, NOW)
    after = mem_total()
    assert after == before, after - before
    assert proxy.gate.unread == 102 and proxy.stats["dropped_admit"] == 51
    assert proxy.stats["keepalives"] == 51 and proxy.gate.decided == []


def test_strangers_refused_unread_while_no_dialog_is_known():
    # Issue 8: with no dialog known, nothing in a stranger's request can change the
    # gate's verdict, so it is refused before sip.parse (an INVITE excepted: the
    # gate logs it). Responses, the provider's requests and, once a dialog exists,
    # a stranger's BYE still go the full way.
    from hushgate import proxy as proxy_mod

    proxy = make_proxy()
    parsed = []
    real_parse = proxy_mod.sip.parse

    def counting_parse(data, max_size=None):
        parsed.append(bytes(data[:8]))
        return real_parse(data, max_size)

    proxy_mod.sip.parse = counting_parse
    try:
        options = inbound_invite(call_id=b"scan").replace(b"INVITE", b"OPTIONS")
        register = options.replace(b"OPTIONS", b"REGISTER")
        for data in (options, register, b"OPTIONS sip:x SIP/2.0\r\nbroken\r\n\r\n"):
            assert not proxy.handle(data, SCANNER, NOW)
            assert not proxy.handle(memoryview(data), SCANNER, NOW)
        assert parsed == [] and proxy.gate.unread == 6 and proxy.gate.decided == []
        assert proxy.stats["dropped_gate"] == 6 and proxy.stats["dropped_bad"] == 0
        # The stand-in sends every INVITE to decide() (the real gate: see test_gate).
        assert not proxy.handle(inbound_invite(call_id=b"scan"), SCANNER, NOW)
        assert len(parsed) == 1 and proxy.gate.decided == [(b"INVITE", False)]
        # A response from a stranger is parsed (and not ours: dropped).
        ok = response(parse(inbound_invite(call_id=b"scan")), 200, b"OK")
        assert not proxy.handle(ok, SCANNER, NOW) and len(parsed) == 2
        assert proxy.stats["dropped_not_ours"] == 1
        # The provider's OPTIONS meets decide() as before.
        assert not proxy.handle(options, PROVIDER, NOW)
        assert len(parsed) == 3 and proxy.gate.decided[-1] == (b"OPTIONS", False)
        # A call let in: now a stranger's BYE may belong to it and goes the full way.
        assert proxy.handle(inbound_invite(call_id=b"call"), PROVIDER, NOW)
        bye = inbound_invite(call_id=b"call").replace(b"INVITE sip:", b"BYE sip:")
        bye = bye.replace(b"1 INVITE", b"2 BYE")
        assert proxy.handle(bye, SCANNER, NOW)
        assert proxy.gate.decided[-1] == (b"BYE", True) and proxy.gate.unread == 6
    finally:
        proxy_mod.sip.parse = real_parse


def test_dialog_table_bounded_and_expiring():
    proxy = make_proxy()
    proxy.dialogs_max = 4
    proxy.verdicts_max = 3
    for n in range(10):
        assert proxy.handle(inbound_invite(call_id=b"c%d" % n), PROVIDER, NOW + n)
        assert len(proxy._dialogs) <= 4 and len(proxy._verdicts) <= 3
    assert key(b"c9") in proxy._dialogs
    # Keys are small ints (a dict slot, no object), on 32-bit ports too.
    for k in list(proxy._dialogs) + list(proxy._verdicts):
        assert isinstance(k, int) and 0 <= k < 1 << 30
    bye = inbound_invite(call_id=b"c9").replace(b"INVITE sip:", b"BYE sip:")
    bye = bye.replace(b"1 INVITE", b"2 BYE")
    late = NOW + proxy.dialog_setup_ms + 100
    assert not proxy.handle(bye, PROVIDER, late)  # the unanswered call has expired
    assert proxy.gate.decided[-1] == (b"BYE", False)


def test_ata_call_flow_out():
    proxy = make_proxy()
    inv = ata_request(b"INVITE")
    fwd, dest = only(proxy.handle(inv, ATA, NOW))
    assert dest == PROVIDER
    for code in (100, 180, 200):
        back, dest = only(proxy.handle(answer(fwd, code, b"X"), PROVIDER, NOW + code))
        assert dest == ATA and parse(back).status == code
    # the callee hangs up: BYE from outside in a dialog the ATA started
    bye = (
        b"BYE sip:0612345678@192.168.1.50 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKpb;rport\r\n"
        b"Max-Forwards: 70\r\n"
        b"From: <sip:0147310370@provider.example>;tag=callee\r\n"
        b"To: <sip:0612345678@provider.example>;tag=ata-tag\r\n"
        b"Call-ID: out-1@192.168.1.60\r\nCSeq: 9 BYE\r\nContent-Length: 0\r\n\r\n"
    )
    data, dest = only(proxy.handle(bye, ("203.0.113.5", 5080), NOW + 2000))
    assert dest == ATA
    assert proxy.gate.decided == [(b"BYE", True)]
    # received/rport of the real source go into the sender's Via for the way back
    assert parse(data).vias()[1] == b"SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKpb;rport=5080"
    back, dest = only(proxy.handle(answer(data, 200, b"OK"), ATA, NOW + 2001))
    assert dest == ("203.0.113.5", 5080)


def test_received_added_when_sent_by_differs():
    proxy = make_proxy()
    invite = inbound_invite().replace(b"203.0.113.5:5060;branch", b"sbc.example;branch")
    data, _ = only(proxy.handle(invite, PROVIDER, NOW))
    assert parse(data).vias()[1] == (
        b"SIP/2.0/UDP sbc.example;branch=z9hG4bKprov1;rport=5060;received=203.0.113.5"
    )
    back, dest = only(proxy.handle(answer(data, 486, b"Busy Here"), ATA, NOW + 1))
    assert dest == PROVIDER


def test_no_route_yet():
    proxy = Proxy(ME, StandInGate())
    proxy.ata = ATA  # provider not resolved yet
    assert not proxy.handle(ata_request(b"REGISTER"), ATA, NOW)
    proxy.ata = None
    assert not proxy.handle(inbound_invite(), PROVIDER, NOW)
    assert proxy.stats["dropped_no_route"] == 2


def test_corpus_through_the_proxy_never_crashes():
    import gc
    import os

    folder = "../shared/corpus/rfc4475/"
    proxy = make_proxy()
    for name in sorted(os.listdir(folder)):
        gc.collect()  # the test's own reads need room next to the proxy's work
        with open(folder + name, "rb") as f:
            data = f.read()
        for source in (ATA, PROVIDER, SCANNER):
            for data_out, dest in proxy.handle(data, source, NOW):
                assert dest in (ATA, PROVIDER, source) or dest[0].startswith("192.0.2.")
                sip.parse(data_out)
    with open(folder + "zeromf.dat", "rb") as f:
        zeromf = f.read()
    for data_out, dest in proxy.handle(zeromf, ATA, NOW):
        assert dest == ATA and parse(data_out).status == 483


def test_address_set_after_start():
    proxy = make_proxy()
    proxy.me = ("192.168.1.51", 5070)
    data, _ = only(proxy.handle(ata_request(b"OPTIONS"), ATA, NOW))
    assert parse(data).vias()[0].startswith(b"SIP/2.0/UDP 192.168.1.51:5070;branch=z9hG4bKhg")
    back, dest = only(proxy.handle(answer(data, 200, b"OK"), PROVIDER, NOW))
    assert dest == ATA


def test_receive_buffer_views_accepted():
    proxy = make_proxy()
    buf = bytearray(4096)
    data = inbound_invite()
    buf[: len(data)] = data
    view = memoryview(buf)
    out = proxy.handle(view[: len(data)], PROVIDER, NOW)
    buf[:10] = b"XXXXXXXXXX"  # the buffer is reused for the next datagram
    fwd, dest = only(out)
    assert dest == ATA and parse(fwd).method == b"INVITE"
    buf[:4] = b"\r\n\r\n"
    assert not proxy.handle(view[:4], PROVIDER, NOW)
    assert proxy.stats["keepalives"] == 1
    assert not proxy.handle(bytearray(b"\r\n"), ATA, NOW)
    assert proxy.stats["keepalives"] == 2
    assert not proxy.handle(view[:0], PROVIDER, NOW)


def test_bad_answer_code_from_gate_still_a_valid_response():
    proxy = make_proxy(Verdict(ANSWER, 0, ""))
    out, dest = only(proxy.handle(inbound_invite(), PROVIDER, NOW))
    got = parse(out)
    assert got.status == 480 and got.reason == b"Rejected"


def test_ack_of_a_failed_outgoing_call_keeps_the_invite_branch():
    proxy = make_proxy()
    inv = ata_request(b"INVITE", call_id=b"busy-1")
    fwd, _ = only(proxy.handle(inv, ATA, NOW))
    back, dest = only(proxy.handle(answer(fwd, 486, b"Busy Here", b"far"), PROVIDER, NOW + 5))
    assert dest == ATA and parse(back).status == 486
    ack = ata_request(b"ACK", call_id=b"busy-1", to_tag=b"far")  # same Via branch as its INVITE
    out, dest = only(proxy.handle(ack, ATA, NOW + 6))
    assert dest == PROVIDER
    assert parse(out).vias()[0] == parse(fwd).vias()[0]


def test_response_toward_a_named_host_without_received_goes_to_the_provider():
    proxy = make_proxy()
    resp = (
        b"SIP/2.0 200 OK\r\n"
        b"Via: SIP/2.0/UDP 192.168.1.50:5060;branch=z9hG4bKhg0123456789ab;rport=5060\r\n"
        b"Via: SIP/2.0/UDP sbc.provider.example;branch=z9hG4bKsbc\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: y\r\nCSeq: 2 BYE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    out, dest = only(proxy.handle(resp, ATA, NOW))
    assert dest == PROVIDER
    assert parse(out).vias() == [b"SIP/2.0/UDP sbc.provider.example;branch=z9hG4bKsbc"]
    # sent by hushgate's address but another port: not ours
    other = resp.replace(b"192.168.1.50:5060;", b"192.168.1.50:5062;")
    assert not proxy.handle(other, PROVIDER, NOW)


def test_expired_entries_make_room_before_live_ones():
    proxy = make_proxy()
    proxy.dialogs_max = 2
    proxy.handle(inbound_invite(call_id=b"old"), PROVIDER, NOW)
    late = NOW + proxy.dialog_setup_ms + 1
    proxy.handle(inbound_invite(call_id=b"live"), PROVIDER, late - 10)
    proxy.handle(inbound_invite(call_id=b"new"), PROVIDER, late)
    assert sorted(proxy._dialogs) == sorted([key(b"live"), key(b"new")])


def test_malformed_next_via_is_dropped_when_read():
    # parse() checks the top Via only; the next one is checked when a response is
    # routed by it.
    proxy = make_proxy()
    resp = (
        b"SIP/2.0 180 Ringing\r\n"
        b"Via: SIP/2.0/UDP 192.168.1.50:5060;branch=z9hG4bKhgabc\r\n"
        b"Via: SIP/2.0/UDP 203.0.113.5;;,;\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert not proxy.handle(resp, ATA, NOW)
    assert proxy.stats["dropped_bad"] == 1 and proxy.stats["errors"] == 0
    good = resp.replace(b"203.0.113.5;;,;", b"203.0.113.5;branch=z9hG4bKp;rport=5062")
    out, dest = only(proxy.handle(good, ATA, NOW))
    assert dest == ("203.0.113.5", 5062)

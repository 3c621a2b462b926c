# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
import os

from hushgate import sip
from hushgate.sip import SipError, asserted_identity, caller_number, parse, response

CORPUS = "../shared/corpus/rfc4475/"
SCANNERS = "host_tests/data/scanners/"

VALID = (
    "wsinv intmeth esc01 escnull esc02 lwsdisp longreq dblreq semiuri transports mpart01"
    " unreason noreason badbranch unkscm novelsc unksm2 bext01 invut regaut01 bcast zeromf"
    " cparam01 cparam02 regescrt sdp01 inv2543"
).split()
INVALID = (
    "badinv01 clerr ncl scalar02 scalarlg quotbal ltgtruri lwsruri lwsstart trws escruri"
    " baddate regbadct badaspec baddn badvers mismatch01 mismatch02 bigcode insuf multi01"
    " mcl01 test"
).split()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def corpus(name):
    return parse(read(CORPUS + name + ".dat"))


def raises(data, **kw):
    try:
        parse(data, **kw)
    except SipError:
        return True
    return False


INVITE = (
    b"INVITE sip:0612345678@192.168.1.50 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"v: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKnashds8;received=198.51.100.70\r\n"
    b"Max-Forwards: 69\r\n"
    b'f: "Alice B." <sip:+33-1-47-31-03-70@provider.example>;tag=1928301774\r\n'
    b"To: <sip:0612345678@provider.example>\r\n"
    b"i: a84b4c76e66710@pc33.provider.example\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@203.0.113.5>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"l: 4\r\n"
    b"\r\n"
    b"v=0\r\n"
)


def test_every_corpus_file_is_classified():
    names = sorted(n[:-4] for n in os.listdir(CORPUS) if n.endswith(".dat"))
    assert len(names) == 50
    assert sorted(VALID + INVALID) == names


def test_valid_corpus_parses():
    for name in VALID:
        try:
            msg = corpus(name)
        except SipError as e:
            raise AssertionError("%s: %s" % (name, e))
        assert msg.call_id, name
        assert msg.vias(), name
        assert msg.cseq_method, name


def test_invalid_corpus_raises_sip_error():
    for name in INVALID:
        assert raises(read(CORPUS + name + ".dat")), name


def test_wsinv_fields():
    msg = corpus("wsinv")
    assert msg.method == b"INVITE" and msg.version == b"SIP/2.0"
    assert msg.uri == b"sip:vivekg@chair-dnrc.example.com;unknownparam"
    assert msg.call_id == b"wsinv.ndaksdj@192.0.2.1"
    assert msg.cseq_num == 9 and msg.cseq_method == b"INVITE"
    vias = msg.vias()
    assert len(vias) == 3
    assert vias[0] == b"SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw"
    assert vias[1].endswith(b"branch  =   z9hG4bK9ikj8")
    assert vias[2].endswith(b"branch= z9hG4bK30239")
    frm = msg.name_addr(b"from")
    assert frm.display == 'J Rosenberg \\"'
    assert frm.tag == b"98asjd8"
    assert frm.user == b"jdrosen" and frm.host == b"example.com"
    to = msg.name_addr(b"t")
    assert to.tag == b"1918181833n" and to.display == ""
    contact = msg.name_addr(b"contact")
    assert contact.display == 'Quoted string ""'
    assert contact.params[b"newparam"] == b"newvalue"
    assert contact.params[b"q"] == b"0.33"
    assert msg.get(b"max-forwards") == b"0068"
    assert msg.get(b"NewFangledHeader") == b"newfangled value continued newfangled value"
    assert len(msg.body) == 150 and msg.body.startswith(b"v=0\r\n")


def test_dblreq_only_first_message_counts():
    data = read(CORPUS + "dblreq.dat")
    msg = parse(data)
    assert msg.method == b"REGISTER"
    assert msg.body == b""
    out = msg.to_bytes()
    assert out.endswith(b"Content-Length: 0\r\n\r\n") and b"INVITE" not in out


def test_transports_and_longreq_vias():
    assert len(corpus("transports").vias()) == 5
    msg = corpus("longreq")
    vias = msg.vias()
    assert len(vias) == 34
    assert msg.name_addr(b"to").port == 6000
    assert msg.name_addr(b"from").tag.startswith(b"12982982")


def test_responses_in_corpus():
    msg = corpus("noreason")
    assert msg.method is None and msg.status == 100 and msg.reason == b""
    msg = corpus("unreason")
    assert msg.status == 200 and msg.reason.startswith(b"= 2**3 * 5**2 ")
    assert len(msg.body) == 154


def test_odd_but_valid_names():
    msg = corpus("intmeth")
    assert msg.method == b"!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.cseq_method == msg.method
    assert msg.get(b"extensionHeader-!.%*+_`'~") is not None
    frm = msg.name_addr(b"from")
    assert frm.display == "token1~` token2'+_ token3*%!.-"
    assert frm.tag == b"_token~1'+`*%!-."
    assert corpus("lwsdisp").name_addr(b"from").display == "caller"
    to = corpus("unksm2").name_addr(b"to")
    assert to.scheme == b"isbn" and to.user == b"" and to.tag is None
    assert corpus("esc02").get_all(b"contact") == [
        b"<sip:alias1@host1.example.com>",
        b"<sip:alias3@host3.example.com>",
    ]
    assert corpus("semiuri").uri == b"sip:user;par=u%40example.net@example.com"


def test_compact_and_long_forms_and_case():
    msg = parse(INVITE)
    assert msg.get(b"from") == msg.get(b"f") == msg.get(b"FROM")
    assert msg.get(b"Call-ID") == b"a84b4c76e66710@pc33.provider.example"
    assert msg.get(b"content-length") == b"4"
    assert msg.get(b"content-type") == msg.get(b"c") == b"application/sdp"
    assert msg.get(b"x-not-there") is None
    assert msg.get_all(b"via") == msg.vias()
    assert len(msg.vias()) == 2
    assert msg.body == b"v=0\r"


def test_name_addr_forms():
    msg = parse(INVITE)
    frm = msg.name_addr(b"from")
    assert frm.display == "Alice B."
    assert frm.scheme == b"sip" and frm.user == b"+33-1-47-31-03-70"
    assert frm.host == b"provider.example" and frm.port is None
    assert frm.tag == b"1928301774"
    assert msg.name_addr(b"to").tag is None
    assert msg.name_addr(b"p-asserted-identity") is None
    svmap = INVITE.replace(
        b'f: "Alice B." <sip:+33-1-47-31-03-70@provider.example>',
        b'From: "sipvicious"<sip:100@1.1.1.1:5060>',
    )
    frm = parse(svmap).name_addr(b"from")
    assert frm.display == "sipvicious" and frm.user == b"100"
    assert frm.host == b"1.1.1.1" and frm.port == 5060


def test_caller_number():
    msg = parse(INVITE)
    assert caller_number(msg) == "+33147310370"
    pai = INVITE.replace(
        b"Contact:", b"P-Asserted-Identity: <tel:+33-6-12-34-56-78>, <sip:x@y>\r\nContact:"
    )
    assert caller_number(parse(pai)) == "+33612345678"
    anon = INVITE.replace(
        b'"Alice B." <sip:+33-1-47-31-03-70@provider.example>',
        b'"Anonymous" <sip:anonymous@anonymous.invalid>',
    )
    assert caller_number(parse(anon)) == ""
    escaped = INVITE.replace(b"+33-1-47-31-03-70", b"%2B33%20147%28310%29370")
    assert caller_number(parse(escaped)) == "+33147310370"
    # Handed the headers a caller (the gate) has parsed already: the same number.
    no_user = INVITE.replace(b"Contact:", b"P-Asserted-Identity: <sip:y>\r\nContact:")
    bad = INVITE.replace(b"Contact:", b"P-Asserted-Identity: <sip:a b@y>\r\nContact:")
    for data in (INVITE, pai, anon, escaped, no_user, bad):
        msg = parse(data)
        asserted = asserted_identity(msg)
        frm = msg.name_addr(b"from")
        assert caller_number(msg, asserted, frm) == caller_number(msg), data
    assert asserted is None  # not a name-addr
    assert asserted_identity(parse(pai)).user == b"+33-6-12-34-56-78"


def test_response_builder():
    msg = parse(INVITE)
    out = response(msg, 480, b"Temporarily Unavailable", to_tag=b"abc123")
    assert out.startswith(b"SIP/2.0 480 Temporarily Unavailable\r\n")
    ans = parse(out)
    assert ans.status == 480 and ans.reason == b"Temporarily Unavailable"
    assert ans.vias() == msg.vias()
    assert ans.get(b"from") == msg.get(b"from")
    assert ans.name_addr(b"to").tag == b"abc123"
    assert ans.call_id == msg.call_id
    assert ans.cseq_num == 314159 and ans.cseq_method == b"INVITE"
    assert ans.body == b""
    assert response(msg, 480, "Temporarily Unavailable", to_tag="abc123") == out
    tagged = parse(out.replace(b"SIP/2.0 480 Temporarily Unavailable", b"INVITE sip:a@b SIP/2.0"))
    assert b"tag=abc123;tag" not in response(tagged, 200, b"OK", to_tag=b"zz")


def test_size_limit_before_parsing():
    big = INVITE.replace(b"v=0\r\n", b"v=0\r\n" + b"x" * 5000)
    assert raises(big)
    assert raises(INVITE, max_size=len(INVITE) - 1)
    assert parse(INVITE, max_size=len(INVITE)).method == b"INVITE"
    old = sip.Message.max_size
    sip.Message.max_size = 100
    try:
        assert raises(INVITE)
    finally:
        sip.Message.max_size = old
    assert parse(INVITE).method == b"INVITE"


def test_buffer_types_are_copied():
    buf = bytearray(INVITE)
    msg = parse(buf)
    buf[0:6] = b"XXXXXX"
    assert msg.method == b"INVITE" and msg.uri.startswith(b"sip:")
    assert parse(memoryview(INVITE)).call_id == parse(INVITE).call_id
    for bad in (None, 42, "INVITE sip:a@b SIP/2.0\r\n\r\n"):
        assert raises(bad)


def test_every_truncation_raises_or_parses():
    # Cut anywhere: a SipError or a message, never another exception.
    for n in range(len(INVITE)):
        try:
            parse(INVITE[:n])
        except SipError:
            pass


def test_errors_listed_by_the_issue():
    base = INVITE
    cases = (
        base.replace(b"l: 4", b"l: 40"),  # body shorter than Content-Length
        base.replace(b"l: 4", b"l: -4"),
        base.replace(b"l: 4", b"l: 4\r\nContent-Length: 4"),
        base.replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE"),
        base.replace(b"i: a84b4c76e66710@pc33.provider.example\r\n", b""),
        base.replace(
            b"Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK776asdhds;rport\r\n", b""
        ).replace(
            b"v: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKnashds8;received=198.51.100.70\r\n", b""
        ),
        base.replace(b"To: <sip:0612345678@provider.example>\r\n", b""),
        base.replace(b"SIP/2.0\r\n", b"SIP/2.0 \r\n", 1),
        b"",
        b"\r\n\r\n",
        b"SIP/2.0 20 OK\r\n\r\n",
        b"\x00\xff" * 30,
    )
    for data in cases:
        assert raises(data), data[:60]


def test_extra_bytes_after_body_ignored():
    msg = parse(INVITE + b"garbage after the body")
    assert msg.body == b"v=0\r"
    assert msg.to_bytes() == INVITE[: len(INVITE) - 1]


def test_folded_and_spaced_header():
    data = INVITE.replace(b"To: <sip:0612345678", b"To  :\r\n   <sip:0612345678")
    msg = parse(data)
    assert msg.get(b"to") == b"<sip:0612345678@provider.example>"
    assert len(msg.vias()) == 2 and msg.get(b"max-forwards") == b"69"


def test_scanner_captures_parse():
    names = [n for n in os.listdir(SCANNERS) if n.endswith(".sip")]
    assert len(names) >= 4
    for name in names:
        msg = parse(read(SCANNERS + name))
        assert msg.method in (b"OPTIONS", b"REGISTER", b"INVITE"), name
        assert msg.name_addr(b"from") is not None


def test_header_line_limit():
    many = INVITE.replace(b"Contact:", b"X-A: 1\r\n" * 30 + b"Contact:")
    assert parse(many).get_all(b"x-a") == [b"1"] * 30
    old = sip.Message.max_headers
    sip.Message.max_headers = 20
    try:
        assert raises(many)
        assert parse(INVITE).method == b"INVITE"
    finally:
        sip.Message.max_headers = old
    sip.Message.max_headers = 200  # raised: the zero template grows with it
    try:
        assert len(parse(many.replace(b"X-A: 1\r\n", b"X-A: 1\r\n" * 5)).get_all(b"X-A")) == 150
    finally:
        sip.Message.max_headers = old


def test_every_known_header_name_finds_its_id():
    # The ids come from a small hash table (_key % _KEY_MOD): no two names may share
    # a slot, or a header would silently become "unknown".
    for known in range(1, len(sip._KIND)):
        s = sip._NAME_SPAN[2 * known]
        e = sip._NAME_SPAN[2 * known + 1]
        assert sip._header_id(sip._SPEC, s, e) == known, sip._SPEC[s:e]
        assert sip._header_id(sip._SPEC[s:e].upper(), 0, e - s) == known
        if sip._KIND[known] & 127:
            assert sip._header_id(bytes([sip._KIND[known] & 127]), 0, 1) == known


def test_tag_is_the_first_tag_parameter():
    data = INVITE.replace(
        b"To: <sip:0612345678@provider.example>",
        b"To: <sip:0612345678@provider.example>;x;tag=a;TAG=b",
    )
    to = parse(data).name_addr(b"to")
    assert to.tag == b"a" and to.params[b"tag"] == b"b" and to.params[b"x"] == b""


def test_only_the_top_via_is_checked_while_parsing():
    # The proxy acts on the top Via; another is checked when the proxy routes a
    # response by it (test_proxy: test_malformed_next_via_is_dropped_when_read).
    second = INVITE.replace(b"v: SIP/2.0/UDP 198.51.100.7;", b"v: SIP/2.0/UDP 198.51.100.7;;,;")
    assert parse(second).vias()[1] == b"SIP/2.0/UDP 198.51.100.7;;"
    top = INVITE.replace(
        b"Via: SIP/2.0/UDP 203.0.113.5:5060;", b"Via: SIP/2.0/UDP 203.0.113.5:5060;;"
    )
    assert raises(top)
    # The usual "SIP/2.0/" spelling and the spaced one are the same Via.
    spaced = INVITE.replace(b"Via: SIP/2.0/UDP", b"Via: SIP / 2.0 / UDP")
    assert parse(spaced).vias()[0].startswith(b"SIP / 2.0 / UDP 203.0.113.5:5060")
    assert raises(INVITE.replace(b"Via: SIP/2.0/UDP", b"Via: SIP/2.0/ "))


def test_other_header_names_are_confirmed_when_asked_for():
    # Only the tracked names are identified while parsing; any other line is
    # compared with the name a look-up asks for (so an odd name is never matched).
    data = INVITE.replace(b"Contact:", b"X-Foo:  1\r\nX Foo: 2\r\nx-FOO: 3\r\nContact:")
    msg = parse(data)
    assert msg.get(b"x-foo") == b"1" and msg.get_all(b"X-Foo") == [b"1", b"3"]
    assert msg.get(b"x") is None
    assert msg.get(b"content-type") == msg.get(b"c") == b"application/sdp"
    # Same length, first and last letter as a tracked name: not that header.
    lookalike = INVITE.replace(b"Contact:", b"Cxxxxxt: <sip:x@y>\r\nFrxm: 1\r\nContact:")
    msg = parse(lookalike)
    assert msg.get(b"contact") == b"<sip:alice@203.0.113.5>" and msg.get(b"frxm") == b"1"
    assert msg.name_addr(b"from").tag == b"1928301774"
    assert raises(INVITE.replace(b"Contact:", b"\x01X: 1\r\nContact:"))
    assert raises(INVITE.replace(b"f: ", b"From *: "))  # not From: From is missing


def test_from_and_to_are_taken_apart_once():
    msg = parse(INVITE)
    frm = msg.name_addr(b"from")
    assert msg.name_addr(b"f") is frm and frm.tag == b"1928301774"
    assert frm.user == b"+33-1-47-31-03-70" and frm.display == "Alice B."
    assert msg.name_addr(b"to").tag is None and msg.name_addr(b"to").host == b"provider.example"
    assert msg.call_id is msg.call_id  # made once


def test_unknown_method_and_its_cseq():
    data = INVITE.replace(b"INVITE sip:", b"FOO sip:").replace(b"314159 INVITE", b"314159 FOO")
    msg = parse(data)
    assert msg.method == b"FOO" and msg.cseq_method == b"FOO"
    assert raises(data.replace(b"314159 FOO", b"314159 BAR"))
    assert raises(data.replace(b"FOO sip:", b"F(O sip:").replace(b"314159 FOO", b"314159 F(O"))

# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
# The decision rules are checked by two tables in host_tests/data (gate_table.txt,
# gate_quiet.txt), read line by line: the module stays small on a 110 KB heap.
import gc
import json

from hushgate import gate as G  # noqa: N812
from hushgate import sip
from hushgate.compat import ticks_add
from hushgate.config import defaults
from hushgate.tz import days_from_civil

PROVIDER = "192.0.2.10"
STRANGER = "203.0.113.66"
SOURCES = {"provider": PROVIDER, "stranger": STRANGER, "trusted": "198.51.100.77"}
BUTTON = {"off": G.QUIET_OFF, "on": G.QUIET_ON, "morning": G.QUIET_UNTIL_MORNING}
ACTIONS = {"forward": G.FORWARD, "answer": G.ANSWER, "drop": G.DROP}
BLOCKED = '"Spam" <sip:0033147310370@sip.example.net>;tag=9'
ANONYMOUS = '"Anonymous" <sip:anonymous@anonymous.invalid>;tag=9'
CALLERS = {
    "alice": None,
    "bob": '"Bob" <sip:0698765432@sip.example.net>;tag=2',
    "blocked": BLOCKED,
    "anonymous": ANONYMOUS,
}
T0 = 5000


def utc(text):
    """ "2026-01-05 22:30" (UTC) -> seconds since 1970; "unknown" -> None."""
    if text == "unknown":
        return None
    day, hm = text.split(" ")
    y, m, d = day.split("-")
    h, mi = hm.split(":")
    return days_from_civil(int(y), int(m), int(d)) * 86400 + int(h) * 3600 + int(mi) * 60


MON_NOON = utc("2026-01-05 11:00")
MON_NIGHT = utc("2026-01-05 22:30")


class Home:
    """The clock and the call log the gate is given (calllog.py has its own tests)."""

    def __init__(self, utc):
        self.now = utc
        self.calls = []
        self.counters = {}
        self.size = 50

    def utc(self):
        return self.now

    def record(self, utc, number, name, source_ip, verdict):
        self.calls.append((utc, number, name, source_ip, verdict.action, verdict.reason))

    def count(self, kind, n=1):
        self.counters[kind] = self.counters.get(kind, 0) + n

    def resize(self, size):
        self.size = size

    def unseen_silenced(self):
        return len(self.calls)


REQUEST = (
    "%s sip:0140000000@192.168.1.50:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"
    "To: <sip:0140000000@192.168.1.50>%s\r\n"
    "From: %s\r\n"
    "Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    "CSeq: 314159 %s\r\n"
    "Contact: <sip:caller@192.0.2.10>\r\n"
    "%s"
    "Content-Type: application/sdp\r\n"
    "Content-Length: %d\r\n\r\n%s"
)
SDP = "v=0\r\no=- 1 1 IN IP4 192.0.2.30\r\ns=%s\r\nc=IN IP4 192.0.2.30\r\nt=0 0\r\n"


def request(method="INVITE", frm=None, to_tag=False, ua="Provider SBC", pai=None, sdp="call"):
    extra = ("User-Agent: %s\r\n" % ua) if ua else ""
    if pai:
        extra += "P-Asserted-Identity: %s\r\n" % pai
    body = SDP % sdp if method == "INVITE" else ""
    frm = frm or '"Alice" <sip:0612345678@sip.example.net>;tag=a1b2c3'
    tag = ";tag=ata1" if to_tag else ""
    text = REQUEST % (method, tag, frm, method, extra, len(body), body)
    return sip.parse(text.encode())


def message(spec):
    """The request a table row names: "invite", "bye+tag", "ua=friendly-scanner", ..."""
    kind, _, arg = spec.partition("=")
    if kind[:7] == "capture":
        with open("host_tests/data/scanners/" + arg, "rb") as f:
            data = f.read()
        if kind == "capture-no-ua":
            start = data.find(b"User-Agent")
            data = data[:start] + data[data.find(b"\r\n", start) + 2 :]
        return sip.parse(data)
    if kind == "ua":
        return request(ua=arg)
    if kind == "sdp":
        return request(sdp=arg)
    if kind == "from":
        return request(frm=BLOCKED if arg == "blocked" else ANONYMOUS)
    if kind == "pai":
        return request(pai="<sip:%s@sip.example.net>" % arg, frm='"x" <sip:0899000000@h>;tag=1')
    method, _, tag = kind.partition("+")
    return request(method.upper(), to_tag=bool(tag))


def make_gate(overrides=None, now=None):
    # Defaults plus valid overrides: a config as validate() returns it (validation has
    # its own tests, and leaving it out keeps this module within a 110 KB heap).
    cfg = defaults()
    cfg["provider"] = "sip.example.net:5060"
    cfg["timezone"] = "CET-1CEST,M3.5.0,M10.5.0/3"
    cfg["quiet_hours"] = [{"days": "Mon-Fri", "start": "22:00", "end": "07:00"}]
    cfg["sources_tracked"] = 8  # small tables: the heap is fragmented after the imports
    if overrides:
        cfg.update(overrides)
    home = Home(now)
    gate = G.Gate(cfg, home, home)
    gate.set_provider_addresses([PROVIDER])
    return gate


def rows(name):
    with open("host_tests/data/" + name) as f:
        for line in f:
            if line.strip() and line[0] != "#":
                yield [cell.strip() for cell in line.split(" | ")]


def test_decision_table():
    failures = []
    count = 0
    for what, overrides, spec, source, dialog, when, button, expected in rows("gate_table.txt"):
        now = utc(when)
        gate = make_gate(json.loads(overrides), now)
        gate.set_quiet(BUTTON[button], now)
        v = gate.decide(message(spec), (SOURCES[source], 5060), T0, dialog == "yes")
        action, code, reason = expected.split(" ", 2)
        if (v.action, v.code, v.reason) != (ACTIONS[action], int(code), reason):
            failures.append("%s: got %r" % (what, v))
        count += 1
        gc.collect()
    assert count == 52, count
    assert not failures, "\n".join(failures)


def test_quiet_table():
    failures = []
    count = 0
    for what, overrides, press, when, mode, until in rows("gate_quiet.txt"):
        gate = make_gate(json.loads(overrides), None)
        if press != "-":
            button, at = press.split("@")
            gate.set_quiet(BUTTON[button], utc(at))
        gate.clock.now = utc(when)
        st = gate.status()
        want = (mode, mode != "ringing", None if until == "-" else until, when != "unknown")
        got = (st["mode"], st["quiet"], st["until"], st["clock_known"])
        if got != want:
            failures.append("%s: got %r" % (what, got))
        count += 1
    assert count == 22, count
    assert not failures, "\n".join(failures)


def test_bad_quiet_mode_refused():
    gate = make_gate(None, MON_NOON)
    try:
        gate.set_quiet(7)
        raise AssertionError("accepted quiet mode 7")
    except ValueError:
        pass


def test_call_sequences():
    failures = []
    steps = 0
    with open("host_tests/data/gate_calls.txt") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] == "#":
                continue
            if line[:3] == "== ":
                what, overrides, when = line[3:].split(" | ")
                gate = make_gate(json.loads(overrides), utc(when))
                continue
            step, _, expected = line.partition(" | ")
            verb, _, arg = step.partition(" ")
            got = ""
            if verb == "call":
                caller, source, ms = arg.split(" ")
                msg = request(frm=CALLERS[caller])
                v = gate.decide(
                    msg, (SOURCES.get(source, source), 5060), ticks_add(T0, int(ms)), False
                )
                got = "%s %d %s" % (("forward", "answer", "drop")[v.action], v.code, v.reason)
            elif verb == "status":
                st = gate.status()
                got = "%s %s" % (st["mode"], st["until"])
            elif verb == "at":
                gate.clock.now = utc(arg)
            elif verb == "press":
                gate.set_quiet(BUTTON[arg])
            elif verb == "seen":
                gate.provider_seen(arg)
            elif verb == "dns":
                gate.set_provider_addresses(arg.split(","))
            elif verb == "configure":
                cfg = dict(gate.config)
                cfg.update(json.loads(arg))
                gate.configure(cfg)
            else:
                raise ValueError(line)
            if got != expected:
                failures.append("%s: %s: got %r" % (what, step, got))
            steps += 1
    assert steps == 40, steps
    assert not failures, "\n".join(failures)


def test_repeat_table_is_bounded():
    gate = make_gate(None, MON_NIGHT)
    for k in range(gate.repeat_size + 8):
        msg = request(frm='"x" <sip:06%08d@h>;tag=1' % k)
        gate.decide(msg, (PROVIDER, 5060), ticks_add(T0, k), False)
        gate.calllog.calls = []
        gc.collect()
    assert len(gate._repeat) == gate.repeat_size
    # The newest are the ones remembered, the oldest forgotten.
    last = request(frm='"x" <sip:06%08d@h>;tag=1' % (gate.repeat_size + 7))
    assert gate.decide(last, (PROVIDER, 5060), ticks_add(T0, 200), False).action == G.FORWARD
    first = request(frm='"x" <sip:0600000000@h>;tag=1')
    assert gate.decide(first, (PROVIDER, 5060), ticks_add(T0, 300), False).code == 480


def test_initial_invites_are_logged():
    gate = make_gate({"block": ["0033147310370"]}, MON_NOON)
    gate.decide(request(), (PROVIDER, 5060), T0, False)
    gate.decide(request(frm=BLOCKED), (PROVIDER, 5060), T0, False)
    # A stranger's INVITE is a scan: logged once per scanning address in a row, so
    # one that keeps knocking cannot push the real calls out of the log.
    gate.decide(request(), (STRANGER, 5060), T0, False)
    gate.decide(request(), (STRANGER, 5060), T0, False)
    gate.decide(request("OPTIONS"), (STRANGER, 5060), T0, False)
    gate.decide(request("OPTIONS"), (PROVIDER, 5060), T0, False)
    calls = gate.calllog.calls
    assert calls[0] == (MON_NOON, "0612345678", "Alice", PROVIDER, G.FORWARD, "rang")
    blocked = (MON_NOON, "0033147310370", "Spam", PROVIDER, G.ANSWER)
    assert calls[1] == blocked + ("blocked caller 0033147310370",)
    scan = (MON_NOON, "0612345678", "Alice", STRANGER, G.DROP)
    assert calls[2] == scan + ("scanner: call not from the provider",)
    assert len(calls) == 3
    assert gate.calllog.counters == {"unknown_source": 3}
    assert gate.status(MON_NOON)["last_unknown_source"] == STRANGER


def test_the_providers_asserted_identity_names_and_numbers_the_call():
    # P-Asserted-Identity, when the provider sends one, is the caller: its number
    # (else From's, when it has no user part) and its display name (else From's).
    gate = make_gate(None, MON_NOON)
    cases = (
        ('"Front Desk" <sip:+33-1-47-31-03-70@sip.example.net>', "+33147310370", "Front Desk"),
        ('"Front Desk" <tel:+33147310370>', "+33147310370", "Front Desk"),
        ("<sip:+33147310370@sip.example.net>", "+33147310370", "Alice"),
        ('"Front Desk" <sip:sip.example.net>', "0612345678", "Front Desk"),
        ('"Front Desk" <sip:+33 1 47 31 03 70@h>', "0612345678", "Alice"),  # not an address
        ("not a name-addr <", "0612345678", "Alice"),
    )
    for pai, number, name in cases:
        gate.calllog.calls.clear()
        gate.decide(request(pai=pai), (PROVIDER, 5060), T0, False)
        assert gate.calllog.calls == [(MON_NOON, number, name, PROVIDER, G.FORWARD, "rang")], pai
        assert sip.caller_number(request(pai=pai)) == number


def test_stranger_refused_unread_as_decide_refuses_it():
    # refuse_stranger(ip, raw bytes) is what the proxy asks before parsing while it
    # knows no dialog: True only where decide(..., in_dialog=False) would give the
    # same "not from the provider" drop, counted the same way, and a stranger's
    # INVITE logged the same way once log_scan() has run (with its From: a
    # stranger's P-Asserted-Identity is not believed).
    pai = '"Front Desk" <sip:+33 1 47 31 03 70@sip.example.net>'
    invites = (
        {},
        {"pai": pai},
        {"frm": '"John Doe"<sip:4000@198.51.100.20>;tag=3665d3e0'},
        {"frm": "<sip:%2B33-6-12-34-56-78@h>;tag=9"},
        {"frm": '"Anonymous" <sip:anonymous@anonymous.invalid>;tag=x'},
        {"frm": '"Alice"\r\n <sip:0612345678@h>;tag=1'},  # folded onto a second line
    )
    # Datagrams, not Messages: the heap of MicroPython's test run is small.
    cases = [(m, request(m).to_bytes()) for m in ("OPTIONS", "REGISTER", "BYE")]
    cases += [("INVITE", request(**kw).to_bytes()) for kw in invites]
    unread = make_gate({"trusted": ["198.51.100.0/24"]}, MON_NOON)
    parsed = make_gate({"trusted": ["198.51.100.0/24"]}, MON_NOON)
    for method, data in cases:
        for who in ("provider", "trusted", "stranger"):
            ip = SOURCES[who]
            for gate in (unread, parsed):  # as new
                gate.calllog.calls.clear()
                gate.calllog.counters.clear()
                gate._last_scan_logged = gate.last_unknown_source = None
            refused = unread.refuse_stranger(ip, memoryview(data))
            assert refused == (who == "stranger"), (method, who)
            assert not unread.calllog.calls  # not yet: log_scan() writes the line
            unread.log_scan()
            if refused:
                v = parsed.decide(sip.parse(data), (ip, 5060), T0, False)
                assert v is (G._SCANNER_CALL if method == "INVITE" else G._UNKNOWN_SOURCE)
                assert unread.calllog.counters == parsed.calllog.counters
                assert unread.calllog.calls == parsed.calllog.calls, data
                assert unread.last_unknown_source == parsed.last_unknown_source == ip
            else:
                assert not unread.calllog.calls
    del cases, unread, parsed, gate  # room on MicroPython's small test heap
    gate = make_gate(None, MON_NOON)
    home = gate.calllog
    # One log line per scanning address in a row, and one INVITE kept at a time: an
    # INVITE from another address meanwhile is counted, not logged, and that
    # address can be logged later.
    invite = request().to_bytes()
    other = request(frm='"Bob" <sip:0700000000@h>;tag=2').to_bytes()
    assert gate.refuse_stranger(STRANGER, invite)
    n = home.counters["unknown_source"]
    assert gate.refuse_stranger("203.0.113.77", other)
    gate.log_scan()
    gate.log_scan()  # nothing kept: nothing more
    assert [c[1:4] for c in home.calls] == [("0612345678", "Alice", STRANGER)]
    assert gate.refuse_stranger(STRANGER, invite)
    assert gate.refuse_stranger("203.0.113.77", other)
    gate.log_scan()
    assert home.calls[1][1:4] == ("0700000000", "Bob", "203.0.113.77")
    assert home.counters["unknown_source"] == n + 3
    # An INVITE that does not parse is counted and never logged.
    assert gate.refuse_stranger("203.0.113.99", invite.replace(b"\r\nFrom:", b"\r\nX-From:"))
    gate.log_scan()
    assert len(home.calls) == 2 and home.counters["unknown_source"] == n + 4
    # Before parsing, under a scan: no heap (the counters exist by now). Without
    # trusted networks: config.in_networks reads the address into a number, which
    # allocates.
    try:
        from micropython import mem_total
    except ImportError:
        return
    gate = make_gate(None, MON_NOON)
    view = memoryview(request("OPTIONS").to_bytes())
    gate.refuse_stranger(STRANGER, view)
    gate.refuse_stranger("203.0.113.67", invite)  # kept once, then refused unread
    gate.log_scan()
    before = mem_total()
    for _ in range(20):
        gate.refuse_stranger(STRANGER, view)
        gate.refuse_stranger("203.0.113.67", view)
        gate.refuse_stranger("203.0.113.67", invite)
        gate.refuse_stranger(PROVIDER, view)
    after = mem_total()
    assert after == before, after - before


def test_learned_provider_addresses_are_bounded():
    gate = make_gate(None, MON_NOON)
    for k in range(20):
        gate.provider_seen("192.0.2.%d" % (100 + k))
    assert len(gate._learned) == gate.learned_size
    learned = ["192.0.2.116", "192.0.2.117", "192.0.2.118", "192.0.2.119"]
    assert sorted(gate.status()["provider_addresses"]) == sorted([PROVIDER] + learned)


def test_provider_is_never_rate_limited_or_banned():
    gate = make_gate({"rate_burst": 2, "rate_per_second": 1}, MON_NOON)
    assert all(gate.admit(PROVIDER, T0) for _ in range(500))
    assert [gate.admit(STRANGER, T0) for _ in range(5)] == [True, True, False, False, False]
    gate.provider_seen("192.0.2.77")
    assert all(gate.admit("192.0.2.77", T0) for _ in range(500))
    st = gate.status(MON_NOON)
    assert st["refused"] == 3 and st["bans"] == 1


def test_admit_refusal_allocates_nothing():
    gate = make_gate({"rate_burst": 1, "rate_per_second": 1}, MON_NOON)
    gate.admit(STRANGER, T0)
    gate.admit(STRANGER, T0)
    try:
        import micropython

        lock, unlock = micropython.heap_lock, micropython.heap_unlock
    except (ImportError, AttributeError):
        lock = unlock = None
    n = refused = 0
    gc.collect()
    if lock:
        lock()
    try:
        while n < 200:
            if not gate.admit(STRANGER, T0):
                refused += 1
            n += 1
    finally:
        if unlock:
            unlock()
    assert refused == 200


def test_vicious_tag_shape():
    assert G._vicious_tag(b"3766303030303037336164340131393533353137373139")
    assert not G._vicious_tag(b"a1b2c3")
    assert not G._vicious_tag(b"1928301774")
    assert not G._vicious_tag(b"5f3e4a2b9c8d7e6f5a4b3c2d1e0f9a8b")


def test_quiet_schedule_kept_per_minute_follows_config_and_clock():
    # The schedule's answer is worked out once per local minute; a new config or a
    # clock in another minute works it out again.
    gate = make_gate(None, MON_NIGHT)
    alice = '"Alice" <sip:0612345678@sip.example.net>;tag=a1b2c3'
    assert gate.decide(request(frm=alice), (PROVIDER, 5060), T0, False).reason == "quiet hours"
    cfg = dict(gate.config)
    cfg["quiet_hours"] = [{"days": "Sat-Sun", "start": "22:00", "end": "07:00"}]
    gate.configure(cfg)
    later = ticks_add(T0, 600000)  # past the repeat-call window
    assert gate.decide(request(frm=alice), (PROVIDER, 5060), later, False).reason == "rang"
    assert gate.status()["mode"] == "ringing"
    gate.configure(dict(cfg, quiet_hours=[{"days": "Mon", "start": "23:31", "end": "23:45"}]))
    gate.clock.now = MON_NIGHT + 59  # 23:30:59 in Paris: still the minute before
    assert gate.status()["mode"] == "ringing"
    gate.clock.now = MON_NIGHT + 60  # 23:31:00
    assert gate.status()["mode"] == "quiet-schedule"
    gate.clock.now = MON_NIGHT - 3600  # back to 22:30: the clock was set again
    assert gate.status()["mode"] == "ringing"


def test_quiet_now_says_what_status_says():
    gate = make_gate(None, MON_NIGHT)
    assert gate.quiet_now(MON_NIGHT) == "quiet hours"
    assert gate.status(MON_NIGHT)["mode"] == "quiet-schedule"
    assert gate.quiet_now(MON_NOON) == "ringing"
    gate.set_quiet(G.QUIET_ON, MON_NOON)
    assert gate.quiet_now(MON_NOON) == "quiet (button)"
    gate.set_quiet(G.QUIET_UNTIL_MORNING, MON_NOON)
    assert gate.quiet_now(MON_NOON) == "quiet until morning"
    assert gate.status(MON_NOON)["mode"] == "quiet-until-morning"


def test_controls_are_loaded_only_while_they_run():
    # Setting up, configure, set_quiet, status and new provider addresses live in
    # hushgate.gatecontrol (TZ.to_utc in hushgate.tzwall): loaded for the call, never
    # left resident.
    import sys

    import hushgate

    gate = make_gate(None, MON_NOON)
    gate.set_quiet(G.QUIET_UNTIL_MORNING, MON_NOON)
    assert gate.status()["until"] == "07:00"
    gate.configure(dict(gate.config))
    gate.provider_seen("192.0.2.99")
    gate.set_provider_addresses([PROVIDER])
    assert gate.status()["provider_addresses"] == [PROVIDER, "192.0.2.99"]
    for name in ("gatecontrol", "tzwall"):
        assert "hushgate." + name not in sys.modules, name
        assert not hasattr(hushgate, name), name

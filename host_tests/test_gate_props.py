"""Property tests (CPython, hypothesis): the gate's tables stay bounded whatever arrives.

The rate limiter, the call log, the repeat-call table and the learned provider
addresses each have a fixed bound; these tests feed them arbitrary sources, numbers
and names and check the bound, the table's consistency, and (for the limiter) that
the memory it holds does not grow past what the bound allows.
"""

import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from hushgate import gate as G  # noqa: N812
from hushgate import sip
from hushgate.calllog import CallLog
from hushgate.compat import ticks_add
from hushgate.config import defaults
from hushgate.limiter import Limiter

octet = st.integers(min_value=0, max_value=255)
ips = st.builds(lambda a, b, c, d: "%d.%d.%d.%d" % (a, b, c, d), octet, octet, octet, octet)
# (source, milliseconds since the previous datagram)
traffic = st.lists(st.tuples(ips, st.integers(min_value=0, max_value=5000)), max_size=400)


def _check_limiter(lim):
    assert len(lim._slot) <= lim.size
    assert len(lim._tokens) == len(lim._seen) == lim.size + 1  # + the shared bucket
    # A slot is in use exactly when one address maps to it.
    used = set(lim._slot.values())
    assert len(used) == len(lim._slot)
    assert used == {i for i in range(lim.size) if lim._tokens[i] != -1}  # -1: a free slot
    # ... and that slot names it back (eviction reads it there).
    assert all(lim._ips[i] == ip for ip, i in lim._slot.items())
    assert sum(1 for ip in lim._ips if ip is not None) == len(lim._slot)


@settings(max_examples=200, deadline=None)
@given(traffic, st.integers(min_value=4, max_value=32))
def test_limiter_table_bounded_and_consistent(datagrams, size):
    lim = Limiter(size=size, burst=3, per_second=1, ban_ms=60000)
    lim.evict_sample = 3  # fewer than the table's slots: the hand goes round
    lim.exempt(["192.0.2.10"])
    now = 1000
    for ip, dt in datagrams:
        now = ticks_add(now, dt)
        lim.admit(ip, now)
        assert lim.admit("192.0.2.10", now)  # the provider, whatever else happens
    _check_limiter(lim)


@settings(max_examples=30, deadline=None)
@given(st.lists(ips, min_size=200, max_size=600, unique=True))
def test_limiter_memory_does_not_grow_with_new_sources(sources):
    lim = Limiter(size=16, burst=2, per_second=1, ban_ms=60000)
    lim.shared_burst = lim.shared_per_second = 1000
    lim.configure()
    now = 1000
    for ip in sources[:100]:  # fill the table and its dict once
        lim.admit(ip, now)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for ip in sources[100:]:
            now = ticks_add(now, 1)
            lim.admit(ip, now)
            lim.admit(ip, now)
            lim.admit(ip, now)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    _check_limiter(lim)
    # The table keeps 16 addresses however many came; what is held beyond the
    # first fill is at most a few strings' worth, not one per source.
    assert after - before < 4096, after - before


names = st.text(max_size=300)
numbers = st.text(alphabet="0123456789+*-. ", max_size=100)


class _Verdict:
    def __init__(self, action, code, reason, kind):
        self.action, self.code, self.reason, self.kind = action, code, reason, kind


verdicts = st.builds(
    _Verdict,
    st.integers(min_value=0, max_value=2),
    st.sampled_from([0, 480, 486, 603]),
    st.text(max_size=200),
    st.sampled_from(["rang", "blocked", "quiet", "scanner", None, "odd"]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(numbers, names, ips, verdicts), max_size=150),
    st.integers(min_value=5, max_value=60),
)
def test_call_log_bounded(calls, size):
    log = CallLog(size=size)
    for number, name, ip, verdict in calls:
        log.record(1764000000, number, name, ip, verdict)
    entries = log.entries()
    assert len(entries) == min(len(calls), size)
    assert len(log._ring) == size * 96  # one record each, allocated once
    for e in entries:
        assert len(e["number"].encode()) <= log.max_number
        assert len(e["name"].encode()) <= log.max_name
        assert len(e["reason"].encode()) <= log.max_reason
    assert set(log.counters) == {"calls", "rang", "blocked", "quiet", "scanner"}
    assert log.counters["calls"] == len(calls)
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids, reverse=True)


class _Home:
    def __init__(self):
        self.now = 1767650400  # Monday 2026-01-05 22:00 UTC: quiet in Paris

    def utc(self):
        return self.now

    def record(self, *args):
        pass

    def count(self, kind, n=1):
        pass


INVITE = (
    "INVITE sip:0140000000@192.168.1.50 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n"
    "To: <sip:0140000000@192.168.1.50>\r\n"
    'From: "x" <sip:%s@sip.example.net>;tag=1\r\n'
    "Call-ID: 1@192.0.2.10\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.text(alphabet="0123456789", min_size=1, max_size=20), max_size=80),
    st.lists(ips, max_size=30),
)
def test_repeat_table_and_learned_addresses_bounded(callers, seen):
    cfg = defaults()
    cfg["timezone"] = "CET-1CEST,M3.5.0,M10.5.0/3"
    cfg["quiet_hours"] = [{"days": "Daily", "start": "22:00", "end": "07:00"}]
    cfg["sources_tracked"] = 8
    home = _Home()
    gate = G.Gate(cfg, home, home)
    gate.set_provider_addresses(["192.0.2.10"])
    now = 1000
    for number in callers:
        now = ticks_add(now, 7000)
        gate.decide(sip.parse((INVITE % number).encode()), ("192.0.2.10", 5060), now, False)
        assert len(gate._repeat) <= gate.repeat_size
    for ip in seen:
        gate.provider_seen(ip)
        assert len(gate._learned) <= gate.learned_size
    assert len(gate._provider) <= gate.learned_size + 1


CORPUS = "../shared/corpus/rfc4475/"


def _requests():
    import os

    out = [INVITE % "0612345678"]
    for name in sorted(os.listdir(CORPUS)):
        if name.endswith(".dat"):
            with open(CORPUS + name, "rb") as f:
                out.append(f.read())
    for name in sorted(os.listdir("host_tests/data/scanners")):
        with open("host_tests/data/scanners/" + name, "rb") as f:
            out.append(f.read())
    return [d if isinstance(d, bytes) else d.encode() for d in out]


SAMPLES = _requests()


def _gate():
    cfg = defaults()
    cfg["timezone"] = "CET-1CEST,M3.5.0,M10.5.0/3"
    cfg["quiet_hours"] = [{"days": "Daily", "start": "22:00", "end": "07:00"}]
    cfg["block"] = ["0899*"]
    cfg["vip"] = ["+33611111111"]
    cfg["block_anonymous"] = True
    home = _Home()
    gate = G.Gate(cfg, home, home)
    gate.set_provider_addresses(["192.0.2.10"])
    return gate


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8),
    st.sampled_from(["192.0.2.10", "203.0.113.5"]),
    st.booleans(),
    st.one_of(st.none(), st.integers(min_value=0, max_value=2**32)),
)
def test_decide_never_raises_on_what_parses(data, flips, source, in_dialog, now_utc):
    """The RFC 4475 torture requests, the scanner captures and a plain INVITE, with
    random bytes changed: whatever sip.parse accepts, decide() answers with a verdict."""
    data = bytearray(data)
    for pos, value in flips:
        data[pos % len(data)] = value
    try:
        msg = sip.parse(bytes(data))
    except sip.SipError:
        return
    if msg.method is None:
        return
    gate = _gate()
    gate.clock.now = now_utc
    verdict = gate.decide(msg, (source, 5060), 1000, in_dialog)
    assert verdict.action in (G.FORWARD, G.ANSWER, G.DROP)
    assert isinstance(verdict.reason, str) and verdict.reason
    if verdict.action == G.ANSWER:
        assert verdict.code in (403, 480, 486, 603)

"""Hushgate in the middle, with real peers on loopback (issue 8 §2).

    caller (sipp, .6) ── Kamailio, the provider (.2) ── hushgate (.3) ── ATA (baresip, .4)
                              scanners (.5, .100 up, and svwar's 127.0.0.1) ──┘

The provider reaches the ATA's registration at the address its REGISTER came from,
hushgate's, as a provider does for a customer behind NAT. Every test reads what arrived
where from the peers' own records (sipp's statistics and message log, baresip's SIP trace
and control events, Kamailio's log), and hushgate's verdicts from its call log.
"""

import threading
import time

import garbage
import peers
import pytest
from conftest import require_tools
from peers import call_keys, wait_registered

QUIET_CALLER = "0611000001"
VIP = "0622000002"
BLOCKED = "0699111222"
ANONYMOUS = "anonymous"
FLOOD_RATE = 20000  # datagrams/s: about what sipp reaches from one address on this machine


@pytest.fixture
def start_hushgate(procs, net, folder):
    """Start hushgate with config.json overrides: start_hushgate({...}) -> Hushgate."""
    require_tools("micropython")

    def start(config=None):
        return peers.Hushgate(procs, net, folder, config or {})

    return start


@pytest.fixture
def line(provider, start_hushgate, start_ata, net):
    """The household's line: hushgate with a config, the ATA registered through it.
    line(config=None, answermode="auto", regint=60) -> (hushgate, ata)."""

    def bring_up(config=None, answermode="auto", regint=60):
        gate = start_hushgate(config)
        outbound = "%s:%d" % (net.hushgate, net.sip_port)
        ata = start_ata(outbound=outbound, answermode=answermode, regint=regint)
        wait_registered(provider, ata)
        return gate, ata

    return bring_up


def invites_at_ata(ata):
    return [first for _, first in ata.sip_received() if first.startswith("INVITE ")]


def wanted_call(caller, net, sink=None, number=None, name="Alice Caller", talk_ms=1000):
    """One call from the provider side to the ATA's account, hung up by the caller."""
    keys = call_keys(net, sink, number, name)
    extra = ["-s", net.ata_user, "-d", str(talk_ms)]
    return caller.run("uac", keys=keys, extra=extra, timeout=30)


def rejected_call(caller, net, code, number, name="Night Caller"):
    """A call from the provider side that must be turned away with `code`."""
    keys = call_keys(net, None, number, name)
    return caller.run(
        "uac_reject", keys=keys, extra=["-s", net.ata_user], subst={"code": code}, timeout=30
    )


def calls_of(gate, number):
    """Hushgate's call attempts (newest first, from its log) for one caller number."""
    return [c for c in gate.calls() if c["number"] == number]


def quiet_now():
    """A daily quiet window from an hour ago to an hour from now (UTC0 in the config);
    around midnight it crosses it, which the schedule must handle."""
    now = time.gmtime()
    minutes = now.tm_hour * 60 + now.tm_min
    start = (minutes - 60) % 1440
    end = (minutes + 60) % 1440
    return [
        {
            "days": "daily",
            "start": "%02d:%02d" % divmod(start, 60),
            "end": "%02d:%02d" % divmod(end, 60),
        }
    ]


# 1 ---------------------------------------------------------------------------------------


def test_registration_goes_through_the_gate_and_refreshes(line, provider, net):
    gate, ata = line(regint=6)
    saved = provider.lines("SAVED sip:%s@" % net.ata_user)
    # the provider saw the REGISTER come from hushgate, and will send calls there
    assert peers.field(saved[0], "src") == "%s:%d" % (net.hushgate, net.sip_port)
    answers = [src for src, first in ata.sip_received() if first.startswith("SIP/2.0 200")]
    assert answers and set(answers) == {"%s:%d" % (net.hushgate, net.sip_port)}
    wait_registered(provider, ata, timeout=12, since_count=1)
    assert len(provider.lines("SAVED sip:%s@" % net.ata_user)) >= 2
    assert not provider.requests("REGISTER", src=net.ata)  # never around the gate


# 2 ---------------------------------------------------------------------------------------


def test_wanted_call_rings_is_answered_and_media_bypasses_hushgate(
    line, provider, caller, rtp_sink, net
):
    gate, ata = line()
    since = time.monotonic()
    result = wanted_call(caller, net, rtp_sink, talk_ms=2000)
    assert (result.successful, result.failed) == (1, 0), result
    assert ata.wait_event("CALL_ESTABLISHED", 5, since)["peerdisplayname"] == "Alice Caller"
    assert ata.wait_event("CALL_CLOSED", 5, since)
    from_gate = "%s:%d" % (net.hushgate, net.sip_port)
    received = ata.sip_received()
    assert {src for src, _ in received} == {from_gate}  # hushgate is the ATA's only peer
    methods = [first.split()[0] for _, first in received]
    assert "INVITE" in methods and "ACK" in methods and "BYE" in methods
    assert provider.lines("ROUTE INVITE %s" % net.ata_user)
    assert provider.lines("REPLY 180 INVITE src=%s:" % net.hushgate)  # it rang
    # voice went from the ATA's RTP socket straight to the caller: 2 s at 50 packets/s
    assert sum(rtp_sink.sources.values()) >= 50, rtp_sink.sources
    assert net.hushgate not in rtp_sink.sources
    rang = calls_of(gate, net.caller_user)
    assert rang and rang[0]["kind"] == "rang", rang
    assert rang[0]["name"] == "Alice Caller" and rang[0]["source"] == net.provider, rang


def test_wanted_call_hung_up_by_the_ata(line, caller, rtp_sink, net):
    gate, ata = line()
    since = time.monotonic()
    keys = call_keys(net, rtp_sink)
    handle = caller.start("uac_wait_bye", keys=keys, extra=["-s", net.ata_user])
    ata.wait_event("CALL_ESTABLISHED", 10, since)
    ata.hangup()
    result = caller.result(handle, 15)
    assert (result.successful, result.failed) == (1, 0), result
    assert any(first.startswith("BYE ") for first in result.received()), result


def test_unanswered_call_is_cancelled_through_the_gate(line, caller, net):
    gate, ata = line(answermode="manual")
    since = time.monotonic()
    keys = call_keys(net, None)
    result = caller.run("uac_cancel", keys=keys, extra=["-s", net.ata_user, "-d", "1500"])
    assert (result.successful, result.failed) == (1, 0), result
    assert "SIP/2.0 487 Request Terminated" in result.received()
    assert ata.wait_event("CALL_INCOMING", 1, since)
    assert ata.wait_event("CALL_CLOSED", 5, since)
    assert "CALL_ESTABLISHED" not in ata.event_types(since)
    assert any(first.startswith("CANCEL ") for _, first in ata.sip_received())


# 3 ---------------------------------------------------------------------------------------


def test_outgoing_call_from_the_ata_through_hushgate(line, provider, caller, net):
    gate, ata = line()
    handle = caller.start("uas", keys=call_keys(net, None), extra=["-s", net.caller_user])
    caller.wait_ready()
    since = time.monotonic()
    ata.dial("sip:%s@%s" % (net.caller_user, net.provider))
    ata.wait_event("CALL_ESTABLISHED", 10, since)
    time.sleep(0.5)
    ata.hangup()
    result = caller.result(handle, 10)
    assert (result.successful, result.failed) == (1, 0), result
    assert [f.split()[0] for f in result.received()] == ["INVITE", "ACK", "BYE"], result
    assert provider.requests("INVITE", src=net.hushgate)
    assert not provider.requests("INVITE", src=net.ata)
    # the ATA's in-dialog requests follow the provider's Record-Route: baresip sends them
    # to the provider directly, as an ATA behind a router would


def test_outgoing_call_hung_up_by_the_far_end_reaches_the_ata_through_hushgate(
    line, provider, caller, net
):
    gate, ata = line()
    keys = call_keys(net, None)
    handle = caller.start("uas_bye", keys=keys, extra=["-s", net.caller_user, "-d", "1000"])
    caller.wait_ready()
    since = time.monotonic()
    ata.dial("sip:%s@%s" % (net.caller_user, net.provider))
    ata.wait_event("CALL_ESTABLISHED", 10, since)
    result = caller.result(handle, 15)
    assert (result.successful, result.failed) == (1, 0), result
    assert ata.wait_event("CALL_CLOSED", 5, since)
    from_gate = "%s:%d" % (net.hushgate, net.sip_port)
    assert (from_gate, "BYE") in [(src, f.split()[0]) for src, f in ata.sip_received()]


# 4 ---------------------------------------------------------------------------------------


def test_scanners_find_nothing_and_the_ata_hears_nothing(line, provider, net, folder):
    require_tools("sipvicious_svmap", "sipvicious_svwar", "sipvicious_svcrack")
    gate, ata = line()
    before = len(ata.sip_received())
    target = [net.hushgate, "-p", str(net.sip_port)]
    # -x: the address the tools write in their Via and Contact (else the machine's own,
    # which a wrong answer would then go to)
    bind = ["-b", net.scanner, "-x", net.scanner, "-P", str(net.scanner_port)]
    port = ["-x", net.scanner, "-P", str(net.scanner_port)]
    runs = [
        ("svmap", bind + target),
        ("svmap", ["-c"] + bind + target),
        ("svwar", port + ["-e", "100-120", "-m", "REGISTER"] + target),
        ("svwar", port + ["--force", "-e", "100-120", "-m", "INVITE"] + target),
        ("svwar", ["-c"] + port + ["--force", "-e", "100-120", "-m", "INVITE"] + target),
        ("svcrack", port + ["-u", net.ata_user, "-r", "1000-1020"] + target),
        ("svcrack", ["-c"] + port + ["-u", net.ata_user, "-r", "1000-1020"] + target),
    ]
    for tool, args in runs:
        result = peers.run_scanner(net, folder, tool, args)
        assert result.returncode == 30 and "found nothing" in result.output, (args, result)
    assert ata.sip_received()[before:] == []
    assert not [x for x in provider.lines("REQ") if "friendly-scanner" in x]
    # issue 8 §4: "the call log and counters show the attempts as scanners" (svwar's
    # INVITEs are call attempts by a scanner)
    calls = gate.calls()
    assert [c for c in calls if c["kind"] == "scanner"], "no scanner in the call log: %r" % calls
    counters = gate.status()["counters"]
    assert counters["scanner"] >= 1, "scanners not counted as such: %r" % counters


# 5 ---------------------------------------------------------------------------------------


def test_john_doe_invite_is_not_answered_and_never_reaches_the_ata(line, scanner, provider, net):
    gate, ata = line()
    before = len(ata.sip_received())
    keys = dict(call_keys(net, None, "4000", "John Doe"), ua="Asterisk PBX")
    result = scanner.run(
        "uac_silent",
        "%s:%d" % (net.hushgate, net.sip_port),
        keys=keys,
        extra=["-s", "0033147310370"],
        subst={"silence_ms": 4000},
    )
    assert (result.successful, result.failed) == (1, 0), result
    assert result.received() == []
    assert ata.sip_received()[before:] == []
    assert not provider.requests("INVITE", src=net.hushgate)


# 6 ---------------------------------------------------------------------------------------


def test_quiet_hours_answer_480_let_vip_and_repeat_callers_ring(line, caller, net):
    gate, ata = line({"quiet_hours": quiet_now(), "vip": [VIP], "repeat_call_minutes": 3})
    first = rejected_call(caller, net, 480, QUIET_CALLER)
    assert (first.successful, first.failed) == (1, 0), first
    assert invites_at_ata(ata) == []
    assert calls_of(gate, QUIET_CALLER)[0]["kind"] == "quiet"

    vip = wanted_call(caller, net, number=VIP, name="Grandma")
    assert (vip.successful, vip.failed) == (1, 0), vip
    assert len(invites_at_ata(ata)) == 1

    again = wanted_call(caller, net, number=QUIET_CALLER, name="Night Caller")
    assert (again.successful, again.failed) == (1, 0), again
    assert len(invites_at_ata(ata)) == 2
    assert calls_of(gate, QUIET_CALLER)[0]["kind"] == "rang"


def test_button_quiet_mode_holds_calls_until_pressed_again(line, caller, net):
    gate, ata = line({"repeat_call_minutes": 0})
    assert gate.press_and_wait("b") == "button: quiet on"
    held = rejected_call(caller, net, 480, QUIET_CALLER)
    assert (held.successful, held.failed) == (1, 0), held
    assert invites_at_ata(ata) == []
    # further short presses acknowledge the held call, then step through "quiet until
    # morning" to off
    said = [gate.press_and_wait("b") for _ in range(3)]
    assert said[-1] == "button: quiet off", said
    rings = wanted_call(caller, net, number=QUIET_CALLER)
    assert (rings.successful, rings.failed) == (1, 0), rings
    assert len(invites_at_ata(ata)) == 1


# 7 ---------------------------------------------------------------------------------------


def test_blocked_number_and_blocked_anonymous_get_603(line, caller, net):
    gate, ata = line({"block": [BLOCKED], "block_anonymous": True})
    blocked = rejected_call(caller, net, 603, BLOCKED)
    assert (blocked.successful, blocked.failed) == (1, 0), blocked
    anonymous = rejected_call(caller, net, 603, ANONYMOUS, name="Anonymous")
    assert (anonymous.successful, anonymous.failed) == (1, 0), anonymous
    assert invites_at_ata(ata) == []
    assert calls_of(gate, BLOCKED)[0]["kind"] == "blocked"
    allowed = wanted_call(caller, net)
    assert (allowed.successful, allowed.failed) == (1, 0), allowed


# 8 ---------------------------------------------------------------------------------------


def test_torture_and_garbage_get_no_answer_and_calls_still_work(line, caller, provider, net):
    gate, ata = line()
    before = len(ata.sip_received())
    target = (net.hushgate, net.sip_port)
    sources = net.flood_sources(100)
    blaster = peers.Blaster([net.scanner] + sources)
    try:
        corpus = [data for _, data in garbage.rfc4475(net.scanner)]
        blaster.send(corpus, target)  # first, while the rate limiter lets all through
        blaster.send(garbage.mutated(10000, net.scanner), target, rate=1000)
        replies = blaster.listen(2.0)
    finally:
        blaster.close()
    assert blaster.sent == len(corpus) + 10000
    assert replies == [], replies[:3]
    assert gate.running()
    assert ata.sip_received()[before:] == []
    assert not provider.requests("INVITE", src=net.hushgate)
    after = wanted_call(caller, net)
    assert (after.successful, after.failed) == (1, 0), after
    assert "crashed" not in gate.log() and "Traceback" not in gate.log()


def test_garbage_from_the_providers_address_is_survived(line, caller, net):
    """The provider's address is exempt from the rate limit, so everything sent from it
    meets the parser and the proxy: some of it is forwarded to the ATA (which must not
    answer its calls meanwhile), none of it may stop hushgate."""
    gate, ata = line(answermode="manual")
    blaster = peers.Blaster([net.provider])
    try:
        target = (net.hushgate, net.sip_port)
        blaster.send([data for _, data in garbage.rfc4475(net.provider)], target)
        blaster.send(garbage.mutated(3000, net.provider, seed=3261), target, rate=1000)
        blaster.listen(1.0)
    finally:
        blaster.close()
    assert gate.running()
    assert "crashed" not in gate.log() and "Traceback" not in gate.log()
    for _ in range(10):  # whatever garbage made the ATA ring
        if "(0)" in ata.listcalls():
            break
        ata.hangup()
        time.sleep(0.2)
    ata.set_answermode("auto")
    after = wanted_call(caller, net)
    assert (after.successful, after.failed) == (1, 0), after
    print(
        "from the provider's address: %d datagrams, %d answers back, ATA got %d messages"
        % (blaster.sent, len(blaster.replies), len(ata.sip_received()))
    )


# 9 ---------------------------------------------------------------------------------------


def _calls_during(caller, net, stop, results, every_s=3.0):
    while not stop.is_set():
        started = time.monotonic()
        result = wanted_call(caller, net, talk_ms=300)
        result.seconds = time.monotonic() - started
        results.append(result)
        stop.wait(max(0.0, every_s - result.seconds))


def _flood_and_call(gate, caller, net, flood):
    """flood(seconds) for 20 s while a wanted call is placed every 3 s, then 10 s more
    without calls while the heap is read twice a second. The firmware's heap figure after
    a collection still varies by a few KB with the datagrams in flight (MicroPython's
    collector is conservative), so "flat" compares the lowest reading of seconds 1.5-5.5
    with the lowest of the last ones: a leak raises the floor, noise does not."""
    idle = gate.mem_alloc()
    stop = threading.Event()
    results = []
    calls = threading.Thread(target=_calls_during, args=(caller, net, stop, results))
    calls.start()
    try:
        sent = flood(20)
    finally:
        stop.set()
        calls.join(40)
    box = {}
    flooding = threading.Thread(target=lambda: box.update(sent=flood(10)))
    flooding.start()
    samples = []
    started = time.monotonic()
    while flooding.is_alive() and time.monotonic() - started < 30:
        samples.append((time.monotonic() - started, gate.mem_alloc()))
        time.sleep(0.5)
    flooding.join(30)
    sent += box.get("sent", 0)
    # from 1.5 s on: the first reading may come before the datagrams do
    first = min(m for t, m in samples if 1.5 <= t < 5.5)
    last = min(m for t, m in samples if t >= 5.5)
    print(
        "%d datagrams, wanted calls taking %s s; heap in use: idle %d, during the last 10 s"
        " of flood %s"
        % (sent, [round(r.seconds, 1) for r in results], idle, [m for t, m in samples])
    )
    return sent, results, first, last


def test_flood_from_one_address_while_wanted_calls_complete(line, caller, scanner, net):
    gate, ata = line()

    def flood(seconds):
        keys = {"ua": "friendly-scanner"}
        extra = ["-s", "100", "-r", "20000", "-rp", "1000", "-l", "100000", "-nr"]
        extra += ["-timeout", "%ds" % seconds]
        done = scanner.run(
            "flood",
            "%s:%d" % (net.hushgate, net.sip_port),
            calls=10000000,
            keys=keys,
            extra=extra,
            timeout=seconds + 20,
            trace=False,
        )
        return done.count("OutgoingCall(C)")

    sent, results, first, last = _flood_and_call(gate, caller, net, flood)
    assert sent >= 20000, sent
    assert all((r.successful, r.failed) == (1, 0) for r in results), results
    assert len(results) >= 5, [r.seconds for r in results]  # a call every 3 s did complete
    assert last - first < 2048, (first, last)
    assert gate.running()


def test_flood_from_many_addresses_while_wanted_calls_complete(line, caller, net):
    gate, ata = line()
    blaster = peers.Blaster(net.flood_sources(150))
    invite = garbage.PLAIN_INVITE.replace(b"HOST", net.scanner.encode())

    def flood(seconds):
        # 20,000 datagrams/s over 150 addresses: sipp's own maximum from one address
        target = (net.hushgate, net.sip_port)
        return blaster.send([invite], target, rate=FLOOD_RATE, duration=seconds)

    try:
        sent, results, first, last = _flood_and_call(gate, caller, net, flood)
    finally:
        blaster.close()
    assert sent >= 20000, sent
    assert blaster.replies == []
    assert all((r.successful, r.failed) == (1, 0) for r in results), results
    assert len(results) >= 5, [r.seconds for r in results]  # a call every 3 s did complete
    assert last - first < 2048, (first, last)
    assert gate.running()


# 10 --------------------------------------------------------------------------------------


def test_restart_mid_call_keeps_config_and_counters(line, caller, rtp_sink, net):
    gate, ata = line({"block": [BLOCKED]})
    assert rejected_call(caller, net, 603, BLOCKED).successful == 1
    config_before = gate.read_config()

    # a clean stop (SIGTERM) in the middle of a call saves the counters
    since = time.monotonic()
    handle = caller.start(
        "uac", keys=call_keys(net, rtp_sink), extra=["-s", net.ata_user, "-d", "6000"]
    )
    ata.wait_event("CALL_ESTABLISHED", 10, since)
    gate.stop()
    saved = gate.read_counters()
    assert saved["totals"]["blocked"] >= 1, saved
    gate.start()
    caller.result(handle, 30)  # this call's BYE may be lost with the dialog table
    assert gate.read_config() == config_before
    after_stop = wanted_call(caller, net)
    assert (after_stop.successful, after_stop.failed) == (1, 0), after_stop
    totals = gate.status()["totals"]
    assert totals["blocked"] >= saved["totals"]["blocked"], (saved, totals)
    assert totals["calls"] > saved["totals"]["calls"], (saved, totals)

    # a power cut (SIGKILL) in the middle of a call
    since = time.monotonic()
    handle = caller.start(
        "uac", keys=call_keys(net, rtp_sink), extra=["-s", net.ata_user, "-d", "6000"]
    )
    ata.wait_event("CALL_ESTABLISHED", 10, since)
    gate.kill()
    gate.start()
    caller.result(handle, 30)
    assert gate.read_config() == config_before
    after_cut = wanted_call(caller, net)
    assert (after_cut.successful, after_cut.failed) == (1, 0), after_cut
    # what was saved at the clean stop survived the power cut
    assert gate.status()["totals"]["blocked"] >= saved["totals"]["blocked"]

"""The harness proven on the peers alone, without hushgate: the ATA registers at the
provider directly, a caller reaches it through the provider, a scanner finds the provider.
Each check reads what arrived from the peers' own records, and the checks the hushgate
tests rely on ("no answer at all", "answered with this code") are shown to fail when
they should."""

import time

import peers
import pytest
from conftest import require_tools
from peers import call_keys, wait_registered


def test_net_comes_from_one_place():
    net = peers.Net({"HUSHGATE_E2E_NET": "127.0.9", "HUSHGATE_E2E_SIP_PORT": "5090"})
    assert (net.provider, net.hushgate, net.ata, net.scanner) == (
        "127.0.9.2",
        "127.0.9.3",
        "127.0.9.4",
        "127.0.9.5",
    )
    assert net.sip_port == 5090
    assert net.flood_sources(3) == ["127.0.9.100", "127.0.9.101", "127.0.9.102"]
    with pytest.raises(ValueError):
        peers.Net({"HUSHGATE_E2E_NET": "10.0.0"})


def test_a_leftover_peer_is_reported_not_shared(net):
    sink = peers.UdpSink(net.provider, net.sip_port)
    try:
        with pytest.raises(RuntimeError, match="already bound"):
            peers.require_free(net.provider, net.sip_port, "kamailio")
    finally:
        sink.close()


def test_stop_ends_a_process_that_ignores_term(procs):
    proc = procs.start("stubborn", ["sh", "-c", "trap '' TERM; sleep 60"])
    time.sleep(0.2)
    started = time.monotonic()
    proc.stop(timeout=0.5)
    assert not proc.running()
    assert time.monotonic() - started < 5


def test_ata_registers_and_refreshes_at_the_provider(provider, start_ata, net):
    ata = start_ata(regint=6)
    wait_registered(provider, ata)
    saved = provider.lines("SAVED sip:%s@" % net.ata_user)
    assert peers.field(saved[0], "src") == "%s:%d" % (net.ata, net.sip_port)
    # the refresh: a second REGISTER answered 200 within the registration interval
    wait_registered(provider, ata, timeout=12, since_count=1)
    assert ata.register_ok_count() >= 2


def test_call_through_the_provider_rings_is_answered_talks_and_hangs_up(
    provider, start_ata, caller, rtp_sink, net
):
    ata = start_ata()
    wait_registered(provider, ata)
    since = time.monotonic()
    result = caller.run(
        "uac", keys=call_keys(net, rtp_sink), extra=["-s", net.ata_user, "-d", "2000"]
    )
    assert (result.successful, result.failed) == (1, 0), result
    # it rang: the ATA answered 180 before 200 (sipp may see them reordered by the proxy)
    assert provider.lines("REPLY 180 INVITE src=%s:" % net.ata)
    assert ata.wait_event("CALL_ESTABLISHED", 5, since)["peerdisplayname"] == "Alice Caller"
    assert ata.wait_event("CALL_CLOSED", 5, since)
    got = [first.split()[0] for src, first in ata.sip_received()]
    assert "INVITE" in got and "BYE" in got
    # audio: two seconds of G.711 at 50 packets/s from the ATA's RTP socket
    assert sum(rtp_sink.sources.values()) >= 50, rtp_sink.sources
    assert provider.lines("REPLY 200 INVITE src=%s:" % net.ata)


def test_called_side_hangs_up(provider, start_ata, caller, rtp_sink, net):
    ata = start_ata()
    wait_registered(provider, ata)
    since = time.monotonic()
    keys = call_keys(net, rtp_sink)
    handle = caller.start("uac_wait_bye", keys=keys, extra=["-s", net.ata_user])
    ata.wait_event("CALL_ESTABLISHED", 10, since)
    ata.hangup()
    result = caller.result(handle, 15)
    assert (result.successful, result.failed) == (1, 0), result
    assert any(first.startswith("BYE ") for first in result.received()), result


def test_unanswered_call_is_cancelled(provider, start_ata, caller, net):
    ata = start_ata(answermode="manual")
    wait_registered(provider, ata)
    since = time.monotonic()
    result = caller.run(
        "uac_cancel", keys=call_keys(net, None), extra=["-s", net.ata_user, "-d", "1000"]
    )
    assert (result.successful, result.failed) == (1, 0), result
    assert "SIP/2.0 487 Request Terminated" in result.received()
    assert any(first.startswith("SIP/2.0 200") for first in result.received()), result
    assert ata.wait_event("CALL_INCOMING", 1, since)
    assert ata.wait_event("CALL_CLOSED", 5, since)
    assert "CALL_ESTABLISHED" not in ata.event_types(since)
    assert any(first.startswith("CANCEL ") for src, first in ata.sip_received())


def test_outgoing_call_from_the_ata(provider, start_ata, caller, net):
    ata = start_ata()
    wait_registered(provider, ata)
    handle = caller.start("uas", keys=call_keys(net, None), extra=["-s", net.caller_user])
    caller.wait_ready()
    since = time.monotonic()
    ata.dial("sip:%s@%s" % (net.caller_user, net.provider))
    ata.wait_event("CALL_ESTABLISHED", 10, since)
    ata.hangup()
    result = caller.result(handle, 10)
    assert (result.successful, result.failed) == (1, 0), result
    assert result.received()[0].startswith("INVITE sip:%s@" % net.caller_user)
    assert provider.requests("INVITE", src=net.ata)


def test_outgoing_call_hung_up_by_the_far_end(provider, start_ata, caller, net):
    ata = start_ata()
    wait_registered(provider, ata)
    keys = call_keys(net, None)
    handle = caller.start("uas_bye", keys=keys, extra=["-s", net.caller_user, "-d", "1000"])
    caller.wait_ready()
    since = time.monotonic()
    ata.dial("sip:%s@%s" % (net.caller_user, net.provider))
    ata.wait_event("CALL_ESTABLISHED", 10, since)
    result = caller.result(handle, 15)
    assert (result.successful, result.failed) == (1, 0), result
    assert ata.wait_event("CALL_CLOSED", 5, since)
    assert any(first.startswith("BYE ") for _, first in ata.sip_received())


def test_reject_check_tells_codes_apart(provider, caller, net):
    unknown = ["-s", "9999"]
    right = caller.run("uac_reject", keys=call_keys(net, None), extra=unknown, subst={"code": 404})
    assert (right.successful, right.failed) == (1, 0), right
    wrong = caller.run("uac_reject", keys=call_keys(net, None), extra=unknown, subst={"code": 480})
    assert (wrong.successful, wrong.failed) == (0, 1), wrong


def test_silence_check_fails_on_any_answer(provider, scanner, net):
    keys = dict(call_keys(net, None, "4000", "John Doe"), ua="friendly-scanner")
    silent = {"silence_ms": 2000}
    answered = scanner.run(
        "uac_silent", "%s:%d" % (net.provider, net.sip_port), keys=keys, subst=silent
    )
    assert (answered.successful, answered.failed) == (0, 1), answered
    assert answered.received(), answered
    sink = peers.UdpSink(net.hushgate, net.sip_port)
    try:
        quiet = scanner.run(
            "uac_silent", "%s:%d" % (net.hushgate, net.sip_port), keys=keys, subst=silent
        )
    finally:
        sink.close()
    assert (quiet.successful, quiet.failed) == (1, 0), quiet
    assert quiet.received() == []
    assert sink.sources.get(net.scanner, 0) >= 2  # the INVITE and its retransmissions


def test_svmap_finds_the_provider_and_not_a_silent_address(provider, net, folder):
    require_tools("sipvicious_svmap")
    local = ["-b", net.scanner, "-x", net.scanner, "-P", str(net.scanner_port)]
    target = ["-p", str(net.sip_port)]
    found = peers.run_scanner(net, folder, "svmap", local + [net.provider] + target)
    assert found.returncode == 0 and "kamailio" in found.output, found
    compact = peers.run_scanner(net, folder, "svmap", ["-c"] + local + [net.provider] + target)
    assert compact.returncode == 0 and "kamailio" in compact.output, compact
    options = provider.requests("OPTIONS", src=net.scanner)
    assert len(options) == 2
    assert peers.field(options[0], "ua") == "friendly-scanner"
    assert peers.field(options[1], "ua") == "<null>"  # compact mode sends no User-Agent
    nothing = peers.run_scanner(net, folder, "svmap", local + [net.hushgate] + target)
    assert nothing.returncode == 30 and "found nothing" in nothing.output, nothing


def test_svwar_and_svcrack_reach_the_provider(provider, net, folder):
    require_tools("sipvicious_svwar", "sipvicious_svcrack")
    target = [net.provider, "-p", str(net.sip_port)]
    port = ["-x", net.scanner, "-P", str(net.scanner_port)]
    war_args = ["-e", "1000-1003", "-m", "INVITE"]
    war = peers.run_scanner(net, folder, "svwar", port + war_args + target)
    assert war.returncode in (0, 40), war  # 0: all alike, nothing stands out; 40: found
    invites = provider.requests("INVITE")
    targets = set(peers.field(x, "ruri").split("@")[0] for x in invites)
    # every extension of the range, and svwar's own random sanity-check one
    assert {"sip:1000", "sip:1001", "sip:1002", "sip:1003"} <= targets
    assert all(peers.field(x, "ua") == "friendly-scanner" for x in invites)
    crack = peers.run_scanner(net, folder, "svcrack", port + ["-u", "1001", "-r", "1-3"] + target)
    # this registrar asks no password: svcrack reports the extension open
    assert crack.returncode == 0 and "1001" in crack.output, crack
    assert peers.field(provider.requests("REGISTER")[0], "ua") == "friendly-scanner"


def test_a_missing_peer_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr(peers, "which", lambda tool: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="sip-tester"):
        require_tools("sipp")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="sip-tester"):
        require_tools("sipp")

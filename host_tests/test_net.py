# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
# net.py is board-side, but its board imports are local to the functions that
# need them, so the clock, back-off, address, bring-up and reset-note logic is
# tested here (host_tests/test_boards.py adds stand-in machine/network modules).
import asyncio
import os

from support import registry, restore

from hushgate import net


def test_static_address_dhcp_by_default():
    assert net.static_address({}) is None
    assert net.static_address({"net_address": "dhcp"}) is None


def test_static_address_from_cidr():
    config = {"net_address": "192.168.1.50/24", "net_gateway": "192.168.1.1"}
    assert net.static_address(config) == (
        "192.168.1.50",
        "255.255.255.0",
        "192.168.1.1",
        "192.168.1.1",
    )
    config["net_address"] = "10.1.2.3/20"
    config["net_gateway"] = "10.1.0.1"
    config["net_dns"] = "9.9.9.9"
    assert net.static_address(config) == ("10.1.2.3", "255.255.240.0", "10.1.0.1", "9.9.9.9")


def bad(config):
    try:
        net.static_address(config)
    except ValueError as e:
        return str(e)
    return None


def test_static_address_mistakes_name_key_and_value():
    assert bad({"net_address": "192.168.1.300/24"}).startswith('net_address: "192.168.1.300/24"')
    assert bad({"net_address": "192.168.1.5"}).startswith("net_address:")
    assert bad({"net_address": "192.168.1.5/33"}).startswith("net_address:")
    assert bad({"net_address": "192.168.1.5/24"}).startswith('net_gateway: ""')
    assert bad({"net_address": "x/24", "net_gateway": "192.168.1.1"}).startswith("net_address:")
    msg = bad({"net_address": "192.168.1.5/24", "net_gateway": "192.168.1.1", "net_dns": "x"})
    assert msg.startswith('net_dns: "x"')


class FakeNtp:
    def __init__(self, results):
        self.results = list(results)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if not self.results.pop(0):
            raise OSError(110)


class DoneError(Exception):
    pass


def board(nic=None, state_dir="build/test_net_state"):
    b = net.Board("x", lambda: nic, led_pin=2, button_pin=0, state_dir=state_dir)
    b.log = []
    b.log = b.log.append
    return b


def run_ntp(b, ntp, rounds):
    """The board's NTP task until ntp has answered `rounds` times; returns the sleeps (ms)."""
    b.settime = ntp
    slept = []

    async def sleep(ms):
        slept.append(ms)
        if ntp.calls == rounds:
            raise DoneError()

    try:
        asyncio.run(b.ntp(sleep))
    except DoneError:
        pass
    return slept


def test_clock_unknown_until_ntp_succeeds():
    lines = []
    b = board()
    b.log = lines.append
    b.time_s = lambda: 1000
    offset = 946684800 if net._EPOCH_OFFSET else 0
    assert b.clock is b and b.utc() is None
    run_ntp(b, FakeNtp([False, True]), 1)
    assert b.utc() is None
    assert b.failures == 1
    run_ntp(b, FakeNtp([True]), 1)
    assert b.utc() == 1000 + offset
    assert b.last_sync == 1000 + offset
    assert b.failures == 0
    assert lines[0].startswith("clock: NTP failed (1 in a row)")
    assert lines[1] == "clock: set by NTP"


def test_clock_retries_with_backoff_to_the_max_then_resyncs():
    b = board()
    b.time_s = lambda: 5
    ntp = FakeNtp([False] * 8 + [True, False, True])
    slept = run_ntp(b, ntp, 11)
    # 10 s doubling to 15 min while failing, 4 h after a success, 10 s again after
    # the next failure.
    assert slept == [
        10000, 20000, 40000, 80000, 160000, 320000, 640000, 900000,
        4 * 3600 * 1000, 10000, 4 * 3600 * 1000,
    ]  # fmt: skip
    assert b.utc() is not None


def test_resolve_address_is_returned_without_dns():
    def boom(host, port):
        raise AssertionError("no DNS for an address")

    assert net.resolve("192.0.2.7", 5060, boom) == ["192.0.2.7"]


def test_resolve_keeps_ipv4_once_each_and_survives_failures():
    def lookup(host, port):
        assert host == "sip.example.net" and port == 5060
        return [
            (2, 1, 0, "", ("198.51.100.1", 5060)),
            (2, 2, 0, "", ("198.51.100.1", 5060)),
            (10, 2, 0, "", ("2001:db8::1", 5060, 0, 0)),
            (2, 2, 0, "", ("198.51.100.2", 5060)),
        ]

    assert net.resolve("sip.example.net", 5060, lookup) == ["198.51.100.1", "198.51.100.2"]

    def fails(host, port):
        raise OSError(-2)

    assert net.resolve("sip.example.net", 5060, fails) == []


def _fresh_dir():
    path = "build/test_net_state"
    for folder in ("build", path):
        try:
            os.mkdir(folder)
        except OSError:
            pass
    for name in ("reset.txt", "reset.txt.tmp"):
        try:
            os.remove(path + "/" + name)
        except OSError:
            pass
    return path


def restart(b, reason):
    """Board.restart without a board: it notes the reason, then machine.reset() fails."""
    try:
        b.restart(reason)
    except (ImportError, AttributeError):  # no machine module (CPython, the unix port)
        pass


def test_reset_note_survives_once():
    b = board(state_dir=_fresh_dir() + "/")
    report = b.last_reset()
    assert report["reason"] is None
    # The boot report always has a cause, even off the board.
    assert isinstance(report["cause"], str) and report["cause"]
    restart(b, "task sip crashed: MemoryError")
    assert b.last_reset()["reason"] == "task sip crashed: MemoryError"
    assert b.last_reset()["reason"] is None


def test_reset_note_in_missing_folder_still_resets():
    b = board(state_dir="build/no/such/folder")
    restart(b, "x")
    assert b.last_reset()["reason"] is None


class FakeNic:
    def __init__(self, up_after):
        self.up_after = up_after
        self.polls = 0
        self.active_calls = []
        self.configured = None

    def active(self, on):
        self.active_calls.append(on)

    def ifconfig(self, value=None):
        if value is not None:
            self.configured = value
            return None
        return ("192.168.1.77", "255.255.255.0", "192.168.1.1", "192.168.1.1")

    def isconnected(self):
        self.polls += 1
        return self.polls > self.up_after


def test_bring_up_waits_for_address_and_applies_static():
    saved = registry()
    try:
        nic = FakeNic(up_after=2)
        config = {"net_address": "192.168.1.77/24", "net_gateway": "192.168.1.1"}
        b = board(nic)
        assert asyncio.run(b.network_up(config)) == "192.168.1.77"
        assert nic.active_calls == [True]
        assert nic.configured == ("192.168.1.77", "255.255.255.0", "192.168.1.1", "192.168.1.1")
        assert b.options()["listen"] == ("192.168.1.77", 5060)
        assert b.online() == "192.168.1.77"
    finally:
        restore(saved)


def test_bring_up_gives_up_with_none():
    lines = []
    b = board(FakeNic(up_after=10**6))
    b.up_timeout_ms = 600
    assert asyncio.run(b.network_up({}, log=lines.append)) is None
    assert lines == ["net: no address after 0 s"]
    assert b.online() is None


def test_bring_up_bad_static_config_is_reported():
    lines = []
    b = board(FakeNic(up_after=0))
    assert asyncio.run(b.network_up({"net_address": "nonsense"}, log=lines.append)) is None
    assert lines[0].startswith("net: bring-up failed")
    assert "net_address" in lines[0]


def test_wifi_without_ssid_says_so():
    class FakeWlan(FakeNic):
        def connect(self, ssid, password):
            raise AssertionError("must not connect without an SSID")

    lines = []
    b = board(FakeWlan(0))
    assert asyncio.run(b.network_up({}, log=lines.append)) is None
    assert len(lines) == 1 and "wifi_ssid is not set in config.json" in lines[0]


def test_board_settings_are_checked_with_the_config():
    from hushgate import config

    saved = registry()
    try:
        b = board(state_dir=_fresh_dir())
        b.options()
        b._opts = None
        b.options()  # twice is harmless: a restarted app registers again
        check_board_settings(config)
    finally:
        restore(saved)


def check_board_settings(config):
    # every default the board registers passes its own check
    cfg, errors = config.validate({})
    assert errors == [] and cfg["net_address"] == "dhcp" and cfg["wifi_ssid"] == ""
    cfg, errors = config.validate(
        {
            "net_address": "192.168.1.50/24",
            "net_gateway": "192.168.1.1",
            "wifi_ssid": "home",
            "wifi_password": "correct horse",
            "wifi_country": "DE",
        }
    )
    assert errors == []
    assert cfg["wifi_ssid"] == "home"
    assert cfg["hostname"] == "hushgate"
    assert cfg["ntp_server"] == "pool.ntp.org"
    assert net.static_address(cfg)[0] == "192.168.1.50"
    # an empty setting (the settings form's empty field) means its default
    cfg, errors = config.validate({"hostname": "", "ntp_server": "", "net_address": ""})
    assert errors == []
    assert (cfg["hostname"], cfg["ntp_server"], cfg["net_address"]) == (
        "hushgate",
        "pool.ntp.org",
        "dhcp",
    )
    cfg, errors = config.validate(
        {
            "net_address": "192.168.1.500/24",
            "net_dns": "x",
            "hostname": "h" * 33,
            "wifi_country": "DEU",
            "ntp_server": "n" * 65,
            "wifi_ssid": 5,
        }
    )
    assert cfg is None
    assert [e.split(":")[0] for e in errors] == [
        "net_address",
        "net_dns",
        "hostname",
        "ntp_server",
        "wifi_ssid",
        "wifi_country",
    ]
    assert errors[0] == (
        'net_address: "192.168.1.500/24" is not "dhcp" or an address like 192.168.1.50/24'
    )
    assert errors[1] == "net_dns: 'x' is not an IPv4 address (or empty)"
    assert errors[2] == "hostname: %r is not a text of up to 32 characters" % ("h" * 33)
    assert errors[3].endswith("... is not a text of up to 64 characters")
    assert errors[4] == "wifi_ssid: 5 is not a text of up to 32 characters"
    assert errors[5] == "wifi_country: 'DEU' is not a two-letter country code (or empty)"


def test_setup_code_is_loaded_only_while_it_runs():
    # Settings and their check, static addresses, bring-up and the reset note live in
    # hushgate.netsetup: loaded for the call, never left resident.
    import sys

    import hushgate
    from hushgate import config

    saved = registry()
    try:
        b = board(FakeNic(up_after=0), state_dir=_fresh_dir())
        b.options()
        assert asyncio.run(b.network_up({"net_address": "dhcp"})) is not None
        assert net.static_address({"net_address": "10.0.0.2/8", "net_gateway": "10.0.0.1"})
        errors = []
        assert config.EXTRA_CHECKS["wifi_country"]("wifi_country", "FRA", errors) == "FRA"
        assert errors and errors[0].startswith("wifi_country:")
        assert b.last_reset()["reason"] is None
        assert "hushgate.netsetup" not in sys.modules
        assert not hasattr(hushgate, "netsetup")
    finally:
        restore(saved)

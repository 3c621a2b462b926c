# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
# net.py is board-side, but its board imports are local to the functions that
# need them, so the clock, back-off, address and reset-note logic is tested here.
import asyncio
import os

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
    msg = bad({"net_address": "192.168.1.5/24", "net_gateway": "192.168.1.1", "net_dns": "x"})
    assert msg.startswith('net_dns: "x"')


def test_backoff_doubles_to_max_and_resets_on_success():
    b = net.Backoff(10, 80, 3600)
    assert [b.after(False) for _ in range(6)] == [10, 20, 40, 80, 80, 80]
    assert b.after(True) == 3600
    assert b.after(False) == 10


class FakeNtp:
    def __init__(self, results):
        self.results = list(results)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if not self.results.pop(0):
            raise OSError(110)


def test_clock_unknown_until_ntp_succeeds():
    ntp = FakeNtp([False, True])
    known = []
    lines = []
    clock = net.Clock(ntp, time_s=lambda: 1000, log=lines.append, on_known=known.append)
    offset = 946684800 if net._epoch_offset() else 0
    assert clock.utc() is None
    assert clock.sync() is False
    assert clock.utc() is None
    assert clock.failures == 1
    assert clock.sync() is True
    assert clock.utc() == 1000 + offset
    assert known == [1000 + offset]
    assert clock.failures == 0
    assert lines[0].startswith("clock: NTP failed (1 in a row)")
    assert lines[1] == "clock: set by NTP"


def test_clock_task_retries_with_backoff_then_resyncs():
    ntp = FakeNtp([False, False, True, True])
    clock = net.Clock(ntp, time_s=lambda: 5)
    slept = []

    class DoneError(Exception):
        pass

    async def sleep(ms):
        slept.append(ms)
        if ntp.calls == 4:
            raise DoneError()

    try:
        asyncio.run(clock.run(sleep))
    except DoneError:
        pass
    # 10 s, 20 s after the failures, then resync_s (4 h) in 60 s steps.
    assert slept[:2] == [10000, 20000]
    assert slept[2:] == [60000] * (4 * 60) + [60000]
    assert clock.known


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


def test_reset_note_survives_once():
    state = _fresh_dir()
    assert net.take_reset_note(state) is None
    assert net.note_reset(state + "/", "task sip crashed: MemoryError")
    assert net.take_reset_note(state) == "task sip crashed: MemoryError"
    assert net.take_reset_note(state) is None
    # The boot report always has a cause, even off the board.
    report = net.last_reset(state)
    assert report["reason"] is None
    assert isinstance(report["cause"], str) and report["cause"]


def test_reset_note_in_missing_folder_reports_failure():
    assert net.note_reset("build/no/such/folder", "x") is False


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
    nic = FakeNic(up_after=2)
    config = {"net_address": "192.168.1.77/24", "net_gateway": "192.168.1.1"}
    ip = asyncio.run(net.bring_up(nic, config, timeout_ms=5000))
    assert ip == "192.168.1.77"
    assert nic.active_calls == [True]
    assert nic.configured == ("192.168.1.77", "255.255.255.0", "192.168.1.1", "192.168.1.1")


def test_bring_up_gives_up_with_none():
    nic = FakeNic(up_after=10**6)
    lines = []
    ip = asyncio.run(net.bring_up(nic, {}, timeout_ms=600, log=lines.append))
    assert ip is None
    assert lines == ["net: no address after 0 s"]


def test_bring_up_bad_static_config_is_reported():
    nic = FakeNic(up_after=0)
    lines = []
    ip = asyncio.run(net.bring_up(nic, {"net_address": "nonsense"}, log=lines.append))
    assert ip is None
    assert lines[0].startswith("net: bring-up failed")


def test_wifi_without_ssid_says_so():
    class FakeWlan(FakeNic):
        def connect(self, ssid, password):
            raise AssertionError("must not connect without an SSID")

    lines = []
    assert asyncio.run(net.bring_up(FakeWlan(0), {}, log=lines.append)) is None
    assert lines == ["net: wifi_ssid is not set in config.json"]


def test_board_settings_are_checked_with_the_config():
    from hushgate import config

    net.register_settings()
    net.register_settings()  # twice is harmless: a restarted app registers again
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
    cfg, errors = config.validate(
        {"net_address": "192.168.1.500/24", "net_dns": "x", "hostname": "", "wifi_country": "DEU"}
    )
    assert cfg is None
    assert [e.split(":")[0] for e in errors] == [
        "net_address",
        "net_dns",
        "hostname",
        "wifi_country",
    ]
    assert (
        errors[0]
        == "net_address: '192.168.1.500/24' is not \"dhcp\" or an address like 192.168.1.50/24"
    )

"""The real boards' data and freeze manifests, checked on the PC (CPython).

No board is attached: `machine` and `network` are stand-ins that record what the
board files ask for, so a wrong pin or PHY shows up here, not on the bench.
"""

import asyncio
import os
import runpy
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS = ["wt32_eth01", "olimex_esp32_poe", "esp32_ethernet_kit", "pico_w"]
CONTRACT = [
    "NAME",
    "button_active_low",
    "state_dir",
    "clock",
    "led",
    "button",
    "options",
    "network_up",
    "online",
    "watchdog",
    "tasks",
    "restart",
    "last_reset",
]

# What docs/boards.md promises for each Ethernet board's PHY: pins as numbers, the
# port's constants as the stand-in network/machine modules name them.
LAN = {
    "wt32_eth01": dict(
        mdc=23, mdio=18, phy_type="phy-lan8720", phy_addr=1, power=16, ref_clk=0,
        ref_clk_mode="in",
    ),
    "olimex_esp32_poe": dict(
        mdc=23, mdio=18, phy_type="phy-lan8720", phy_addr=0, power=12, ref_clk=17,
        ref_clk_mode="out",
    ),
    "esp32_ethernet_kit": dict(
        mdc=23, mdio=18, phy_type="phy-ip101", phy_addr=1, power=5, ref_clk=0,
        ref_clk_mode="in",
    ),
}  # fmt: skip
PANEL = {
    "wt32_eth01": (4, 32, True),
    "olimex_esp32_poe": (4, 34, False),
    "esp32_ethernet_kit": (4, 32, True),
    "pico_w": ("LED", 15, True),
}


class FakePin:
    IN = "in"
    OUT = "out"
    PULL_UP = "pull-up"
    made = []

    def __init__(self, pin, mode=None, pull=None):
        self.pin, self.mode, self.pull = pin, mode, pull
        self.writes = []
        self.level = 1
        FakePin.made.append(self)

    def value(self, level=None):
        if level is None:
            return self.level
        self.writes.append(level)


class FakeLan:
    def __init__(self, mode=None):
        self.mode = mode
        self.calls = []

    def active(self, on=None):
        self.calls.append(("active", on))

    def config(self, **kw):
        self.calls.append(("config", kw))

    def isconnected(self):
        return True

    def ifconfig(self, value=None):
        return ("192.168.1.50", "255.255.255.0", "192.168.1.1", "192.168.1.1")


class FakeWlan(FakeLan):
    PM_NONE = 0x111022

    def connect(self, ssid, password):
        self.calls.append(("connect", ssid, password))


@pytest.fixture
def fake_hardware(monkeypatch):
    machine = types.ModuleType("machine")
    machine.Pin = FakePin
    machine.WDT = lambda timeout: ("wdt", timeout)
    network = types.ModuleType("network")
    network.PHY_LAN8720 = "phy-lan8720"
    network.PHY_IP101 = "phy-ip101"
    network.STA_IF = 0
    network.LAN = lambda **kw: ("lan", kw)
    network.WLAN = FakeWlan
    network.hostname = lambda name: None
    network.country = lambda code: None
    monkeypatch.setitem(sys.modules, "machine", machine)
    monkeypatch.setitem(sys.modules, "network", network)
    FakePin.made = []
    return machine, network


class _Module(dict):
    """A board file's globals, with its module __getattr__ as a dict look-up."""

    def __missing__(self, name):
        try:
            return dict.__getitem__(self, "__getattr__")(name)
        except AttributeError:
            raise KeyError(name) from None

    def __contains__(self, name):
        try:
            self[name]
        except KeyError:
            return False
        return True


def load(board):
    return _Module(runpy.run_path(os.path.join(ROOT, "boards", board, "board.py")))


@pytest.mark.parametrize("board", BOARDS)
def test_board_exports_the_contract_and_touches_no_pin_at_import(board, fake_hardware):
    module = load(board)
    for name in CONTRACT:
        assert name in module, name
    assert module["NAME"] == board
    assert FakePin.made == []
    opts = module["options"]()
    assert opts["listen"] == ("0.0.0.0", 5060)
    assert opts["state"] == module["state_dir"] == "/state"
    assert module["watchdog"](8000) == ("wdt", 8000)
    assert [name for name, _ in module["tasks"]()] == ["ntp", "link"]
    assert module["clock"].utc() is None


@pytest.mark.parametrize("board", sorted(LAN))
def test_ethernet_board_brings_up_its_phy(board, fake_hardware):
    _machine, network = fake_hardware
    module = load(board)
    seen = {}

    def fake_lan(**kw):
        for key, value in kw.items():
            seen[key] = value.pin if isinstance(value, FakePin) else value
        return FakeLan()

    network.LAN = fake_lan
    ip = asyncio.run(module["network_up"]({}))
    assert seen == LAN[board]
    assert ip == "192.168.1.50"
    assert module["options"]()["listen"] == ("192.168.1.50", 5060)
    assert module["online"]() == "192.168.1.50"


def test_pico_w_joins_the_configured_wifi(fake_hardware):
    module = load("pico_w")
    _machine, network = fake_hardware
    countries = []
    network.country = countries.append
    config = {"wifi_ssid": "home", "wifi_password": "secret", "wifi_country": "DE"}
    ip = asyncio.run(module["network_up"](config))
    assert ip == "192.168.1.50"
    assert countries == ["DE"]
    nic = module["_board"]._nic
    assert ("config", {"pm": FakeWlan.PM_NONE}) in nic.calls
    assert ("connect", "home", "secret") not in nic.calls  # already connected
    assert module["online"]()


@pytest.mark.parametrize("board", BOARDS)
def test_panel_pins(board, fake_hardware):
    module = load(board)
    led_pin, button_pin, pull_up = PANEL[board]
    module["led"](1)
    module["led"](0)
    assert module["button"]() == 1
    led, button = FakePin.made
    assert (led.pin, led.mode, led.writes) == (led_pin, "out", [1, 0])
    assert (button.pin, button.mode) == (button_pin, "in")
    assert button.pull == ("pull-up" if pull_up else None)
    assert module["button_active_low"] is True


def test_active_low_led_is_inverted(fake_hardware):
    from hushgate import net

    board = net.Board("x", None, led_pin=2, button_pin=0, led_active_low=True)
    board.led(1)
    board.led(0)
    assert FakePin.made[0].writes == [0, 1]


def test_bad_phy_is_reported_not_raised(fake_hardware):
    from hushgate import net

    def broken():
        raise OSError("ethernet_init failed")

    lines = []
    board = net.Board("x", broken, led_pin=2, button_pin=0)
    assert asyncio.run(board.network_up({}, log=lines.append)) is None
    assert lines == ["net: bring-up failed: OSError('ethernet_init failed')"]
    assert board.online() is None


def test_panel_steps_the_gates_quiet_modes_in_order():
    # panel.py does not import the gate: a short press sets (quiet_mode + 1) % 3 and
    # names it from a list in this order (off -> on -> until morning -> off).
    from hushgate import gate

    assert (gate.QUIET_OFF, gate.QUIET_ON, gate.QUIET_UNTIL_MORNING) == (0, 1, 2)


# --- freeze manifests ---


class ManifestRecorder:
    """Runs a manifest the way MicroPython's tool does (cwd = its folder) and records it."""

    def __init__(self):
        self.files = []
        self.required = []
        self.port_includes = []

    def run(self, path):
        path = os.path.abspath(path)
        cwd = os.getcwd()
        os.chdir(os.path.dirname(path))
        try:
            with open(path) as f:
                exec(f.read(), self.api())
        finally:
            os.chdir(cwd)

    def api(self):
        return {
            "include": self.include,
            "require": self.required.append,
            "package": self.package,
            "module": self.module,
        }

    def include(self, path):
        if path.startswith("$("):
            self.port_includes.append(path)
            return
        self.run(path)

    def package(self, name, files=None, base_path="."):
        base = os.path.abspath(base_path)
        if files is None:
            for folder, _dirs, names in os.walk(os.path.join(base, name)):
                for n in names:
                    if n.endswith(".py"):
                        self.files.append(os.path.relpath(os.path.join(folder, n), base))
        else:
            for n in files:
                assert os.path.isfile(os.path.join(base, name, n)), n
                self.files.append(os.path.join(name, n))

    def module(self, name, base_path="."):
        assert os.path.isfile(os.path.join(base_path, name)), name
        self.files.append(name)


@pytest.mark.parametrize("board", BOARDS)
def test_freeze_manifest_names_the_whole_firmware(board):
    rec = ManifestRecorder()
    rec.run(os.path.join(ROOT, "boards", board, "manifest.py"))
    package = sorted(
        "hushgate/" + n
        for n in os.listdir(os.path.join(ROOT, "firmware", "hushgate"))
        if n.endswith(".py") and n != "httpcpython.py"
    )
    assert sorted(f for f in rec.files if f.startswith("hushgate/")) == package
    assert "hushgate/http.py" in package and "hushgate/web.py" in package
    # Only the firmware and the board's file: nothing from outside the repository.
    assert sorted(f for f in rec.files if not f.startswith("hushgate/")) == ["board.py"]
    assert rec.required == ["ntptime"]
    assert len(rec.port_includes) == 1


def test_freeze_manifest_leaves_out_the_cpython_only_module():
    rec = ManifestRecorder()
    rec.run(os.path.join(ROOT, "firmware", "manifest.py"))
    assert "hushgate/httpcpython.py" not in rec.files
    assert "hushgate/__init__.py" in rec.files


class FlakyLan(FakeLan):
    """Connected while `up`; hands out the addresses in turn on each bring-up."""

    def __init__(self, addresses):
        super().__init__()
        self.addresses = list(addresses)
        self.up = True
        self.ip = None

    def active(self, on=None):
        if on:
            self.ip = self.addresses.pop(0) if self.addresses else self.ip
            self.up = self.ip is not None

    def isconnected(self):
        return self.up

    def ifconfig(self, value=None):
        return (self.ip or "0.0.0.0", "255.255.255.0", "192.168.1.1", "192.168.1.1")


def run_link(board, checks):
    """keep_link for `checks` rounds; returns the restart reasons."""
    reasons = []
    board.restart = reasons.append
    rounds = []

    class EnoughError(Exception):
        pass

    async def sleep(ms):
        rounds.append(ms)
        if len(rounds) > checks:
            raise EnoughError()

    with pytest.raises(EnoughError):
        asyncio.run(board.keep_link(sleep))
    return reasons


def test_link_back_with_the_same_address_keeps_running(fake_hardware):
    from hushgate import net

    nic = FlakyLan(["192.168.1.50", "192.168.1.50"])
    board = net.Board("x", lambda: nic, led_pin=2, button_pin=0)
    assert asyncio.run(board.network_up({})) == "192.168.1.50"
    nic.up = False  # cable pulled, then back
    assert run_link(board, 3) == []
    assert board.online()


def test_link_back_with_another_address_restarts(fake_hardware):
    from hushgate import net

    nic = FlakyLan(["192.168.1.50", "192.168.1.77"])
    board = net.Board("x", lambda: nic, led_pin=2, button_pin=0)
    asyncio.run(board.network_up({}))
    nic.up = False
    assert run_link(board, 2) == ["network address is now 192.168.1.77 (was 192.168.1.50)"]


def test_boot_without_network_restarts_once_it_comes(fake_hardware):
    from hushgate import net

    nic = FlakyLan([None, None, "192.168.1.50"])
    board = net.Board("x", lambda: nic, led_pin=2, button_pin=0)
    board.up_timeout_ms = 300
    assert asyncio.run(board.network_up({})) is None
    assert board.options()["listen"] == ("0.0.0.0", 5060)
    assert run_link(board, 3) == ["network address is now 192.168.1.50 (was None)"]


def test_restart_notes_the_reason_for_after_the_boot(fake_hardware, tmp_path):
    from hushgate import net

    machine, _network = fake_hardware
    resets = []
    machine.reset = lambda: resets.append(True)
    machine.reset_cause = lambda: 3
    machine.WDT_RESET = 3
    board = net.Board("x", None, led_pin=2, button_pin=0, state_dir=str(tmp_path))
    board.restart("task sip failed 21 times")
    assert resets == [True]
    assert board.last_reset() == {"cause": "watchdog", "reason": "task sip failed 21 times"}
    assert board.last_reset()["reason"] is None  # shown once, after that boot

# The board's side of the network: interface bring-up from board data and the
# config, the clock (NTP), the provider's DNS look-up, and what a reset leaves
# behind. MicroPython only: the board modules (`network`, `machine`, `ntptime`)
# are imported where they are used, so the pure parts (back-off, clock, reset
# notes) can also be exercised on the PC.
import os
import time

from hushgate import config as _config
from hushgate.compat import const, sleep_ms, ticks_diff, ticks_ms

_EPOCH_2000 = const(946684800)  # seconds from 1970 to 2000
_RESET_NOTE = "reset.txt"
_NO_ADDRESS = "0.0.0.0"


def _epoch_offset():
    # Ports differ in their epoch (1970 or 2000); ask the port, not its version.
    return _EPOCH_2000 if time.gmtime(0)[0] == 2000 else 0


# --- addresses from the config ---


def static_address(config):
    """(ip, netmask, gateway, dns) from config["net_address"] "a.b.c.d/nn", or None (DHCP).

    Keys: net_address ("dhcp" or "192.168.1.50/24"), net_gateway, net_dns.
    Raises ValueError with the key and value when they do not make sense.
    """
    value = config.get("net_address") or "dhcp"
    if value == "dhcp":
        return None
    ip, _slash, bits = value.partition("/")
    if not _is_ipv4(ip) or not bits.isdigit() or not 0 < int(bits) <= 32:
        raise ValueError(
            'net_address: "%s" is not "dhcp" or an address like 192.168.1.50/24' % value
        )
    n = int(bits)
    mask = (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF
    netmask = "%d.%d.%d.%d" % (mask >> 24, (mask >> 16) & 255, (mask >> 8) & 255, mask & 255)
    gateway = config.get("net_gateway") or ""
    if not _is_ipv4(gateway):
        raise ValueError(
            'net_gateway: "%s" is not an address (needed with a static net_address)' % gateway
        )
    dns = config.get("net_dns") or gateway
    if not _is_ipv4(dns):
        raise ValueError('net_dns: "%s" is not an address' % dns)
    return (ip, netmask, gateway, dns)


def _is_ipv4(text):
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for part in parts:
        if not part.isdigit() or len(part) > 3 or int(part) > 255:
            return False
    return True


def _text_checker(longest, empty_ok=True):
    def check(key, value, errors):
        if not isinstance(value, str) or len(value) > longest or (not value and not empty_ok):
            errors.append(
                "%s: %s is not a text of up to %d characters" % (key, _show(value), longest)
            )
        return value

    return check


def _check_net_address(key, value, errors):
    if value != "dhcp":
        try:
            static_address({"net_address": value, "net_gateway": "0.0.0.0"})
        except (ValueError, TypeError, AttributeError):
            errors.append(
                '%s: %s is not "dhcp" or an address like 192.168.1.50/24' % (key, _show(value))
            )
    return value


def _check_optional_ip(key, value, errors):
    if value != "" and not (isinstance(value, str) and _is_ipv4(value)):
        errors.append("%s: %s is not an IPv4 address (or empty)" % (key, _show(value)))
    return value


def _check_country(key, value, errors):
    if value != "" and not (isinstance(value, str) and len(value) == 2 and value.isalpha()):
        errors.append("%s: %s is not a two-letter country code (or empty)" % (key, _show(value)))
    return value


def _show(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def register_settings():
    """Add the board's own settings to config.json's schema (docs/boards.md).

    Called by Board.options(), which the app calls before it reads the file; not at
    import, since registering loads the config file's validation code.
    """
    register = _config.register
    register("net_address", "dhcp", _check_net_address)
    register("net_gateway", "", _check_optional_ip)
    register("net_dns", "", _check_optional_ip)
    register("hostname", "hushgate", _text_checker(32, empty_ok=False))
    register("ntp_server", "pool.ntp.org", _text_checker(64, empty_ok=False))
    register("wifi_ssid", "", _text_checker(32))
    register("wifi_password", "", _text_checker(64))
    register("wifi_country", "", _check_country)


# --- interface bring-up ---


async def bring_up(nic, config, timeout_ms=20000, log=None, hostname="hushgate"):
    """Activate `nic` (network.LAN or network.WLAN), DHCP or static; returns the IP or None.

    A WLAN is connected with config["wifi_ssid"] / ["wifi_password"]. Never raises for
    a cable that is out or a router that is slow: the caller retries.
    """
    try:
        import network

        network.hostname(hostname)
    except Exception:  # older ports have no network.hostname()
        pass
    try:
        nic.active(True)
        address = static_address(config)
        if address is not None:
            nic.ifconfig(address)
        ssid = config.get("wifi_ssid")
        if hasattr(nic, "connect") and ssid:
            if not nic.isconnected():
                nic.connect(ssid, config.get("wifi_password") or "")
        elif hasattr(nic, "connect") and not ssid:
            if log:
                log("net: wifi_ssid is not set in config.json")
            return None
    except (OSError, ValueError) as e:
        if log:
            log("net: bring-up failed: %r" % e)
        return None
    start = ticks_ms()
    while ticks_diff(ticks_ms(), start) < timeout_ms:
        ip = address_of(nic)
        if ip is not None:
            if log:
                log("net: up at %s" % ip)
            return ip
        await sleep_ms(250)
    if log:
        log("net: no address after %d s" % (timeout_ms // 1000))
    return None


def address_of(nic):
    """The interface's IPv4 address while it is connected, else None."""
    try:
        if not nic.isconnected():
            return None
        ip = nic.ifconfig()[0]
    except OSError:
        return None
    return None if ip == _NO_ADDRESS else ip


def lan(mdc, mdio, phy_type, phy_addr, power=None, ref_clk=None, ref_clk_mode=None):
    """network.LAN for an ESP32 RMII PHY, from pin numbers and names of constants.

    phy_type: "LAN8720" or "IP101"; ref_clk_mode: "in" / "out" / None (board default).
    """
    import machine
    import network

    kwargs = {
        "mdc": machine.Pin(mdc),
        "mdio": machine.Pin(mdio),
        "phy_type": getattr(network, "PHY_" + phy_type),
        "phy_addr": phy_addr,
    }
    if power is not None:
        kwargs["power"] = machine.Pin(power)
    if ref_clk is not None:
        kwargs["ref_clk"] = machine.Pin(ref_clk)
    if ref_clk_mode is not None:
        kwargs["ref_clk_mode"] = machine.Pin.IN if ref_clk_mode == "in" else machine.Pin.OUT
    return network.LAN(**kwargs)


def wlan():
    import network

    nic = network.WLAN(network.STA_IF)
    return nic


# --- clock ---


class Backoff:
    """Delays between tries: `first_s` doubling to `max_s` while failing, `ok_s` after success."""

    def __init__(self, first_s, max_s, ok_s):
        self.first_s = first_s
        self.max_s = max_s
        self.ok_s = ok_s
        self._next = first_s

    def after(self, ok):
        if ok:
            self._next = self.first_s
            return self.ok_s
        delay = self._next
        self._next = min(self._next * 2, self.max_s)
        return delay


class Clock:
    """UTC seconds for the gate: None until NTP has set the real-time clock once.

    settime() sets the RTC to UTC (ntptime.settime on a board); time_s() reads it.
    """

    resync_s = 4 * 3600
    retry_first_s = 10
    retry_max_s = 900

    def __init__(self, settime=None, time_s=time.time, log=None, on_known=None):
        self._settime = settime
        self._time_s = time_s
        self._log = log
        self._on_known = on_known
        self._offset = _epoch_offset()
        self.known = False
        self.last_sync = None  # utc of the last good sync
        self.failures = 0
        self.backoff = Backoff(self.retry_first_s, self.retry_max_s, self.resync_s)

    def utc(self):
        if not self.known:
            return None
        return int(self._time_s()) + self._offset

    def sync(self):
        """One NTP try; True when the clock was set."""
        try:
            self._settime()
        except Exception as e:  # OSError (timeout, DNS), OverflowError on bad replies
            self.failures += 1
            if self._log:
                self._log("clock: NTP failed (%d in a row): %r" % (self.failures, e))
            return False
        was_known = self.known
        self.known = True
        self.failures = 0
        self.last_sync = self.utc()
        if not was_known:
            if self._log:
                self._log("clock: set by NTP")
            if self._on_known:
                self._on_known(self.last_sync)
        return True

    async def run(self, sleep=sleep_ms):
        """NTP at start, then every resync_s; failures retry with back-off."""
        while True:
            delay = self.backoff.after(self.sync())
            while delay > 0:
                step = 60 if delay > 60 else delay
                await sleep(step * 1000)
                delay -= step


def ntp_settime(host="pool.ntp.org"):
    """A settime for Clock: micropython-lib's ntptime with the configured server."""
    import ntptime

    def settime():
        ntptime.host = host
        ntptime.settime()

    return settime


# --- DNS ---


def resolve(host, port=5060, getaddrinfo=None):
    """The IPv4 addresses of `host` (an address is returned as is); [] on failure.

    Blocking on a board (lwIP's resolver): call it from a task that runs rarely.
    """
    if _is_ipv4(host):
        return [host]
    if getaddrinfo is None:
        import socket

        getaddrinfo = socket.getaddrinfo
    try:
        infos = getaddrinfo(host, port)
    except (OSError, IndexError, ValueError):
        return []
    out = []
    for info in infos:
        addr = info[-1]
        ip = addr[0] if isinstance(addr, tuple) else None
        if isinstance(ip, str) and _is_ipv4(ip) and ip not in out:
            out.append(ip)
    return out


# --- resets ---

_CAUSES = (
    ("PWRON_RESET", "power on"),
    ("HARD_RESET", "hard reset"),
    ("WDT_RESET", "watchdog"),
    ("DEEPSLEEP_RESET", "deep sleep"),
    ("SOFT_RESET", "soft reset"),
)


def reset_cause():
    """machine.reset_cause() as words ("watchdog", "power on", ...)."""
    try:
        import machine

        cause = machine.reset_cause()
    except (ImportError, AttributeError):
        return "unknown"
    for name, words in _CAUSES:
        if getattr(machine, name, None) == cause:
            return words
    return "cause %d" % cause


def note_reset(state_dir, reason):
    """Persist why the firmware is about to reset, atomically (temp file, rename)."""
    path = state_dir.rstrip("/") + "/" + _RESET_NOTE
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            f.write(reason[:200])
        os.rename(tmp, path)
        return True
    except OSError:
        return False


def take_reset_note(state_dir):
    """The reason noted before the last reset (or None); removes the note."""
    path = state_dir.rstrip("/") + "/" + _RESET_NOTE
    try:
        with open(path) as f:
            reason = f.read(200)
    except OSError:
        return None
    try:
        os.remove(path)
    except OSError:
        pass
    return reason or None


def last_reset(state_dir):
    """What the web page shows after boot: {"cause": ..., "reason": ... or None}."""
    return {"cause": reset_cause(), "reason": take_reset_note(state_dir)}


def reset_after(state_dir, reason):
    """Note the reason, then reset the board (never returns on a board)."""
    note_reset(state_dir, reason)
    import machine

    machine.reset()


def watchdog(timeout_ms):
    """The hardware watchdog (machine.WDT), for the app to feed."""
    import machine

    return machine.WDT(timeout=timeout_ms)


# --- a real board, for boards/<name>/board.py ---


def _say(text):
    print(text)  # the USB console, for whoever is setting the board up


class Board:
    """What app.run needs from a board, built from pin numbers and a NIC factory.

    Nothing touches hardware until the app asks: pins are made on first use. A
    boards/<name>/board.py makes one of these and exports its members (see
    docs/boards.md for the contract).
    """

    sip_port = 5060
    web_port = 80
    link_check_s = 10
    up_timeout_ms = 20000  # how long one bring-up waits for an address

    def __init__(
        self,
        name,
        nic_factory,
        led_pin,
        button_pin,
        button_active_low=True,
        button_pull_up=True,
        led_active_low=False,
        state_dir="/state",
    ):
        self.name = name
        self._nic_factory = nic_factory
        self._nic = None
        self._led_pin = led_pin
        self._button_pin = button_pin
        self.button_active_low = button_active_low
        self._button_pull_up = button_pull_up
        self._led_active_low = led_active_low
        self._led = None
        self._button = None
        self.state_dir = state_dir
        self._config = {}
        self._opts = None
        self.ip = None
        self.clock = Clock(self._settime, log=_say)
        self._bound_ip = False  # the address the app bound to (None: none); False: not yet

    # -- pins --

    def led(self, level):
        if self._led is None:
            import machine

            self._led = machine.Pin(self._led_pin, machine.Pin.OUT)
        self._led.value((not level) if self._led_active_low else level)

    def button(self):
        if self._button is None:
            import machine

            pull = machine.Pin.PULL_UP if self._button_pull_up else None
            self._button = machine.Pin(self._button_pin, machine.Pin.IN, pull)
        return self._button.value()

    # -- what the app calls --

    def options(self):
        if self._opts is None:
            register_settings()
            try:
                os.mkdir(self.state_dir)
            except OSError:
                pass  # already there
            # The address becomes the interface's once it is up (network_up).
            self._opts = {
                "listen": ("0.0.0.0", self.sip_port),
                "ata": None,
                "provider": None,
                "web": ("0.0.0.0", self.web_port),
                "state": self.state_dir,
                "clock": True,
            }
        return self._opts

    async def network_up(self, config, log=_say):
        self._config = config
        if self._nic is None:
            try:
                self._nic = self._nic_factory()
            except (OSError, ValueError) as e:  # a wrong PHY or pin: say so, keep running
                if log:
                    log("net: cannot start the interface: %r" % e)
                return None
        ip = await bring_up(
            self._nic,
            config,
            timeout_ms=self.up_timeout_ms,
            log=log,
            hostname=config.get("hostname") or "hushgate",
        )
        if ip is not None:
            self.ip = ip
            opts = self.options()
            opts["listen"] = (ip, self.sip_port)
        if self._bound_ip is False:
            self._bound_ip = ip  # the app binds its sockets to what this first call gave
        return ip

    def online(self):
        return self._nic is not None and address_of(self._nic) is not None

    def watchdog(self, timeout_ms):
        return watchdog(timeout_ms)

    def _settime(self):
        ntp_settime(self._config.get("ntp_server") or "pool.ntp.org")()

    async def keep_link(self, sleep=sleep_ms):
        """Brings the interface back when it drops (Wi-Fi roams, a cable is pulled).

        The app's sockets and Via header carry the address it started with: when the
        interface comes back with another one (or with one after a boot without), the
        board restarts, noting why.
        """
        while True:
            await sleep(self.link_check_s * 1000)
            if self.online():
                continue
            ip = await self.network_up(self._config)
            if ip is not None and ip != self._bound_ip:
                self.restart("network address is now %s (was %s)" % (ip, self._bound_ip))

    def restart(self, reason):
        """Note why, then reset the board (the app's supervisor may call it too)."""
        _say("net: restarting: " + reason)
        reset_after(self.state_dir, reason)

    def last_reset(self):
        """Why the board last reset: {"cause": ..., "reason": noted text or None}; once."""
        return last_reset(self.state_dir)

    def tasks(self):
        return [("ntp", self.clock.run), ("link", self.keep_link)]

# The board's side of the network: interface bring-up from the config (the board
# file makes the interface), the clock (NTP), the provider's DNS look-up, and what a
# reset leaves behind. MicroPython only: the board modules (`network`, `machine`,
# `ntptime`) are imported where they are used, so the rest (addresses, the clock's
# back-off, reset notes) can also be exercised on the PC.
#
# Written for the heap (docs/boards.md, "Heap"): each function or class costs about
# 100-250 bytes once loaded, so one Board class holds the pins, the network, the
# clock and the resets, with few methods.
import os
import time

from hushgate import config as _config
from hushgate.compat import const, sleep_ms, ticks_diff, ticks_ms

_SIP_PORT = const(5060)
_WEB_PORT = const(80)
_LINK_CHECK_MS = const(10000)  # how often keep_link looks at the interface
_RESYNC_S = const(4 * 3600)  # NTP again after a success...
_RETRY_FIRST_S = const(10)  # ...or after a failure, doubling up to _RETRY_MAX_S
_RETRY_MAX_S = const(900)

# Ports differ in their epoch (1970 or 2000); ask the port, not its version.
_EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


def static_address(config):
    """(ip, netmask, gateway, dns) from config["net_address"] "a.b.c.d/nn", or None (DHCP).

    Keys: net_address ("dhcp" or "192.168.1.50/24"), net_gateway, net_dns.
    Raises ValueError with the key and value when they do not make sense.
    """
    value = config.get("net_address") or "dhcp"
    if value == "dhcp":
        return None
    # config.network() reads "a.b.c.d/nn" as (network, mask); a mask of /0 is none.
    parsed = _config.network(value) if "/" in value else None
    gateway = config.get("net_gateway") or ""
    dns = config.get("net_dns") or gateway
    if parsed is None or not parsed[1]:
        key, what = "net_address", '"dhcp" or an address like 192.168.1.50/24'
    elif _config.ipv4(gateway) is None:
        key, value, what = "net_gateway", gateway, "an address (needed with a static net_address)"
    elif _config.ipv4(dns) is None:
        key, value, what = "net_dns", dns, "an address"
    else:
        mask = parsed[1]
        netmask = "%d.%d.%d.%d" % (mask >> 24, (mask >> 16) & 255, (mask >> 8) & 255, mask & 255)
        return (value.partition("/")[0], netmask, gateway, dns)
    raise ValueError('%s: "%s" is not %s' % (key, value, what))


def _check_setting(key, value, errors):
    # config.json's check of the board's own settings (Board.options() registers it
    # for each of them): appends a message naming key and value, keeps the value.
    # Empty means the default (what network_up and ntp use for it anyway): the
    # settings form sends every field, and one left empty must not stop a save.
    if value == "":
        return _config.DEFAULTS.get(key, "")
    if key == "net_address":
        try:
            static_address({key: str(value), "net_gateway": "0.0.0.0"})
        except ValueError as e:
            errors.append(str(e))
        return value
    if key == "net_gateway" or key == "net_dns":
        what = "an IPv4 address (or empty)"
        ok = isinstance(value, str) and _config.ipv4(value) is not None
    elif key == "wifi_country":
        what = "a two-letter country code (or empty)"
        ok = isinstance(value, str) and len(value) == 2 and value.isalpha()
    else:  # hostname, ntp_server, wifi_ssid, wifi_password: texts
        longest = 32 if key == "hostname" or key == "wifi_ssid" else 64
        what = "a text of up to %d characters" % longest
        ok = isinstance(value, str) and len(value) <= longest
    if not ok:
        shown = repr(value)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        errors.append("%s: %s is not %s" % (key, shown, what))
    return value


def resolve(host, port=5060, getaddrinfo=None):
    """The IPv4 addresses of `host` (an address is returned as is); [] on failure.

    Blocking on a board (lwIP's resolver): call it from a task that runs rarely.
    """
    if _config.ipv4(host) is not None:
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
        ip = info[-1][0] if isinstance(info[-1], tuple) else None
        if isinstance(ip, str) and _config.ipv4(ip) is not None and ip not in out:
            out.append(ip)
    return out


def rmii_lan(phy_type, phy_addr, power, ref_clk, ref_clk_out=False):
    """A NIC factory for an ESP32's RMII Ethernet PHY ("LAN8720", "IP101", ...).

    MDC 23 and MDIO 18 are the same on every ESP32 board. The NIC is made when the
    app first brings the network up, so importing a board file touches no pin. The
    ESP32 port's network.LAN takes these keywords (ports/esp32/network_lan.c); the
    published stubs list only phy_type, phy_addr and ref_clk_mode, so they are passed
    as a dict, which tools/apicheck.py does not check.
    """

    def nic():
        import machine
        import network

        pin = machine.Pin
        phy = {
            "mdc": pin(23),
            "mdio": pin(18),
            "phy_type": getattr(network, "PHY_" + phy_type),
            "phy_addr": phy_addr,
            "power": pin(power),
            "ref_clk": pin(ref_clk),
            "ref_clk_mode": pin.OUT if ref_clk_out else pin.IN,
        }
        return network.LAN(**phy)

    return nic


class Board:
    """What app.run needs from a real board, built from pin numbers and a NIC factory:
    the LED and button pins (made on first use), the network, the clock and resets.

    A boards/<name>/board.py makes one of these and hands attribute look-ups on the
    module to it with a module __getattr__ (see docs/boards.md for the contract).
    The board is its own clock: board.clock.utc() is None until NTP has set the
    real-time clock once.
    """

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
        self._led = self._button = None
        self.state_dir = state_dir.rstrip("/")
        self._config = {}
        self._opts = None
        self._bound_ip = False  # the address the app bound to (None: none); False: not yet
        self.log = print  # the USB console, for whoever is setting the board up
        # The clock: board.clock is the board itself (utc(), and the ntp task).
        self.clock = self
        self.settime = None  # one NTP query setting the RTC; None: ntptime
        self.time_s = time.time  # the RTC, in the port's epoch
        self.last_sync = None  # utc of the last good NTP answer
        self.failures = 0  # NTP failures in a row

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
            # The board's own settings join config.json's (docs/boards.md): the app
            # calls options() before it reads the file.
            for setting in (
                "net_address=dhcp net_gateway net_dns hostname=hushgate"
                " ntp_server=pool.ntp.org wifi_ssid wifi_password wifi_country"
            ).split():  # key=default; no default: ""
                key, _eq, default = setting.partition("=")
                _config.register(key, default, _check_setting)
            try:
                os.mkdir(self.state_dir)
            except OSError:
                pass  # already there
            # The address becomes the interface's once it is up (network_up).
            self._opts = {
                "listen": ("0.0.0.0", _SIP_PORT),
                "ata": None,
                "provider": None,
                "web": ("0.0.0.0", _WEB_PORT),
                "state": self.state_dir,
                "clock": True,
            }
        return self._opts

    async def network_up(self, config, log=None):
        """Brings the interface up, DHCP or static, Wi-Fi joined; returns its IP or None.

        Never raises for a wrong PHY, a cable that is out or a router that is slow:
        keep_link tries again.
        """
        log = log or self.log
        self._config = config
        ip = None
        try:
            if self._nic is None:
                self._nic = self._nic_factory()
            nic = self._nic
            try:
                import network

                network.hostname(config.get("hostname") or "hushgate")
            except Exception:  # older ports have no network.hostname()
                pass
            nic.active(True)
            address = static_address(config)
            if address is not None:
                nic.ifconfig(address)
            if hasattr(nic, "connect"):  # Wi-Fi
                if not config.get("wifi_ssid"):
                    raise ValueError("wifi_ssid is not set in config.json")
                if not nic.isconnected():
                    nic.connect(config["wifi_ssid"], config.get("wifi_password") or "")
        except (OSError, ValueError) as e:
            log("net: bring-up failed: %r" % e)
        else:
            start = ticks_ms()
            while not ip and ticks_diff(ticks_ms(), start) < self.up_timeout_ms:
                ip = self.online()
                if not ip:
                    await sleep_ms(250)
            if ip:
                log("net: up at %s" % ip)
                self.options()["listen"] = (ip, _SIP_PORT)
            else:
                log("net: no address after %d s" % (self.up_timeout_ms // 1000))
        if self._bound_ip is False:
            self._bound_ip = ip  # the app binds its sockets to what this first call gave
        return ip

    def online(self):
        """The interface's address while it is connected, else None."""
        try:
            if self._nic is not None and self._nic.isconnected():
                ip = self._nic.ifconfig()[0]
                if ip != "0.0.0.0":
                    return ip
        except OSError:
            pass
        return None

    async def keep_link(self, sleep=sleep_ms):
        """Brings the interface back when it drops (Wi-Fi roams, a cable is pulled).

        The app's sockets and Via header carry the address it started with: when the
        interface comes back with another one (or with one after a boot without), the
        board restarts, noting why.
        """
        while True:
            await sleep(_LINK_CHECK_MS)
            if self.online():
                continue
            ip = await self.network_up(self._config)
            if ip is not None and ip != self._bound_ip:
                self.restart("network address is now %s (was %s)" % (ip, self._bound_ip))

    def utc(self):
        """Seconds since 1970 UTC, or None until NTP has set the clock once."""
        if self.last_sync is None:
            return None
        return int(self.time_s()) + _EPOCH_OFFSET

    async def ntp(self, sleep=sleep_ms):
        """The clock's task: NTP at start, then every 4 hours; a failure tries again
        after 10 s, doubling up to 15 minutes while it keeps failing."""
        retry_s = _RETRY_FIRST_S
        while True:
            try:
                if self.settime is not None:
                    self.settime()
                else:
                    import ntptime  # micropython-lib, frozen with the firmware

                    ntptime.host = self._config.get("ntp_server") or "pool.ntp.org"
                    ntptime.settime()
            except Exception as e:  # OSError (timeout, DNS), OverflowError on bad replies
                self.failures += 1
                self.log("clock: NTP failed (%d in a row): %r" % (self.failures, e))
                delay_s = retry_s
                retry_s = min(retry_s * 2, _RETRY_MAX_S)
            else:
                if self.last_sync is None:
                    self.log("clock: set by NTP")
                self.last_sync = int(self.time_s()) + _EPOCH_OFFSET
                self.failures = 0
                delay_s = _RESYNC_S
                retry_s = _RETRY_FIRST_S
            await sleep(delay_s * 1000)

    def tasks(self):
        return [("ntp", self.ntp), ("link", self.keep_link)]

    def watchdog(self, timeout_ms):
        """The hardware watchdog (machine.WDT), for the app to feed."""
        import machine

        return machine.WDT(timeout=timeout_ms)

    # -- resets: why, kept across the reset in state_dir/reset.txt --

    def restart(self, reason):
        """Note why (atomically: temporary file, rename), then reset the board."""
        self.log("net: restarting: " + reason)
        path = self.state_dir + "/reset.txt"
        try:
            with open(path + ".tmp", "w") as f:
                f.write(reason[:200])
            os.rename(path + ".tmp", path)
        except OSError:
            pass  # reset anyway: the reason is lost, the board is not
        import machine

        machine.reset()

    def last_reset(self):
        """Why the board last reset: {"cause": "watchdog" / "power on" / ..., "reason":
        the text noted by restart() or None}. The note is removed: call it once, at boot."""
        path = self.state_dir + "/reset.txt"
        reason = None
        try:
            with open(path) as f:
                reason = f.read(200) or None
            os.remove(path)
        except OSError:
            pass
        cause = "unknown"
        try:
            import machine

            number = machine.reset_cause()
            cause = "cause %d" % number
            for name_words in (
                "PWRON power on,HARD hard reset,WDT watchdog,DEEPSLEEP deep sleep,SOFT soft reset"
            ).split(","):
                name, _space, words = name_words.partition(" ")
                if getattr(machine, name + "_RESET", None) == number:
                    cause = words
        except (ImportError, AttributeError):
            pass
        return {"cause": cause, "reason": reason}

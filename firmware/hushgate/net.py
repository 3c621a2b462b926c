# The board's side of the network: interface bring-up from the config (the board
# file makes the interface), the clock (NTP), the provider's DNS look-up, and what a
# reset leaves behind. MicroPython only: the board modules (`network`, `machine`,
# `ntptime`) are imported where they are used, so the rest (addresses, the clock's
# back-off, reset notes) can also be exercised on the PC.
#
# Written for the heap (docs/boards.md, "Heap"): each function or class costs about
# 100-250 bytes once loaded, so one Board class holds the pins, the network, the
# clock and the resets, with few methods. What runs at bring-up, on a config check
# or at a reset (the board's settings and their check, static addresses, bringing
# the interface up, the reset note) is in hushgate/netsetup.py, loaded for the call
# and dropped again: the methods here that reach it are two lines each.
import time

from hushgate import config as _config
from hushgate.compat import const, sleep_ms

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
    from hushgate.netsetup import static_address

    return static_address(config)


def _check_setting(key, value, errors):
    # config.json's check of the board's own settings (Board.options() registers
    # it): runs when a config is loaded or saved.
    from hushgate.netsetup import check_setting

    return check_setting(key, value, errors)


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
            from hushgate.netsetup import options

            options(self)
        return self._opts

    async def network_up(self, config, log=None):
        """Brings the interface up, DHCP or static, Wi-Fi joined; returns its IP or None.

        Never raises for a wrong PHY, a cable that is out or a router that is slow:
        keep_link tries again.
        """
        from hushgate.netsetup import network_up

        return await network_up(self, config, log)

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
        from hushgate.netsetup import restart

        restart(self, reason)

    def last_reset(self):
        """Why the board last reset: {"cause": "watchdog" / "power on" / ..., "reason":
        the text noted by restart() or None}. The note is removed: call it once, at boot."""
        from hushgate.netsetup import last_reset

        return last_reset(self)

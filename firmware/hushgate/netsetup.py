# The board's network code that runs rarely: the board's own settings and their
# check (when a config is loaded or saved), static addresses, bringing the interface
# up (at boot and when the link came back), the reset note (at a restart and once
# at boot). MicroPython's board modules are imported where they are used.
#
# hushgate.net's Board methods and functions import this module for the call and
# each function here first drops it again (from sys.modules and the package; a call
# under way keeps what it uses): it costs heap only meanwhile.
import os

from hushgate import config as _config
from hushgate.compat import const, forget, sleep_ms, ticks_diff, ticks_ms

_SIP_PORT = const(5060)
_WEB_PORT = const(80)


def static_address(config):
    """net.static_address()'s work."""
    forget("netsetup")
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


def check_setting(key, value, errors):
    """config.json's check of one of the board's own settings: appends a message
    naming key and value to errors, returns the value to keep."""
    forget("netsetup")
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


def options(board):
    """Board.options()'s work, the first time: the board's settings registered, the
    state folder made, board._opts set."""
    forget("netsetup")
    from hushgate.net import _check_setting

    # The board's own settings join config.json's (docs/boards.md): the app calls
    # options() before it reads the file. Registered with net's two-line check, which
    # loads this module only when a config is checked.
    for setting in (
        "net_address=dhcp net_gateway net_dns hostname=hushgate"
        " ntp_server=pool.ntp.org wifi_ssid wifi_password wifi_country"
    ).split():  # key=default; no default: ""
        key, _eq, default = setting.partition("=")
        _config.register(key, default, _check_setting)
    try:
        os.mkdir(board.state_dir)
    except OSError:
        pass  # already there
    # The address becomes the interface's once it is up (network_up).
    board._opts = {
        "listen": ("0.0.0.0", _SIP_PORT),
        "ata": None,
        "provider": None,
        "web": ("0.0.0.0", _WEB_PORT),
        "state": board.state_dir,
        "clock": True,
    }


async def network_up(board, config, log):
    """Board.network_up()'s work."""
    forget("netsetup")
    log = log or board.log
    board._config = config
    ip = None
    try:
        if board._nic is None:
            board._nic = board._nic_factory()
        nic = board._nic
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
        while not ip and ticks_diff(ticks_ms(), start) < board.up_timeout_ms:
            ip = board.online()
            if not ip:
                await sleep_ms(250)
        if ip:
            log("net: up at %s" % ip)
            board.options()["listen"] = (ip, _SIP_PORT)
        else:
            log("net: no address after %d s" % (board.up_timeout_ms // 1000))
    if board._bound_ip is False:
        board._bound_ip = ip  # the app binds its sockets to what this first call gave
    return ip


def restart(board, reason):
    """Board.restart()'s work: note why (atomically: temporary file, rename), then
    reset the board."""
    forget("netsetup")
    board.log("net: restarting: " + reason)
    path = board.state_dir + "/reset.txt"
    try:
        with open(path + ".tmp", "w") as f:
            f.write(reason[:200])
        os.rename(path + ".tmp", path)
    except OSError:
        pass  # reset anyway: the reason is lost, the board is not
    import machine

    machine.reset()


def last_reset(board):
    """Board.last_reset()'s work."""
    forget("netsetup")
    path = board.state_dir + "/reset.txt"
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

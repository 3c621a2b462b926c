# The settings: their defaults and the small parsers the gate shares with validation.
#
# Validation, migration, block/allow (hushgate/configfile.py) and the atomic file
# store (hushgate/store.py) are loaded on first use; config.validate, config.Store,
# config.block_number... still work. The gate needs only what is here, and a 110 KB
# heap notices the difference.

VERSION = 1

DEFAULTS = {
    "version": VERSION,
    "ata": None,
    "provider": None,
    "trusted": [],
    "timezone": "UTC0",
    "quiet_hours": [],
    "quiet_answer": 480,
    "vip": [],
    "block": [],
    "block_anonymous": False,
    "block_answer": 603,
    "repeat_call_minutes": 3,
    "international_prefix": "00",
    # None: the built-in list (configfile.SCANNER_USER_AGENTS), which validate()
    # and defaults() write out; kept there so it costs no heap between saves.
    "scanner_user_agents": None,
    # What the gate needs beyond the household's rules; safe for a home line.
    "rate_burst": 30,
    "rate_per_second": 5,
    "ban_minutes": 10,
    "sources_tracked": 64,
    "call_log_size": 50,
}


# ---- small parsers shared with the gate -------------------------------------


def ipv4(text):
    """The address as a 32-bit int, or None when text is not a dotted quad."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part or len(part) > 3 or not part.isdigit():
            return None
        n = int(part)
        if n > 255:
            return None
        value = (value << 8) | n
    return value


def network(text):
    """(net, mask) for "a.b.c.d" or "a.b.c.d/n", or None."""
    slash = text.find("/")
    bits = 32
    if slash >= 0:
        tail = text[slash + 1 :]
        if not tail.isdigit() or len(tail) > 2:
            return None
        bits = int(tail)
        if bits > 32:
            return None
        text = text[:slash]
    addr = ipv4(text)
    if addr is None:
        return None
    mask = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
    return addr & mask, mask


def in_networks(ip, networks):
    """True when the dotted-quad ip lies in one of the (net, mask) pairs."""
    addr = ipv4(ip)
    if addr is None:
        return False
    for net, mask in networks:
        if addr & mask == net:
            return True
    return False


# MicroPython's dict keeps no order: this list fixes the order of keys and messages.
KEYS = [
    "version",
    "ata",
    "provider",
    "trusted",
    "timezone",
    "quiet_hours",
    "quiet_answer",
    "vip",
    "block",
    "block_anonymous",
    "block_answer",
    "repeat_call_minutes",
    "international_prefix",
    "scanner_user_agents",
    "rate_burst",
    "rate_per_second",
    "ban_minutes",
    "sources_tracked",
    "call_log_size",
]


# Settings other modules keep in config.json (net.py's address, Wi-Fi...): key ->
# check. They live here, not in configfile, so dropping that module loses nothing.
EXTRA_CHECKS = {}


def register(key, default, check):
    """Let another module keep its own setting in config.json.

    check(key, value, errors) appends messages to errors and returns the value to keep.
    """
    if key not in DEFAULTS:
        KEYS.append(key)
    DEFAULTS[key] = default
    EXTRA_CHECKS[key] = check


# ---- loaded on first use -------------------------------------------------------------


def __getattr__(name):
    # Validation, migration, defaults(), block/allow (hushgate/configfile.py) and,
    # through it, the file store (Store, dumps, FILE: hushgate/store.py) load when
    # first asked for. An unknown name raises AttributeError from there.
    from hushgate import configfile

    return getattr(configfile, name)


def release():
    """Forget the validation code until it is needed again (with what loaded through
    it: hushgate.rules, hushgate.tzparse).

    Only useful when nothing else holds those modules or one of their functions.
    """
    from hushgate.compat import forget

    forget("configfile", "rules", "tzparse")

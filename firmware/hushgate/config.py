# The settings: their defaults and the small parsers the gate shares with validation.
#
# Validation, migration, block/allow (hushgate/configfile.py) and the atomic file
# store (hushgate/store.py) are loaded on first use; config.validate, config.Store,
# config.block_number... still work. The gate needs only what is here, and a 110 KB
# heap notices the difference.
from hushgate.compat import const

VERSION = 1

# The gate's default list of scanner User-Agent prefixes: the tools seen in the
# wild and listed by Kamailio/Kazoo anti-scanner configurations.
SCANNER_USER_AGENTS = [
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "sip-scan",
    "sipsak",
    "sundayddr",
    "iWar",
    "SIVuS",
    "Gulp",
    "sipv",
    "smap",
    "friendly-request",
    "VaxIPUserAgent",
    "VaxSIPUserAgent",
    "siparmyknife",
    "Test Agent",
    "pplsip",
    "NiceGuy",
    "PortSIP",
    "sippts",
    "sipptk",
]

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
    "scanner_user_agents": SCANNER_USER_AGENTS,
    # What the gate needs beyond the household's rules; safe for a home line.
    "rate_burst": 30,
    "rate_per_second": 5,
    "ban_minutes": 10,
    "sources_tracked": 64,
    "call_log_size": 50,
}

_MAX_TEXT = const(64)  # characters in one number pattern

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_WORDS = {
    "daily": 0x7F,
    "everyday": 0x7F,
    "every day": 0x7F,
    "weekdays": 0x1F,
    "weekend": 0x60,
    "weekends": 0x60,
}


def defaults():
    """A fresh copy of DEFAULTS (valid as it is)."""
    return copy(DEFAULTS)


def copy(value):
    """A deep copy of a config value (dicts, lists, scalars)."""
    if isinstance(value, list):
        return [copy(v) for v in value]
    if isinstance(value, dict):
        return {k: copy(v) for k, v in value.items()}
    return value


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


def parse_time(text, allow_24=False):
    """Minutes since midnight for "HH:MM", or None."""
    if not isinstance(text, str):
        return None
    colon = text.find(":")
    if colon < 1 or colon > 2 or len(text) != colon + 3:
        return None
    hh, mm = text[:colon], text[colon + 1 :]
    if not hh.isdigit() or not mm.isdigit():
        return None
    h, m = int(hh), int(mm)
    if m > 59 or h > 24 or (h == 24 and (m or not allow_24)):
        return None
    return h * 60 + m


def parse_days(text):
    """Bit mask of weekdays (bit 0 = Monday) for "Mon-Fri", "Sat,Sun", "Daily"..."""
    if not isinstance(text, str):
        return None
    mask = 0
    for item in text.lower().split(","):
        item = item.strip()
        if item in _DAY_WORDS:
            mask |= _DAY_WORDS[item]
            continue
        dash = item.find("-")
        ends = (item[:dash], item[dash + 1 :]) if dash >= 0 else (item, item)
        first = _day_index(ends[0].strip())
        last = _day_index(ends[1].strip())
        if first is None or last is None:
            return None
        day = first
        while True:
            mask |= 1 << day
            if day == last:
                break
            day = (day + 1) % 7
    return mask or None


def _day_index(word):
    # "mon", "monday", "tues", "thurs": three letters or more of one day's name.
    if len(word) < 3:
        return None
    for i in range(7):
        if _DAY_NAMES[i][: len(word)] == word:
            return i
    return None


def clean_number(text):
    """The number with spaces, dashes, dots, slashes and parentheses removed."""
    out = []
    for ch in text:
        if ch not in " -.()/\t":
            out.append(ch)
    return "".join(out)


def canonical_number(number, international_prefix):
    """+33... and 0033... become the same string (the latter)."""
    if number[:1] == "+":
        return international_prefix + number[1:]
    return number


def parse_pattern(text, international_prefix):
    """(digits, is_prefix) for a number pattern, or None when it is not one."""
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        return None
    p = clean_number(text)
    prefix = p[-1:] == "*"
    if prefix:
        p = p[:-1]
    body = p[1:] if p[:1] == "+" else p
    if not body or not body.isdigit():
        return None
    return canonical_number(p, international_prefix), prefix


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

# Needed when a file is read or saved, or the user blocks or allows a caller (and
# then saves): hushgate/configfile.py.
_ON_DEMAND = (
    "validate",
    "migrate",
    "MIGRATIONS",
    "host_port",
    "number_matches",
    "block_number",
    "allow_number",
)
_STORE = ("Store", "FileStorage", "dumps", "FILE")


def __getattr__(name):
    if name in _ON_DEMAND:
        from hushgate import configfile

        return getattr(configfile, name)
    if name in _STORE:
        from hushgate import store

        return getattr(store, name)
    raise AttributeError(name)


def release():
    """Forget the validation code until it is needed again (about 12 KB of heap).

    Only useful when nothing else holds hushgate.configfile or one of its functions.
    """
    import sys

    import hushgate

    sys.modules.pop("hushgate.configfile", None)
    try:
        # The package keeps its submodules as attributes too.
        del hushgate.configfile
    except AttributeError:
        pass

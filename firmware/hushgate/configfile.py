# config.json's validation and versions: needed when a file is read or saved, not in
# between, so the app drops this module (config.release()) and the next
# config.validate loads it again. Two neighbours load through it when asked for:
# hushgate.rules (configure_gate, block_number, allow_number, number_matches) and
# hushgate.tzparse (parse_tz); config.release() drops them too.
#
# validate() collects every mistake at once, each naming the key and the value, and
# returns a new dict; the caller's data is never modified.
#
# Written for the heap it is loaded into (docs/config.md): every function costs
# ~100 B and every long string ~64 B, so one function checks every built-in key
# (_check) and the messages share the form "key: value is not what".
import json

from hushgate.compat import const
from hushgate.config import DEFAULTS, EXTRA_CHECKS, KEYS, VERSION, network

# The gate's default list of scanner User-Agent prefixes: the tools seen in the wild
# and listed by Kamailio/Kazoo anti-scanner configurations. A list, not a tuple: a
# tuple constant would hold every name as a string object, where a list literal takes
# the short ones from the interned names, which a config's copy then costs nothing.
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

_MAX_LIST = const(100)  # entries in vip/block/trusted/quiet_hours/scanner_user_agents
_MAX_TEXT = const(64)  # characters in one pattern, name or address

# The whole-number settings: key -> (lowest, highest).
_RANGES = {
    "repeat_call_minutes": (0, 120),
    "rate_burst": (1, 1000),
    "rate_per_second": (1, 1000),
    "ban_minutes": (0, 1440),
    "sources_tracked": (8, 1024),
    "call_log_size": (5, 200),
}


# ---- parsers of config values, shared with the gate (rules.configure_gate) ----------

# Day names for parse_days; a word is found by " " + its first letters.
_DAY_NAMES = " monday tuesday wednesday thursday friday saturday sunday"


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
        if item in ("daily", "everyday", "every day"):
            mask |= 0x7F
        elif item == "weekdays":
            mask |= 0x1F
        elif item in ("weekend", "weekends"):
            mask |= 0x60
        else:
            # A day or a range of days ("fri-mon" runs over the weekend); a day is
            # three letters or more of its name: "mon", "monday", "tues", "thurs".
            ends = item.split("-")
            if len(ends) > 2:
                return None
            for k in range(len(ends)):
                word = ends[k].strip()
                at = _DAY_NAMES.find(" " + word)
                if len(word) < 3 or " " in word or at < 0:
                    return None
                ends[k] = _DAY_NAMES[:at].count(" ")
            day = ends[0]
            while True:
                mask |= 1 << day
                if day == ends[-1]:
                    break
                day = (day + 1) % 7
    return mask or None


def parse_pattern(text, international_prefix):
    """(digits, is_prefix) for a number pattern, or None when it is not one.

    Visual separators go, and "+33..." becomes "0033..." (with prefix "00"), the
    form callers' numbers are compared in.
    """
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        return None
    p = ""
    for ch in text:
        if ch not in " -.()/\t":
            p += ch
    prefix = p[-1:] == "*"
    if prefix:
        p = p[:-1]
    plus = p[:1] == "+"
    if plus:
        p = p[1:]
    if not p or not p.isdigit():
        return None
    return (international_prefix + p if plus else p), prefix


def defaults():
    """A fresh copy of DEFAULTS, with the built-in scanner list written out (valid)."""
    out = copy(DEFAULTS)
    if out["scanner_user_agents"] is None:
        out["scanner_user_agents"] = list(SCANNER_USER_AGENTS)
    return out


def copy(value):
    """A deep copy of a config value (dicts, lists, scalars)."""
    if isinstance(value, list):
        return [copy(v) for v in value]
    if isinstance(value, dict):
        return {k: copy(v) for k, v in value.items()}
    return value


def host_port(text, default_port=5060):
    """(host, port) from "host:port" or "host"; None when it is not one."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    host, port = text, default_port
    colon = text.rfind(":")
    if colon >= 0:
        host, tail = text[:colon], text[colon + 1 :]
        if not tail.isdigit() or len(tail) > 5:
            return None
        port = int(tail)
    if not host or port < 1 or port > 65535 or len(host) > 253:
        return None
    for ch in host:
        if not (ch.isalpha() or ch.isdigit() or ch in "-."):
            return None
    return host, port


def _show(value):
    try:
        return json.dumps(value)
    except Exception:
        return repr(value)


# ---- validation ------------------------------------------------------------------


def _bad(errors, key, value, what):
    errors.append("%s: %s is not %s" % (key, _show(value), what))


def _check(key, value, errors):
    # One built-in key's value: appends a message for each mistake and returns the
    # value to keep (what register()'s checks do for other modules' keys).
    if key == "version":
        if type(value) is not int or value < 1:
            _bad(errors, key, value, "a version number")
        elif value > VERSION:
            errors.append(
                "%s: %d is newer than this firmware understands (%d)" % (key, value, VERSION)
            )
        return VERSION
    if key == "ata" or key == "provider":
        if value is None or value == "":
            return None
        hp = host_port(value)
        if hp is None:
            _bad(errors, key, value, "a host:port")
            return None
        return "%s:%d" % hp
    if key == "timezone":
        if not isinstance(value, str) or not value:
            _bad(errors, key, value, "a POSIX TZ string")
            return value
        from hushgate.tzparse import parse_tz

        try:
            parse_tz(value)
        except ValueError as e:
            _bad(errors, key, value, "a POSIX TZ string (%s)" % e)
        return value
    if key == "block_anonymous":
        if value is True or value is False:
            return value
        _bad(errors, key, value, "true or false")
        return False
    if key == "international_prefix":
        if not isinstance(value, str) or not value.isdigit() or len(value) > 5:
            _bad(errors, key, value, 'a dialling prefix like "00"')
        return value
    if key[-7:] == "_answer":  # quiet_answer, block_answer: a SIP code or "drop"
        codes = (480, 486, 603) if key == "quiet_answer" else (403, 486, 603)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if value != "drop" and (type(value) is not int or value not in codes):
            _bad(errors, key, value, 'one of %d, %d, %d or "drop"' % codes)
        return value
    if key in _RANGES:
        low, high = _RANGES[key]
        if type(value) is not int or value < low or value > high:
            _bad(errors, key, value, "a whole number from %d to %d" % (low, high))
        return value
    # The lists: trusted, quiet_hours, vip, block, scanner_user_agents.
    if value is None and key == "scanner_user_agents":  # DEFAULTS' "the built-in list"
        return list(SCANNER_USER_AGENTS)
    if not isinstance(value, list):
        _bad(errors, key, value, "a list")
        return []
    if len(value) > _MAX_LIST:
        errors.append("%s: %d entries, at most %d" % (key, len(value), _MAX_LIST))
        return []
    if key == "scanner_user_agents":
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip() or len(item) > _MAX_TEXT:
                _bad(errors, "%s[%d]" % (key, i), item, "a User-Agent prefix")
        return value
    out = []
    for i, item in enumerate(value):
        where = "%s[%d]" % (key, i)
        if key == "trusted":
            if not isinstance(item, str) or network(item.strip()) is None:
                _bad(errors, where, item, "an IPv4 address or network")
            else:
                out.append(item.strip())
        elif key != "quiet_hours":  # vip, block
            if parse_pattern(item, "00") is None:
                _bad(errors, where, item, "a number or a prefix ending in *")
            else:
                out.append(item)
        elif not isinstance(item, dict):
            _bad(errors, where, item, "{days, start, end}")
        else:
            for extra in item:
                if extra not in ("days", "start", "end"):
                    errors.append("%s.%s: unknown key" % (where, extra))
            days = item.get("days", "Daily")
            if parse_days(days) is None:
                _bad(errors, where + ".days", days, "a list of days like Mon-Fri")
            start = item.get("start")
            end = item.get("end")
            s = parse_time(start)
            e = parse_time(end, True)
            if s is None:
                _bad(errors, where + ".start", start, "a time")
            if e is None:
                _bad(errors, where + ".end", end, "a time")
            if s is not None and e is not None and s == e % 1440:
                if not (s == 0 and e == 1440):
                    errors.append("%s: start and end are both %s" % (where, _show(start)))
            out.append({"days": days, "start": start, "end": end})
    return out


def validate(data, base=None):
    """(config, errors): a new complete config, or (None, [every mistake]).

    Keys missing from data come from base (the current config) or DEFAULTS.
    """
    if not isinstance(data, dict):
        return None, ["the configuration is not a JSON object: %s" % _show(data)[:40]]
    errors = []
    for key in data:
        if key not in KEYS:
            errors.append("%s: unknown key" % (key,))
    source = base if base is not None else DEFAULTS
    out = {}
    for key in KEYS:
        if key in data:
            value = data[key]
        else:
            value = source.get(key, DEFAULTS[key])
        check = EXTRA_CHECKS.get(key, _check)
        out[key] = check(key, copy(value), errors)
    if errors:
        return None, errors
    out["version"] = VERSION
    return out, []


# ---- versions ---------------------------------------------------------------------

# MIGRATIONS[n] turns a version-n dict into a version-(n+1) dict. Files written
# before the version field existed are version 1.
MIGRATIONS = {}


def migrate(data, migrations=None, target=None):
    """The data brought up to the target version (a new dict); unknown keys are kept."""
    if migrations is None:
        migrations = MIGRATIONS
    if target is None:
        target = VERSION
    if not isinstance(data, dict):
        return data
    version = data.get("version", 1)
    if type(version) is not int:
        return data
    while version < target and version in migrations:
        data = migrations[version](dict(data))
        version += 1
        data["version"] = version
    return data


# ---- config.json in the state folder (hushgate/store.py) -------------------------------


def dumps(obj):
    """JSON with one top-level key per line, so people can edit the file."""
    return "".join(pieces(obj))


def pieces(obj):
    """dumps(obj) as a generator of short strings: the file is written, and downloaded,
    without a block of its size (a config with 100 numbers is kilobytes, and a heap
    in pieces may have no such block)."""
    if not isinstance(obj, dict):
        yield json.dumps(obj)
        return
    sep = "{\n"
    for key in [k for k in KEYS if k in obj] + [k for k in obj if k not in KEYS]:
        yield "%s  %s: " % (sep, json.dumps(key))
        sep = ",\n"
        value = obj[key]
        if isinstance(value, list):  # the number lists: an item at a time
            yield "["
            for i, item in enumerate(value):
                yield ", " + json.dumps(item) if i else json.dumps(item)
            yield "]"
        else:
            yield json.dumps(value)
    yield "{\n}\n" if sep == "{\n" else "\n}\n"


def load_config(store):
    """Store.load(): (config, problems), always a usable config; problems say what went wrong."""
    from hushgate.store import FILE

    problems = []
    for candidate in (FILE, FILE + ".bak"):
        raw = store.storage.read(candidate)
        if raw is None:
            if candidate == FILE:
                problems.append("%s is missing" % FILE)
            continue
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeError):
            problems.append("%s is not valid JSON" % candidate)
            continue
        config, errors = validate(migrate(data))
        if config is None:
            problems.append("%s: %s" % (candidate, "; ".join(errors)))
            continue
        if problems:
            problems.append("using the previous good file %s" % candidate)
        store.source = candidate
        return config, problems
    store.source = "defaults"
    if problems != ["%s is missing" % FILE]:
        problems.append("using the defaults")
    else:
        problems = ["no %s yet: using the defaults" % FILE]
    return validate({})[0], problems


def save_config(store, config):
    """Store.save(): validate, then write atomically. Raises ValueError listing every mistake."""
    from hushgate.store import FILE

    checked, errors = validate(config)
    if checked is None:
        raise ValueError("; ".join(errors))
    store.write_json(FILE, checked, pieces(checked))
    return checked


# What lives next door, loaded when asked for through this module (and config).
def __getattr__(name):
    if name in ("Store", "FileStorage", "FILE"):
        from hushgate import store

        return getattr(store, name)
    if name == "register":
        from hushgate.config import register

        return register
    if name == "parse_tz":
        from hushgate.tzparse import parse_tz

        return parse_tz
    if name[:1] == "_":
        raise AttributeError(name)
    from hushgate import rules

    return getattr(rules, name)

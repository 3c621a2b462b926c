# config.json's validation and versions, and the block/allow edits: needed when a
# file is read or saved, not in between, so the app may drop this module
# (config.release()) and the next config.validate loads it again.
#
# validate() collects every mistake at once, each naming the key and the value, and
# returns a new dict; the caller's data is never modified.
import json

from hushgate.compat import const
from hushgate.config import (
    DEFAULTS,
    EXTRA_CHECKS,
    KEYS,
    VERSION,
    network,
)

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

_MAX_LIST = const(100)  # entries in vip/block/trusted/quiet_hours/scanner_user_agents
_MAX_TEXT = const(64)  # characters in one pattern, name or address


# ---- parsers of config values, shared with the gate (gate_tables) -------------------

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


def configure_gate(gate, config):
    """hushgate.gate.Gate.configure()'s work: a validated config compiled into the
    gate's tables (time zone, block and VIP patterns, scanner User-Agents as
    (lowercase bytes, name), trusted (net, mask) pairs, quiet intervals in minutes
    of the local week), the limiter's and the call log's bounds. Here because it
    runs only when a config is loaded or saved.
    """
    from hushgate.tz import TZ

    problem = ""
    try:
        tz = TZ(config["timezone"])
    except ValueError as e:
        tz = TZ("UTC0")
        problem = str(e)
    intl = config["international_prefix"]
    lists = []
    for key in ("block", "vip"):
        out = []
        for p in config[key]:
            parsed = parse_pattern(p, intl)
            if parsed is not None:
                out.append(parsed)
        lists.append(out)
    uas = []
    for ua in config["scanner_user_agents"]:
        ua = ua.strip()
        if ua:  # an empty prefix would match every User-Agent
            uas.append((ua.lower().encode(), ua))
    trusted = []
    for item in config["trusted"]:
        net = network(item)
        if net is not None:
            trusted.append(net)
    # Each quiet window becomes intervals in minutes of the local week (Monday
    # 00:00 = 0); an interval may run past the week's end, and membership tests
    # w and w + one week.
    intervals = []
    for item in config["quiet_hours"]:
        mask = parse_days(item["days"])
        start = parse_time(item["start"])
        end = parse_time(item["end"], True)
        if mask is None or start is None or end is None:
            continue
        length = end - start
        if length <= 0:
            length += 1440
        for day in range(7):
            if mask & (1 << day):
                s = day * 1440 + start
                intervals.append((s, s + length))
    gate.config = config
    gate.tz, gate.problem, gate._block, gate._vip = tz, problem, lists[0], lists[1]
    gate._uas, gate._trusted, gate._intervals = uas, trusted, intervals
    gate._intl = intl
    gate._repeat_ms = config["repeat_call_minutes"] * 60000
    gate.limiter.configure(
        config["sources_tracked"],
        config["rate_burst"],
        config["rate_per_second"],
        config["ban_minutes"] * 60000,
    )
    gate.limiter.trusted = trusted
    resize = getattr(gate.calllog, "resize", None)
    if resize is not None:
        resize(config["call_log_size"])


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


def number_matches(number, pattern, international_prefix):
    """True when the caller's number matches one pattern string."""
    parsed = parse_pattern(pattern, international_prefix)
    if parsed is None or not number:
        return False
    # The caller's number as parse_pattern writes patterns (it may hold more than digits).
    canon = ""
    for ch in number:
        if ch not in " -.()/\t":
            canon += ch
    if canon[:1] == "+":
        canon = international_prefix + canon[1:]
    if parsed[1]:
        return canon[: len(parsed[0])] == parsed[0]
    return canon == parsed[0]


def _show(value):
    try:
        return json.dumps(value)
    except Exception:
        return repr(value)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


# ---- validation ------------------------------------------------------------------


def _check_host_port(key, value, errors):
    if value is None or value == "":
        return None
    hp = host_port(value)
    if hp is None:
        errors.append("%s: %s is not a host:port" % (key, _show(value)))
        return None
    return "%s:%d" % hp


def _check_list(key, value, errors):
    if not isinstance(value, list):
        errors.append("%s: %s is not a list" % (key, _show(value)))
        return None
    if len(value) > _MAX_LIST:
        errors.append("%s: %d entries, at most %d" % (key, len(value), _MAX_LIST))
        return None
    return value


def _check_trusted(key, value, errors):
    items = _check_list(key, value, errors)
    if items is None:
        return []
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, str) or network(item.strip()) is None:
            errors.append("%s[%d]: %s is not an IPv4 address or network" % (key, i, _show(item)))
        else:
            out.append(item.strip())
    return out


def _check_timezone(key, value, errors):
    if not isinstance(value, str) or not value:
        errors.append("%s: %s is not a POSIX TZ string" % (key, _show(value)))
        return value
    from hushgate.tz import TZ

    try:
        TZ(value)
    except ValueError as e:
        errors.append("%s: %s is not a POSIX TZ string (%s)" % (key, _show(value), e))
    return value


def _check_quiet_hours(key, value, errors):
    items = _check_list(key, value, errors)
    if items is None:
        return []
    out = []
    for i, item in enumerate(items):
        where = "%s[%d]" % (key, i)
        if not isinstance(item, dict):
            errors.append("%s: %s is not {days, start, end}" % (where, _show(item)))
            continue
        for extra in item:
            if extra not in ("days", "start", "end"):
                errors.append("%s.%s: unknown key" % (where, extra))
        days = item.get("days", "Daily")
        if parse_days(days) is None:
            errors.append("%s.days: %s is not a list of days like Mon-Fri" % (where, _show(days)))
        start = item.get("start")
        end = item.get("end")
        s = parse_time(start)
        e = parse_time(end, True)
        if s is None:
            errors.append("%s.start: %s is not a time" % (where, _show(start)))
        if e is None:
            errors.append("%s.end: %s is not a time" % (where, _show(end)))
        if s is not None and e is not None and s == e % 1440:
            if not (s == 0 and e == 1440):
                errors.append("%s: start and end are both %s" % (where, _show(start)))
        out.append({"days": days, "start": start, "end": end})
    return out


def _answer_checker(codes):
    def check(key, value, errors):
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if value == "drop" or (_is_int(value) and value in codes):
            return value
        allowed = ", ".join([str(c) for c in codes])
        errors.append('%s: %s is not one of %s or "drop"' % (key, _show(value), allowed))
        return value

    return check


def _check_patterns(key, value, errors):
    items = _check_list(key, value, errors)
    if items is None:
        return []
    out = []
    for i, item in enumerate(items):
        if parse_pattern(item, "00") is None:
            errors.append(
                "%s[%d]: %s is not a number or a prefix ending in *" % (key, i, _show(item))
            )
        else:
            out.append(item)
    return out


def _check_bool(key, value, errors):
    if value is True or value is False:
        return value
    errors.append("%s: %s is not true or false" % (key, _show(value)))
    return False


def _int_checker(low, high):
    def check(key, value, errors):
        if not _is_int(value) or value < low or value > high:
            errors.append(
                "%s: %s is not a whole number from %d to %d" % (key, _show(value), low, high)
            )
        return value

    return check


def _check_prefix(key, value, errors):
    if not isinstance(value, str) or not value.isdigit() or len(value) > 5:
        errors.append('%s: %s is not a dialling prefix like "00"' % (key, _show(value)))
    return value


def _check_user_agents(key, value, errors):
    if value is None:  # DEFAULTS' way of saying "the built-in list"
        return list(SCANNER_USER_AGENTS)
    items = _check_list(key, value, errors)
    if items is None:
        return []
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip() or len(item) > _MAX_TEXT:
            errors.append("%s[%d]: %s is not a User-Agent prefix" % (key, i, _show(item)))
    return items


def _check_version(key, value, errors):
    if not _is_int(value) or value < 1:
        errors.append("%s: %s is not a version number" % (key, _show(value)))
    elif value > VERSION:
        errors.append(
            "%s: %d is newer than this firmware understands (%d)" % (key, value, VERSION)
        )
    return VERSION


_CHECKS = {
    "version": _check_version,
    "ata": _check_host_port,
    "provider": _check_host_port,
    "trusted": _check_trusted,
    "timezone": _check_timezone,
    "quiet_hours": _check_quiet_hours,
    "quiet_answer": _answer_checker((480, 486, 603)),
    "vip": _check_patterns,
    "block": _check_patterns,
    "block_anonymous": _check_bool,
    "block_answer": _answer_checker((403, 486, 603)),
    "repeat_call_minutes": _int_checker(0, 120),
    "international_prefix": _check_prefix,
    "scanner_user_agents": _check_user_agents,
    "rate_burst": _int_checker(1, 1000),
    "rate_per_second": _int_checker(1, 1000),
    "ban_minutes": _int_checker(0, 1440),
    "sources_tracked": _int_checker(8, 1024),
    "call_log_size": _int_checker(5, 200),
}


def validate(data, base=None):
    """(config, errors): a new complete config, or (None, [every mistake]).

    Keys missing from data come from base (the current config) or DEFAULTS.
    """
    if not isinstance(data, dict):
        return None, ["the configuration is not a JSON object: %s" % _show(data)[:40]]
    errors = []
    for key in data:
        if key not in _CHECKS and key not in EXTRA_CHECKS:
            errors.append("%s: unknown key" % (key,))
    source = base if base is not None else DEFAULTS
    out = {}
    for key in KEYS:
        if key in data:
            value = data[key]
        else:
            value = source.get(key, DEFAULTS[key])
        check = _CHECKS.get(key) or EXTRA_CHECKS[key]
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
    if not _is_int(version):
        return data
    while version < target and version in migrations:
        data = migrations[version](dict(data))
        version += 1
        data["version"] = version
    return data


# ---- config.json in the state folder (hushgate/store.py) -------------------------------


def dumps(obj):
    """JSON with one top-level key per line, so people can edit the file."""
    if not isinstance(obj, dict):
        return json.dumps(obj)
    lines = []
    order = [k for k in KEYS if k in obj] + [k for k in obj if k not in KEYS]
    for key in order:
        lines.append("  %s: %s" % (json.dumps(key), json.dumps(obj[key])))
    return "{\n" + ",\n".join(lines) + "\n}\n"


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
    store.write_json(FILE, checked, dumps(checked))
    return checked


# ---- time zones -------------------------------------------------------------------------

_HOUR = const(3600)
_MAX_OFFSET_H = const(24)  # POSIX: a zone offset is at most 24 hours
_MAX_RULE_H = const(167)  # POSIX 2024: a rule time is within +-167 hours
_DEFAULT_RULE_TIME = const(7200)  # 02:00 local, when a rule gives no time


def parse_tz(posix):
    """(posix, std_name, std_offset, dst_name, dst_offset, start_rule, end_rule) of a
    POSIX TZ string for hushgate.tz.TZ; offsets in seconds east of UTC, rules
    [kind, a, b, c, time] or None. Raises ValueError naming the string and the place.
    """
    p = _TZParser(posix)
    return (p.posix, p.std_name, p.std_offset, p.dst_name, p.dst_offset, p._start, p._end)


class _TZParser:
    # Walks the string once; the fields end up as TZ's.
    def __init__(self, posix):
        if not isinstance(posix, str):
            raise ValueError("time zone must be a string, not %r" % (posix,))
        posix = self.posix = posix.strip()
        self._pos = 0  # the parser's place, named in every complaint
        if posix.startswith(":") or ("/" in posix and "," not in posix):
            self._fail(
                "zone names such as Europe/Paris are not understood: give the POSIX TZ "
                "string (the last line of the zoneinfo file), e.g. CET-1CEST,M3.5.0,M10.5.0/3"
            )
        self.std_name = self._name("standard time name")
        if not self._next("0123456789+-"):
            self._fail("expected the UTC offset after %r (e.g. UTC0, CET-1)" % self.std_name)
        # POSIX offsets count hours west of Greenwich; ours count seconds east.
        self.std_offset = self.dst_offset = -self._hms("UTC offset", _MAX_OFFSET_H)
        self.dst_name = self._start = self._end = None
        if self._pos < len(posix):
            self.dst_name = self._name("daylight time name")
            if self._next("0123456789+-"):
                self.dst_offset = -self._hms("daylight UTC offset", _MAX_OFFSET_H)
            else:
                self.dst_offset += _HOUR
            if not self._next(","):
                self._fail(
                    "daylight time %r needs its rules, e.g. %s,M3.5.0,M10.5.0/3"
                    % (self.dst_name, posix)
                )
            self._pos += 1
            self._start = self._rule()
            if not self._next(","):
                self._fail("expected ','")
            self._pos += 1
            self._end = self._rule()
            if self._pos < len(posix):
                self._fail("unexpected %r" % posix[self._pos :])

    def _fail(self, what):
        raise ValueError("time zone %r, character %d: %s" % (self.posix, self._pos + 1, what))

    def _next(self, chars):
        # True when the next character is one of chars (False at the end).
        c = self.posix[self._pos : self._pos + 1]
        return c != "" and c in chars

    def _number(self, what, low, high):
        start = self._pos
        while self._next("0123456789"):
            self._pos += 1
        if start == self._pos:
            self._fail("expected " + what)
        value = int(self.posix[start : self._pos])
        if value < low or value > high:
            self._pos = start
            self._fail("%s %d is not within %d..%d" % (what, value, low, high))
        return value

    def _name(self, what):
        text = self.posix
        start = self._pos
        if self._next("<"):
            end = text.find(">", start)
            if end < 0:
                self._fail("%s: '<' without '>'" % what)
            inner = text[start + 1 : end]
            for c in inner:
                if not (c.isalpha() or c.isdigit() or c == "+" or c == "-"):
                    self._fail("%s: %r is not allowed inside <...>" % (what, c))
            self._pos = end + 1
        else:
            while self._pos < len(text) and text[self._pos].isalpha():
                self._pos += 1
            inner = text[start : self._pos]
        if len(inner) < 3:
            self._pos = start
            self._fail("expected a %s of at least 3 letters (or <+03> quoted)" % what)
        return inner

    def _hms(self, what, max_hours):
        # [+|-]hh[:mm[:ss]] -> signed seconds
        sign = 1
        if self._next("+-"):
            if self._next("-"):
                sign = -1
            self._pos += 1
        seconds = self._number(what + " hours", 0, max_hours) * _HOUR
        for unit in (60, 1):
            if not self._next(":"):
                break
            self._pos += 1
            seconds += (
                self._number(what + (" minutes" if unit == 60 else " seconds"), 0, 59) * unit
            )
        return sign * seconds

    def _rule(self):
        # Mm.w.d | Jn | n, then [/time]; returned as (kind, a, b, c, time)
        if self._next("M"):
            self._pos += 1
            month = self._number("rule month", 1, 12)
            parts = ["M", month]
            for what, low, high in (("rule week", 1, 5), ("rule weekday", 0, 6)):
                if not self._next("."):
                    self._fail("expected '.'")
                self._pos += 1
                parts.append(self._number(what, low, high))
        elif self._next("J"):
            self._pos += 1
            parts = ["J", self._number("rule Julian day", 1, 365), 0, 0]
        elif self._next("0123456789"):
            parts = ["n", self._number("rule day", 0, 365), 0, 0]
        else:
            self._fail("expected a rule (Mm.w.d, Jn or n)")
        time = _DEFAULT_RULE_TIME
        if self._next("/"):
            self._pos += 1
            time = self._hms("rule time", _MAX_RULE_H)
        parts.append(time)
        return parts


# ---- callers the log acts on --------------------------------------------------------


def _without(patterns, number, intl):
    # Drop the exact entries for this number; prefixes stay (they name more people).
    out = []
    for p in patterns:
        parsed = parse_pattern(p, intl)
        if parsed is not None and not parsed[1] and number_matches(number, p, intl):
            continue
        out.append(p)
    return out


def block_number(config, number):
    """A new config in which this caller never rings (number "" = anonymous callers)."""
    new = copy(config)
    if not number:
        new["block_anonymous"] = True
        return new
    intl = new["international_prefix"]
    new["vip"] = _without(new["vip"], number, intl)
    for p in new["block"]:
        if number_matches(number, p, intl):
            return new
    new["block"].append(number)
    return new


def allow_number(config, number):
    """A new config in which this caller rings even while quiet.

    Raises ValueError when a prefix in the block list still catches the number.
    """
    new = copy(config)
    if not number:
        new["block_anonymous"] = False
        return new
    intl = new["international_prefix"]
    new["block"] = _without(new["block"], number, intl)
    for p in new["block"]:
        if number_matches(number, p, intl):
            raise ValueError("%s is still blocked by the pattern %s" % (number, p))
    for p in new["vip"]:
        if number_matches(number, p, intl):
            return new
    new["vip"].append(number)
    return new


# Before hushgate/store.py existed these lived here; still reachable for older callers.
def __getattr__(name):
    if name in ("Store", "FileStorage", "FILE"):
        from hushgate import store

        return getattr(store, name)
    if name == "register":
        from hushgate.config import register

        return register
    raise AttributeError(name)

# config.json: validation, versions, and a store that survives a power cut.
#
# validate() collects every mistake at once, each naming the key and the value, and
# returns a new dict; the caller's data is never modified. Store writes through a
# small storage object (read, write, rename, remove) so tests can cut the power
# between any two steps and check that the old or the new file survives.
import json

from hushgate.compat import const
from hushgate.config import (
    DEFAULTS,
    VERSION,
    copy,
    host_port,
    network,
    parse_days,
    parse_pattern,
    parse_time,
)

FILE = "config.json"
_MAX_LIST = const(100)  # entries in vip/block/trusted/quiet_hours/scanner_user_agents
_MAX_TEXT = const(64)  # characters in one pattern, name or address


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


def register(key, default, check):
    """Let another module keep its own setting in config.json.

    check(key, value, errors) appends messages to errors and returns the value to keep.
    """
    if key not in _CHECKS:
        KEYS.append(key)
    DEFAULTS[key] = default
    _CHECKS[key] = check


def validate(data, base=None):
    """(config, errors): a new complete config, or (None, [every mistake]).

    Keys missing from data come from base (the current config) or DEFAULTS.
    """
    if not isinstance(data, dict):
        return None, ["the configuration is not a JSON object: %s" % _show(data)[:40]]
    errors = []
    for key in data:
        if key not in _CHECKS:
            errors.append("%s: unknown key" % (key,))
    source = base if base is not None else DEFAULTS
    out = {}
    for key in KEYS:
        if key in data:
            value = data[key]
        else:
            value = source.get(key, DEFAULTS[key])
        out[key] = _CHECKS[key](key, copy(value), errors)
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


# ---- storage ---------------------------------------------------------------------


class FileStorage:
    """Files in one folder; the only place that touches the file system."""

    def __init__(self, folder):
        self.folder = folder.rstrip("/") or "/"
        try:
            import os

            os.mkdir(self.folder)
        except OSError:
            pass

    def _path(self, name):
        return self.folder + "/" + name

    def read(self, name):
        try:
            with open(self._path(name), "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, name, data):
        with open(self._path(name), "wb") as f:
            f.write(data)
            f.flush()
            try:
                import os

                os.fsync(f.fileno())
            except (AttributeError, OSError):
                pass

    def rename(self, old, new):
        import os

        os.rename(self._path(old), self._path(new))

    def remove(self, name):
        import os

        try:
            os.remove(self._path(name))
        except OSError:
            pass


def dumps(obj):
    """JSON with one top-level key per line, so people can edit the file."""
    if not isinstance(obj, dict):
        return json.dumps(obj)
    lines = []
    order = [k for k in KEYS if k in obj] + [k for k in obj if k not in KEYS]
    for key in order:
        lines.append("  %s: %s" % (json.dumps(key), json.dumps(obj[key])))
    return "{\n" + ",\n".join(lines) + "\n}\n"


class Store:
    """The state folder: config.json and small JSON files, written atomically."""

    def __init__(self, folder):
        self.storage = FileStorage(folder) if isinstance(folder, str) else folder
        self.source = None  # which file the last load() used, or "defaults"

    def read_json(self, name):
        """(value, problem): the file's JSON, else its .bak's; problem is "" when fine."""
        problems = []
        for candidate in (name, name + ".bak"):
            raw = self.storage.read(candidate)
            if raw is None:
                if candidate == name:
                    problems.append("%s is missing" % name)
                continue
            try:
                return json.loads(raw), "; ".join(problems)
            except (ValueError, UnicodeError):
                problems.append("%s is not valid JSON" % candidate)
        return None, "; ".join(problems)

    def write_json(self, name, obj, text=None):
        """Replace name so that a power cut at any point leaves the old or the new file."""
        data = (text if text is not None else json.dumps(obj)).encode()
        tmp, bak = name + ".tmp", name + ".bak"
        self.storage.write(tmp, data)
        old = self.storage.read(name)
        if old is not None:
            if self._good(name, old):
                self.storage.remove(bak)
                self.storage.rename(name, bak)
            else:
                # A broken current file must not push the last good one out.
                self.storage.remove(name)
        self.storage.rename(tmp, name)

    def _good(self, name, raw):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeError):
            return False
        if name == FILE:
            return validate(migrate(data))[0] is not None
        return True

    def load(self):
        """(config, problems): always a usable config; problems say what went wrong."""
        problems = []
        for candidate in (FILE, FILE + ".bak"):
            raw = self.storage.read(candidate)
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
            self.source = candidate
            return config, problems
        self.source = "defaults"
        if problems != ["%s is missing" % FILE]:
            problems.append("using the defaults")
        else:
            problems = ["no %s yet: using the defaults" % FILE]
        return validate({})[0], problems

    def save(self, config):
        """Validate, then write atomically. Raises ValueError listing every mistake."""
        checked, errors = validate(config)
        if checked is None:
            raise ValueError("; ".join(errors))
        self.write_json(FILE, checked, dumps(checked))
        return checked

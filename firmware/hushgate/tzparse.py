# The POSIX TZ-string parser behind hushgate.tz.TZ: needed only while a time zone is
# made (a config loaded, checked or saved), so it is a module of its own that
# config.release() drops again, with hushgate.configfile.
from hushgate.compat import const

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

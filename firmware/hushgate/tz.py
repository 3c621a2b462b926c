# POSIX TZ strings -> local time, in integer arithmetic only.
#
# On the boards time.localtime() is UTC, so local time (quiet hours) is worked out
# here from a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" (the last line
# of a zoneinfo file). Seconds since 1970 do not fit a small int on a 32-bit port,
# so an instant is split once into (day number, second of day) and everything
# after that stays small: day numbers and seconds within one year.
#
# Semantics are POSIX 2024 / tzcode: rule times may be negative or up to 167 h,
# and a year's transitions follow the previous year's in one sequence, so
# "EST5EDT,0/0,J365/25" is daylight time all year round.

from hushgate.compat import const

_DAY = const(86400)
_HOUR = const(3600)
_MAX_OFFSET_H = const(24)  # POSIX: a zone offset is at most 24 hours
_MAX_RULE_H = const(167)  # POSIX 2024: a rule time is within +-167 hours
_DEFAULT_RULE_TIME = const(7200)  # 02:00 local, when a rule gives no time


def days_from_civil(year, month, mday):
    """Day number (0 = 1970-01-01) of a proleptic Gregorian date; mday may overflow."""
    if month <= 2:
        year -= 1
        mp = month + 9
    else:
        mp = month - 3
    era = year // 400
    yoe = year - era * 400
    doy = (153 * mp + 2) // 5 + mday - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def civil_from_days(days):
    """(year, month, mday) of a day number (0 = 1970-01-01)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    mday = doy - (153 * mp + 2) // 5 + 1
    if mp < 10:
        return yoe + era * 400, mp + 3, mday
    return yoe + era * 400 + 1, mp - 9, mday


def _is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


class _Reader:
    # Walks the TZ string; every complaint names the string and the place.
    def __init__(self, text):
        self.text = text
        self.pos = 0

    def fail(self, what):
        raise ValueError("time zone %r, character %d: %s" % (self.text, self.pos + 1, what))

    def peek(self):
        if self.pos < len(self.text):
            return self.text[self.pos]
        return ""

    def number(self, what, low, high):
        start = self.pos
        text = self.text
        while self.pos < len(text) and text[self.pos].isdigit():
            self.pos += 1
        if start == self.pos:
            self.fail("expected " + what)
        value = int(text[start : self.pos])
        if value < low or value > high:
            self.pos = start
            self.fail("%s %d is not within %d..%d" % (what, value, low, high))
        return value

    def name(self, what):
        text = self.text
        start = self.pos
        if self.peek() == "<":
            end = text.find(">", start)
            if end < 0:
                self.fail("%s: '<' without '>'" % what)
            inner = text[start + 1 : end]
            for c in inner:
                if not (c.isalpha() or c.isdigit() or c == "+" or c == "-"):
                    self.fail("%s: %r is not allowed inside <...>" % (what, c))
            self.pos = end + 1
        else:
            while self.pos < len(text) and text[self.pos].isalpha():
                self.pos += 1
            inner = text[start : self.pos]
        if len(inner) < 3:
            self.pos = start
            self.fail("expected a %s of at least 3 letters (or <+03> quoted)" % what)
        return inner

    def hms(self, what, max_hours):
        # [+|-]hh[:mm[:ss]] -> signed seconds
        sign = 1
        c = self.peek()
        if c == "+" or c == "-":
            if c == "-":
                sign = -1
            self.pos += 1
        seconds = self.number(what + " hours", 0, max_hours) * _HOUR
        if self.peek() == ":":
            self.pos += 1
            seconds += self.number(what + " minutes", 0, 59) * 60
            if self.peek() == ":":
                self.pos += 1
                seconds += self.number(what + " seconds", 0, 59)
        return sign * seconds

    def rule(self):
        # Mm.w.d | Jn | n, then [/time]; returned as (kind, a, b, c, time)
        c = self.peek()
        if c == "M":
            self.pos += 1
            month = self.number("rule month", 1, 12)
            self.expect(".")
            week = self.number("rule week", 1, 5)
            self.expect(".")
            wday = self.number("rule weekday", 0, 6)
            parts = ("M", month, week, wday)
        elif c == "J":
            self.pos += 1
            parts = ("J", self.number("rule Julian day", 1, 365), 0, 0)
        elif c.isdigit():
            parts = ("n", self.number("rule day", 0, 365), 0, 0)
        else:
            self.fail("expected a rule (Mm.w.d, Jn or n)")
        time = _DEFAULT_RULE_TIME
        if self.peek() == "/":
            self.pos += 1
            time = self.hms("rule time", _MAX_RULE_H)
        return parts + (time,)

    def expect(self, char):
        if self.peek() != char:
            self.fail("expected %r" % char)
        self.pos += 1


def _rule_day(rule, year, jan1):
    # Day number of the date a rule names in a year.
    kind, a, b, c = rule[0], rule[1], rule[2], rule[3]
    if kind == "J":
        # Jn counts 1..365 and never counts February 29.
        if a >= 60 and _is_leap(year):
            return jan1 + a
        return jan1 + a - 1
    if kind == "n":
        return jan1 + a
    first = days_from_civil(year, a, 1)
    if a == 12:
        length = days_from_civil(year + 1, 1, 1) - first
    else:
        length = days_from_civil(year, a + 1, 1) - first
    # 1970-01-01 was a Thursday; rule weekdays count from Sunday = 0.
    day = first + (c - (first + 4)) % 7 + 7 * (b - 1)
    while day >= first + length:
        day -= 7
    return day


class TZ:
    """A POSIX TZ string; offset(utc) and localtime(utc) for its local time."""

    def __init__(self, posix):
        if not isinstance(posix, str):
            raise ValueError("time zone must be a string, not %r" % (posix,))
        posix = posix.strip()
        r = _Reader(posix)
        if posix.startswith(":") or ("/" in posix and "," not in posix):
            r.fail(
                "zone names such as Europe/Paris are not understood: give the POSIX TZ "
                "string (the last line of the zoneinfo file), e.g. CET-1CEST,M3.5.0,M10.5.0/3"
            )
        self.posix = posix
        self.std_name = r.name("standard time name")
        c = r.peek()
        if not (c.isdigit() or c == "+" or c == "-"):
            r.fail("expected the UTC offset after %r (e.g. UTC0, CET-1)" % self.std_name)
        # POSIX offsets count hours west of Greenwich; ours count seconds east.
        self.std_offset = -r.hms("UTC offset", _MAX_OFFSET_H)
        self.dst_name = None
        self.dst_offset = self.std_offset
        self._start = self._end = None
        if r.peek():
            self.dst_name = r.name("daylight time name")
            c = r.peek()
            if c.isdigit() or c == "+" or c == "-":
                self.dst_offset = -r.hms("daylight UTC offset", _MAX_OFFSET_H)
            else:
                self.dst_offset = self.std_offset + _HOUR
            if r.peek() != ",":
                r.fail(
                    "daylight time %r needs its rules, e.g. %s,M3.5.0,M10.5.0/3"
                    % (self.dst_name, posix)
                )
            r.pos += 1
            self._start = r.rule()
            r.expect(",")
            self._end = r.rule()
            if r.peek():
                r.fail("unexpected %r" % posix[r.pos :])
        # One year's transitions, cached: [first_day, next_first_day) of the UTC year
        # and the sorted transition times (seconds from first_day) with their offsets.
        self._y0 = self._y1 = 0
        self._times = None
        self._offsets = None

    def __repr__(self):
        return "TZ(%r)" % self.posix

    def _year_of(self, days):
        year = civil_from_days(days)[0]
        y0 = days_from_civil(year, 1, 1)
        self._y0 = y0
        self._y1 = y0 + (366 if _is_leap(year) else 365)
        # Rule times may reach a week into a neighbouring year, so the transitions
        # that can matter inside this year come from it and the two around it.
        std, dst = self.std_offset, self.dst_offset
        times = []
        offsets = []
        for y in (year - 1, year, year + 1):
            jan1 = days_from_civil(y, 1, 1)
            s = (_rule_day(self._start, y, jan1) - y0) * _DAY + self._start[4] - std
            e = (_rule_day(self._end, y, jan1) - y0) * _DAY + self._end[4] - dst
            times.append(s)
            offsets.append(dst)
            times.append(e)
            offsets.append(std)
        # Insertion sort, stable: of two transitions at one instant the later in the
        # list wins, so a year whose start and end coincide has no daylight time,
        # and a start that meets the previous year's end continues it (permanent
        # daylight time, "EST5EDT,0/0,J365/25").
        for i in range(1, len(times)):
            t, o = times[i], offsets[i]
            j = i
            while j > 0 and times[j - 1] > t:
                times[j] = times[j - 1]
                offsets[j] = offsets[j - 1]
                j -= 1
            times[j] = t
            offsets[j] = o
        self._times = times
        self._offsets = offsets

    def _offset_at(self, days, sec):
        # Offset at the instant day number `days` + `sec` seconds (0 <= sec < 86400).
        if self._start is None:
            return self.std_offset
        if not (self._y0 <= days < self._y1):
            self._year_of(days)
        rel = (days - self._y0) * _DAY + sec
        times = self._times
        i = len(times) - 1
        while i >= 0 and times[i] > rel:
            i -= 1
        if i < 0:
            # Before the first listed transition: the offset it replaced.
            if self._offsets[0] == self.dst_offset:
                return self.std_offset
            return self.dst_offset
        return self._offsets[i]

    def offset(self, utc):
        """Seconds east of UTC in effect at `utc` (seconds since 1970, UTC)."""
        days, sec = divmod(utc, _DAY)
        return self._offset_at(days, sec)

    def is_dst(self, utc):
        return self._start is not None and self.offset(utc) != self.std_offset

    def name(self, utc):
        """The zone abbreviation in effect at `utc` (e.g. CEST)."""
        if self.is_dst(utc):
            return self.dst_name
        return self.std_name

    def localtime(self, utc):
        """(year, month, mday, hour, minute, second, weekday 0=Mon, yearday 1..366)."""
        days, sec = divmod(utc, _DAY)
        sec += self._offset_at(days, sec)
        if sec < 0:
            sec += _DAY
            days -= 1
        elif sec >= _DAY:
            sec -= _DAY
            days += 1
        year, month, mday = civil_from_days(days)
        hour, sec = divmod(sec, _HOUR)
        minute, sec = divmod(sec, 60)
        return (
            year,
            month,
            mday,
            hour,
            minute,
            sec,
            (days + 3) % 7,
            days - days_from_civil(year, 1, 1) + 1,
        )

    def to_utc(self, year, month, mday, hour, minute, second=0):
        """The UTC instant of a local wall time.

        Fields past their range carry over (mday 32, hour 24). A time skipped by a
        change to daylight time moves forward by the gap; a time that occurs twice
        gives its first occurrence.
        """
        if not 1 <= month <= 12:
            raise ValueError("month %r is not within 1..12" % (month,))
        days = days_from_civil(year, month, 1) + mday - 1
        wall = hour * _HOUR + minute * 60 + second
        # Each offset the zone has gives one reading of the wall time, as seconds
        # from the start of `days` in UTC; a reading is right when the zone has
        # that offset at that instant.
        best = None
        latest = None
        for off in (self.std_offset, self.dst_offset):
            rel = wall - off
            d, s = divmod(rel, _DAY)
            if self._offset_at(days + d, s) == off and (best is None or rel < best):
                best = rel
            if latest is None or rel > latest:
                latest = rel
        if best is None:
            # In a gap: the reading with the offset from before the change lands
            # after it (it is the later reading), so the time moves forward.
            best = latest
        d, s = divmod(best, _DAY)
        return (days + d) * _DAY + s

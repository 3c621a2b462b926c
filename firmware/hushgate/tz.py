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


class TZ:
    """A POSIX TZ string; offset(utc) and localtime(utc) for its local time."""

    def __init__(self, posix):
        # The parser (about 5 KB of heap) is needed only here, and a zone is made
        # only when a config is loaded, checked or saved: it is loaded for the
        # moment and dropped again unless something else had it loaded.
        # Raises ValueError naming the problem.
        import sys

        loaded = "hushgate.tzparse" in sys.modules
        from hushgate.tzparse import parse_tz

        try:
            parsed = parse_tz(posix)
        finally:
            if not loaded:
                from hushgate.compat import forget

                forget("tzparse")
        self.posix, self.std_name, self.std_offset, self.dst_name, self.dst_offset = parsed[:5]
        self._start, self._end = parsed[5:]
        # One year's transitions, cached: [first_day, next_first_day) of the UTC year
        # and its transitions (seconds from first_day, order, new offset), sorted.
        self._y0 = self._y1 = 0
        self._transitions = None

    # ---- local time ---------------------------------------------------------------------

    def _offset_at(self, days, sec):
        # Offset at the instant day number `days` + `sec` seconds (0 <= sec < 86400).
        if self._start is None:
            return self.std_offset
        std, dst = self.std_offset, self.dst_offset
        if not (self._y0 <= days < self._y1):
            # A new UTC year: its transitions. Rule times may reach a week into a
            # neighbouring year, so those that can matter inside this year come
            # from it and the two around it.
            year = civil_from_days(days)[0]
            y0 = self._y0 = days_from_civil(year, 1, 1)
            self._y1 = days_from_civil(year + 1, 1, 1)
            found = []
            for y in (year - 1, year, year + 1):
                jan1 = days_from_civil(y, 1, 1)
                for rule, before, after in ((self._start, std, dst), (self._end, dst, std)):
                    # The day the rule names in year y (written out here: its only use).
                    kind, a, b, c = rule[0], rule[1], rule[2], rule[3]
                    if kind == "J":
                        # Jn counts 1..365 and never counts February 29 (day 60 of a
                        # leap year).
                        day = jan1 + a - 1
                        if a >= 60 and days_from_civil(y, 3, 1) - jan1 == 60:
                            day += 1
                    elif kind == "n":
                        day = jan1 + a
                    else:
                        first = days_from_civil(y, a, 1)
                        after_month = days_from_civil(y, a + 1, 1)  # month 13: next January
                        # 1970-01-01 was a Thursday; rule weekdays count from Sunday = 0.
                        day = first + (c - (first + 4)) % 7 + 7 * (b - 1)
                        while day >= after_month:
                            day -= 7
                    at = (day - y0) * _DAY + rule[4] - before
                    found.append((at, len(found), after))
            # Sorted by time, then by place in the list: of two transitions at one
            # instant the later in the list wins, so a year whose start and end
            # coincide has no daylight time, and a start that meets the previous
            # year's end continues it (permanent daylight time, "EST5EDT,0/0,J365/25").
            found.sort()
            self._transitions = found
        rel = (days - self._y0) * _DAY + sec
        found = self._transitions
        i = len(found) - 1
        while i >= 0 and found[i][0] > rel:
            i -= 1
        if i >= 0:
            return found[i][2]
        # Before the first listed transition: the offset it replaced.
        return std if found[0][2] == dst else dst

    def offset(self, utc):
        """Seconds east of UTC in effect at `utc` (seconds since 1970, UTC)."""
        days, sec = divmod(utc, _DAY)
        return self._offset_at(days, sec)

    def name(self, utc):
        """The zone abbreviation in effect at `utc` (e.g. CEST)."""
        if self._start is not None and self.offset(utc) != self.std_offset:
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
        # Only "quiet until morning" asks: the code is loaded for the call (tzwall.py).
        from hushgate.tzwall import to_utc

        return to_utc(self, year, month, mday, hour, minute, second)

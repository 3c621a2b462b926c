# Local wall time -> UTC for hushgate.tz.TZ.to_utc: only "quiet until morning" asks
# (a button press, a config change), so TZ.to_utc imports this module for the call
# and to_utc first drops it again (from sys.modules and the package; the call under
# way keeps what it uses): it costs heap only meanwhile.
from hushgate.compat import const, forget
from hushgate.tz import days_from_civil

_DAY = const(86400)
_HOUR = const(3600)


def to_utc(tz, year, month, mday, hour, minute, second=0):
    """TZ.to_utc()'s work: the UTC instant of a local wall time in zone tz."""
    forget("tzwall")
    if not 1 <= month <= 12:
        raise ValueError("month %r is not within 1..12" % (month,))
    days = days_from_civil(year, month, 1) + mday - 1
    wall = hour * _HOUR + minute * 60 + second
    # Each offset the zone has gives one reading of the wall time, as seconds from
    # the start of `days` in UTC; a reading is right when the zone has that offset
    # at that instant.
    best = None
    latest = None
    for off in (tz.std_offset, tz.dst_offset):
        rel = wall - off
        d, s = divmod(rel, _DAY)
        if tz._offset_at(days + d, s) == off and (best is None or rel < best):
            best = rel
        if latest is None or rel > latest:
            latest = rel
    if best is None:
        # In a gap: the reading with the offset from before the change lands after
        # it (it is the later reading), so the time moves forward.
        best = latest
    d, s = divmod(best, _DAY)
    return (days + d) * _DAY + s

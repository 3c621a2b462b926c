# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
# Known instants below were worked out from the rules by hand and with
# calendar.timegm; the exhaustive comparison with the C library is in
# test_tz_oracle.py (CPython only).
from hushgate.tz import TZ, civil_from_days, days_from_civil

CET = "CET-1CEST,M3.5.0,M10.5.0/3"
US = "EST5EDT,M3.2.0,M11.1.0"
SYDNEY = "AEST-10AEDT,M10.1.0,M4.1.0/3"
NUUK = "<-02>2<-01>,M3.5.0/-1,M10.5.0/0"
PERMANENT_DST = "EST5EDT,0/0,J365/25"

# 2024 instants (UTC seconds)
CET_SPRING = 1711846800  # 2024-03-31 01:00 UTC, CET -> CEST
CET_AUTUMN = 1729990800  # 2024-10-27 01:00 UTC, CEST -> CET
US_SPRING = 1710054000  # 2024-03-10 07:00 UTC
US_AUTUMN = 1730613600  # 2024-11-03 06:00 UTC
SYDNEY_END = 1712419200  # 2024-04-06 16:00 UTC (07 Apr 03:00 AEDT)
SYDNEY_START = 1728144000  # 2024-10-05 16:00 UTC (06 Oct 02:00 AEST)
NEW_YEAR_EVE = 1735686000  # 2024-12-31 23:00 UTC
MIDSUMMER = 1719835200  # 2024-07-01 12:00 UTC


def utc(year, month, mday, hour=0, minute=0, second=0):
    return days_from_civil(year, month, mday) * 86400 + hour * 3600 + minute * 60 + second


def raises_value_error(text):
    try:
        TZ(text)
    except ValueError as e:
        return str(e)
    return None


def test_day_numbers_known_dates():
    assert days_from_civil(1970, 1, 1) == 0
    assert days_from_civil(2000, 3, 1) == 11017
    assert days_from_civil(1600, 1, 1) == -135140
    assert days_from_civil(1, 1, 1) == -719162
    assert days_from_civil(9999, 12, 31) == 2932896
    assert civil_from_days(11017) == (2000, 3, 1)
    assert civil_from_days(-1) == (1969, 12, 31)
    assert civil_from_days(days_from_civil(2024, 2, 29)) == (2024, 2, 29)
    # 2100 is not a leap year, 2000 was
    assert days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28) == 1
    assert days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28) == 2
    assert utc(2024, 3, 31, 1) == CET_SPRING


def test_day_numbers_round_trip():
    previous = None
    for days in range(-800000, 3000000, 997):
        year, month, mday = civil_from_days(days)
        assert 1 <= month <= 12 and 1 <= mday <= 31
        assert days_from_civil(year, month, mday) == days
        if previous is not None:
            assert (year, month, mday) > previous
        previous = (year, month, mday)


def test_mday_overflow_carries_into_next_month():
    assert days_from_civil(2024, 1, 32) == days_from_civil(2024, 2, 1)
    assert days_from_civil(2023, 12, 32) == days_from_civil(2024, 1, 1)


def test_fixed_offsets():
    assert TZ("UTC0").offset(MIDSUMMER) == 0
    assert TZ("IST-5:30").offset(MIDSUMMER) == 19800
    assert TZ("<+0530>-5:30").offset(MIDSUMMER) == 19800
    assert TZ("<-03>3").offset(MIDSUMMER) == -10800
    assert TZ("<+03>-3").offset(NEW_YEAR_EVE) == 10800
    # POSIX counts west as positive: GMT+3 is three hours behind UTC
    assert TZ("GMT+3").offset(MIDSUMMER) == -10800
    assert TZ("XXX-1:02:03").offset(0) == 3723
    assert TZ("  UTC0 ").offset(0) == 0
    assert TZ("IST-5:30").localtime(NEW_YEAR_EVE) == (2025, 1, 1, 4, 30, 0, 2, 1)
    assert TZ("UTC0").name(MIDSUMMER) == "UTC"


def test_central_europe_transitions():
    tz = TZ(CET)
    assert tz.offset(CET_SPRING - 1) == 3600
    assert tz.offset(CET_SPRING) == 7200
    assert tz.offset(CET_AUTUMN - 1) == 7200
    assert tz.offset(CET_AUTUMN) == 3600
    assert tz.localtime(CET_SPRING - 1)[:6] == (2024, 3, 31, 1, 59, 59)
    assert tz.localtime(CET_SPRING)[:6] == (2024, 3, 31, 3, 0, 0)
    assert tz.localtime(CET_AUTUMN - 1)[:6] == (2024, 10, 27, 2, 59, 59)
    assert tz.localtime(CET_AUTUMN)[:6] == (2024, 10, 27, 2, 0, 0)
    assert tz.name(MIDSUMMER) == "CEST" and tz.offset(MIDSUMMER) == tz.dst_offset
    assert tz.name(NEW_YEAR_EVE) == "CET" and tz.offset(NEW_YEAR_EVE) == tz.std_offset


def test_united_states_transitions():
    tz = TZ(US)
    assert tz.offset(US_SPRING - 1) == -18000
    assert tz.offset(US_SPRING) == -14400
    assert tz.offset(US_AUTUMN - 1) == -14400
    assert tz.offset(US_AUTUMN) == -18000
    assert tz.localtime(US_SPRING)[:6] == (2024, 3, 10, 3, 0, 0)


def test_southern_hemisphere_dst_spans_new_year():
    tz = TZ(SYDNEY)
    assert tz.offset(SYDNEY_END - 1) == 39600
    assert tz.offset(SYDNEY_END) == 36000
    assert tz.offset(SYDNEY_START - 1) == 36000
    assert tz.offset(SYDNEY_START) == 39600
    assert tz.offset(NEW_YEAR_EVE) == 39600
    assert tz.offset(MIDSUMMER) == 36000
    assert tz.localtime(NEW_YEAR_EVE) == (2025, 1, 1, 10, 0, 0, 2, 1)
    nz = TZ("NZST-12NZDT,M9.5.0,M4.1.0/3")
    assert nz.offset(NEW_YEAR_EVE) == 13 * 3600
    assert nz.offset(MIDSUMMER) == 12 * 3600


def test_negative_rule_time():
    # Greenland: the change happens at -1:00 on the last Sunday of March,
    # i.e. 23:00 on the Saturday before, which is 01:00 UTC like in Europe.
    tz = TZ(NUUK)
    assert tz.offset(CET_SPRING - 1) == -7200
    assert tz.offset(CET_SPRING) == -3600
    assert tz.localtime(CET_SPRING - 1)[:6] == (2024, 3, 30, 22, 59, 59)
    assert tz.localtime(CET_SPRING)[:6] == (2024, 3, 31, 0, 0, 0)
    assert tz.offset(CET_AUTUMN - 1) == -3600
    assert tz.offset(CET_AUTUMN) == -7200


def test_rule_time_beyond_24_hours_permanent_dst():
    # The tzcode idiom for daylight time all year: it starts at the very
    # moment the previous year's ends, including across the new year.
    tz = TZ(PERMANENT_DST)
    for year in (2023, 2024, 2025, 2100):
        for month, mday, hour in ((1, 1, 0), (1, 1, 4), (1, 1, 5), (7, 1, 12), (12, 31, 23)):
            assert tz.offset(utc(year, month, mday, hour)) == -14400
    late = TZ("EST5EDT,M3.2.0/26,M11.1.0/49")
    # 26:00 on Sunday 10 March = Monday 02:00 EST = 07:00 UTC on 11 March
    assert late.offset(utc(2024, 3, 11, 6, 59, 59)) == -18000
    assert late.offset(utc(2024, 3, 11, 7)) == -14400
    # 49:00 EDT on Sunday 3 November = Tuesday 01:00 EDT = 05:00 UTC
    assert late.offset(utc(2024, 11, 5, 4, 59, 59)) == -14400
    assert late.offset(utc(2024, 11, 5, 5)) == -18000


def test_julian_rules_count_february_29_only_in_n_form():
    # Jn never counts 29 February: J60 is 1 March in every year.
    j = TZ("XXX3YYY,J60/0,J300/0")
    assert j.offset(utc(2024, 3, 1, 2, 59, 59)) == -10800
    assert j.offset(utc(2024, 3, 1, 3)) == -7200
    assert j.offset(utc(2023, 3, 1, 3)) == -7200
    assert j.offset(utc(2023, 3, 1, 2)) == -10800
    # n counts from 0 and does count 29 February: day 59 is 29 Feb in 2024
    # and 1 March in 2023.
    n = TZ("XXX3YYY,59/0,299/0")
    assert n.offset(utc(2024, 2, 29, 3)) == -7200
    assert n.offset(utc(2024, 2, 29, 2)) == -10800
    assert n.offset(utc(2023, 3, 1, 3)) == -7200
    assert n.offset(utc(2023, 2, 28, 12)) == -10800


def test_fifth_week_means_last():
    # February 2025 has four Sundays (2, 9, 16, 23): M2.5.0 is the 23rd.
    tz = TZ("XXX0YYY,M2.5.0/0,M11.1.0/0")
    assert tz.offset(utc(2025, 2, 22, 23, 59)) == 0
    assert tz.offset(utc(2025, 2, 23)) == 3600
    # explicit DST offset other than one hour
    half = TZ("LHST-10:30LHDT-11,M10.1.0,M4.1.0")
    assert half.offset(MIDSUMMER) == 37800
    assert half.offset(NEW_YEAR_EVE) == 39600


def test_localtime_weekday_and_yearday():
    tz = TZ("UTC0")
    assert tz.localtime(0) == (1970, 1, 1, 0, 0, 0, 3, 1)
    assert tz.localtime(utc(2024, 2, 29, 12)) == (2024, 2, 29, 12, 0, 0, 3, 60)
    assert tz.localtime(utc(2024, 12, 31, 23, 59, 59)) == (2024, 12, 31, 23, 59, 59, 1, 366)
    assert tz.localtime(utc(2025, 12, 31)) == (2025, 12, 31, 0, 0, 0, 2, 365)
    assert tz.localtime(-1) == (1969, 12, 31, 23, 59, 59, 2, 365)
    assert TZ(CET).localtime(utc(2100, 7, 1, 12)) == (2100, 7, 1, 14, 0, 0, 3, 182)


def test_to_utc_round_trip_and_carry():
    tz = TZ(CET)
    assert tz.to_utc(2024, 7, 1, 14, 0) == MIDSUMMER
    assert tz.to_utc(2024, 7, 1, 14, 0, 0) == MIDSUMMER
    assert tz.to_utc(2025, 1, 1, 0, 0) == NEW_YEAR_EVE
    assert tz.to_utc(2024, 12, 31, 24, 0) == NEW_YEAR_EVE
    assert tz.to_utc(2024, 12, 32, 0, 0) == NEW_YEAR_EVE
    # minutes past the day carry over as wall-clock time (the gate counts week
    # minutes from a local midnight), into a DST gap here: 02:30 -> 03:30 CEST
    assert tz.to_utc(2024, 3, 30, 0, 1440 + 150) == CET_SPRING + 1800
    assert tz.to_utc(2024, 3, 25, 0, 6 * 1440 + 180) == CET_SPRING
    assert TZ("UTC0").to_utc(2024, 7, 1, 12, 0) == MIDSUMMER
    assert TZ(SYDNEY).to_utc(2025, 1, 1, 10, 0) == NEW_YEAR_EVE
    for bad_month in (0, 13):
        try:
            tz.to_utc(2024, bad_month, 1, 0, 0)
        except ValueError:
            pass
        else:
            raise AssertionError("month %d accepted" % bad_month)


def test_to_utc_gap_moves_forward():
    tz = TZ(CET)
    # 02:30 does not exist on 31 March 2024 in Europe: it becomes 03:30 CEST
    moved = tz.to_utc(2024, 3, 31, 2, 30)
    assert moved == CET_SPRING + 1800
    assert tz.localtime(moved)[:6] == (2024, 3, 31, 3, 30, 0)
    assert tz.to_utc(2024, 3, 31, 2, 0) == CET_SPRING
    assert tz.to_utc(2024, 3, 31, 3, 0) == CET_SPRING
    assert tz.to_utc(2024, 3, 31, 1, 59, 59) == CET_SPRING - 1
    us = TZ(US)
    assert us.localtime(us.to_utc(2024, 3, 10, 2, 15))[:6] == (2024, 3, 10, 3, 15, 0)


def test_to_utc_ambiguous_takes_first_occurrence():
    tz = TZ(CET)
    # 02:30 happens twice on 27 October 2024: first in CEST (00:30 UTC)
    assert tz.to_utc(2024, 10, 27, 2, 30) == CET_AUTUMN - 1800
    assert tz.to_utc(2024, 10, 27, 2, 0) == CET_AUTUMN - 3600
    assert tz.to_utc(2024, 10, 27, 3, 0) == CET_AUTUMN + 3600
    sydney = TZ(SYDNEY)
    # 02:30 on 7 April 2024 happens twice in Sydney: first in AEDT
    assert sydney.to_utc(2024, 4, 7, 2, 30) == SYDNEY_END - 1800


def test_cache_follows_the_year_asked():
    tz = TZ(CET)
    answers = []
    for _ in range(3):
        for t in (CET_SPRING, utc(2030, 7, 1), utc(1999, 1, 1), NEW_YEAR_EVE, utc(2025, 1, 1)):
            answers.append(tz.offset(t))
    assert answers[:5] == [7200, 7200, 3600, 3600, 3600]
    assert answers[:5] == answers[5:10] == answers[10:]


def test_bad_strings_raise_value_error_naming_the_problem():
    cases = (
        ("", "name"),
        ("UTC", "offset"),
        ("Europe/Paris", "POSIX TZ"),
        (":Europe/Paris", "POSIX TZ"),
        ("CET-1CEST", "rules"),
        ("CET-25", "25"),
        ("CET-1:60", "minutes"),
        ("CET-1CEST,M13.5.0,M10.5.0", "month 13"),
        ("CET-1CEST,M3.6.0,M10.5.0", "week 6"),
        ("CET-1CEST,M3.5.7,M10.5.0", "weekday 7"),
        ("CET-1CEST,M3.5.0", "','"),
        ("CET-1CEST,M3.5.0,M10.5.0/168", "168"),
        ("CET-1CEST,M3.5.0,M10.5.0x", "'x'"),
        ("CET-1CEST,J0,J365", "Julian day 0"),
        ("CET-1CEST,366,1", "day 366"),
        ("CET-1CEST,X3,J1", "rule"),
        ("<+03", "'>'"),
        ("<+0!3>3", "'!'"),
        ("AB1", "3 letters"),
        ("CET-1CEST,M3.5.0,M10.5.0/3:", "minutes"),
        ("CET-", "hours"),
    )
    for text, word in cases:
        message = raises_value_error(text)
        assert message is not None, text
        assert word in message, (text, message)
        assert repr(text) in message or text.strip() == "", (text, message)
    message = raises_value_error(None)
    assert message is not None and "string" in message


def test_to_utc_code_is_loaded_only_while_it_runs():
    import sys

    import hushgate

    paris = TZ("CET-1CEST,M3.5.0,M10.5.0/3")
    assert paris.to_utc(2026, 7, 1, 12, 0) == days_from_civil(2026, 7, 1) * 86400 + 10 * 3600
    assert "hushgate.tzwall" not in sys.modules
    assert not hasattr(hushgate, "tzwall")

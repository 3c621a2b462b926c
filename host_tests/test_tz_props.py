"""Property tests for tz.py (CPython only: hypothesis, and glibc as the oracle)."""

import os
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from hushgate.tz import TZ

# TZ.to_utc loads hushgate.tzwall per call (test_tz checks that wiring); the
# properties call its to_utc(tz, ...) directly, without a module load each time.
from hushgate.tzwall import to_utc

TOKENS = [
    "CET",
    "EST",
    "<+03>",
    "<-0530>",
    "<",
    ">",
    "-",
    "+",
    ":",
    ",",
    ".",
    "/",
    "M",
    "J",
    "0",
    "1",
    "5",
    "12",
    "24",
    "25",
    "167",
    "168",
    "365",
    "366",
    "99999999999999999999",
    " ",
    "\x00",
    "é",
]


@given(
    st.one_of(st.text(max_size=40), st.lists(st.sampled_from(TOKENS), max_size=14).map("".join))
)
@settings(max_examples=600, deadline=None)
def test_any_text_gives_a_zone_or_a_value_error(text):
    try:
        tz = TZ(text)
    except ValueError as e:
        assert "time zone" in str(e)
        return
    # whatever was accepted works everywhere in time
    for utc in (-(2**31), 0, 1735686000, 2**31, 4118126400):
        fields = tz.localtime(utc)
        assert 1 <= fields[1] <= 12 and 1 <= fields[2] <= 31 and 0 <= fields[3] <= 23
        assert to_utc(tz, *fields[:6]) <= utc


def hms(seconds):
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    return "%s%d:%02d:%02d" % (sign, seconds // 3600, seconds // 60 % 60, seconds % 60)


# Rules stay between February and November with times within two days, so no
# change crosses a new year, and one change falls in Feb-May and the other in
# Jul-Nov, so their order is the same every year. In both cases glibc evaluates
# only the instant's own UTC year (see test_tz_oracle.py) where POSIX 2024 and
# tzcode, which tz.py follows, carry the previous year's last change over.
def rule(first_month, last_month):
    first_day = 1 + sum((31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30)[: first_month - 1])
    last_day = sum((31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30)[:last_month]) - 1
    return st.one_of(
        st.builds(
            lambda m, w, d: "M%d.%d.%d" % (m, w, d),
            st.integers(first_month, last_month),
            st.integers(1, 5),
            st.integers(0, 6),
        ),
        st.integers(first_day, last_day).map(lambda n: "J%d" % n),
        st.integers(first_day, last_day - 1).map(str),
    )


early_rule = rule(2, 5)
late_rule = rule(7, 11)
rule_time = st.one_of(st.just(""), st.integers(-24 * 3600, 48 * 3600).map(lambda s: "/" + hms(s)))
offset = st.integers(-14 * 4, 12 * 4).map(lambda q: q * 900)  # quarter hours, west positive


@st.composite
def posix_zones(draw):
    std = draw(offset)
    text = "<STD>" + hms(std)
    if draw(st.booleans()):
        text += "<DST>"
        if draw(st.booleans()):
            text += hms(std + draw(st.sampled_from([-7200, -3600, -1800, 1800, 3600])))
        rules = [draw(early_rule) + draw(rule_time), draw(late_rule) + draw(rule_time)]
        if draw(st.booleans()):
            rules.reverse()  # southern hemisphere: daylight time over the new year
        text += "," + ",".join(rules)
    return text


@given(posix_zones(), st.lists(st.integers(946684800, 2145916800), min_size=40, max_size=40))
@settings(max_examples=300, deadline=None)
def test_random_rules_match_libc(posix, instants):
    saved = os.environ.get("TZ")
    os.environ["TZ"] = posix
    time.tzset()
    try:
        tz = TZ(posix)
        for utc in instants:
            tm = time.localtime(utc)
            expected = (tm.tm_gmtoff, (*tm[:6], tm.tm_wday, tm.tm_yday))
            assert (tz.offset(utc), tz.localtime(utc)) == expected, (posix, utc)
            wall = tz.localtime(utc)[:6]
            back = to_utc(tz, *wall)
            assert time.localtime(back)[:6] == wall and back <= utc, (posix, utc)
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()

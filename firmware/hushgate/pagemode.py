# The gate's state in words and the call log a row at a time, for the status page
# and the API (which draws no HTML: hence no hushgate.pages here).

MODE_TEXT = {
    "ringing": "Ringing",
    "quiet-schedule": "Quiet hours",
    "quiet-button": "Quiet (button), until switched off",
    "quiet-until-morning": "Quiet until morning",
}


def hhmm(t):
    return "%02d:%02d" % (t[3], t[4])


def when(tz, utc, today=None):
    """A call's local time: "14:03" today, "Tue 24 Nov 14:03" otherwise."""
    if utc is None or tz is None:
        return "clock not set"
    t = tz.localtime(utc)
    if today is not None and t[:3] == today[:3]:
        return hhmm(t)
    days = "MonTueWedThuFriSatSun"
    months = "JanFebMarAprMayJunJulAugSepOctNovDec"
    day = days[t[6] * 3 : t[6] * 3 + 3]
    return "%s %d %s %s" % (day, t[2], months[t[1] * 3 - 3 : t[1] * 3], hhmm(t))


def is_quiet(st):
    quiet = st.get("quiet")
    return bool(quiet) if quiet is not None else st.get("mode", "ringing") != "ringing"


def mode_text(st, tz):
    """gate.status() in words: "Quiet hours until 07:00"."""
    text = MODE_TEXT.get(st.get("mode")) or ("Quiet" if is_quiet(st) else "Ringing")
    until = st.get("until")
    if isinstance(until, int) and tz is not None:
        until = hhmm(tz.localtime(until))
    if until:
        text = ("Quiet" if st.get("mode") == "quiet-until-morning" else text) + " until " + until
    if not st.get("clock_known", True):
        text += " (clock not set: quiet hours wait for it)"
    return text


def entries(log, start=0, stop=1 << 30):
    """The call log's entries start..stop-1 (newest first) as dicts, made one at a
    time: the whole log as dicts at once is most of a request's heap. Uses the log's
    own list of entries (tuples) when it has one, else its entries()."""
    newest = getattr(log, "_newest", None)
    if newest is None:
        yield from log.entries()[start:stop]
        return
    from hushgate.calllog import _as_dict

    for item in newest()[start:stop]:
        yield _as_dict(item)

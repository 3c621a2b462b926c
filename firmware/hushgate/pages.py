# What every page shares: HTML escaping, the page frame, the words for the gate's mode, saving a
# changed config. The pages themselves: pagestatus (status, calls, quiet, block/allow),
# pagesettings (the settings form, backup, password change), pagelogin (set the
# password, log in and out), pageapi (JSON). Each is imported by hushgate.http for
# the request that needs it. Everything that is not a literal goes through esc():
# caller names and numbers come from the internet.
COOKIE = "hg"
PRE_COOKIE = "hgp"
HTML = "Content-Type: text/html; charset=UTF-8"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def esc(value):
    """HTML-escape anything for text and for double- or single-quoted attributes."""
    if value is None:
        return ""
    s = value if isinstance(value, str) else str(value)
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    if '"' in s:
        s = s.replace('"', "&quot;")
    if "'" in s:
        s = s.replace("'", "&#39;")
    return s


def html(gen, status=200, headers=None):
    h = [HTML]
    if headers:
        h.extend(headers)
    return status, h, gen


def head(title, csrf=None, script=False):
    yield (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<title>Hushgate: %s</title><link rel="stylesheet" href="/s.css">' % esc(title)
    )
    if script:
        yield '<script src="/s.js" defer></script>'
    yield "</head><body><nav><b>Hushgate</b>"
    if csrf:
        yield (
            '<a href="/">Status</a><a href="/calls">Calls</a><a href="/settings">Settings</a>'
            '<form method="post" action="/logout">%s<button>Log out</button></form>'
        ) % hidden(csrf)
    yield "</nav><main>"


def foot():
    yield "</main></body></html>"


def hidden(csrf):
    return '<input type="hidden" name="csrf" value="%s">' % esc(csrf)


def message(text, ok=False):
    if text:
        return '<p class="%s">%s</p>' % ("ok" if ok else "err", esc(text))
    return ""


def plain_page(title, text):
    yield from head(title)
    yield "<h1>%s</h1><p>%s</p>" % (esc(title), esc(text))
    yield from foot()


# -- the gate's state in words (status page and API) -----------------------------------


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
    months = "JanFebMarAprMayJunJulAugSepOctNovDec"
    return "%s %d %s %s" % (DAYS[t[6]], t[2], months[t[1] * 3 - 3 : t[1] * 3], hhmm(t))


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
    time: the whole log as dicts at once would be most of a request's heap."""
    items = getattr(log, "_items", None)
    if items is None:
        yield from log.entries()[start:stop]
        return
    i = 0
    for item in items():
        if i >= stop:
            return
        if i >= start:
            yield log._as_dict(item)
        i += 1

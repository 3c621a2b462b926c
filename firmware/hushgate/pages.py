# What every HTML page shares: escaping, the page frame, a short message. The pages,
# each imported by hushgate.pagesend for the request that needs it and dropped by
# hushgate.web when idle:
# pagestatus (status, calls), pagechange (their buttons), pagesettings (the form),
# pagesave (saving it, backup, password change), pagelogin (set the password, log
# in and out), pageapi (JSON), pagecss (style sheet, script); pagemode holds the
# gate's mode in words for the status page and the API. Everything that is not a
# literal goes through esc(): caller names and numbers come from the internet.
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

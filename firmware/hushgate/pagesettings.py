# The settings page: every config key as a form field, with the errors of a refused
# save under their fields and what was typed kept. Saving, the config download and
# upload and the password change are hushgate.pagesave's.
from hushgate.pagefields import settings_fields, table_rows
from hushgate.pages import DAYS, esc, foot, head, hidden, html, message


def handle(web, req):
    return settings_view(req, web, web.ctx.config, notice=req.args.get("n"))


def settings_view(req, web, config, errors=None, status=200, notice=None, upload_error=None):
    grouped = errors_by_field(errors or [], config)
    n = min(len(config.get("quiet_hours") or []) + 2, web.max_windows)
    # A refused save shows back what was typed, secrets too (they came with this
    # request); a saved secret itself is never written into the page.
    typed = req.form if errors is not None else None
    gen = settings_page(config, grouped, req.csrf, n, notice, upload_error, typed)
    return html(gen, status)


def errors_by_field(errors, config):
    """Validation messages ("quiet_hours[1].start: ...") grouped by the field they name."""
    out = {}
    for text in errors:
        key = text
        for sep in "[.: ":
            i = key.find(sep)
            if i >= 0:
                key = key[:i]
        if key == "version" or key not in config and key != "password":
            key = ""
        out.setdefault(key, []).append(text)
    return out


def day_set(days):
    """A window's days ("Mon-Fri", "Sat,Sun", "Fri-Mon") as a set of indexes;
    an unreadable value gives an empty set (the validator says why)."""
    chosen = set()
    if not isinstance(days, str):
        return chosen
    for part in days.split(","):
        part = part.strip()
        if not part:
            continue
        ends = part.split("-")
        try:
            first = DAYS.index(_day(ends[0]))
            last = DAYS.index(_day(ends[-1]))
        except ValueError:
            continue
        i = first
        while True:
            chosen.add(i)
            if i == last:
                break
            i = (i + 1) % 7
    return chosen


def _day(word):
    word = word.strip()
    return word[:1].upper() + word[1:3].lower()


def field_errors(errors, key, shown=5):
    messages = errors.get(key, ())
    for text in messages[:shown]:
        yield "<div class=err>%s</div>" % esc(text)
    if len(messages) > shown:
        yield "<div class=err>and %d more like these</div>" % (len(messages) - shown)


def attr(value):
    """An attribute's value, escaped: bare where HTML allows it (the page's 16 KB)."""
    s = esc(value)
    if not s:
        return '""'
    for c in " \t\n\r\f=`":
        if c in s:
            return '"%s"' % s
    return s


def windows_field(windows, rows):
    # A window a fieldset: a tick-box a day (named q<row><day>, e.g. q0Mon), from, to.
    if not isinstance(windows, list):
        windows = []
    yield "<input type=hidden name=qn value=%d>" % rows
    for i in range(rows):
        w = windows[i] if i < len(windows) and isinstance(windows[i], dict) else {}
        chosen = day_set(w.get("days"))
        yield "<fieldset>"
        for d, name in enumerate(DAYS):
            yield "<label><input type=checkbox name=q%d%s%s>%s</label>" % (
                i,
                name,
                " checked" if d in chosen else "",
                name,
            )
        yield (
            "<br>from <input type=time name=q%ds value=%s> to "
            "<input type=time name=q%de value=%s></fieldset>"
            % (i, attr(w.get("start", "")), i, attr(w.get("end", "")))
        )
    if len(windows) > rows:
        yield "<p>%d more windows are kept as they are.</p>" % (len(windows) - rows)


def field(key, label, kind, help_text, value, errors, rows):
    # Each field inside its label (no for= and id= to pair them), its hint in the label.
    name = attr(key)
    hint = " <small>%s</small>" % esc(help_text) if help_text else ""
    if kind == "bool":
        yield "<label><input type=checkbox name=%s%s> %s%s</label>" % (
            name,
            " checked" if value is True else "",
            esc(label),
            hint,
        )
        kind = ""
    elif kind == "windows":
        yield "<label>%s%s</label>" % (esc(label), hint)
        yield from windows_field(value, rows)
        kind = ""
    else:
        yield "<label>%s%s" % (esc(label), hint)
    if kind == "tz":
        yield '<select id=tzpick name=tzpick><option value="">Choose a zone…'
        for zone, posix in table_rows(ZONES):
            yield "<option value=%s%s>%s" % (
                attr(posix),
                " selected" if posix == value else "",
                esc(zone),
            )
        yield (
            "</select></label><label><small>or the POSIX TZ string (a zone picked above"
            " replaces it):</small><input id=timezone name=%s value=%s></label>"
            % (name, attr(value))
        )
    elif kind == "secret":
        yield "<input type=password name=%s value=%s autocomplete=new-password></label>" % (
            name,
            attr(value),
        )
    elif kind in ("text", "opt", "int"):
        yield "<input%s name=%s value=%s></label>" % (
            " type=number" if kind == "int" else "",
            name,
            attr(value),
        )
    elif kind == "lines":
        text = "\n".join(str(v) for v in value) if isinstance(value, list) else value
        yield "<textarea name=%s>%s</textarea></label>" % (name, esc(text))
    elif kind == "choice":
        yield "<select name=%s>" % name
        for k, v, words in table_rows(ANSWERS):
            if k == key:
                yield "<option value=%s%s>%s" % (
                    v,
                    " selected" if v == str(value) else "",
                    esc(words),
                )
        yield "</select></label>"
    elif kind:  # any other shape: its JSON, editable
        import json

        text = value if isinstance(value, str) else json.dumps(value)
        yield "<textarea name=%s>%s</textarea></label>" % (name, esc(text))
    yield from field_errors(errors, key)


def settings_page(config, errors, csrf, window_rows, notice=None, upload_error=None, typed=None):
    """errors: {key: [messages]} ("" for those that name no field); typed: the form
    of a refused save (its secrets are shown back), else None."""
    yield from head("Settings", csrf, script=True)
    yield "<h1>Settings</h1>"
    yield message(notice, ok=True)
    if errors:
        yield message("Nothing was saved: please correct the fields marked below.")
        yield from field_errors(errors, "")
    yield '<form method="post" action="/settings">%s' % hidden(csrf)
    for key, label, kind, help_text in settings_fields(config):
        value = config.get(key)
        if kind == "secret":
            if value:
                help_text = "saved; leave empty to keep it"
            value = typed.get(key, "") if typed is not None else ""
        yield from field(key, label, kind, help_text, value, errors, window_rows)
    yield '<p><button class="big">Save</button></p></form><h2>Backup</h2>'
    yield '<p><a class="b" href="/config.json" download>Download config</a></p>'
    yield (
        '<form method="post" action="/upload" enctype="multipart/form-data">%s'
        '<input type="file" name="file" accept=".json,application/json" required> '
        "<button>Upload config</button></form>" % hidden(csrf)
    )
    yield message(upload_error)
    yield "<h2>Password</h2>"
    yield '<form method="post" action="/password">%s' % hidden(csrf)
    yield (
        "<label>Current password<input type=password name=old autocomplete=current-password"
        " required></label><label>New password<input type=password name=password"
        " autocomplete=new-password required></label><label>The same again<input"
        " type=password name=confirm autocomplete=new-password required></label>"
        "<p><button>Change password</button></p></form>"
    )
    yield from field_errors(errors, "password")
    yield from foot()


# Tables as text, a row a line, read a row at a time with table_rows() (as tuples
# they cost the heap several times their size). Common zones, "name|POSIX string"; the POSIX string
# stays editable for any other.
ZONES = """
UTC|UTC0
London, Dublin, Lisbon|GMT0BST,M3.5.0/1,M10.5.0
Paris, Berlin, Madrid, Rome|CET-1CEST,M3.5.0,M10.5.0/3
Athens, Helsinki, Kyiv|EET-2EEST,M3.5.0/3,M10.5.0/4
Moscow, Istanbul|MSK-3
India|IST-5:30
China, Singapore|CST-8
Japan|JST-9
Sydney, Melbourne|AEST-10AEDT,M10.1.0,M4.1.0/3
Auckland|NZST-12NZDT,M9.5.0,M4.1.0/3
US Eastern|EST5EDT,M3.2.0,M11.1.0
US Central|CST6CDT,M3.2.0,M11.1.0
US Mountain|MST7MDT,M3.2.0,M11.1.0
Arizona|MST7
US Pacific|PST8PDT,M3.2.0,M11.1.0
Sao Paulo|<-03>3
"""

# "key|value|words" of the answers offered
ANSWERS = """
quiet_answer|480|480 Temporarily unavailable (voicemail)
quiet_answer|486|486 Busy here
quiet_answer|603|603 Decline
quiet_answer|drop|say nothing
block_answer|603|603 Decline
block_answer|403|403 Forbidden
block_answer|486|486 Busy here
block_answer|drop|say nothing
"""

# The web page's HTML, as generators of small str chunks (the server writes each
# chunk as it comes, so no page is ever one big string on the heap). Everything
# that is not a literal here goes through esc(): caller names and numbers come
# from the internet.

CSS = (
    "body{font:16px/1.4 system-ui,sans-serif;margin:0 auto;max-width:62em;padding:.5em;"
    "color:#222;background:#fafafa}"
    "nav{display:flex;flex-wrap:wrap;gap:.3em 1em;align-items:center;"
    "border-bottom:1px solid #ccc;padding-bottom:.4em}"
    "nav form{margin-left:auto}h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.2em}"
    "button,.b{font:inherit;padding:.4em .9em;border:1px solid #888;border-radius:.3em;"
    "background:#eee;cursor:pointer}"
    ".big{font-size:1.3em;padding:.7em 1.2em;width:100%;max-width:18em;margin:.2em 0;"
    "background:#234;color:#fff}"
    ".mode{font-size:1.5em;font-weight:bold;margin:.3em 0}"
    "table{border-collapse:collapse;width:100%}"
    "td,th{padding:.3em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
    ".err{color:#b00}.ok{color:#070}.dim{color:#666;font-size:.9em}"
    ".v0{color:#070}.v1{color:#a60}.v2{color:#b00}"
    "input,select,textarea{font:inherit;box-sizing:border-box;max-width:100%}"
    "input[type=text],input[type=password],input[type=number],select,textarea{width:100%}"
    "textarea{min-height:4.5em}label{display:block;margin-top:.7em;font-weight:bold}"
    "label.d{display:inline-block;font-weight:normal;margin:0 .5em 0 0}"
    "fieldset{border:1px solid #ccc;margin:.5em 0}td form{display:inline}"
    "@media(max-width:40em){.calls thead{display:none}.calls td{display:block;"
    "border:0;padding:.05em .2em}.calls tr{display:block;border-bottom:1px solid #ccc;"
    "padding:.3em 0}}"
)

# Only an enhancement: picking a zone fills the POSIX string field.
JS = (
    'var s=document.getElementById("tzpick"),t=document.getElementById("timezone");'
    "if(s&&t)s.onchange=function(){if(s.value)t.value=s.value};"
)

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Common zones; the POSIX string stays editable for any other.
ZONES = (
    ("UTC", "UTC0"),
    ("London, Dublin, Lisbon", "GMT0BST,M3.5.0/1,M10.5.0"),
    ("Paris, Berlin, Madrid, Rome", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Athens, Helsinki, Kyiv", "EET-2EEST,M3.5.0/3,M10.5.0/4"),
    ("Moscow, Istanbul", "MSK-3"),
    ("India", "IST-5:30"),
    ("China, Singapore", "CST-8"),
    ("Japan", "JST-9"),
    ("Sydney, Melbourne", "AEST-10AEDT,M10.1.0,M4.1.0/3"),
    ("Auckland", "NZST-12NZDT,M9.5.0,M4.1.0/3"),
    ("US Eastern", "EST5EDT,M3.2.0,M11.1.0"),
    ("US Central", "CST6CDT,M3.2.0,M11.1.0"),
    ("US Mountain", "MST7MDT,M3.2.0,M11.1.0"),
    ("Arizona", "MST7"),
    ("US Pacific", "PST8PDT,M3.2.0,M11.1.0"),
    ("Sao Paulo", "<-03>3"),
)

ANSWERS = {
    "quiet_answer": (
        (480, "480 Temporarily unavailable (voicemail)"),
        (486, "486 Busy here"),
        (603, "603 Decline"),
        ("drop", "say nothing"),
    ),
    "block_answer": (
        (603, "603 Decline"),
        (403, "403 Forbidden"),
        (486, "486 Busy here"),
        ("drop", "say nothing"),
    ),
}

# (key, label, kind, help). Keys in the config but not here get a field by type.
FIELDS = (
    ("ata", "ATA address", "opt", "host:port of the phone adapter"),
    ("provider", "Provider's SIP server", "opt", "host:port, a name or an address"),
    ("timezone", "Time zone", "tz", ""),
    ("quiet_hours", "Quiet hours", "windows", "A window may cross midnight."),
    ("quiet_answer", "While quiet, callers hear", "choice", ""),
    ("vip", "Always ring (VIP numbers)", "lines", "One per line; end with * for a prefix."),
    ("repeat_call_minutes", "Repeat call rings through within (minutes)", "int", "0: off"),
    ("block", "Never ring (blocked numbers)", "lines", "One per line; end with * for a prefix."),
    ("block_anonymous", "Block callers without a number", "bool", ""),
    ("block_answer", "Blocked callers hear", "choice", ""),
    ("international_prefix", "International dialling prefix", "text", "00, 011, 0011"),
    ("trusted", "Other trusted sources", "lines", "Addresses or networks, one per line."),
    ("scanner_user_agents", "Scanner User-Agents", "lines", "Dropped silently."),
)

KIND_CLASS = {"rang": "v0", "quiet": "v1"}  # the rest (blocked, scanner) in red
COUNTER_LABELS = (
    ("calls", "call attempts"),
    ("rang", "rang"),
    ("quiet", "quiet-answered"),
    ("blocked", "blocked"),
    ("scanner", "scanners dropped"),
)


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


# -- before the session: set the password, log in ------------------------------


def password_page(title, action, csrf, error=None, note=None, confirm=False, min_len=8):
    yield from head(title)
    yield "<h1>%s</h1>" % esc(title)
    if note:
        yield "<p>%s</p>" % esc(note)
    yield message(error)
    yield '<form method="post" action="%s">%s' % (action, hidden(csrf))
    yield (
        '<label for="pw">Password</label><input type="password" id="pw" name="password"'
        ' autocomplete="%s" required%s>'
        % (
            "new-password" if confirm else "current-password",
            ' minlength="%d"' % min_len if confirm else "",
        )
    )
    if confirm:
        yield (
            '<label for="pw2">The same again</label><input type="password" id="pw2"'
            ' name="confirm" autocomplete="new-password" required>'
        )
    yield '<p><button class="big">%s</button></p></form>' % esc(title)
    yield from foot()


def plain_page(title, text):
    yield from head(title)
    yield "<h1>%s</h1><p>%s</p>" % (esc(title), esc(text))
    yield from foot()


# -- status and calls --------------------------------------------------------------


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


def duration(seconds):
    days, rest = divmod(int(seconds), 86400)
    text = "%d h %d min" % (rest // 3600, rest % 3600 // 60)
    return "%d d %s" % (days, text) if days else text


def counter_rows(counters, unseen, totals):
    labels = {}
    for key, label in COUNTER_LABELS:
        labels[key] = label
        yield row(label, counters.get(key, 0), unseen.get(key, 0), totals.get(key, 0))
    for key in counters:
        if key not in labels:
            yield row(key.replace("_", " "), counters[key], "", totals.get(key, ""))


def row(*cells):
    return "<tr>" + "".join("<td>%s</td>" % esc(c) for c in cells) + "</tr>"


def verdict(e):
    kind = e.get("kind") or ""
    action = e.get("action")
    if action == "answer":
        return "%s (%s)" % (kind, e.get("code"))
    if action == "drop" and kind != "rang":
        return kind + " (no answer)"
    return kind


def call_rows(entries, tz, today, csrf, start, stop):
    yield (
        '<form method="post" action="/number">%s<table class="calls"><thead><tr>'
        "<th>When</th><th>Number</th><th>Name</th><th>Verdict</th><th>Why</th><th></th>"
        "</tr></thead><tbody>" % hidden(csrf)
    )
    n = 0
    for i in range(start, min(stop, len(entries))):
        e = entries[i]
        n += 1
        number = e.get("number")
        yield (
            '<tr><td>%s</td><td>%s</td><td>%s</td><td class="%s">%s</td><td>%s</td><td>'
            % (
                esc(when(tz, e.get("utc"), today)),
                esc(number) if number else "<i>anonymous</i>",
                esc(e.get("name")),
                KIND_CLASS.get(e.get("kind"), "v2"),
                esc(verdict(e)),
                esc(e.get("reason")),
            )
        )
        entry_id = int(e.get("id") or 0)
        if entry_id:
            yield (
                '<button name="block" value="%d">Block this number</button> '
                '<button name="allow" value="%d">Always let ring</button>' % (entry_id, entry_id)
            )
        yield "</td></tr>"
    if not n:
        yield '<tr><td colspan="6">No calls yet.</td></tr>'
    yield "</tbody></table></form>"


def status_page(s, csrf, notice=None):
    """s: a dict the web module assembles (see web.status_view)."""
    yield from head("Status", csrf)
    yield message(notice, ok=True)
    for problem in s["problems"]:
        yield message(problem)
    yield '<p class="mode">%s</p>' % esc(s["mode_text"])
    yield '<form method="post" action="/quiet">%s' % hidden(csrf)
    if s["button_quiet"]:
        yield '<button class="big" name="mode" value="off">Ring again</button>'
    else:
        yield (
            '<button class="big" name="mode" value="on">Quiet now</button><br>'
            '<button name="mode" value="morning">Quiet until morning</button>'
        )
    yield "</form><h2>Last calls</h2>"
    yield from call_rows(s["entries"], s["tz"], s["today"], csrf, 0, s["rows"])
    yield '<p><a href="/calls">All calls</a></p><h2>Counters</h2><table><thead><tr><th></th>'
    yield "<th>since boot</th><th>since last looked</th><th>in all</th></tr></thead><tbody>"
    yield from counter_rows(s["counters"], s["unseen"], s["totals"])
    yield (
        '</tbody></table><form method="post" action="/seen">%s'
        "<p><button>I have looked</button></p></form>" % hidden(csrf)
    )
    yield "<h2>The box</h2><table><tbody>"
    for label, value in s["facts"]:
        yield "<tr><th>%s</th><td>%s</td></tr>" % (esc(label), esc(value))
    yield "</tbody></table>"
    yield from foot()


def calls_page(s, csrf, page, per_page, notice=None):
    entries = s["entries"]
    yield from head("Calls", csrf)
    yield message(notice, ok=True)
    yield "<h1>Calls</h1>"
    start = page * per_page
    yield from call_rows(entries, s["tz"], s["today"], csrf, start, start + per_page)
    yield "<p>"
    if page:
        yield '<a class="b" href="/calls?page=%d">Newer</a> ' % (page - 1)
    if start + per_page < len(entries):
        yield '<a class="b" href="/calls?page=%d">Older</a>' % (page + 1)
    yield "</p>"
    yield from foot()


# -- settings ------------------------------------------------------------------------


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
            first = DAYS.index(ends[0].strip()[:3].title())
            last = DAYS.index(ends[-1].strip()[:3].title())
        except ValueError:
            continue
        i = first
        while True:
            chosen.add(i)
            if i == last:
                break
            i = (i + 1) % 7
    return chosen


def day_text(indexes):
    """Indexes back to the config's text: runs as ranges, "Mon-Fri,Sun"."""
    parts = []
    i = 0
    while i < 7:
        if i in indexes:
            j = i
            while j + 1 < 7 and j + 1 in indexes:
                j += 1
            parts.append(DAYS[i] if i == j else DAYS[i] + "-" + DAYS[j])
            i = j + 1
        else:
            i += 1
    return ",".join(parts)


def field_errors(errors, key, shown=5):
    messages = errors.get(key, ())
    for text in messages[:shown]:
        yield '<div class="err">%s</div>' % esc(text)
    if len(messages) > shown:
        yield '<div class="err">and %d more like these</div>' % (len(messages) - shown)


def windows_field(windows, rows):
    if not isinstance(windows, list):
        windows = []
    yield '<input type="hidden" name="qn" value="%d">' % rows
    for i in range(rows):
        w = windows[i] if i < len(windows) and isinstance(windows[i], dict) else {}
        chosen = day_set(w.get("days"))
        yield "<fieldset>"
        for d, name in enumerate(DAYS):
            yield "<label class=d><input type=checkbox name=q%dd value=%s%s>%s</label>" % (
                i,
                name,
                " checked" if d in chosen else "",
                name,
            )
        yield (
            '<br>from <input type=time name=q%ds value="%s"> to '
            '<input type=time name=q%de value="%s"></fieldset>'
            % (i, esc(w.get("start", "")), i, esc(w.get("end", "")))
        )
    if len(windows) > rows:
        yield "<p>%d more windows are kept as they are.</p>" % (len(windows) - rows)


def field(key, label, kind, help_text, value, errors, rows):
    yield '<label for="%s">%s</label>' % (key, esc(label))
    if kind == "tz":
        yield '<select id="tzpick" name="tzpick"><option value="">Choose a zone…</option>'
        for name, posix in ZONES:
            yield '<option value="%s"%s>%s</option>' % (
                esc(posix),
                " selected" if posix == value else "",
                esc(name),
            )
        yield (
            '</select><div class="dim">or the POSIX TZ string itself (a zone chosen above '
            "replaces it):</div>"
        )
        kind = "text"
    if kind in ("text", "opt"):
        yield '<input type="text" id="%s" name="%s" value="%s">' % (key, key, esc(value))
    elif kind == "int":
        yield '<input type="number" id="%s" name="%s" value="%s">' % (key, key, esc(value))
    elif kind == "bool":
        yield '<input type="checkbox" id="%s" name="%s" value="1"%s>' % (
            key,
            key,
            " checked" if value is True else "",
        )
    elif kind == "lines":
        text = "\n".join(str(v) for v in value) if isinstance(value, list) else value
        yield '<textarea id="%s" name="%s" rows="4">%s</textarea>' % (key, key, esc(text))
    elif kind == "choice":
        yield '<select id="%s" name="%s">' % (key, key)
        for v, name in ANSWERS[key]:
            yield '<option value="%s"%s>%s</option>' % (
                v,
                " selected" if v == value else "",
                esc(name),
            )
        yield "</select>"
    elif kind == "windows":
        yield from windows_field(value, rows)
    else:  # any other shape: its JSON, editable
        import json

        text = value if isinstance(value, str) else json.dumps(value)
        yield '<textarea id="%s" name="%s" rows="3">%s</textarea>' % (key, key, esc(text))
    if help_text:
        yield '<div class="dim">%s</div>' % esc(help_text)
    yield from field_errors(errors, key)


def settings_page(fields, config, errors, csrf, window_rows, notice=None, upload_error=None):
    """fields: (key, label, kind, help) rows from web.settings_fields(config);
    errors: {key: [messages]} ("" for those that name no field)."""
    yield from head("Settings", csrf, script=True)
    yield "<h1>Settings</h1>"
    yield message(notice, ok=True)
    if errors:
        yield message("Nothing was saved: please correct the fields marked below.")
        yield from field_errors(errors, "")
    yield '<form method="post" action="/settings">%s' % hidden(csrf)
    for key, label, kind, help_text in fields:
        yield from field(key, label, kind, help_text, config.get(key), errors, window_rows)
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
        '<label for="old">Current password</label><input type="password" id="old" name="old"'
        ' autocomplete="current-password" required><label for="pw">New password</label>'
        '<input type="password" id="pw" name="password" autocomplete="new-password" required>'
        '<label for="pw2">The same again</label><input type="password" id="pw2" name="confirm"'
        ' autocomplete="new-password" required><p><button>Change password</button></p></form>'
    )
    yield from field_errors(errors, "password")
    yield from foot()

# The status page (/), the whole call log (/calls), and what their buttons post:
# quiet mode, "I have looked", block or always let ring a caller from the log.
from hushgate.pages import (
    entries,
    esc,
    foot,
    head,
    hidden,
    html,
    message,
    mode_text,
    when,
)

KIND_CLASS = {"rang": "v0", "quiet": "v1"}  # the rest (blocked, scanner) in red
COUNTER_LABELS = (
    ("calls", "call attempts"),
    ("rang", "rang"),
    ("quiet", "quiet-answered"),
    ("blocked", "blocked"),
    ("scanner", "scanner calls dropped"),
)
# The gate's other counters (calllog.count), shown when they appear.
OTHER_LABELS = {
    "scanner_requests": "scanner requests dropped",
    "unknown_source": "calls from unknown sources dropped",
    "not_in_dialog": "stray in-call requests dropped",
    "not_for_phone": "other requests dropped",
}


def handle(web, req):
    ctx = web.ctx
    if req.path == "/":
        view = status_view(ctx, web.calls_on_status)
        return html(status_page(view, req.csrf, req.args.get("n")))
    try:
        page = max(0, int(req.args.get("page", "0")))
    except ValueError:
        page = 0
    view = status_view(ctx, 0)
    return html(calls_page(view, req.csrf, page, web.calls_per_page, req.args.get("n")))


def duration(seconds):
    days, rest = divmod(int(seconds), 86400)
    text = "%d h %d min" % (rest // 3600, rest % 3600 // 60)
    return "%d d %s" % (days, text) if days else text


def status_view(ctx, rows):
    utc = ctx.clock.utc()
    tz = ctx.tz
    st = ctx.gate.status(utc)
    today = tz.localtime(utc) if utc is not None and tz is not None else None
    if utc is None:
        clock = "not set yet: waiting for NTP (quiet hours do not apply until it is)"
    else:
        clock = when(tz, utc)
        synced = getattr(ctx.clock, "last_sync", None)
        if synced:
            clock += ", NTP answered at " + when(tz, synced, today)
    facts = [("Clock", clock)]
    reg = getattr(ctx.proxy, "last_register", None)
    if reg and reg[0] is not None:
        text = "answered %s at %s" % (reg[1], when(tz, reg[0], today))
    else:
        text = "none seen since start"
    facts.append(("ATA's last REGISTER", text))
    facts.append(("Provider", ctx.config.get("provider") or "not set"))
    facts.append(("ATA", ctx.config.get("ata") or "not set"))
    facts.append(("Up for", duration(ctx.uptime_s())))
    mem = ctx.mem()
    if isinstance(mem, dict):
        mem = "%d KB used, %d KB free" % (mem.get("alloc", 0) // 1024, mem.get("free", 0) // 1024)
    facts.append(("Memory", mem))
    stats = getattr(ctx.proxy, "stats", None)
    if stats:
        text = ", ".join("%s %s" % (k.replace("_", " "), v) for k, v in stats.items() if v)
        facts.append(("SIP datagrams", text or "none yet"))
    if st.get("refused") or st.get("bans"):
        text = "%s refused, %s bans" % (st.get("refused", 0), st.get("bans", 0))
        facts.append(("Rate limit", text))
    reset = getattr(ctx, "last_reset", None)  # net.last_reset(): {"cause", "reason"}
    if isinstance(reset, dict) and reset.get("cause"):
        text = reset["cause"]
        if reset.get("reason"):
            text += ": " + reset["reason"]
        facts.append(("Last restart", text))
    restarts = getattr(ctx, "restarts", None)
    if restarts:
        text = ", ".join("%s %d" % (name, n) for name, n in restarts.items())
        facts.append(("Tasks restarted", text))
    last_error = getattr(ctx, "last_error", None)
    if last_error:
        facts.append(("Last error", last_error))
    return {
        "mode_text": mode_text(st, tz),
        "button_quiet": bool(st.get("quiet_mode")),
        "rows": rows,
        "tz": tz,
        "today": today,
        "log": ctx.log,
        "facts": facts,
        "problems": list(getattr(ctx, "config_problems", None) or []),
    }


def counter_rows(log):
    counters, unseen, totals = log.counters, log.unseen, log.totals
    labels = {}
    for key, label in COUNTER_LABELS:
        labels[key] = label
        yield row(label, counters.get(key, 0), unseen.get(key, 0), totals.get(key, 0))
    for key in counters:
        if key not in labels:
            label = OTHER_LABELS.get(key) or key.replace("_", " ")
            yield row(label, counters[key], "", totals.get(key, ""))


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


def call_rows(log, tz, today, csrf, start, stop):
    yield (
        '<form method="post" action="/number">%s<table class="calls"><thead><tr>'
        "<th>When</th><th>Number</th><th>Name</th><th>Verdict</th><th>Why</th><th></th>"
        "</tr></thead><tbody>" % hidden(csrf)
    )
    n = 0
    for e in entries(log, start, stop):
        n += 1
        num = e.get("number")
        yield (
            '<tr><td>%s</td><td>%s</td><td>%s</td><td class="%s">%s</td><td>%s</td><td>'
            % (
                esc(when(tz, e.get("utc"), today)),
                esc(num) if num else "<i>anonymous</i>",
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
    yield from call_rows(s["log"], s["tz"], s["today"], csrf, 0, s["rows"])
    yield '<p><a href="/calls">All calls</a></p><h2>Counters</h2><table><thead><tr><th></th>'
    yield "<th>since boot</th><th>since last looked</th><th>in all</th></tr></thead><tbody>"
    yield from counter_rows(s["log"])
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
    yield from head("Calls", csrf)
    yield message(notice, ok=True)
    yield "<h1>Calls</h1>"
    start = page * per_page
    yield from call_rows(s["log"], s["tz"], s["today"], csrf, start, start + per_page)
    yield "<p>"
    if page:
        yield '<a class="b" href="/calls?page=%d">Newer</a> ' % (page - 1)
    if any(True for _ in entries(s["log"], start + per_page, start + per_page + 1)):
        yield '<a class="b" href="/calls?page=%d">Older</a>' % (page + 1)
    yield "</p>"
    yield from foot()

# The status page (/) and the whole call log (/calls). What their buttons post
# (quiet mode, "I have looked", block or always let ring) is hushgate.pagechange's.
from hushgate.pagemode import entries, mode_text, when
from hushgate.pages import esc, foot, head, hidden, html, message

# Counters, "key|label" a line (as text: tuples would cost the heap more); the gate's
# other counters (calllog.count) are shown when they appear.
COUNTERS = """
calls|call attempts
rang|rang
quiet|quiet-answered
blocked|blocked
scanner|scanner calls dropped
"""
OTHER_COUNTERS = """
scanner_requests|scanner requests dropped
unknown_source|calls from unknown sources dropped
not_in_dialog|stray in-call requests dropped
not_for_phone|other requests dropped
"""


def handle(web, req):
    ctx = web.ctx
    notice = req.args.get("n")
    if req.path == "/":
        return html(status_page(ctx, web.calls_on_status, req.csrf, notice))
    try:
        page = max(0, int(req.args.get("page", "0")))
    except ValueError:
        page = 0
    return html(calls_page(ctx, req.csrf, page, web.calls_per_page, notice))


def today(ctx):
    utc = ctx.clock.utc()
    return ctx.tz.localtime(utc) if utc is not None and ctx.tz is not None else None


def duration(seconds):
    days, rest = divmod(int(seconds), 86400)
    text = "%d h %d min" % (rest // 3600, rest % 3600 // 60)
    return "%d d %s" % (days, text) if days else text


def counter_rows(log):
    counters, unseen, totals = log.counters, log.unseen, log.totals
    i = 1
    while i < len(COUNTERS):
        j = COUNTERS.find("|", i)
        key = COUNTERS[i:j]
        i = COUNTERS.find("\n", j) + 1
        label = COUNTERS[j + 1 : i - 1]
        yield row(label, counters.get(key, 0), unseen.get(key, 0), totals.get(key, 0))
    for key in counters:
        if COUNTERS.find("\n" + key + "|") < 0:
            i = OTHER_COUNTERS.find("\n" + key + "|")
            if i < 0:
                label = key.replace("_", " ")
            else:
                i += len(key) + 2
                label = OTHER_COUNTERS[i : OTHER_COUNTERS.find("\n", i)]
            yield row(label, counters[key], "", totals.get(key, ""))


def row(*cells):
    return "<tr>" + "".join("<td>%s</td>" % esc(c) for c in cells) + "</tr>"


def facts(ctx, st, now):
    """(label, text) of what the box knows about itself, one at a time."""
    utc = ctx.clock.utc()
    tz = ctx.tz
    if utc is None:
        clock = "not set yet: waiting for NTP (quiet hours do not apply until it is)"
    else:
        clock = when(tz, utc)
        synced = getattr(ctx.clock, "last_sync", None)
        if synced:
            clock += ", NTP answered at " + when(tz, synced, now)
    yield "Clock", clock
    reg = getattr(ctx.proxy, "last_register", None)
    if reg and reg[0] is not None:
        text = "answered %s at %s" % (reg[1], when(tz, reg[0], now))
    else:
        text = "none seen since start"
    yield "ATA's last REGISTER", text
    yield "Provider", ctx.config.get("provider") or "not set"
    yield "ATA", ctx.config.get("ata") or "not set"
    yield "Up for", duration(ctx.uptime_s())
    mem = ctx.mem()
    if isinstance(mem, dict):
        mem = "%d KB used, %d KB free" % (mem.get("alloc", 0) // 1024, mem.get("free", 0) // 1024)
    yield "Memory", mem
    stats = getattr(ctx.proxy, "stats", None)
    if stats:
        text = ", ".join("%s %s" % (k.replace("_", " "), v) for k, v in stats.items() if v)
        yield "SIP datagrams", text or "none yet"
    if st.get("refused") or st.get("bans"):
        yield "Rate limit", "%s refused, %s bans" % (st.get("refused", 0), st.get("bans", 0))
    reset = getattr(ctx, "last_reset", None)  # net.last_reset(): {"cause", "reason"}
    if isinstance(reset, dict) and reset.get("cause"):
        text = reset["cause"]
        if reset.get("reason"):
            text += ": " + reset["reason"]
        yield "Last restart", text
    restarts = getattr(ctx, "restarts", None)
    if restarts:
        yield "Tasks restarted", ", ".join("%s %d" % (name, n) for name, n in restarts.items())
    last_error = getattr(ctx, "last_error", None)
    if last_error:
        yield "Last error", last_error


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
        kind = e.get("kind")
        num = e.get("number")
        yield (
            '<tr><td>%s</td><td>%s</td><td>%s</td><td class="%s">%s</td><td>%s</td><td>'
            % (
                esc(when(tz, e.get("utc"), today)),
                esc(num) if num else "<i>anonymous</i>",
                esc(e.get("name")),
                "v0" if kind == "rang" else "v1" if kind == "quiet" else "v2",  # v2: red
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


def status_page(ctx, rows, csrf, notice=None):
    st = ctx.gate.status(ctx.clock.utc())
    now = today(ctx)
    yield from head("Status", csrf)
    yield message(notice, ok=True)
    for problem in getattr(ctx, "config_problems", None) or ():
        yield message(problem)
    yield '<p class="mode">%s</p>' % esc(mode_text(st, ctx.tz))
    yield '<form method="post" action="/quiet">%s' % hidden(csrf)
    if st.get("quiet_mode"):
        yield '<button class="big" name="mode" value="off">Ring again</button>'
    else:
        yield (
            '<button class="big" name="mode" value="on">Quiet now</button><br>'
            '<button name="mode" value="morning">Quiet until morning</button>'
        )
    yield "</form><h2>Last calls</h2>"
    yield from call_rows(ctx.log, ctx.tz, now, csrf, 0, rows)
    yield '<p><a href="/calls">All calls</a></p><h2>Counters</h2><table><thead><tr><th></th>'
    yield "<th>since boot</th><th>since last looked</th><th>in all</th></tr></thead><tbody>"
    yield from counter_rows(ctx.log)
    yield (
        '</tbody></table><form method="post" action="/seen">%s'
        "<p><button>I have looked</button></p></form>" % hidden(csrf)
    )
    yield "<h2>The box</h2><table><tbody>"
    for label, value in facts(ctx, st, now):
        yield "<tr><th>%s</th><td>%s</td></tr>" % (esc(label), esc(value))
    yield "</tbody></table>"
    yield from foot()


def calls_page(ctx, csrf, page, per_page, notice=None):
    yield from head("Calls", csrf)
    yield message(notice, ok=True)
    yield "<h1>Calls</h1>"
    start = page * per_page
    yield from call_rows(ctx.log, ctx.tz, today(ctx), csrf, start, start + per_page)
    yield "<p>"
    if page:
        yield '<a class="b" href="/calls?page=%d">Newer</a> ' % (page - 1)
    for _ in entries(ctx.log, start + per_page, start + per_page + 1):
        yield '<a class="b" href="/calls?page=%d">Older</a>' % (page + 1)
    yield "</p>"
    yield from foot()

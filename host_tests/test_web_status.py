# Runs on CPython and MicroPython (heap 128k: the harness keeps each page whole, and on
# this 64-bit port a full calls page's growing copy found no block at 110-120k): the
# status page, the call log, XSS callers, security headers, the set-password form
# refusing mistakes (harness in test_web).
import os

from test_web import (
    NOW,
    PASSWORD,
    XSS_ATTR,
    XSS_NAME,
    csrf_in,
    form,
    get,
    logged_in,
    new_app,
    post_form,
    record,
)

# -- status page, the log, XSS ------------------------------------------------------


def test_status_page_shows_mode_clock_counters_and_calls():
    ctx, app, client, token = logged_in()
    record(ctx, "0612345678", "Alice", reason="allowed")
    record(ctx, "0033147310370", "John Doe", "blocked", 1, 603, "blocked caller 0033147310370")
    record(ctx, "0699", "Bob", "quiet", 1, 480, "quiet hours")
    page = get(client, "/")
    text = page.text
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Ringing" in text and "Quiet now" in text and "Quiet until morning" in text
    assert "17:00" in text  # local time (CET) of the calls and the clock
    assert "0033147310370" in text and "John Doe" in text and "blocked (603)" in text
    assert "quiet (480)" in text and "quiet hours" in text
    assert "1 h 2 min" in text  # uptime
    assert "answered 200" in text  # the ATA's last REGISTER
    assert "since last looked" in text
    assert text.count("Block this number") == 3 and text.count("Always let ring") == 3
    api = get(client, "/api/status").json
    assert api["counters"]["blocked"] == 1 and api["unseen"]["quiet"] == 1
    assert api["last_register"] == {"utc": NOW - 60, "status": 200}
    assert api["quiet"] is False and api["uptime_s"] == 3723


def test_restarts_ntp_and_errors_are_shown():
    ctx, app, client, token = logged_in()
    ctx.clock.last_sync = NOW - 3600
    ctx.last_reset = {"cause": "watchdog", "reason": "sip task stuck <x>"}
    ctx.restarts = {"sip": 2}
    ctx.last_error = "web: OSError(28)"
    ctx.log.count("scanner_requests", 7)
    text = get(client, "/").text
    assert "scanner requests dropped</td><td>7</td>" in text
    assert "forwarded 3" in text and "dropped bad 1" in text
    assert "NTP answered at 16:00" in text
    assert "watchdog: sip task stuck &lt;x&gt;" in text
    assert "sip 2" in text and "web: OSError(28)" in text


def test_clock_not_set_is_said():
    ctx, app, client, token = logged_in()
    ctx.clock.t = None
    record(ctx, "0612345678", "Alice")
    text = get(client, "/").text
    assert "not set yet" in text and "clock not set" in text


def test_callers_from_sip_are_shown_as_text():
    ctx, app, client, token = logged_in()
    record(ctx, "<b>1</b>", XSS_NAME, reason=XSS_ATTR)
    record(ctx, '1"2', XSS_ATTR)
    for path in ("/", "/calls"):
        text = get(client, path).text
        assert XSS_NAME not in text and "<img" not in text and "<b>1" not in text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in text
        assert "1&quot;2" in text
    calls = get(client, "/api/calls").json["calls"]
    assert calls[1]["name"] == XSS_NAME and calls[0]["name"] == XSS_ATTR


def test_pages_send_security_headers():
    ctx, app, client, token = logged_in()
    for path in ("/", "/settings", "/calls", "/api/status"):
        res = get(client, path)
        csp = res.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp
        assert res.headers["X-Content-Type-Options"] == "nosniff"
        assert res.headers["Cache-Control"] == "no-store"
    assert "max-age" in get(client, "/s.css").headers["Cache-Control"]
    assert get(client, "/s.js").headers["Content-Type"] == "application/javascript"


def test_calls_page_pages_through_the_whole_log():
    ctx, app, client, token = logged_in()
    for i in range(ctx.log.size):
        record(ctx, "06%08d" % i, "Caller %d" % i)
    res = get(client, "/calls")
    assert res.status_code == 200, res.status_code
    first = res.text
    assert "06%08d" % (ctx.log.size - 1) in first and "Older" in first and "Newer" not in first
    last = get(client, "/calls?page=%d" % ((ctx.log.size - 1) // app.calls_per_page)).text
    assert "0600000000" in last and "Newer" in last and "Older" not in last
    assert get(client, "/calls?page=x").status_code == 200


def test_set_password_refuses_mistakes_and_keeps_nothing():
    ctx, app, client = new_app()
    page = get(client, "/setup")
    token = csrf_in(page.text)
    res = post_form(client, "/setup", form(csrf=token, password=PASSWORD, confirm="other one!"))
    assert res.status_code == 400 and "differ" in res.text
    res = post_form(
        client, "/setup", form(csrf=csrf_in(res.text), password="short", confirm="short")
    )
    assert res.status_code == 400 and "at least" in res.text
    res = post_form(client, "/setup", form(csrf="forged", password=PASSWORD, confirm=PASSWORD))
    assert res.status_code == 400 and "expired" in res.text
    assert not app.auth.has_password()
    assert "web.pw" not in os.listdir(ctx.state_dir)

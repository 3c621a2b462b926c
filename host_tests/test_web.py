# Runs on CPython and MicroPython: the web page and API through the server's own
# connection handler (Web.serve) with stand-in streams: first visit, LAN-only setup,
# login, slow-down, CSRF, GETs change nothing, XSS callers, block/allow, settings
# errors by field, download/upload, API with Basic auth, 16 KB pages, limits.
import asyncio
import json
import os
import sys

from hushgate import auth, calllog, config, gate, web
from hushgate.tz import TZ

auth.Auth.rounds = 50  # the hash's cost is auth's business; keep these tests quick
PASSWORD = "correct horse battery"
NOW = 1764000000  # 2025-11-24 16:00 UTC, a Monday
XSS_NAME = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(2)>'
PAGE_LIMIT = 16 * 1024
HOST = "hushgate.local"


def run(coro):
    return asyncio.run(coro)


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def _folder():
    path = "%s/hg-web-%s" % ("/tmp" if _is_dir("/tmp") else ".", auth.token()[:12])
    os.mkdir(path)
    return path


class Clock:
    def __init__(self):
        self.t = NOW

    def utc(self):
        return self.t


class Gate(gate.Gate):
    """The real gate, noting what the page asked of it."""

    def __init__(self, config, log, clock):
        super().__init__(config, log, clock)
        self.set_calls = []

    def set_quiet(self, mode, utc=None):
        self.set_calls.append((mode, utc))
        super().set_quiet(mode, utc)


class Proxy:
    def __init__(self):
        self.stats = {"forwarded": 3, "dropped_bad": 1}
        self.last_register = (NOW - 60, 200)


class Verdict:
    def __init__(self, action, code, reason, kind):
        self.action, self.code, self.reason, self.kind = action, code, reason, kind


class Ctx:
    def __init__(self):
        self.state_dir = _folder()
        self.store = config.Store(self.state_dir)
        self.config, self.config_problems = self.store.load()
        self.log = calllog.CallLog()
        self.clock = Clock()
        self.gate = Gate(self.config, self.log, self.clock)
        self.proxy = Proxy()
        self.tz = TZ("CET-1CEST,M3.5.0,M10.5.0/3")
        self.up = 3723
        self.applied = []
        self.fail_save = False

    def uptime_s(self):
        return self.up

    def mem(self):
        return {"alloc": 40000, "free": 70000}

    def apply(self, cfg):
        if self.fail_save:
            raise OSError(28, "no space left")
        self.store.save(cfg)
        self.config = cfg
        self.gate.configure(cfg)
        self.applied.append(cfg)


def record(ctx, number, name, kind="rang", action=0, code=0, reason="allowed"):
    return ctx.log.record(
        ctx.clock.t, number, name, "127.0.0.2", Verdict(action, code, reason, kind)
    )


class Response:
    def __init__(self, raw):
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status_code = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(": ")
            if name == "Set-Cookie":
                self.headers.setdefault(name, []).append(value)
            else:
                self.headers[name] = value

    @property
    def text(self):
        return self.body.decode()

    @property
    def json(self):
        return json.loads(self.body)


class Client:
    """Requests through Web.serve with stand-in streams; keeps cookies like a browser."""

    def __init__(self, server, host=HOST, peer=("192.168.1.20", 5000)):
        self.server = server
        self.host = host
        self.peer = peer
        self.cookies = {}

    def request(self, method, path, headers=None, body=b""):
        h = {"Host": self.host}
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        if isinstance(body, str):
            body = body.encode()
        if body:
            h["Content-Length"] = str(len(body))
        h.update(headers or {})
        lines = "".join("%s: %s\r\n" % kv for kv in h.items())
        data = ("%s %s HTTP/1.0\r\n%s\r\n" % (method, path, lines)).encode() + body
        writer = Writer(self.peer)
        run(self.server.serve(Reader(data), writer))
        assert writer.closed
        res = Response(writer.out)
        for c in res.headers.get("Set-Cookie", ()):
            name, _, value = c.split(";")[0].partition("=")
            if "Max-Age=0" in c:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return res

    def get(self, path, headers=None):
        return self.request("GET", path, headers)

    def post(self, path, headers=None, body=b""):
        return self.request("POST", path, headers, body)


def page_module(name):
    """A page module, imported as the server imports it (tests must not keep it)."""
    __import__("hushgate." + name)
    return sys.modules["hushgate." + name]


def quote(text):
    out = []
    for c in text:
        if c.isalpha() or c.isdigit() or c in "-_.*":
            out.append(c)
        else:
            for b in c.encode():
                out.append("%%%02X" % b)
    return "".join(out)


def new_app():
    ctx = Ctx()
    server = web.make_app(ctx)
    server.keep_loaded_s = 0
    return ctx, server, Client(server)


def form(**fields):
    parts = []
    for key, value in fields.items():
        for v in value if isinstance(value, list) else [value]:
            parts.append("%s=%s" % (key, quote(str(v))))
    return "&".join(parts)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def post_form(client, path, body, headers=None):
    h = dict(FORM)
    h.update(headers or {})
    return client.post(path, headers=h, body=body)


def get(client, path, headers=None):
    return client.get(path, headers=headers)


def csrf_in(text):
    i = text.find('name="csrf" value="')
    assert i >= 0, "no csrf field"
    return text[i + 19 : text.find('"', i + 19)]


def setup_password(client):
    page = get(client, "/setup")
    assert page.status_code == 200
    res = post_form(
        client,
        "/setup",
        form(csrf=csrf_in(page.text), password=PASSWORD, confirm=PASSWORD),
    )
    assert res.status_code == 303, res.status_code
    return res


def logged_in():
    ctx, app, client = new_app()
    setup_password(client)
    page = get(client, "/")
    assert page.status_code == 200
    return ctx, app, client, csrf_in(page.text)


def basic(password=PASSWORD):
    import binascii

    return {
        "Authorization": "Basic "
        + binascii.b2a_base64(b"admin:" + password.encode()).decode().strip()
    }


# -- raw connections through Web.handle_request ------------------------------------


class Reader:
    def __init__(self, data, stall=False):
        self.data = data
        self.stall = stall

    async def read(self, n=-1):
        if not self.data:
            if self.stall:
                await asyncio.sleep(30)
            return b""
        n = len(self.data) if n < 0 else n
        out, self.data = self.data[:n], self.data[n:]
        return out


class Writer:
    def __init__(self, peer):
        self.peer = peer
        self.out = b""
        self.closed = False

    def get_extra_info(self, name):
        return self.peer

    async def awrite(self, data):
        self.out += data if isinstance(data, bytes) else data.encode()

    async def aclose(self):
        self.closed = True


def raw(app, data, peer=("192.168.1.20", 5000), stall=False):
    writer = Writer(peer)
    run(app.serve(Reader(data, stall), writer))
    assert writer.closed
    head = writer.out.split(b"\r\n", 1)[0].decode()
    return int(head.split()[1]), writer.out


# -- first visit, password, login -------------------------------------------------


def test_first_visit_shows_only_the_set_password_form():
    ctx, app, client = new_app()
    for path in ("/", "/settings", "/calls", "/login"):
        res = get(client, path)
        assert res.status_code == 303 and res.headers["Location"] == "/setup", path
    res = get(client, "/api/status")
    assert res.status_code == 403 and "password" in res.json["error"]
    page = get(client, "/setup")
    assert 'name="password"' in page.text and 'name="confirm"' in page.text
    assert "Status" not in page.text  # no navigation before the password exists
    cookie = page.headers["Set-Cookie"][0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_unknown_paths_404_and_the_form_token_stays():
    ctx, app, client = new_app()
    first = csrf_in(get(client, "/setup").text)
    for path in ("/favicon.ico", "/api/nothing", "/setup/x"):
        assert get(client, path).status_code == 404, path
    assert csrf_in(get(client, "/setup").text) == first  # a second tab, the same token
    assert (client.request("PUT", "/settings")).status_code == 405
    res = post_form(client, "/setup", form(csrf=first, password=PASSWORD, confirm=PASSWORD))
    assert res.status_code == 303


def test_set_password_only_from_the_lan():
    ctx, app, client = new_app()
    status, out = raw(app, b"GET /setup HTTP/1.0\r\n\r\n", peer=("203.0.113.7", 4000))
    assert status == 403
    assert b'name="password"' not in out and b"home network" in out
    status, out = raw(app, b"GET /setup HTTP/1.0\r\n\r\n", peer=("192.168.1.20", 4000))
    assert status == 200 and b'name="confirm"' in out
    # the unix port's raw sockaddr: AF_INET 2 (little-endian), port, 10.1.2.3
    sockaddr = bytes([2, 0, 0x13, 0x88, 10, 1, 2, 3]) + bytes(8)
    status, out = raw(app, b"GET /setup HTTP/1.0\r\n\r\n", peer=sockaddr)
    assert status == 200
    sockaddr = bytes([2, 0, 0x13, 0x88, 8, 8, 8, 8]) + bytes(8)
    assert raw(app, b"GET /setup HTTP/1.0\r\n\r\n", peer=sockaddr)[0] == 403
    assert not app.auth.has_password()


def test_peer_ip_and_is_lan():
    login = page_module("pagelogin")
    assert login.peer_ip(("10.0.0.1", 80)) == "10.0.0.1"
    assert login.peer_ip(bytes([2, 0, 0, 80, 127, 0, 0, 3]) + bytes(8)) == "127.0.0.3"
    v6 = bytes([10, 0, 0, 80, 0, 0, 0, 0]) + bytes(15) + b"\x01" + bytes(4)
    assert login.peer_ip(v6) == "0:0:0:0:0:0:0:1"
    assert login.peer_ip(b"") == "" and login.peer_ip(None) == ""
    for ip in ("127.0.0.1", "10.9.8.7", "192.168.0.1", "172.16.0.1", "172.31.255.1",
               "169.254.1.1", "::1", "fe80::1", "fd00::1", "::ffff:192.168.1.5"):  # fmt: skip
        assert login.is_lan(ip), ip
    for ip in (
        "8.8.8.8",
        "172.32.0.1",
        "172.15.0.1",
        "192.169.0.1",
        "2001:db8::1",
        "",
        "11.0.0.1",
    ):
        assert not login.is_lan(ip), ip


def test_set_password_not_through_a_foreign_host_name():
    ctx, app, client = new_app()
    for host in ("evil.example.com", "evil.example.com:8080", "1.2.3.4.evil.net"):
        res = get(client, "/setup", {"Host": host})
        assert res.status_code == 403, host
    for host in ("192.168.1.50", "192.168.1.50:8080", "hushgate", "hushgate.local",
                 "hg.fritz.box", "[fd00::5]:80", "localhost:8080", "box.home.arpa"):  # fmt: skip
        assert page_module("pagelogin").local_host(host), host
    assert get(client, "/setup", {"Host": "hushgate.lan"}).status_code == 200


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


def test_set_password_logs_in_with_a_strict_httponly_cookie():
    ctx, app, client = new_app()
    res = setup_password(client)
    assert res.headers["Location"] == "/"
    session = [c for c in res.headers["Set-Cookie"] if c.startswith("hg=")][0]
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/" in session
    with open(ctx.state_dir + "/web.pw") as f:
        assert PASSWORD not in f.read()
    assert get(client, "/").status_code == 200
    # once set, the set-password form is gone
    other = Client(app)
    assert get(other, "/setup").headers["Location"] == "/login"
    assert get(other, "/").headers["Location"] == "/login"


def test_the_panel_reset_reaches_the_running_page():
    ctx, app, client = new_app()
    setup_password(client)
    assert ctx.auth is app.auth
    ctx.auth.clear()  # what the panel does when the button is held at power-up
    assert get(client, "/").headers["Location"] == "/setup"


def test_login_logout_and_slow_down():
    ctx, app, client = new_app()
    setup_password(client)
    client.cookies = {}
    assert get(client, "/").status_code == 303
    for _ in range(app.auth.free_tries - 1):
        page = get(client, "/login")
        res = post_form(client, "/login", form(csrf=csrf_in(page.text), password="wrong one"))
        assert res.status_code == 401 and "Wrong password" in res.text
    page = get(client, "/login")
    res = post_form(client, "/login", form(csrf=csrf_in(page.text), password="wrong one"))
    assert res.status_code == 401
    page = get(client, "/login")
    res = post_form(client, "/login", form(csrf=csrf_in(page.text), password=PASSWORD))
    assert res.status_code == 429 and "wait" in res.text
    assert get(client, "/").status_code == 303
    app._ms += app.auth.max_delay_s * 1000
    page = get(client, "/login")
    res = post_form(client, "/login", form(csrf=csrf_in(page.text), password=PASSWORD))
    assert res.status_code == 303
    page = get(client, "/")
    assert page.status_code == 200
    session = client.cookies["hg"]
    assert session in app.auth.sessions
    res = post_form(client, "/logout", form(csrf=csrf_in(page.text)))
    assert res.status_code == 303 and res.headers["Location"] == "/login"
    assert get(client, "/").status_code == 303
    assert session not in app.auth.sessions


def test_sessions_keep_time_across_the_ticks_wrap():
    from hushgate.compat import ticks_add

    ctx, app, client = new_app()
    period = ticks_add(0, -1) + 1  # 2**30 on the boards and in compat, more on the unix port
    t = [period - 5000]

    def ticks():
        return t[0]

    app.ticks_ms = ticks
    app._last = ticks()
    start = app.now_s()
    token = app.auth.login()
    for _ in range(8):  # 40 days in 5-day steps, the counter wrapping several times
        t[0] = ticks_add(t[0], 5 * 86400 * 1000)
        app.now_s()
    assert app.now_s() - start == 40 * 86400
    assert app.auth.csrf(token) is None  # idle longer than session_idle_s: ended
    token = app.auth.login()
    t[0] = ticks_add(t[0], 3600 * 1000)
    assert app.auth.csrf(token) is not None


def test_login_form_needs_its_own_cookie():
    ctx, app, client = new_app()
    setup_password(client)
    client.cookies = {}
    page = get(client, "/login")
    token = csrf_in(page.text)
    client.cookies = {}  # a cross-site POST carries no SameSite=Strict cookie
    res = post_form(client, "/login", form(csrf=token, password=PASSWORD))
    assert res.status_code == 400 and get(client, "/").status_code == 303


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


def test_quiet_button_and_seen():
    ctx, app, client, token = logged_in()
    res = post_form(client, "/quiet", form(csrf=token, mode="on"))
    assert res.status_code == 303 and ctx.gate.set_calls == [(1, NOW)]
    text = get(client, "/").text
    assert "Ring again" in text and "Quiet (button)" in text
    post_form(client, "/quiet", form(csrf=token, mode="morning"))
    assert "Quiet until 07:00" in get(client, "/").text
    post_form(client, "/quiet", form(csrf=token, mode="off"))
    assert [m for m, _ in ctx.gate.set_calls] == [1, 2, 0]
    assert post_form(client, "/quiet", form(csrf=token, mode="loud")).status_code == 400
    record(ctx, "0699", "Bob", "quiet", 1, 480, "quiet hours")
    assert ctx.log.unseen["quiet"] == 1
    assert post_form(client, "/seen", form(csrf=token)).status_code == 303
    assert ctx.log.unseen["quiet"] == 0 and ctx.log.counters["quiet"] == 1


def test_posts_without_the_csrf_token_change_nothing():
    ctx, app, client, token = logged_in()
    entry = record(ctx, "0612345678", "Alice")
    for path, body in (
        ("/quiet", form(mode="on")),
        ("/quiet", form(mode="on", csrf="0" * 32)),
        ("/seen", form(csrf="")),
        ("/number", form(block=entry["id"])),
        ("/settings", form(ata="10.0.0.9:5060")),
    ):
        res = post_form(client, path, body)
        assert res.status_code == 403, path
    assert ctx.gate.set_calls == [] and ctx.applied == [] and ctx.log.unseen["calls"] == 1
    # a cross-site Origin is refused even with the token
    res = post_form(client, "/quiet", form(mode="on", csrf=token), {"Origin": "http://evil.test"})
    assert res.status_code == 403 and ctx.gate.set_calls == []
    res = post_form(client, "/quiet", form(mode="on", csrf=token), {"Origin": "http://" + HOST})
    assert res.status_code == 303


def test_gets_change_nothing():
    ctx, app, client, token = logged_in()
    record(ctx, "0699", "Bob", "quiet", 1, 480, "quiet hours")
    before = (json.dumps(ctx.config), ctx.gate.quiet_mode, ctx.log.unseen["calls"])
    for path in ("/", "/calls", "/settings", "/config.json", "/api/status", "/api/calls",
                 "/api/config", "/quiet?mode=on", "/seen", "/number?block=1", "/logout",
                 "/api/quiet", "/api/seen"):  # fmt: skip
        get(client, path)
    assert (json.dumps(ctx.config), ctx.gate.quiet_mode, ctx.log.unseen["calls"]) == before
    assert ctx.applied == [] and get(client, "/").status_code == 200


def test_block_and_allow_from_the_log():
    ctx, app, client, token = logged_in()
    alice = record(ctx, "0612345678", "Alice")
    res = post_form(client, "/number", form(csrf=token, block=alice["id"]))
    assert res.status_code == 303 and "blocked" in res.headers["Location"]
    assert ctx.config["block"] == ["0612345678"]
    assert ctx.store.load()[0]["block"] == ["0612345678"]
    assert "0612345678 is blocked" in get(client, res.headers["Location"]).text
    res = post_form(client, "/number", form(csrf=token, allow=alice["id"]))
    assert res.status_code == 303
    assert ctx.config["block"] == [] and ctx.config["vip"] == ["0612345678"]
    anon = record(ctx, "", "")
    post_form(client, "/number", form(csrf=token, block=anon["id"]))
    assert ctx.config["block_anonymous"] is True
    res = post_form(client, "/number", form(csrf=token, block=9999))
    assert res.status_code == 400 and "no longer" in res.text
    bad = record(ctx, "<u>", "x")
    res = post_form(client, "/number", form(csrf=token, block=bad["id"]))
    assert res.status_code == 400 and "&lt;u&gt;" in res.text and "<u>" not in res.text
    assert ctx.config["block"] == []


def test_block_when_the_flash_fails_keeps_the_old_config():
    ctx, app, client, token = logged_in()
    alice = record(ctx, "0612345678", "Alice")
    ctx.fail_save = True
    res = post_form(client, "/number", form(csrf=token, block=alice["id"]))
    assert res.status_code == 400 and "nothing was changed" in res.text
    assert ctx.config["block"] == []


def test_calls_page_pages_through_the_whole_log():
    ctx, app, client, token = logged_in()
    for i in range(ctx.log.size):
        record(ctx, "06%08d" % i, "Caller %d" % i)
    first = get(client, "/calls").text
    assert "06%08d" % (ctx.log.size - 1) in first and "Older" in first and "Newer" not in first
    last = get(client, "/calls?page=%d" % ((ctx.log.size - 1) // app.calls_per_page)).text
    assert "0600000000" in last and "Newer" in last and "Older" not in last
    assert get(client, "/calls?page=x").status_code == 200


# -- settings ------------------------------------------------------------------------


def settings_form(token, **changes):
    fields = {
        "csrf": token,
        "ata": "192.168.1.60:5060",
        "provider": "sip.example.net:5060",
        "timezone": "CET-1CEST,M3.5.0,M10.5.0/3",
        "tzpick": "",
        "quiet_answer": "480",
        "vip": "0612345678\r\n+33 6 99 99 99 99\r\n",
        "repeat_call_minutes": "5",
        "block": "0900*",
        "block_answer": "603",
        "international_prefix": "00",
        "trusted": "",
        "scanner_user_agents": "friendly-scanner\nsipvicious",
        "rate_burst": "30",
        "rate_per_second": "5",
        "ban_minutes": "10",
        "sources_tracked": "64",
        "call_log_size": "50",
        "qn": "3",
        "q0d": ["Mon", "Tue", "Wed", "Thu", "Fri"],
        "q0s": "22:00",
        "q0e": "07:00",
        "q1d": ["Sat", "Sun"],
        "q1s": "23:00",
        "q1e": "09:00",
    }
    fields.update(changes)
    return form(**fields)


def test_settings_form_has_every_config_key():
    ctx, app, client, token = logged_in()
    text = get(client, "/settings").text
    for key in config.KEYS:
        if key == "version":
            continue
        if key == "quiet_hours":
            assert "name=q0d value=Mon>" in text and "name=q1s" in text
        else:
            assert 'name="%s"' % key in text, key
    assert 'id="tzpick"' in text and "CET-1CEST,M3.5.0,M10.5.0/3" in text
    assert 'action="/upload"' in text and 'href="/config.json"' in text


def test_settings_saved_when_valid():
    ctx, app, client, token = logged_in()
    ctx.config_problems = ["config.json is not valid JSON"]
    assert "not valid JSON" in get(client, "/").text
    res = post_form(client, "/settings", settings_form(token, block_anonymous="1"))
    assert res.status_code == 303, res.text
    assert "not valid JSON" not in get(client, "/").text
    cfg = ctx.config
    assert cfg["ata"] == "192.168.1.60:5060" and cfg["repeat_call_minutes"] == 5
    assert cfg["vip"] == ["0612345678", "+33 6 99 99 99 99"] and cfg["block"] == ["0900*"]
    assert cfg["quiet_hours"] == [
        {"days": "Mon-Fri", "start": "22:00", "end": "07:00"},
        {"days": "Sat-Sun", "start": "23:00", "end": "09:00"},
    ]
    assert cfg["block_anonymous"] is True and cfg["scanner_user_agents"] == [
        "friendly-scanner",
        "sipvicious",
    ]
    assert ctx.store.load()[0] == cfg
    text = get(client, "/settings").text
    assert "name=q0d value=Fri checked" in text and "name=q0d value=Sat>" in text
    assert "name=q1d value=Sun checked" in text and 'value="23:00"' in text
    # ticking nothing for a window removes it; an empty ata means "not set"
    res = post_form(
        client, "/settings", settings_form(token, q1d=[], q1s="", q1e="", ata="", tzpick="UTC0")
    )
    assert res.status_code == 303
    assert len(ctx.config["quiet_hours"]) == 1 and ctx.config["ata"] is None
    assert ctx.config["timezone"] == "UTC0"  # the zone picked in the list wins
    assert ctx.config["block_anonymous"] is False


def test_settings_errors_shown_by_the_field_with_input_kept_and_nothing_saved():
    ctx, app, client, token = logged_in()
    before_file = ctx.store.storage.read("config.json")
    before = json.dumps(ctx.config)
    res = post_form(
        client,
        "/settings",
        settings_form(token, q0s="25:00", repeat_call_minutes="abc", vip="06123\nnot a number"),
    )
    assert res.status_code == 400
    text = res.text
    assert "Nothing was saved" in text
    assert 'value="25:00"' in text and 'value="abc"' in text and "not a number</textarea>" in text
    assert "quiet_hours[0].start" in text and "repeat_call_minutes" in text and "vip[1]" in text
    # each message sits after its own field
    assert text.index("repeat_call_minutes:") > text.index('name="repeat_call_minutes"')
    assert text.index("repeat_call_minutes:") < text.index('name="block"')
    assert text.index("vip[1]") > text.index('name="vip"') and text.index("vip[1]") < text.index(
        'name="repeat_call_minutes"'
    )
    assert json.dumps(ctx.config) == before and ctx.applied == []
    assert ctx.store.storage.read("config.json") == before_file


def test_settings_form_that_does_not_parse_is_refused():
    ctx, app, client, token = logged_in()
    res = post_form(client, "/settings", settings_form(token) + "&ata=%zz")
    assert res.status_code in (400, 403) and ctx.applied == []
    res = post_form(client, "/settings", b"csrf=" + token.encode() + b"&ata=%ff%fe")
    assert res.status_code == 400 and ctx.applied == []


def test_download_and_upload_config():
    ctx, app, client, token = logged_in()
    res = get(client, "/config.json")
    assert "attachment" in res.headers["Content-Disposition"]
    saved = json.loads(res.text)
    assert saved == ctx.config
    saved["block"] = ["0033147310370"]
    boundary = "----hgtest"
    body = (
        '--%s\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n%s\r\n'
        '--%s\r\nContent-Disposition: form-data; name="file"; filename="c.json"\r\n'
        "Content-Type: application/json\r\n\r\n%s\r\n--%s--\r\n"
    )
    mp = {"Content-Type": "multipart/form-data; boundary=" + boundary}
    ok = body % (boundary, token, boundary, json.dumps(saved), boundary)
    res = client.post("/upload", headers=dict(mp), body=ok)
    assert res.status_code == 303 and ctx.config["block"] == ["0033147310370"]
    saved["repeat_call_minutes"] = 999
    bad = body % (boundary, token, boundary, json.dumps(saved), boundary)
    res = client.post("/upload", headers=dict(mp), body=bad)
    assert res.status_code == 400 and "Nothing was loaded" in res.text
    assert ctx.config["repeat_call_minutes"] == 3 and len(ctx.applied) == 1
    junk = body % (boundary, token, boundary, "{not json", boundary)
    res = client.post("/upload", headers=dict(mp), body=junk)
    assert res.status_code == 400 and "Not a config file" in res.text
    forged = body % (boundary, "f" * 32, boundary, json.dumps(saved), boundary)
    assert (client.post("/upload", headers=dict(mp), body=forged)).status_code == 403
    assert len(ctx.applied) == 1


def test_change_password():
    ctx, app, client, token = logged_in()
    new = "a new long password"
    res = post_form(
        client, "/password", form(csrf=token, old="wrong!!", password=new, confirm=new)
    )
    assert res.status_code == 400 and "current password is wrong" in res.text
    res = post_form(client, "/password", form(csrf=token, old=PASSWORD, password=new, confirm="x"))
    assert res.status_code == 400 and "differ" in res.text
    res = post_form(client, "/password", form(csrf=token, old=PASSWORD, password=new, confirm=new))
    assert res.status_code == 303
    assert app.auth.check_password(new) and len(app.auth.sessions) == 1
    assert get(client, "/").status_code == 200


# -- the JSON API ----------------------------------------------------------------------


def test_api_with_basic_auth():
    ctx, app, client = new_app()
    setup_password(client)
    client.cookies = {}
    assert get(client, "/api/status").status_code == 401
    record(ctx, "0612345678", "Alice")
    assert get(client, "/api/status", basic()).json["counters"]["rang"] == 1
    assert get(client, "/api/calls", basic()).json["calls"][0]["number"] == "0612345678"
    assert get(client, "/api/config", basic()).json == ctx.config
    j = {"Content-Type": "application/json"}
    j.update(basic())
    res = client.post("/api/quiet", headers=dict(j), body={"mode": "on"})
    assert res.status_code == 200 and res.json["quiet"] is True
    res = client.post("/api/quiet", headers=dict(j), body={"mode": "loud"})
    assert res.status_code == 400
    res = client.post("/api/number", headers=dict(j), body={"number": "0611", "list": "block"})
    assert res.status_code == 200 and res.json["block"] == ["0611"]
    res = client.post("/api/number", headers=dict(j), body={"number": "0611", "list": "vip"})
    assert res.json["vip"] == ["0611"] and res.json["block"] == []
    new = dict(ctx.config)
    new["repeat_call_minutes"] = 10
    res = client.post("/api/config", headers=dict(j), body=new)
    assert res.status_code == 200 and ctx.config["repeat_call_minutes"] == 10
    new["quiet_hours"] = [{"days": "Mon", "start": "25:00", "end": "07:00"}]
    res = client.post("/api/config", headers=dict(j), body=new)
    assert res.status_code == 400 and "quiet_hours[0].start" in res.json["errors"][0]
    assert ctx.config["quiet_hours"] == []
    res = client.post("/api/config", headers=dict(j), body="[1, 2")
    assert res.status_code == 400
    res = client.post("/api/seen", headers=dict(j), body={})
    assert res.json["unseen"]["calls"] == 0
    # a form post with Basic is refused (scripts send JSON)
    h = dict(FORM)
    h.update(basic())
    assert post_form(client, "/api/quiet", "mode=on", h).status_code == 415


def test_api_wrong_basic_password_slows_down():
    ctx, app, client = new_app()
    setup_password(client)
    client.cookies = {}
    codes = [get(client, "/api/status", basic("not it at all")).status_code for _ in range(4)]
    assert codes[:3] == [401, 401, 401] and codes[3] == 429
    assert get(client, "/api/status", basic()).status_code == 429


def test_api_with_session_needs_the_csrf_header():
    ctx, app, client, token = logged_in()
    j = {"Content-Type": "application/json"}
    assert (client.post("/api/quiet", headers=dict(j), body={"mode": "on"})).status_code == 403
    j["X-CSRF-Token"] = token
    assert (client.post("/api/quiet", headers=dict(j), body={"mode": "on"})).status_code == 200
    assert ctx.gate.quiet_mode == 1


# -- sizes ---------------------------------------------------------------------------------


def test_every_page_with_its_css_fits_16_kb():
    ctx, app, client, token = logged_in()
    worst = '"' * ctx.log.max_name
    for _ in range(ctx.log.size):
        record(ctx, "<" * ctx.log.max_number, worst, "blocked", 1, 603, "&" * 80)
    css = len(get(client, "/s.css").body) + len(get(client, "/s.js").body)
    cfg = dict(ctx.config)
    cfg["quiet_hours"] = [{"days": "Mon-Sun", "start": "22:00", "end": "07:00"}] * 10
    cfg["vip"] = ["0612345678"] * 100
    cfg["block"] = ["0033147310370*"] * 100
    ctx.config, errors = config.validate(cfg)
    assert not errors
    sizes = {}
    for path in ("/", "/calls", "/calls?page=1", "/settings"):
        sizes[path] = len(get(client, path).body) + css
    # the settings page full of errors, all input kept
    res = post_form(client, "/settings", settings_form(token, q0s="99:99", vip="x\n" * 100))
    sizes["/settings (errors)"] = len(res.body) + css
    client.cookies = {}
    sizes["/login"] = len(get(client, "/login").body) + css
    for path, size in sizes.items():
        assert size <= PAGE_LIMIT, (path, size)
    assert sizes["/calls"] > 8 * 1024  # the worst case really was rendered


# -- limits on what a client may send ------------------------------------------------------


def test_request_head_over_2_kb_gets_431():
    ctx, app, client = new_app()
    head = b"GET / HTTP/1.0\r\n" + b"X-Long: " + b"a" * 1900 + b"\r\n" + b"X-More: b\r\n" * 20
    assert raw(app, head + b"\r\n")[0] == 431
    assert raw(app, b"GET /" + b"a" * 5000 + b" HTTP/1.0\r\n\r\n")[0] == 431
    # exactly at the limit still passes
    head = b"GET / HTTP/1.0\r\nHost: x\r\nX: "
    head += b"a" * (app.max_head - len(head) - 4) + b"\r\n\r\n"
    assert len(head) == app.max_head and raw(app, head)[0] == 303
    assert raw(app, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")[0] == 303  # still serving


def test_bodies_over_the_limit_get_413_and_change_nothing():
    ctx, app, client, token = logged_in()
    session = "hg=" + client.cookies["hg"]
    body = ("csrf=%s&mode=on&pad=" % token).encode() + b"x" * 9000
    req = (
        b"POST /quiet HTTP/1.0\r\nCookie: %s\r\nContent-Type: application/x-www-form-urlencoded"
        % (session.encode())
    )
    status, out = raw(app, req + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert status == 413
    big = b"x" * 20000
    status, out = raw(app, b"POST /upload HTTP/1.0\r\nContent-Length: 20000\r\n\r\n" + big)
    assert status == 413
    assert ctx.gate.set_calls == []
    ok = ("csrf=%s&mode=on" % token).encode()
    status, out = raw(app, req + b"\r\nContent-Length: %d\r\n\r\n" % len(ok) + ok)
    assert status == 303 and ctx.gate.set_calls == [(1, NOW)]


def test_malformed_requests_get_400():
    ctx, app, client = new_app()
    for data in (
        b"garbage\r\n\r\n",
        b"GET / HTTP/1.0\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.0\r\nContent-Length: ten\r\n\r\n",
        b"GET / HTTP/1.0\r\nContent-Length: -5\r\n\r\n",
        b"POST /login HTTP/1.0\r\nContent-Length: 50\r\n\r\nshort",
        b"GET /?a=%zz HTTP/1.0\r\n\r\n",
        b"\xff\xfe / HTTP/1.0\r\n\r\n",
    ):
        status, out = raw(app, data)
        assert 400 <= status < 500, (data, status)
    assert raw(app, b"")[0] == 400


def test_slow_client_is_cut():
    ctx, app, client = new_app()
    app.read_timeout_s = 0.2
    status, out = raw(app, b"GET / HTTP/1.0\r\nHost: x\r\n", stall=True)
    assert status == 408


def test_too_many_connections_get_503():
    ctx, app, client = new_app()
    app.active = app.max_connections
    status, out = raw(app, b"GET / HTTP/1.0\r\n\r\n")
    assert status == 503
    app.active = 0
    assert raw(app, b"GET / HTTP/1.0\r\n\r\n")[0] == 303
    assert app.active == 0


def test_the_page_unloads_when_idle_with_one_waiting_task():
    ctx, app, client = new_app()
    app.keep_loaded_s = 0.05
    started = []
    wait = app._unload_when_idle

    async def counted():
        started.append(1)
        await wait()

    app._unload_when_idle = counted

    async def many():
        for _ in range(20):
            await app.serve(Reader(b"GET /s.css HTTP/1.0\r\n\r\n"), Writer(("10.0.0.2", 1)))
        assert app.loaded() and "hushgate.pagecss" in sys.modules
        await asyncio.sleep(0.3)

    asyncio.run(many())
    assert started == [1] and not app.loaded() and "hushgate.pagecss" not in sys.modules
    app.keep_loaded_s = 0
    assert raw(app, b"GET /s.css HTTP/1.0\r\n\r\n")[0] == 200
    for name in sys.modules:
        assert not name.startswith("hushgate.page") and name != "hushgate.http", name


def test_multipart_parser():
    multipart = page_module("pagesave").multipart
    body = (
        b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\n{\r\n}\r\n--b--\r\n'
    )
    assert multipart(body, "multipart/form-data; boundary=b") == {"a": b"1", "f": b"{\r\n}"}
    assert multipart(b"junk", "multipart/form-data; boundary=b") == {}
    swapped = b'--b\r\nContent-Disposition: form-data; filename="x"; name="f"\r\n\r\n1\r\n--b--'
    assert multipart(swapped, "multipart/form-data; boundary=b") == {"f": b"1"}
    try:
        multipart(body, "multipart/form-data")
        raise AssertionError("no boundary accepted")
    except ValueError:
        pass


def test_day_pickers_round_trip():
    day_set = page_module("pagesettings").day_set
    day_text = page_module("pagesave").day_text
    for text, days in (
        ("Mon-Fri", {0, 1, 2, 3, 4}),
        ("Sat,Sun", {5, 6}),
        ("Fri-Mon", {4, 5, 6, 0}),
        ("Mon,Wed-Thu", {0, 2, 3}),
        ("nonsense", set()),
    ):
        assert day_set(text) == days, text
    assert day_text({0, 1, 2, 3, 4}) == "Mon-Fri"
    assert day_text({4, 5, 6, 0}) == "Mon,Fri-Sun"
    assert day_text({0, 2, 3}) == "Mon,Wed-Thu"
    for mask in range(1, 128):
        days = {i for i in range(7) if mask >> i & 1}
        assert day_set(day_text(days)) == days
        assert config.parse_days(day_text(days)) == mask


def test_keys_other_modules_register_get_fields():
    def check(key, value, errors):
        if not isinstance(value, str):
            errors.append("%s: not text" % key)
        return value

    config.register("wifi_password", "", check)
    config.register("mystery_setting", "abc", check)
    try:
        ctx, app, client, token = logged_in()
        ctx.config = config.validate({})[0]
        text = get(client, "/settings").text
        assert '<input type="password" id="wifi_password" name="wifi_password" value="">' in text
        assert 'name="mystery_setting" value="abc"' in text
        body = settings_form(token, wifi_password=" secret with spaces ", mystery_setting="")
        res = post_form(client, "/settings", body)
        assert res.status_code == 303, res.text
        assert ctx.config["wifi_password"] == " secret with spaces "
        assert ctx.config["mystery_setting"] == ""
    finally:
        import sys

        for key in ("wifi_password", "mystery_setting"):
            config.KEYS.remove(key)
            for name in ("hushgate.config", "hushgate.configfile"):
                for table in ("_CHECKS", "EXTRA_CHECKS"):  # wherever register() put it
                    checks = getattr(sys.modules.get(name), table, None)
                    if checks is not None:
                        checks.pop(key, None)
            del config.DEFAULTS[key]


def test_quiet_hours_shown_with_their_end():
    ctx, app, client, token = logged_in()
    cfg = dict(ctx.config)
    cfg["quiet_hours"] = [{"days": "Mon", "start": "15:00", "end": "18:00"}]  # NOW: Mon 16:00
    ctx.apply(config.validate(cfg)[0])
    text = get(client, "/").text
    assert "Quiet hours until 18:00" in text and "Quiet now" in text
    status = get(client, "/api/status").json
    assert status["quiet"] is True and status["gate"]["mode"] == "quiet-schedule"
    ctx.clock.t = None
    assert "clock not set" in get(client, "/").text

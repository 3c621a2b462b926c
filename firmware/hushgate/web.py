# The web page and the JSON API, on Microdot. make_app(ctx) builds the app; the
# caller runs `await app.start_server(host, port)`. What ctx must offer is listed
# in docs/web.md. Every route that changes something is a POST carrying the
# session's CSRF token (or, for scripts, HTTP Basic with the password); every GET
# only reads.
import asyncio
import json

from microdot import Microdot, Request, Response

from hushgate import auth, pages
from hushgate import config as _config
from hushgate.compat import const

_AF_INET = const(2)
_AF_INET6 = const(10)

COOKIE = "hg"
PRE_COOKIE = "hgp"  # double-submit token for the forms shown before a session
QUIET_MODES = {"off": 0, "on": 1, "morning": 2}  # gate's QUIET_OFF/ON/UNTIL_MORNING

_HTML = "text/html; charset=UTF-8"
_SECURITY = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self';"
    " img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def peer_ip(addr):
    """The client's address as text, from lwIP's (ip, port) or the unix port's
    raw sockaddr bytes; "" when it cannot be read."""
    if isinstance(addr, tuple) and addr:
        return str(addr[0])
    if isinstance(addr, (bytes, bytearray)) and len(addr) >= 8:
        family = addr[0] | addr[1] << 8
        if family == _AF_INET:
            return "%d.%d.%d.%d" % (addr[4], addr[5], addr[6], addr[7])
        if family == _AF_INET6 and len(addr) >= 24:
            raw = addr[8:24]
            if raw[:12] == b"\x00" * 10 + b"\xff\xff":
                return "%d.%d.%d.%d" % (raw[12], raw[13], raw[14], raw[15])
            return ":".join("%x" % (raw[i] << 8 | raw[i + 1]) for i in range(0, 16, 2))
    return ""


def is_lan(ip):
    """Loopback, private (RFC 1918), link-local, or IPv6 ULA/link-local/loopback."""
    ip = ip.lower()
    if ip.startswith("::ffff:"):
        ip = ip[7:]
    if ip.startswith("10.") or ip.startswith("127.") or ip.startswith("192.168."):
        return True
    if ip.startswith("169.254."):
        return True
    if ip.startswith("172."):
        parts = ip.split(".")
        return len(parts) == 4 and parts[1].isdigit() and 16 <= int(parts[1]) <= 31
    if ip in ("::1", "0:0:0:0:0:0:0:1") or ip.startswith("fe80:"):
        return True
    return ip[:2] in ("fc", "fd") and ":" in ip


class _Head:
    """The connection's reader with a budget for the request line and headers:
    a line is read in small chunks, so a client sending an endless line costs at
    most the budget, never the heap."""

    chunk = 128

    def __init__(self, stream, budget):
        self.s = stream
        self.left = budget
        self.buf = b""

    async def readline(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[: i + 1], self.buf[i + 1 :]
                self.left -= len(line)
                return line
            if len(self.buf) >= self.left:
                raise ValueError("request head too long")
            data = await self.s.read(min(self.chunk, self.left - len(self.buf)))
            if not data:
                line, self.buf = self.buf, b""
                return line
            self.buf += data

    async def readexactly(self, n):
        if n < 0:
            raise ValueError("negative length")
        data, self.buf = self.buf[:n], self.buf[n:]
        while len(data) < n:
            more = await self.s.read(n - len(data))
            if not more:
                raise ValueError("body cut short")
            data += more
        return data

    async def read(self, n=-1):
        if self.buf:
            data, self.buf = self.buf, b""
            return data
        return await self.s.read(n)


class Web(Microdot):
    """Microdot with the appliance's limits: a bounded request head, bounded
    bodies, a deadline for slow clients, a few connections at once."""

    max_head = 2048  # request line and headers together
    max_body = 8192
    max_upload = 12288  # the config file upload
    max_connections = 3
    read_timeout_s = 5
    write_timeout_s = 20
    calls_on_status = 10
    calls_per_page = 12

    def __init__(self):
        super().__init__()
        self.active = 0
        Request.max_readline = self.max_head
        Request.max_content_length = self.max_upload
        Request.max_body_length = self.max_upload

    async def handle_request(self, reader, writer):
        if self.active >= self.max_connections:
            try:
                await writer.awrite(b"HTTP/1.0 503 Busy\r\nContent-Length: 0\r\n\r\n")
            except Exception:
                pass
            await _close(writer)
            return
        self.active += 1
        try:
            peer = peer_ip(writer.get_extra_info("peername"))
            res = None
            try:
                req = await asyncio.wait_for(
                    Request.create(self, _Head(reader, self.max_head), writer, (peer, 0)),
                    self.read_timeout_s,
                )
            except asyncio.TimeoutError:  # noqa: UP041 (MicroPython has no builtin)
                req = None
                res = Response("Request timeout", 408)
            except Exception:  # anything unparseable: Microdot answers 400
                req = None
            if res is None:
                res = await self.dispatch_request(req)
            if res is not Response.already_handled:
                await asyncio.wait_for(res.write(writer), self.write_timeout_s)
        except Exception:  # a client gone or too slow must not end the server
            pass
        finally:
            self.active -= 1
            await _close(writer)


async def _close(writer):
    try:
        await writer.aclose()
    except Exception:
        pass


def html(gen, status=200, headers=None):
    h = {"Content-Type": _HTML}
    if headers:
        h.update(headers)
    return Response(gen, status, h)


def see_other(location):
    return Response("", 303, {"Location": location})


def cookie(name, value, max_age):
    return "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict" % (name, value, max_age)


def json_error(text, status, **extra):
    body = {"error": text}
    body.update(extra)
    return body, status


def multipart(body, content_type):
    """The fields of a multipart/form-data body as {name: bytes}."""
    i = content_type.find("boundary=")
    if i < 0:
        raise ValueError("no boundary")
    boundary = content_type[i + 9 :].split(";")[0].strip().strip('"')
    fields = {}
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part[:2] == b"--":
            break
        end = part.find(b"\r\n\r\n")
        if end < 0:
            continue
        head = part[:end].decode()
        data = part[end + 4 :]
        if data[-2:] == b"\r\n":
            data = data[:-2]
        n = head.find('name="')
        if n >= 0:
            fields[head[n + 6 : head.find('"', n + 6)]] = data
    return fields


def form_of(req):
    """The posted fields (urlencoded or multipart); raises ValueError on a body
    that does not parse."""
    if req.g.form is not None:
        return req.g.form
    ctype = req.content_type or ""
    if ctype.startswith("multipart/form-data"):
        req.g.form = multipart(req.body, ctype)
    else:
        req.g.form = req.form or {}
    return req.g.form


def text_of(form, name):
    value = form.get(name)
    if isinstance(value, bytes):
        value = value.decode()
    return value or ""


# -- config edits shared by the page and the API --------------------------------


def settings_fields(config):
    """The form's fields: the known keys with labels, then any other key by type."""
    known = set()
    rows = []
    for row in pages.FIELDS:
        known.add(row[0])
        if row[0] in config:
            rows.append(row)
    for key in sorted(config):
        if key in known or key == "version":
            continue
        value = config[key]
        if isinstance(value, bool):
            kind = "bool"
        elif isinstance(value, int):
            kind = "int"
        elif value is None or isinstance(value, str):
            kind = "opt"
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            kind = "lines"
        else:
            kind = "json"
        rows.append((key, key.replace("_", " ").capitalize(), kind, ""))
    return rows


def lines(text):
    out = []
    for line in text.split("\n"):
        line = line.strip()
        if line:
            out.append(line)
    return out


def config_from_form(form, config, fields, max_windows):
    """The form's fields as a config dict (what was typed is kept even when it is
    wrong, so the page can show it again) and the errors found converting it."""
    data = dict(config)
    errors = []
    for key, _label, kind, _help in fields:
        raw = text_of(form, key).strip()
        if kind == "bool":
            data[key] = key in form
        elif kind == "int":
            try:
                data[key] = int(raw)
            except ValueError:
                data[key] = raw
        elif kind == "choice":
            data[key] = int(raw) if raw.isdigit() else raw
        elif kind == "lines":
            data[key] = lines(raw)
        elif kind == "opt":
            data[key] = raw or None
        elif kind == "tz":
            data[key] = text_of(form, "tzpick").strip() or raw
        elif kind == "windows":
            data[key] = windows_from_form(form, config.get(key), max_windows)
        elif kind == "json":
            try:
                data[key] = json.loads(raw)
            except ValueError:
                data[key] = raw
                errors.append("%s: not valid JSON" % key)
        else:
            data[key] = raw
    return data, errors


def windows_from_form(form, current, max_rows):
    """The quiet windows from the day pickers; windows the form had no rows for
    (more than max_rows) are kept as they were."""
    try:
        rows = min(int(text_of(form, "qn")), max_rows)
    except ValueError:
        rows = 0
    windows = []
    getlist = getattr(form, "getlist", None)
    for i in range(rows):
        key = "q%d" % i
        days = getlist(key + "d") if getlist else []
        start = text_of(form, key + "s").strip()
        end = text_of(form, key + "e").strip()
        if not (days or start or end):
            continue
        chosen = set()
        for d in days:
            if d in pages.DAYS:
                chosen.add(pages.DAYS.index(d))
        windows.append({"days": pages.day_text(chosen), "start": start, "end": end})
    if isinstance(current, list):
        windows.extend(current[rows:])
    return windows


def errors_by_field(errors, keys):
    """Validation messages ("quiet_hours[1].start: ...") grouped by the field they name."""
    out = {}
    for text in errors:
        key = text
        for sep in "[.: ":
            i = key.find(sep)
            if i >= 0:
                key = key[:i]
        if key not in keys:
            key = ""
        out.setdefault(key, []).append(text)
    return out


def make_app(ctx):
    """The web app for one appliance; ctx is described in docs/web.md."""
    app = Web()
    gate_auth = auth.Auth(ctx.state_dir, ctx.uptime_s)
    app.auth = gate_auth

    def check(data):
        return _config.validate(data, ctx.config)

    # -- the one door every request passes --------------------------------------

    @app.before_request
    async def guard(req):
        req.g.form = None
        req.g.csrf = None
        path = req.path
        api = path.startswith("/api/")
        if req.content_length > app.max_body and path != "/upload":
            return "Request body too large", 413
        if path in ("/s.css", "/s.js"):
            return None
        if req.method == "POST":
            origin = req.headers.get("Origin")
            if origin and origin != "null" and origin.split("://")[-1] != req.headers.get("Host"):
                return json_error("cross-site request refused", 403) if api else ("Refused", 403)
        if not gate_auth.has_password():
            if path == "/setup":
                return None
            return (
                json_error("no password set yet: open the page", 403)
                if api
                else see_other("/setup")
            )
        if path in ("/login", "/setup"):
            return None
        csrf = gate_auth.csrf(req.cookies.get(COOKIE))
        if csrf is None and api and "Authorization" in req.headers:
            wait = gate_auth.wait_s()
            if wait:
                return json_error("too many wrong passwords", 429, wait_s=wait)
            if not gate_auth.check_basic(req.headers["Authorization"]):
                return json_error("wrong password", 401)
            req.g.csrf = ""  # Basic: no cookie was sent, so no forgery to guard against
            if req.method == "POST" and (req.content_type or "")[:16] != "application/json":
                return json_error("send JSON (Content-Type: application/json)", 415)
            return None
        if csrf is None:
            return json_error("log in first", 401) if api else see_other("/login")
        req.g.csrf = csrf
        if req.method == "POST":
            sent = req.headers.get("X-CSRF-Token")
            if sent is None and not api:
                try:
                    sent = text_of(form_of(req), "csrf")
                except ValueError:
                    return "Bad form", 400
            if not sent or not auth.consteq(sent, csrf):
                return json_error("bad CSRF token", 403) if api else ("Bad CSRF token", 403)
        return None

    @app.after_request
    async def headers(req, res):
        res.headers.update(_SECURITY)
        if "Cache-Control" not in res.headers:
            res.headers["Cache-Control"] = "no-store"
        return res

    @app.after_error_request
    async def error_headers(req, res):
        res.headers.update(_SECURITY)
        return res

    @app.errorhandler(ValueError)
    async def bad_value(req, exc):
        return "Bad request", 400

    @app.errorhandler(UnicodeError)
    async def bad_text(req, exc):
        return "Bad request", 400

    # -- static -------------------------------------------------------------------

    @app.get("/s.css")
    async def css(req):
        return pages.CSS, {"Content-Type": "text/css", "Cache-Control": "max-age=86400"}

    @app.get("/s.js")
    async def js(req):
        js_type = "application/javascript"
        return pages.JS, {"Content-Type": js_type, "Cache-Control": "max-age=86400"}

    # -- before a session -----------------------------------------------------------

    def pre_form(title, action, error=None, note=None, confirm=False, status=200):
        pre = auth.token()
        gen = pages.password_page(title, action, pre, error, note, confirm, gate_auth.min_length)
        return html(gen, status, {"Set-Cookie": [cookie(PRE_COOKIE, pre, 3600)]})

    def pre_ok(req, form):
        return auth.consteq(text_of(form, "csrf"), req.cookies.get(PRE_COOKIE) or "-")

    setup_note = "Choose the password for this page (at least %d characters)." % (
        gate_auth.min_length
    )

    @app.route("/setup", methods=["GET", "POST"])
    async def setup(req):
        if gate_auth.has_password():
            return see_other("/login")
        if not is_lan(req.client_addr[0]):
            return html(
                pages.plain_page("Not here", "Set the password from the home network."), 403
            )
        if req.method == "GET":
            return pre_form("Set password", "/setup", note=setup_note, confirm=True)
        form = form_of(req)
        password = text_of(form, "password")
        error = None
        if not pre_ok(req, form):
            error = "The form expired: please try again."
        elif password != text_of(form, "confirm"):
            error = "The two passwords differ."
        else:
            error = gate_auth.password_problem(password)
        if error:
            return pre_form("Set password", "/setup", error, setup_note, True, 400)
        gate_auth.set_password(password)
        return logged_in()

    def logged_in():
        res = see_other("/")
        res.headers["Set-Cookie"] = [
            cookie(COOKIE, gate_auth.login(), gate_auth.session_idle_s),
            cookie(PRE_COOKIE, "", 0),
        ]
        return res

    @app.route("/login", methods=["GET", "POST"])
    async def login(req):
        if req.method == "GET":
            return pre_form("Log in", "/login")
        form = form_of(req)
        if not pre_ok(req, form):
            return pre_form("Log in", "/login", "The form expired: please try again.", status=400)
        wait = gate_auth.wait_s()
        if wait:
            text = "Too many wrong passwords: wait %d s and try again." % wait
            return pre_form("Log in", "/login", text, status=429)
        if not gate_auth.check_password(text_of(form, "password")):
            return pre_form("Log in", "/login", "Wrong password.", status=401)
        return logged_in()

    @app.post("/logout")
    async def logout(req):
        gate_auth.logout(req.cookies.get(COOKIE))
        res = see_other("/login")
        res.headers["Set-Cookie"] = [cookie(COOKIE, "", 0)]
        return res

    # -- status, calls ----------------------------------------------------------------

    def notice_of(req):
        return req.args.get("n")

    @app.get("/")
    async def status(req):
        return html(
            pages.status_page(status_view(ctx, app.calls_on_status), req.g.csrf, notice_of(req))
        )

    @app.get("/calls")
    async def calls(req):
        try:
            page = max(0, int(req.args.get("page", "0")))
        except ValueError:
            page = 0
        view = status_view(ctx, 0)
        return html(pages.calls_page(view, req.g.csrf, page, app.calls_per_page, notice_of(req)))

    @app.post("/quiet")
    async def quiet(req):
        mode = text_of(form_of(req), "mode")
        if mode not in QUIET_MODES:
            return "Unknown quiet mode", 400
        ctx.gate.set_quiet(QUIET_MODES[mode], ctx.clock.utc())
        return see_other("/")

    @app.post("/seen")
    async def seen(req):
        ctx.log.acknowledge()
        return see_other("/")

    @app.post("/number")
    async def number(req):
        form = form_of(req)
        block = "block" in form
        try:
            entry = ctx.log.find(int(text_of(form, "block" if block else "allow")))
        except ValueError:
            entry = None
        if entry is None:
            error = "That call is no longer in the log."
        else:
            error = change_number(entry["number"], block)
        if error:
            return html(pages.plain_page("Not changed", error), 400)
        who = entry["number"] or "Callers without a number"
        done = "are blocked" if block and not entry["number"] else "is blocked"
        if not block:
            done = "may ring" if not entry["number"] else "will always ring"
        return see_other("/?n=" + _quote("%s %s." % (who, done)))

    def change_number(num, block):
        """Block or allow one number ("" = callers without one); an error text or None."""
        try:
            if block:
                new = _config.block_number(ctx.config, num)
            else:
                new = _config.allow_number(ctx.config, num)
        except ValueError as e:
            return str(e)
        new, errors = check(new)
        if errors:
            return "; ".join(errors)
        return apply(new)

    def apply(new):
        try:
            ctx.apply(new)
        except OSError as e:
            return "Could not save the settings (%s); nothing was changed." % e
        return None

    # -- settings ---------------------------------------------------------------------

    def window_rows(config):
        n = len(config.get("quiet_hours") or [])
        return min(n + 2, app.max_windows)

    app.max_windows = 10  # rows of day pickers on the page (16 KB)

    def settings_view(req, config, errors=None, status=200, notice=None, upload_error=None):
        fields = settings_fields(config)
        keys = [f[0] for f in fields] + ["password"]
        grouped = errors_by_field(errors or [], keys)
        gen = pages.settings_page(
            fields, config, grouped, req.g.csrf, window_rows(config), notice, upload_error
        )
        return html(gen, status)

    @app.get("/settings")
    async def settings(req):
        return settings_view(req, ctx.config, notice=notice_of(req))

    @app.post("/settings")
    async def save_settings(req):
        fields = settings_fields(ctx.config)
        data, errors = config_from_form(form_of(req), ctx.config, fields, app.max_windows)
        new, more = check(data)
        errors = errors + list(more)
        if not errors:
            problem = apply(new)
            if problem is None:
                return see_other("/settings?n=Saved.")
            errors = [problem]
        return settings_view(req, data, errors, 400)

    @app.post("/upload")
    async def upload(req):
        raw = form_of(req).get("file") or b""
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            return settings_view(
                req, ctx.config, [], 400, upload_error="Not a config file (JSON)."
            )
        new, errors = check(_config.migrate(data))
        if errors:
            text = "Nothing was loaded: " + "; ".join(errors)
            return settings_view(req, ctx.config, [], 400, upload_error=text)
        problem = apply(new)
        if problem:
            return settings_view(req, ctx.config, [], 500, upload_error=problem)
        return see_other("/settings?n=Config+loaded.")

    @app.get("/config.json")
    async def download(req):
        return _config.dumps(ctx.config), {
            "Content-Type": "application/json",
            "Content-Disposition": 'attachment; filename="hushgate-config.json"',
        }

    @app.post("/password")
    async def password(req):
        form = form_of(req)
        new = text_of(form, "password")
        error = None
        if gate_auth.wait_s():
            error = "Too many wrong passwords: wait %d s." % gate_auth.wait_s()
        elif not gate_auth.check_password(text_of(form, "old")):
            error = "The current password is wrong."
        elif new != text_of(form, "confirm"):
            error = "The two new passwords differ."
        else:
            error = gate_auth.password_problem(new)
        if error:
            return settings_view(req, ctx.config, ["password: " + error], 400)
        gate_auth.set_password(new)
        return logged_in()

    # -- the JSON API ----------------------------------------------------------------

    def body_json(req):
        try:
            data = json.loads(req.body or b"null")
        except ValueError:
            return None
        return data

    @app.get("/api/status")
    async def api_status(req):
        return status_json(ctx)

    @app.get("/api/calls")
    async def api_calls(req):
        return {"calls": ctx.log.entries()}

    @app.get("/api/config")
    async def api_config(req):
        return ctx.config

    @app.post("/api/config")
    async def api_set_config(req):
        data = body_json(req)
        if not isinstance(data, dict):
            return json_error("send the config as a JSON object", 400)
        new, errors = check(data)
        if errors:
            return json_error("invalid config; nothing saved", 400, errors=errors)
        problem = apply(new)
        if problem:
            return json_error(problem, 500)
        return ctx.config

    @app.post("/api/quiet")
    async def api_quiet(req):
        data = body_json(req)
        mode = data.get("mode") if isinstance(data, dict) else None
        if mode not in QUIET_MODES:
            return json_error('mode must be "on", "off" or "morning"', 400)
        ctx.gate.set_quiet(QUIET_MODES[mode], ctx.clock.utc())
        return status_json(ctx)

    @app.post("/api/number")
    async def api_number(req):
        data = body_json(req)
        num = data.get("number") if isinstance(data, dict) else None
        if not isinstance(num, str) or data.get("list") not in ("block", "vip"):
            return json_error('send {"number": "...", "list": "block" or "vip"}', 400)
        error = change_number(num.strip(), data["list"] == "block")
        if error:
            return json_error(error, 400)
        cfg = ctx.config
        return {
            "block": cfg["block"],
            "vip": cfg["vip"],
            "block_anonymous": cfg["block_anonymous"],
        }

    @app.post("/api/seen")
    async def api_seen(req):
        ctx.log.acknowledge()
        return {"unseen": ctx.log.unseen}

    return app


def _quote(text):
    out = []
    for c in text:
        if c.isalpha() or c.isdigit() or c in "-_.*":
            out.append(c)
        else:
            for b in c.encode():
                out.append("%%%02X" % b)
    return "".join(out)


# -- what the pages and the API show -----------------------------------------------


MODE_TEXT = {
    "ringing": "Ringing",
    "quiet-schedule": "Quiet hours",
    "quiet-button": "Quiet (button), until switched off",
    "quiet-until-morning": "Quiet until morning",
}


def is_quiet(st):
    quiet = st.get("quiet")
    return bool(quiet) if quiet is not None else st.get("mode", "ringing") != "ringing"


def mode_text(st, tz):
    """gate.status() in words: "Quiet hours until 07:00"."""
    text = MODE_TEXT.get(st.get("mode")) or ("Quiet" if is_quiet(st) else "Ringing")
    until = st.get("until")
    if isinstance(until, int) and tz is not None:
        until = pages.hhmm(tz.localtime(until))
    if until:
        text = ("Quiet" if st.get("mode") == "quiet-until-morning" else text) + " until " + until
    if not st.get("clock_known", True):
        text += " (clock not set: quiet hours wait for it)"
    return text


def status_view(ctx, rows):
    utc = ctx.clock.utc()
    tz = ctx.tz
    st = ctx.gate.status(utc)
    today = tz.localtime(utc) if utc is not None and tz is not None else None
    entries = ctx.log.entries()
    facts = [
        (
            "Clock",
            pages.when(tz, utc)
            if utc is not None
            else "not set yet: waiting for NTP (quiet hours do not apply until it is)",
        )
    ]
    reg = getattr(ctx.proxy, "last_register", None)
    if reg and reg[0] is not None:
        facts.append(
            ("ATA's last REGISTER", "answered %s at %s" % (reg[1], pages.when(tz, reg[0], today)))
        )
    else:
        facts.append(("ATA's last REGISTER", "none seen since start"))
    facts.append(("Provider", ctx.config.get("provider") or "not set"))
    facts.append(("ATA", ctx.config.get("ata") or "not set"))
    facts.append(("Up for", pages.duration(ctx.uptime_s())))
    mem = ctx.mem()
    if isinstance(mem, dict):
        mem = "%d KB used, %d KB free" % (mem.get("alloc", 0) // 1024, mem.get("free", 0) // 1024)
    facts.append(("Memory", mem))
    problems = list(getattr(ctx, "config_problems", None) or [])
    last_error = getattr(ctx, "last_error", None)
    if last_error:
        facts.append(("Last error", last_error))
    return {
        "mode_text": mode_text(st, tz),
        "button_quiet": bool(st.get("quiet_mode")),
        "entries": entries,
        "rows": rows,
        "tz": tz,
        "today": today,
        "counters": ctx.log.counters,
        "unseen": ctx.log.unseen,
        "totals": ctx.log.totals,
        "facts": facts,
        "problems": problems,
    }


def status_json(ctx):
    utc = ctx.clock.utc()
    st = ctx.gate.status(utc)
    reg = getattr(ctx.proxy, "last_register", None)
    return {
        "utc": utc,
        "local": pages.when(ctx.tz, utc) if utc is not None else None,
        "quiet": is_quiet(st),
        "mode": mode_text(st, ctx.tz),
        "gate": st,
        "uptime_s": ctx.uptime_s(),
        "mem": ctx.mem(),
        "counters": ctx.log.counters,
        "unseen": ctx.log.unseen,
        "totals": ctx.log.totals,
        "proxy": ctx.proxy.stats,
        "last_register": {"utc": reg[0], "status": reg[1]} if reg else None,
        "problems": list(getattr(ctx, "config_problems", None) or []),
    }

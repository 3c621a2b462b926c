# What the web page answers: the Microdot app with its routes, the HTML (as
# generators of small str chunks, so no page is ever one big string on the heap)
# and the JSON API. hushgate.web imports this module when a connection arrives and
# drops it when the page is idle. Everything that is not a literal here goes
# through esc(): caller names and numbers come from the internet. Every route that
# changes something is a POST with the session's CSRF token (or HTTP Basic, for
# scripts); every GET only reads.
import asyncio
import json

from microdot import Microdot, Request, Response

from hushgate import auth
from hushgate import config as _config
from hushgate.compat import const

_AF_INET = const(2)
_AF_INET6 = const(10)

COOKIE = "hg"
PRE_COOKIE = "hgp"  # double-submit token for the forms shown before a session
QUIET_MODES = {"off": 0, "on": 1, "morning": 2}  # gate's QUIET_OFF/ON/UNTIL_MORNING

_HTML = "text/html; charset=UTF-8"
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
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


def local_host(host):
    """True for a Host header naming this box as a LAN user would: an address, a
    single label, or a home-network domain. A web page elsewhere that rebinds its
    own name to the box's address sends its own name, and must not set the password."""
    host = host.lower()
    if host.startswith("["):
        return True  # an IPv6 address
    if host.count(":") == 1:
        host = host[: host.find(":")]
    labels = host.split(".")
    if len(labels) == 1 or all(label.isdigit() for label in labels):
        return True
    for suffix in (".local", ".lan", ".home.arpa", ".internal", ".localdomain", ".home", ".box"):
        if host.endswith(suffix):
            return True
    return False


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


class App(Microdot):
    """Microdot with the appliance's limits (set on hushgate.web.Web): a bounded
    request head, bounded bodies, a deadline for slow clients."""

    def __init__(self, web):
        super().__init__()
        self.web = web
        Request.max_readline = web.max_head
        Request.max_content_length = web.max_upload
        Request.max_body_length = web.max_upload

    async def handle_request(self, reader, writer):
        web = self.web
        try:
            peer = peer_ip(writer.get_extra_info("peername"))
            res = None
            try:
                req = await asyncio.wait_for(
                    Request.create(self, _Head(reader, web.max_head), writer, (peer, 0)),
                    web.read_timeout_s,
                )
            except asyncio.TimeoutError:  # noqa: UP041 (MicroPython has no builtin)
                req = None
                res = Response("Request timeout", 408, None, "Request Timeout")
            except Exception:  # anything unparseable: Microdot answers 400
                req = None
            if res is None:
                res = await self.dispatch_request(req)
            if res is not Response.already_handled:
                await asyncio.wait_for(res.write(writer), web.write_timeout_s)
        except Exception:  # a client gone or too slow must not end the server
            pass
        finally:
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
    return Response("", 303, {"Location": location}, "See Other")


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
        n = head.find(' name="')  # the space: not the tail of filename="
        if n >= 0:
            fields[head[n + 7 : head.find('"', n + 7)]] = data
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
    for row in FIELDS:
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
        elif value is None:
            kind = "opt"
        elif isinstance(value, str):
            kind = "text"
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            kind = "lines"
        else:
            kind = "json"
        rows.append((key, key.replace("_", " "), kind, ""))
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
        elif kind == "secret":
            data[key] = text_of(form, key)  # spaces may be part of it
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
            if d in DAYS:
                chosen.add(DAYS.index(d))
        windows.append({"days": day_text(chosen), "start": start, "end": end})
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


def build(web):
    """The Microdot app for hushgate.web.Web (its ctx, auth and limits): two URL
    patterns and a table, because every route Microdot knows costs a regex."""
    app = App(web)
    app.before_request(guard)
    app.after_request(headers)
    app.after_error_request(headers)
    app.errorhandler(ValueError)(bad_request)
    app.errorhandler(UnicodeError)(bad_request)
    app.route("/", methods=["GET", "POST"])(dispatch)
    app.route("/<path:path>", methods=["GET", "POST"])(dispatch)
    return app


async def dispatch(req, path=None):
    method = "GET" if req.method == "HEAD" else req.method
    handler = ROUTES.get(method + " " + req.path)
    if handler is None:
        other = ROUTES.get(("POST " if method == "GET" else "GET ") + req.path)
        return ("Method not allowed", 405) if other else ("Not found", 404)
    return await handler(req, req.app.web)


# -- the one door every request passes ------------------------------------------


async def guard(req):
    web = req.app.web
    gate_auth = web.auth
    req.g.form = None
    req.g.csrf = None
    path = req.path
    if "GET " + path not in ROUTES and "POST " + path not in ROUTES:
        return "Not found", 404  # before any redirect: a stray /favicon.ico must not
        # fetch the set-password form again and replace its token
    api = path.startswith("/api/")
    if req.content_length > web.max_body and path != "/upload":
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
        if api:
            return json_error("no password set yet: open the page", 403)
        return see_other("/setup")
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


async def headers(req, res):
    res.headers.update(_SECURITY)
    if res.headers.get("Cache-Control") is None:
        res.headers["Cache-Control"] = "no-store"
    if res.reason is None:
        res.reason = _REASONS.get(res.status_code)
    return res


async def bad_request(req, exc):
    return "Bad request", 400


# -- static -----------------------------------------------------------------------


async def css(req, web):
    return CSS, {"Content-Type": "text/css", "Cache-Control": "max-age=86400"}


async def js(req, web):
    return JS, {"Content-Type": "application/javascript", "Cache-Control": "max-age=86400"}


# -- before a session -------------------------------------------------------------


def pre_form(req, web, title, action, error=None, note=None, confirm=False, status=200):
    # One token per browser, kept while its cookie lives, so two tabs both work.
    pre = req.cookies.get(PRE_COOKIE) or ""
    if len(pre) != 32 or not all(c in "0123456789abcdef" for c in pre):
        pre = auth.token()
    gen = password_page(title, action, pre, error, note, confirm, web.auth.min_length)
    return html(gen, status, {"Set-Cookie": [cookie(PRE_COOKIE, pre, 3600)]})


def pre_ok(req, form):
    return auth.consteq(text_of(form, "csrf"), req.cookies.get(PRE_COOKIE) or "-")


def logged_in(web):
    res = see_other("/")
    res.headers["Set-Cookie"] = [
        cookie(COOKIE, web.auth.login(), web.auth.session_idle_s),
        cookie(PRE_COOKIE, "", 0),
    ]
    return res


async def setup(req, web):
    gate_auth = web.auth
    if gate_auth.has_password():
        return see_other("/login")
    if not is_lan(req.client_addr[0]) or not local_host(req.headers.get("Host") or ""):
        return html(plain_page("Not here", "Set the password from the home network."), 403)
    note = "Choose the password for this page (at least %d characters)." % gate_auth.min_length
    if req.method == "GET":
        return pre_form(req, web, "Set password", "/setup", note=note, confirm=True)
    form = form_of(req)
    password = text_of(form, "password")
    if not pre_ok(req, form):
        error = "The form expired: please try again."
    elif password != text_of(form, "confirm"):
        error = "The two passwords differ."
    else:
        error = gate_auth.password_problem(password)
    if error:
        return pre_form(req, web, "Set password", "/setup", error, note, True, 400)
    gate_auth.set_password(password)
    return logged_in(web)


async def login(req, web):
    if req.method == "GET":
        return pre_form(req, web, "Log in", "/login")
    form = form_of(req)
    if not pre_ok(req, form):
        text = "The form expired: please try again."
        return pre_form(req, web, "Log in", "/login", text, None, False, 400)
    wait = web.auth.wait_s()
    if wait:
        text = "Too many wrong passwords: wait %d s and try again." % wait
        return pre_form(req, web, "Log in", "/login", text, None, False, 429)
    if not web.auth.check_password(text_of(form, "password")):
        return pre_form(req, web, "Log in", "/login", "Wrong password.", None, False, 401)
    return logged_in(web)


async def logout(req, web):
    web.auth.logout(req.cookies.get(COOKIE))
    res = see_other("/login")
    res.headers["Set-Cookie"] = [cookie(COOKIE, "", 0)]
    return res


# -- status, calls ----------------------------------------------------------------


async def status(req, web):
    view = status_view(web.ctx, web.calls_on_status)
    return html(status_page(view, req.g.csrf, req.args.get("n")))


async def calls(req, web):
    try:
        page = max(0, int(req.args.get("page", "0")))
    except ValueError:
        page = 0
    view = status_view(web.ctx, 0)
    return html(calls_page(view, req.g.csrf, page, web.calls_per_page, req.args.get("n")))


async def quiet(req, web):
    mode = text_of(form_of(req), "mode")
    if mode not in QUIET_MODES:
        return "Unknown quiet mode", 400
    web.ctx.gate.set_quiet(QUIET_MODES[mode], web.ctx.clock.utc())
    return see_other("/")


async def seen(req, web):
    web.ctx.log.acknowledge()
    return see_other("/")


async def number(req, web):
    form = form_of(req)
    block = "block" in form
    try:
        entry = web.ctx.log.find(int(text_of(form, "block" if block else "allow")))
    except ValueError:
        entry = None
    if entry is None:
        error = "That call is no longer in the log."
    else:
        error = change_number(web.ctx, entry["number"], block)
    if error:
        return html(plain_page("Not changed", error), 400)
    who = entry["number"] or "Callers without a number"
    done = "are blocked" if block and not entry["number"] else "is blocked"
    if not block:
        done = "may ring" if not entry["number"] else "will always ring"
    return see_other("/?n=" + _quote("%s %s." % (who, done)))


def change_number(ctx, num, block):
    """Block or allow one number ("" = callers without one); an error text or None."""
    try:
        if block:
            new = _config.block_number(ctx.config, num)
        else:
            new = _config.allow_number(ctx.config, num)
    except ValueError as e:
        return str(e)
    new, errors = _config.validate(new, ctx.config)
    if errors:
        return "; ".join(errors)
    return apply(ctx, new)


def apply(ctx, new):
    try:
        ctx.apply(new)
    except (OSError, ValueError) as e:
        return "Could not save the settings (%s); nothing was changed." % e
    if getattr(ctx, "config_problems", None):
        ctx.config_problems = []  # what went wrong loading is overwritten now
    return None


# -- settings -----------------------------------------------------------------------


def settings_view(req, web, config, errors=None, status=200, notice=None, upload_error=None):
    fields = settings_fields(config)
    keys = [f[0] for f in fields] + ["password"]
    grouped = errors_by_field(errors or [], keys)
    rows = min(len(config.get("quiet_hours") or []) + 2, web.max_windows)
    gen = settings_page(fields, config, grouped, req.g.csrf, rows, notice, upload_error)
    return html(gen, status)


async def settings(req, web):
    return settings_view(req, web, web.ctx.config, notice=req.args.get("n"))


async def save_settings(req, web):
    ctx = web.ctx
    fields = settings_fields(ctx.config)
    data, errors = config_from_form(form_of(req), ctx.config, fields, web.max_windows)
    new, more = _config.validate(data, ctx.config)
    errors = errors + list(more)
    if not errors:
        problem = apply(ctx, new)
        if problem is None:
            return see_other("/settings?n=Saved.")
        errors = [problem]
    return settings_view(req, web, data, errors, 400)


async def upload(req, web):
    ctx = web.ctx
    raw = form_of(req).get("file") or b""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError
    except ValueError:
        text = "Not a config file (JSON)."
        return settings_view(req, web, ctx.config, [], 400, upload_error=text)
    new, errors = _config.validate(_config.migrate(data), ctx.config)
    if errors:
        text = "Nothing was loaded: " + "; ".join(errors)
        return settings_view(req, web, ctx.config, [], 400, upload_error=text)
    problem = apply(ctx, new)
    if problem:
        return settings_view(req, web, ctx.config, [], 500, upload_error=problem)
    return see_other("/settings?n=Config+loaded.")


async def download(req, web):
    return _config.dumps(web.ctx.config), {
        "Content-Type": "application/json",
        "Content-Disposition": 'attachment; filename="hushgate-config.json"',
    }


async def password(req, web):
    gate_auth = web.auth
    form = form_of(req)
    new = text_of(form, "password")
    if gate_auth.wait_s():
        error = "Too many wrong passwords: wait %d s." % gate_auth.wait_s()
    elif not gate_auth.check_password(text_of(form, "old")):
        error = "The current password is wrong."
    elif new != text_of(form, "confirm"):
        error = "The two new passwords differ."
    else:
        error = gate_auth.password_problem(new)
    if error:
        return settings_view(req, web, web.ctx.config, ["password: " + error], 400)
    gate_auth.set_password(new)
    return logged_in(web)


# -- the JSON API ---------------------------------------------------------------------


def body_json(req):
    try:
        return json.loads(req.body or b"null")
    except ValueError:
        return None


async def api_status(req, web):
    return status_json(web.ctx)


async def api_calls(req, web):
    return {"calls": web.ctx.log.entries()}


async def api_config(req, web):
    return web.ctx.config


async def api_set_config(req, web):
    ctx = web.ctx
    data = body_json(req)
    if not isinstance(data, dict):
        return json_error("send the config as a JSON object", 400)
    new, errors = _config.validate(data, ctx.config)
    if errors:
        return json_error("invalid config; nothing saved", 400, errors=errors)
    problem = apply(ctx, new)
    if problem:
        return json_error(problem, 500)
    return ctx.config


async def api_quiet(req, web):
    data = body_json(req)
    mode = data.get("mode") if isinstance(data, dict) else None
    if mode not in QUIET_MODES:
        return json_error('mode must be "on", "off" or "morning"', 400)
    web.ctx.gate.set_quiet(QUIET_MODES[mode], web.ctx.clock.utc())
    return status_json(web.ctx)


async def api_number(req, web):
    data = body_json(req)
    num = data.get("number") if isinstance(data, dict) else None
    if not isinstance(num, str) or data.get("list") not in ("block", "vip"):
        return json_error('send {"number": "...", "list": "block" or "vip"}', 400)
    error = change_number(web.ctx, num.strip(), data["list"] == "block")
    if error:
        return json_error(error, 400)
    cfg = web.ctx.config
    return {"block": cfg["block"], "vip": cfg["vip"], "block_anonymous": cfg["block_anonymous"]}


async def api_seen(req, web):
    web.ctx.log.acknowledge()
    return {"unseen": web.ctx.log.unseen}


ROUTES = {
    "GET /s.css": css,
    "GET /s.js": js,
    "GET /setup": setup,
    "POST /setup": setup,
    "GET /login": login,
    "POST /login": login,
    "POST /logout": logout,
    "GET /": status,
    "GET /calls": calls,
    "POST /quiet": quiet,
    "POST /seen": seen,
    "POST /number": number,
    "GET /settings": settings,
    "POST /settings": save_settings,
    "POST /upload": upload,
    "GET /config.json": download,
    "POST /password": password,
    "GET /api/status": api_status,
    "GET /api/calls": api_calls,
    "GET /api/config": api_config,
    "POST /api/config": api_set_config,
    "POST /api/quiet": api_quiet,
    "POST /api/number": api_number,
    "POST /api/seen": api_seen,
}


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
        until = hhmm(tz.localtime(until))
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
        "local": when(ctx.tz, utc) if utc is not None else None,
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


# -- HTML ------------------------------------------------------------------------

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
    (
        "quiet_hours",
        "Quiet hours",
        "windows",
        "A window may cross midnight (22:00 to 07:00); "
        "the days are those it starts on. Untick all and clear the times to remove one.",
    ),
    ("quiet_answer", "While quiet, callers hear", "choice", ""),
    ("vip", "Always ring (VIP numbers)", "lines", "One per line; end with * for a prefix."),
    ("repeat_call_minutes", "Repeat call rings through within (minutes)", "int", "0: off"),
    ("block", "Never ring (blocked numbers)", "lines", "One per line; end with * for a prefix."),
    ("block_anonymous", "Block callers without a number", "bool", ""),
    ("block_answer", "Blocked callers hear", "choice", ""),
    ("international_prefix", "International dialling prefix", "text", "00, 011, 0011"),
    ("trusted", "Other trusted sources", "lines", "Addresses or networks, one per line."),
    ("scanner_user_agents", "Scanner User-Agents", "lines", "Dropped silently."),
    ("rate_burst", "Datagrams a source may send in a burst", "int", ""),
    ("rate_per_second", "Then per second", "int", ""),
    ("ban_minutes", "Ban a source that floods for (minutes)", "int", ""),
    ("sources_tracked", "Sources tracked by the rate limit", "int", ""),
    ("call_log_size", "Calls kept in the log", "int", ""),
    ("net_address", "This box's address", "text", '"dhcp" or a.b.c.d/24'),
    ("net_gateway", "Gateway", "text", "with a fixed address"),
    ("net_dns", "DNS server", "text", "with a fixed address"),
    ("hostname", "Host name", "text", ""),
    ("ntp_server", "Time server (NTP)", "text", ""),
    ("wifi_ssid", "Wi-Fi network", "text", ""),
    ("wifi_password", "Wi-Fi password", "secret", ""),
    ("wifi_country", "Wi-Fi country", "text", "two letters, e.g. FR"),
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
    if kind in ("text", "opt", "secret"):
        yield '<input type="%s" id="%s" name="%s" value="%s">' % (
            "password" if kind == "secret" else "text",
            key,
            key,
            esc(value),
        )
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

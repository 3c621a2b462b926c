# Runs on CPython and MicroPython: the harness the test_web_* files share (no tests of
# its own, so that under MicroPython a test module and this fit a 110k heap): the
# web page through the server's own connection handler (Web.serve) with stand-in
# streams, a stand-in gate, clock and time zone, and a client that keeps cookies.
import asyncio
import json
import os
import sys

from hushgate import auth, calllog, config, web

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


class Gate:
    """Stands in for hushgate.gate.Gate (tested on its own, and with the page in the
    browser test): what the page reads of it, and what the page asked of it."""

    MODES = ("ringing", "quiet-button", "quiet-until-morning")

    def __init__(self):
        self.quiet_mode = 0
        self.schedule = None  # (mode, until) when quiet hours apply
        self.set_calls = []

    def status(self, utc=None):
        mode, until = self.schedule or ("ringing", None)
        if self.quiet_mode:
            mode, until = self.MODES[self.quiet_mode], "07:00" if self.quiet_mode == 2 else None
        return {
            "mode": mode,
            "quiet": mode != "ringing",
            "until": until,
            "quiet_mode": self.quiet_mode,
            "clock_known": utc is not None,
            "refused": 0,
        }

    def set_quiet(self, mode, utc=None):
        self.set_calls.append((mode, utc))
        self.quiet_mode = mode

    def configure(self, config):
        pass


class Proxy:
    def __init__(self):
        self.stats = {"forwarded": 3, "dropped_bad": 1}
        self.last_register = (NOW - 60, 200)


class Verdict:
    def __init__(self, action, code, reason, kind):
        self.action, self.code, self.reason, self.kind = action, code, reason, kind


class TZ:
    """Stands in for hushgate.tz.TZ (tested on its own): Paris in winter, UTC+1."""

    def localtime(self, utc):
        import time

        return time.gmtime(utc + 3600)


class Ctx:
    def __init__(self):
        self.state_dir = _folder()
        self.store = config.Store(self.state_dir)
        self.config, self.config_problems = self.store.load()
        config.release()
        self.log = calllog.CallLog(size=24)
        self.clock = Clock()
        self.gate = Gate()
        self.proxy = Proxy()
        self.tz = TZ()
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
        config.release()  # as the app does: the validation code is needed only to save


def file_config(ctx):
    """The config the file holds, read as the app reads it: the validation code is
    let go after (kept, it would crowd the heap of the next request under MicroPython)."""
    cfg = ctx.store.load()[0]
    config.release()
    return cfg


def record(ctx, number, name, kind="rang", action=0, code=0, reason="allowed"):
    return ctx.log.record(
        ctx.clock.t, number, name, "127.0.0.2", Verdict(action, code, reason, kind)
    )


class Response:
    def __init__(self, head, body):
        head, _, rest = head.partition(b"\r\n\r\n")
        self.body = rest + body if rest else body
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
        res = Response(writer.head, writer.body)
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
    # The server's clock (sessions, the password slow-down) stands still unless a test
    # moves it (app._ms += ...): on the real one, a slow run (a long gc.collect() after
    # each request in a big test process) crossed a second between the 3rd wrong
    # password and the 4th try, which a 1 s slow-down counted in whole seconds let in.
    server.ticks_ms = _still
    server._last = _still()
    return ctx, server, Client(server)


def _still():
    return 0


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
    """Keeps the head and the body apart: a page is then never copied whole again
    (under MicroPython a 16 KB page and its copy may find no room side by side)."""

    def __init__(self, peer):
        self.peer = peer
        self.head = self.body = b""
        self.closed = False

    @property
    def out(self):
        return self.head + self.body

    def get_extra_info(self, name):
        return self.peer

    async def awrite(self, data):
        data = data if isinstance(data, bytes) else data.encode()
        if self.body or b"\r\n\r\n" in self.head:
            self.body += data
        else:
            self.head += data

    async def aclose(self):
        self.closed = True


def raw(app, data, peer=("192.168.1.20", 5000), stall=False):
    writer = Writer(peer)
    run(app.serve(Reader(data, stall), writer))
    assert writer.closed
    out = writer.out
    return int(out.split(b"\r\n", 1)[0].decode().split()[1]), out

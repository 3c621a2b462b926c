# The web page's HTTP/1.0 server, small enough for the heap (Microdot needed 31 KB
# of it, this about 6: docs/web.md). One request per connection: the request line
# and the headers the page reads (at most Web.max_head bytes in all, read in small
# chunks), a body of at most Web.max_body (Web.max_upload for the config upload),
# all within Web.read_timeout_s; then the guard (session, Basic, CSRF, Origin), the
# one page module that answers the path (imported here, dropped by hushgate.web when
# idle), and the answer written in chunks within Web.write_timeout_s. Anything that
# does not parse gets a 4xx, never an exception out of serve().
import asyncio
import json
import sys

from hushgate import auth

COOKIE = "hg"
PRE_COOKIE = "hgp"  # double-submit token of the forms shown before a session

# path -> page module (after "hushgate.page") and the methods it answers
ROUTES = {
    "/": ("status", "G"),
    "/calls": ("status", "G"),
    "/quiet": ("status", "P"),
    "/seen": ("status", "P"),
    "/number": ("status", "P"),
    "/settings": ("settings", "GP"),
    "/upload": ("settings", "P"),
    "/config.json": ("settings", "G"),
    "/password": ("settings", "P"),
    "/setup": ("login", "GP"),
    "/login": ("login", "GP"),
    "/logout": ("login", "P"),
    "/api/status": ("api", "G"),
    "/api/calls": ("api", "G"),
    "/api/config": ("api", "GP"),
    "/api/quiet": ("api", "P"),
    "/api/number": ("api", "P"),
    "/api/seen": ("api", "P"),
    "/s.css": ("css", "G"),
    "/s.js": ("css", "G"),
}

_REASONS = {
    200: "OK",
    303: "See Other",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_SECURITY = (
    "Content-Security-Policy: default-src 'none'; style-src 'self'; script-src 'self';"
    " img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
)
# The only headers kept: the rest of a request head is read and forgotten.
_KEEP = (
    b"host",
    b"cookie",
    b"content-length",
    b"content-type",
    b"origin",
    b"authorization",
    b"x-csrf-token",
)


class HttpError(Exception):
    """A request that gets an error status (args: status, text)."""


class Request:
    def __init__(self, peer):
        self.peer = peer  # as the socket gives it: hushgate.pages.peer_ip() reads it
        self.method = self.path = ""
        self.args = {}
        self.headers = {}
        self.body = b""
        self.csrf = None  # the session's CSRF token; "" for HTTP Basic
        self._form = None
        self._cookies = None

    @property
    def cookies(self):
        if self._cookies is None:
            self._cookies = {}
            for part in self.headers.get("cookie", "").split(";"):
                name, eq, value = part.partition("=")
                if eq:
                    self._cookies[name.strip()] = value.strip()
        return self._cookies

    @property
    def form(self):
        """The posted fields, urlencoded or multipart: {name: str, or a list of str
        when repeated} (a multipart file: bytes). Raises HttpError(400) when it does not parse."""
        if self._form is None:
            ctype = self.headers.get("content-type", "")
            try:
                if ctype.startswith("multipart/form-data"):
                    self._form = multipart(self.body, ctype)
                else:
                    self._form = parse_qs(self.body)
            except (ValueError, UnicodeError):
                raise HttpError(400, "Bad form")
        return self._form

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


def unquote(data):
    """Percent- and plus-decoding of bytes into str; ValueError/UnicodeError if bad."""
    if b"+" in data:
        data = data.replace(b"+", b" ")
    if b"%" not in data:
        return data.decode()
    parts = data.split(b"%")
    out = bytearray(parts[0])
    for part in parts[1:]:
        if len(part) < 2:
            raise ValueError("bad escape")
        out.append(int(part[:2], 16))  # ValueError on "zz"
        out.extend(part[2:])
    return bytes(out).decode()


def parse_qs(data):
    out = {}
    for pair in data.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        name = unquote(name)
        value = unquote(value)
        old = out.get(name)
        if old is None:
            out[name] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            out[name] = [old, value]
    return out


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


def text_of(form, name):
    """A field as one str ("" when absent; the first of repeated ones)."""
    value = form.get(name)
    if isinstance(value, list):
        value = value[0]
    if isinstance(value, bytes):
        value = value.decode()
    return value or ""


async def read_request(web, reader, req):
    buf = bytearray()
    while True:
        end = buf.find(b"\n\r\n")
        if end >= 0:
            rest = buf[end + 3 :]
            break
        end = buf.find(b"\n\n")
        if end >= 0:
            rest = buf[end + 2 :]
            break
        if len(buf) >= web.max_head:
            raise HttpError(431, "Request head too large")
        data = await reader.read(min(web.chunk, web.max_head - len(buf)))
        if not data:
            raise HttpError(400, "Incomplete request")
        buf.extend(data)
    if end + 1 > web.max_head:
        raise HttpError(431, "Request head too large")
    lines = bytes(buf[:end]).split(b"\n")
    buf = None
    first = lines[0].rstrip(b"\r").split(b" ")
    if len(first) != 3 or first[2][:5] != b"HTTP/" or first[1][:1] != b"/":
        raise HttpError(400, "Bad request line")
    req.method = first[0].decode()
    target = first[1]
    q = target.find(b"?")
    if q >= 0:
        req.args = parse_qs(target[q + 1 :])
        target = target[:q]
    req.path = target.decode()
    headers = req.headers
    for line in lines[1:]:
        colon = line.find(b":")
        if colon <= 0:
            raise HttpError(400, "Bad header")
        name = line[:colon].strip().lower()
        if name in _KEEP:
            headers[name.decode()] = line[colon + 1 :].strip().decode()
    lines = None
    size = headers.get("content-length", "0")
    if not size.isdigit():
        raise HttpError(400, "Bad Content-Length")
    size = int(size)
    if size > (web.max_upload if req.path == "/upload" else web.max_body):
        raise HttpError(413, "Request body too large")
    if size:
        body = bytearray(rest[:size])
        while len(body) < size:
            data = await reader.read(size - len(body))
            if not data:
                raise HttpError(400, "Body cut short")
            body.extend(data)
        req.body = bytes(body)


def error(status, text, api=False, extra=None):
    if api:
        body = {"error": text}
        if extra:
            body.update(extra)
        return status, None, body
    return status, ["Content-Type: text/plain"], text


def see_other(location, headers=None):
    h = ["Location: " + location]
    if headers:
        h.extend(headers)
    return 303, h, ""


def guard(web, req):
    """None when the request may go on to its page, else the answer."""
    path = req.path
    api = path[:5] == "/api/"
    route = ROUTES[path]
    if route[0] == "css":
        return None
    if req.method == "POST":
        origin = req.headers.get("origin")
        if origin and origin != "null" and origin.split("://")[-1] != req.headers.get("host"):
            return error(403, "cross-site request refused", api)
    gate_auth = web.auth
    if not gate_auth.has_password():
        if path == "/setup":
            return None
        if api:
            return error(403, "no password set yet: open the page", True)
        return see_other("/setup")
    if path in ("/login", "/setup"):
        return None
    csrf = gate_auth.csrf(req.cookies.get(COOKIE))
    if csrf is None and api and "authorization" in req.headers:
        wait = gate_auth.wait_s()
        if wait:
            return error(429, "too many wrong passwords", True, {"wait_s": wait})
        if not gate_auth.check_basic(req.headers["authorization"]):
            return error(401, "wrong password", True)
        req.csrf = ""  # Basic: no cookie was sent, so no forgery to guard against
        if req.method == "POST" and req.headers.get("content-type", "")[:16] != "application/json":
            return error(415, "send JSON (Content-Type: application/json)", True)
        return None
    if csrf is None:
        return error(401, "log in first", True) if api else see_other("/login")
    req.csrf = csrf
    if req.method == "POST":
        sent = req.headers.get("x-csrf-token")
        if sent is None and not api:
            sent = text_of(req.form, "csrf")
        if not sent or not auth.consteq(sent, csrf):
            return error(403, "bad CSRF token", api)
    return None


def answer(web, req):
    method = "GET" if req.method == "HEAD" else req.method
    route = ROUTES.get(req.path)
    if route is None:
        return error(404, "Not found")
    if method[:1] not in route[1] or method not in ("GET", "POST"):
        return error(405, "Method not allowed")
    res = guard(web, req)
    if res is None:
        name = "hushgate.page" + route[0]
        __import__(name)
        res = sys.modules[name].handle(web, req)
    return res


async def send(writer, res, head_only=False):
    status, headers, body = res
    out = ["HTTP/1.0 %d %s\r\n%s" % (status, _REASONS.get(status, "?"), _SECURITY)]
    cache = False
    if headers:
        for h in headers:
            out.append(h + "\r\n")
            cache = cache or h[:14] == "Cache-Control:"
    if not cache:
        out.append("Cache-Control: no-store\r\n")
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        out.append("Content-Type: application/json\r\n")
    if isinstance(body, str):
        body = body.encode()
    if isinstance(body, bytes):
        out.append("Content-Length: %d\r\n" % len(body))
    out.append("\r\n")
    await writer.awrite("".join(out).encode())
    out = None
    if head_only:
        return
    if isinstance(body, bytes):
        if body:
            await writer.awrite(body)
        return
    # a generator of str chunks: written in pieces of about 1 KB
    parts = []
    size = 0
    for chunk in body:
        parts.append(chunk)
        size += len(chunk)
        if size >= 1024:
            await writer.awrite("".join(parts).encode())
            parts = []
            size = 0
    if parts:
        await writer.awrite("".join(parts).encode())


async def handle(web, reader, writer):
    """One connection, one request, then closed."""
    req = Request(writer.get_extra_info("peername"))
    res = None
    try:
        try:
            await asyncio.wait_for(read_request(web, reader, req), web.read_timeout_s)
            res = answer(web, req)
        except asyncio.TimeoutError:  # noqa: UP041 (MicroPython has no builtin)
            res = error(408, "Request timeout")
        except HttpError as e:
            res = error(e.args[0], e.args[1], req.path[:5] == "/api/")
        except (ValueError, UnicodeError):
            res = error(400, "Bad request", req.path[:5] == "/api/")
        except MemoryError:
            res = None
            web.unload()
            res = error(503, "Low on memory")
        except Exception as e:  # a bug: said, and the server goes on
            res = error(500, "Internal error: %r" % e)
        await asyncio.wait_for(send(writer, res, req.method == "HEAD"), web.write_timeout_s)
    except Exception:  # a client gone or too slow must not end the server
        pass
    finally:
        await close(writer)


async def refuse(writer):
    try:
        await send(writer, error(503, "Busy"))
    except Exception:
        pass
    await close(writer)


async def close(writer):
    try:
        await writer.aclose()
    except Exception:
        pass


class Writer:
    """CPython's StreamWriter with the awrite/aclose MicroPython's has."""

    def __init__(self, writer):
        self.w = writer

    def get_extra_info(self, name):
        return self.w.get_extra_info(name)

    async def awrite(self, data):
        self.w.write(data)
        await self.w.drain()

    async def aclose(self):
        self.w.close()
        await self.w.wait_closed()

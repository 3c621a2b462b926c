# The web page's HTTP/1.0 server, written for the heap: Microdot 2.7.0 cost 31 KB of
# it, this module about 6 (docs/web.md). One request per connection: the request line
# and headers (at most Web.max_head bytes in all, read Web.chunk bytes at a time), a
# body of at most Web.max_body (Web.max_upload for the config upload), all within
# Web.read_timeout_s; then the guard (session, HTTP Basic, CSRF, Origin), the one page
# module that answers the path (hushgate.page<name>, dropped by hushgate.web when
# idle), and the answer written in pieces within Web.write_timeout_s. What does not
# parse gets a 4xx; nothing a client sends makes serve() raise.
import asyncio
import json
import sys

from hushgate import auth

# " <path>:<G or P><page>": GET or POST of the path answered by hushgate.page<page>
_ROUTES = (
    " /:Gstatus /calls:Gstatus /quiet:Pchange /seen:Pchange /number:Pchange"
    " /settings:Gsettings /settings:Psave /upload:Psave /config.json:Gsave /password:Psave"
    " /setup:Glogin /setup:Plogin /login:Glogin /login:Plogin /logout:Plogin"
    " /api/status:Gapi /api/calls:Gapi /api/config:Gapi /api/config:Papi /api/quiet:Papi"
    " /api/number:Papi /api/seen:Papi /s.css:Gcss /s.js:Gcss "
)
_REASONS = (
    "|200 OK|303 See Other|400 Bad Request|401 Unauthorized|403 Forbidden|404 Not Found"
    "|405 Method Not Allowed|408 Request Timeout|413 Payload Too Large"
    "|415 Unsupported Media Type|429 Too Many Requests|431 Request Header Fields Too Large"
    "|500 Internal Server Error|503 Service Unavailable|"
)
_SECURITY = (
    "Content-Security-Policy: default-src 'none'; style-src 'self'; script-src 'self';"
    " img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
)


class Request:
    """method, path, args (query), headers (lower-case names), body, peer (as the
    socket gives it), csrf (the session's token; "" for HTTP Basic)."""

    def __init__(self, peer):
        self.peer = peer
        self.method = self.path = ""
        self.args = self.headers = {}
        self.body = b""
        self.csrf = self._form = None

    def cookie(self, name):
        for part in self.headers.get("cookie", "").split(";"):
            key, _, value = part.partition("=")
            if key.strip() == name:
                return value.strip()
        return None

    def form(self):
        """The posted fields: {name: str, or a list of str when repeated}; a multipart
        body gives {name: bytes}. ValueError/UnicodeError when it does not parse."""
        if self._form is None:
            ctype = self.headers.get("content-type", "")
            if ctype[:19] == "multipart/form-data":
                from hushgate.pagesave import multipart

                self._form = multipart(self.body, ctype)
            else:
                self._form = parse_qs(self.body)
        return self._form

    def field(self, name):
        """One posted field as str ("" when absent, the first when repeated)."""
        value = self.form().get(name) or ""
        if isinstance(value, list):
            value = value[0]
        return value.decode() if isinstance(value, bytes) else value


def parse_qs(data):
    """a=1&b=%C3%A9+x -> {"a": "1", "b": "é x"}; ValueError/UnicodeError if bad."""
    out = {}
    for pair in data.replace(b"+", b" ").split(b"&"):
        if pair:
            name, value = [unquote(x) for x in pair.split(b"=", 1) + [b""]][:2]
            old = out.get(name)
            if old is None:
                out[name] = value
            elif isinstance(old, list):
                old.append(value)
            else:
                out[name] = [old, value]
    return out


def unquote(data):
    parts = data.split(b"%")
    out = bytearray(parts[0])
    for part in parts[1:]:
        if len(part) < 2:
            raise ValueError
        out.append(int(part[:2], 16))
        out.extend(part[2:])
    return out.decode()


async def read(web, reader, writer, req):
    """The request into req; returns an error status, or 0."""
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(buf) >= web.max_head:
            return 431
        data = await reader.read(min(web.chunk, web.max_head - len(buf)))
        if not data:
            return 400
        buf += data
    rest = buf[end + 4 :]
    lines = buf[:end].split(b"\r\n")
    buf = None
    first = lines[0].split(b" ")
    if len(first) != 3 or first[2][:5] != b"HTTP/" or first[1][:1] != b"/":
        return 400
    req.method = first[0].decode()
    path, _, query = first[1].partition(b"?")
    req.path = path.decode()
    req.args = parse_qs(query)
    req.headers = headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name:
            return 400
        headers[name.strip().lower().decode()] = value.strip().decode()
    lines = None
    size = headers.get("content-length", "0")
    if not size.isdigit():
        return 400
    size = int(size)
    if size > (web.max_upload if req.path == "/upload" else web.max_body):
        return 413
    parts = [rest]
    n = len(rest)
    if n < size and headers.get("expect", "").lower() == "100-continue":
        await writer.awrite(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits 1 s for it
    while n < size:
        data = await reader.read(size - n)
        if not data:
            return 400
        parts.append(data)
        n += len(data)
    rest = b"".join(parts)
    req.body = rest[:size] if n > size else rest
    return 0


def error(status, text, api):
    if api:
        return status, None, {"error": text}
    return status, ["Content-Type: text/plain"], text


def guard(web, req, page, api):
    """None when the request may go on to its page, else the answer."""
    if page == "css":
        return None
    post = req.method == "POST"
    if post:
        origin = req.headers.get("origin")
        if origin and origin != "null" and origin.split("://")[-1] != req.headers.get("host"):
            return error(403, "cross-site request refused", api)
    path = req.path
    gate_auth = web.auth
    if not gate_auth.has_password():
        if path == "/setup":
            return None
        if api:
            return error(403, "no password set yet: open the page", api)
        return 303, ["Location: /setup"], ""
    if path in ("/login", "/setup"):
        return None
    csrf = gate_auth.csrf(req.cookie("hg"))
    basic = req.headers.get("authorization")
    if csrf is None and api and basic:
        wait = gate_auth.wait_s()
        if wait:
            return 429, None, {"error": "too many wrong passwords", "wait_s": wait}
        if not gate_auth.check_basic(basic):
            return error(401, "wrong password", api)
        if post and req.headers.get("content-type", "")[:16] != "application/json":
            return error(415, "send JSON (Content-Type: application/json)", api)
        req.csrf = ""  # Basic: no cookie was sent, so no forgery to guard against
        return None
    if csrf is None:
        return error(401, "log in first", api) if api else (303, ["Location: /login"], "")
    req.csrf = csrf
    if post:
        sent = req.headers.get("x-csrf-token")
        if sent is None and not api:
            sent = req.field("csrf")
        if not sent or not auth.consteq(sent, csrf):
            return error(403, "bad CSRF token", api)
    return None


def reason(status):
    i = _REASONS.find("|%d " % status) + 5
    return _REASONS[i : _REASONS.find("|", i)] if i > 4 else "?"


async def send(writer, res, head_only=False):
    status, headers, body = res
    out = ["HTTP/1.0 %d %s\r\n" % (status, reason(status)), _SECURITY]
    if headers:
        for h in headers:
            out.append(h + "\r\n")
    if "Cache-Control" not in out[-1]:  # pagecss puts it last
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
    if head_only or not body:
        return
    if isinstance(body, bytes):
        await writer.awrite(body)
        return
    # a generator of str: written in pieces of about 256 bytes
    parts = []
    size = 0
    for chunk in body:
        parts.append(chunk)
        size += len(chunk)
        if size >= 256:
            await writer.awrite("".join(parts).encode())
            parts = []
            size = 0
    if parts:
        await writer.awrite("".join(parts).encode())


async def handle(web, reader, writer, busy=False):
    """One connection, one request (or 503 when busy), then closed."""
    req = Request(writer.get_extra_info("peername"))
    try:
        status = 503
        if not busy:
            try:
                status = await asyncio.wait_for(read(web, reader, writer, req), web.read_timeout_s)
            except asyncio.TimeoutError:  # noqa: UP041 (MicroPython has no builtin)
                status = 408
            except (ValueError, UnicodeError):
                status = 400
        path = req.path
        api = path[:5] == "/api/"
        res = None
        if not status:
            method = "GET" if req.method == "HEAD" else req.method
            i = -1
            if method in ("GET", "POST"):
                i = _ROUTES.find(" %s:%s" % (path, method[0]))
            if i < 0:
                status = 405 if _ROUTES.find(" %s:" % path) >= 0 else 404
            else:
                i += len(path) + 3
                page = _ROUTES[i : _ROUTES.find(" ", i)]
                try:
                    res = guard(web, req, page, api)
                    if res is None:
                        name = "hushgate.page" + page
                        __import__(name)
                        res = sys.modules[name].handle(web, req)
                except (ValueError, UnicodeError):
                    status = 400
                except MemoryError:
                    res = None
                    web.unload()
                    status = 503
                except Exception:  # a bug: answered, and the server goes on
                    status = 500
        if res is None:
            res = error(status, reason(status), api)
        await asyncio.wait_for(send(writer, res, req.method == "HEAD"), web.write_timeout_s)
    except Exception:  # a client gone or too slow must not end the server
        pass
    try:
        await writer.aclose()
    except Exception:
        pass

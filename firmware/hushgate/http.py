# The web page's HTTP/1.0 server, request side, written for the heap: Microdot 2.7.0
# cost 31 KB of it (docs/web.md). One request per connection: the request line and
# headers (at most Web.max_head bytes in all, read Web.chunk bytes at a time), a body
# of at most Web.max_body (Web.max_upload for the config upload), all within
# Web.read_timeout_s; then the guard (session, HTTP Basic, CSRF, Origin) and the route.
# hushgate.web drops this module before the page is loaded, so the parser and the
# page never share the heap; the answer is hushgate.pagesend's. What does not parse
# gets a 4xx; nothing a client sends makes handle() raise.
import asyncio

from hushgate import auth

# " <path>:<G or P><page>": GET or POST of the path answered by hushgate.page<page>
_ROUTES = (
    " /:Gstatus /calls:Gstatus /quiet:Pchange /seen:Pchange /number:Pchange"
    " /settings:Gsettings /settings:Psave /upload:Pbackup /config.json:Gbackup /password:Plogin"
    " /setup:Glogin /setup:Plogin /login:Glogin /login:Plogin /logout:Plogin"
    " /api/status:Gapi /api/calls:Gapi /api/config:Gapi /api/config:Papi /api/quiet:Papi"
    " /api/number:Papi /api/seen:Papi /s.css:Gcss /s.js:Gcss "
)


class Request:
    """What a page gets: method, path, args (the query), headers (lower-case names),
    cookies, body, form (the posted fields as str), peer (as the socket gives it),
    csrf (the session's token; "" for HTTP Basic). Only data: a method would keep
    this module, which hushgate.web drops before the page, alive through it."""

    method = path = ""
    args = headers = cookies = form = {}  # replaced, never changed
    body = b""
    peer = csrf = None


def parse_qs(data):
    """a=1&b=%C3%A9+x -> {"a": "1", "b": "é x"} (a repeated name: its first value);
    ValueError/UnicodeError if bad."""
    out = {}
    for pair in data.replace(b"+", b" ").split(b"&"):
        if pair:
            value = []
            for part in pair.split(b"=", 1):  # unquoted
                pieces = part.split(b"%")
                part = bytearray(pieces[0])
                for piece in pieces[1:]:
                    if len(piece) < 2:
                        raise ValueError
                    part.append(int(piece[:2], 16))
                    part.extend(piece[2:])
                value.append(part.decode())
            if value[0] not in out:
                out[value[0]] = value[1] if len(value) > 1 else ""
    return out


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
    req.cookies = cookies = {}
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in cookies:
            cookies[name] = value.strip()
    ctype = headers.get("content-type", "")
    if ctype[:19] == "multipart/form-data":  # the config upload
        from hushgate.pagebackup import multipart

        req.form = form = multipart(req.body, ctype)
        for name in form:
            form[name] = form[name].decode()
    elif req.path[:5] != "/api/":  # the API's bodies are JSON, for its page
        req.form = parse_qs(req.body)
    return 0


def guard(web, req, api):
    """None when the request may go on to its page, else the answer: (status, text)
    for an error, (status, headers, body) otherwise."""
    post = req.method == "POST"
    if post:
        origin = req.headers.get("origin")
        if origin and origin != "null" and origin.split("://")[-1] != req.headers.get("host"):
            return 403, "cross-site request refused"
    path = req.path
    gate_auth = web.auth
    if not gate_auth.has_password():
        if path == "/setup":
            return None
        if api:
            return 403, "no password set yet: open the page"
        return 303, ["Location: /setup"], ""
    if path in ("/login", "/setup"):
        return None
    csrf = gate_auth.csrf(req.cookies.get("hg"))
    basic = req.headers.get("authorization")
    if csrf is None and api and basic:
        wait = gate_auth.wait_s()
        if wait:
            return 429, None, {"error": "too many wrong passwords", "wait_s": wait}
        if not gate_auth.check_basic(basic):
            return 401, "wrong password"
        if post and req.headers.get("content-type", "")[:16] != "application/json":
            return 415, "send JSON (Content-Type: application/json)"
        req.csrf = ""  # Basic: no cookie was sent, so no forgery to guard against
        return None
    if csrf is None:
        return (401, "log in first") if api else (303, ["Location: /login"], "")
    req.csrf = csrf
    if post:
        sent = req.headers.get("x-csrf-token")
        if sent is None and not api:
            sent = req.form.get("csrf")
        if not sent or not auth.consteq(sent, csrf):
            return 403, "bad CSRF token"
    return None


async def handle(web, reader, writer, busy=False):
    """Reads one request (or none when busy) -> (Request, what answers it): the page
    module's name, an error status, or an answer (see guard)."""
    req = Request()
    req.peer = writer.get_extra_info("peername")
    if busy:
        return req, 503
    try:
        status = await asyncio.wait_for(read(web, reader, writer, req), web.read_timeout_s)
        if status:
            return req, status
        path = req.path
        method = "GET" if req.method == "HEAD" else req.method
        i = -1
        if method in ("GET", "POST"):
            i = _ROUTES.find(" %s:%s" % (path, method[0]))
        if i < 0:
            return req, 405 if _ROUTES.find(" %s:" % path) >= 0 else 404
        i += len(path) + 3
        page = _ROUTES[i : _ROUTES.find(" ", i)]
        if page != "css":
            res = guard(web, req, path[:5] == "/api/")
            if res is not None:
                return req, res
        return req, "hushgate.page" + page
    except asyncio.TimeoutError:  # noqa: UP041 (MicroPython has no builtin)
        return req, 408
    except (ValueError, UnicodeError):
        return req, 400
    except MemoryError:
        return req, 503
    except Exception:  # a client gone: answered if it can be, the server goes on
        return req, 400

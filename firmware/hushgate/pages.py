# What every answer shares: the request as the pages see it, writing the answer (in
# pieces), escaping, the page frame, a short message. hushgate.http reads and checks
# the request and is dropped; then answer() imports the one page module the path
# needs, which stays until hushgate.web drops the pages when idle: pagestatus
# (status, calls), pagechange (their buttons), pagesettings (the form), pagesave
# (saving it, backup, password change), pagelogin (set the password, log in and out),
# pageapi (JSON), pagecss (style sheet, script); pagemode holds the gate's mode in
# words for the status page and the API. Everything that is not a literal goes
# through esc(): caller names and numbers come from the internet.
import asyncio
import json
import sys

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
    socket gives it), csrf (the session's token; "" for HTTP Basic). Filled by
    hushgate.http; the defaults are class attributes (no __init__ to keep)."""

    method = path = ""
    args = headers = {}  # replaced, never changed
    body = b""
    peer = csrf = _form = None

    def cookie(self, name):
        for part in self.headers.get("cookie", "").split(";"):
            key, _, value = part.partition("=")
            if key.strip() == name:
                return value.strip()
        return None

    def form(self):
        """The posted fields: {name: str, or a list of str when repeated} (decoded by
        hushgate.http); a multipart body gives {name: bytes}. ValueError when it does
        not parse."""
        if self._form is None:
            from hushgate.pagesave import multipart

            self._form = multipart(self.body, self.headers.get("content-type", ""))
        return self._form

    def field(self, name):
        """One posted field as str ("" when absent, the first when repeated)."""
        value = self.form().get(name) or ""
        if isinstance(value, list):
            value = value[0]
        return value.decode() if isinstance(value, bytes) else value


def reason(status):
    i = _REASONS.find("|%d " % status) + 5
    return _REASONS[i : _REASONS.find("|", i)] if i > 4 else "?"


async def answer(web, req, res, writer):
    """Answers the request hushgate.http has read: res is the page module's name, an
    error status, (status, error text) or (status, headers, body). Never raises."""
    try:
        if isinstance(res, str):
            try:
                __import__(res)
                res = sys.modules[res].handle(web, req)
            except (ValueError, UnicodeError):
                res = 400
            except MemoryError:
                web.unload()
                res = 503
            except Exception:  # a bug: answered, and the server goes on
                res = 500
        if isinstance(res, int):
            res = res, reason(res)
        if len(res) == 2:
            status, text = res
            if req.path[:5] == "/api/":
                res = status, None, {"error": text}
            else:
                res = status, ["Content-Type: text/plain"], text
        await asyncio.wait_for(send(writer, res, req.method == "HEAD"), web.write_timeout_s)
    except Exception:  # a client gone or too slow must not end the server
        pass
    try:
        await writer.aclose()
    except Exception:
        pass


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


HTML = "Content-Type: text/html; charset=UTF-8"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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


def html(gen, status=200, headers=None):
    h = [HTML]
    if headers:
        h.extend(headers)
    return status, h, gen


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

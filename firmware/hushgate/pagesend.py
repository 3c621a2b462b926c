# Writing the answer to a request hushgate.http has read and checked: the page
# module the path needs is imported here (hushgate.page<name>, kept until
# hushgate.web drops the pages when idle), its answer written in pieces of about
# 256 bytes (pages are generators of small strings, never one big string) within
# Web.write_timeout_s, with the security headers every answer carries. Only this
# and the page are loaded while a page runs: not the request's parser, not the
# HTML frame (hushgate.pages) unless the page draws HTML.
import asyncio
import json
import sys

_REASONS = (
    "|200 OK|303 See Other|400 Bad Request|401 Unauthorized|403 Forbidden|404 Not Found"
    "|405 Method Not Allowed|408 Request Timeout|413 Payload Too Large"
    "|415 Unsupported Media Type|429 Too Many Requests|431 Request Header Fields Too Large"
    "|500 Internal Server Error|503 Service Unavailable|"
)
_NO_ROOM = "Hushgate had too little memory free for this page just now. Try again in a moment."
_SECURITY = (
    "Content-Security-Policy: default-src 'none'; style-src 'self'; script-src 'self';"
    " img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
)


def reason(status):
    i = _REASONS.find("|%d " % status) + 5
    return _REASONS[i : _REASONS.find("|", i)] if i > 4 else "?"


async def answer(web, req, res, writer):
    """Answers the request hushgate.http has read: res is the page module's name, an
    error status, (status, error text) or (status, headers, body). Never raises."""
    try:
        if isinstance(res, str):
            res = _page(web, req, res, 1)
        if isinstance(res, int):
            res = res, reason(res)
        if len(res) == 2:
            status, text = res
            if req.path[:5] == "/api/":
                res = _json(status, None, {"error": text})
            else:
                res = status, ["Content-Type: text/plain"], text
        await asyncio.wait_for(send(writer, res, req.method == "HEAD"), web.write_timeout_s)
    except Exception:  # a client gone or too slow must not end the server
        pass
    try:
        await writer.aclose()
    except Exception:
        pass


def _page(web, req, name, retries):
    # The page module's answer. Out of heap, the pages kept loaded from earlier
    # requests (Web.keep_loaded_s) are dropped and it is tried once more: on a board,
    # the settings page does not fit beside the status page's code. The heap may
    # also be in pieces (small objects the SIP side keeps a while, such as a call's
    # entries, scattered through it): the receive path's spare block, if the app
    # lends it, is one piece of 4 KB for the second try.
    try:
        __import__(name)
        res = sys.modules[name].handle(web, req)
        if isinstance(res, tuple) and len(res) == 3 and isinstance(res[2], (dict, list)):
            res = _json(*res)  # made here, where running out of heap is tried again
        return res
    except (ValueError, UnicodeError):
        return 400
    except MemoryError:
        web.unload()
        if not retries:
            return 503, _NO_ROOM
        free_spare = getattr(web.ctx, "free_spare", None)
        if free_spare is not None:
            free_spare()
        return _page(web, req, name, retries - 1)
    except Exception:  # a bug: answered, and the server goes on
        return 500


def _json(status, headers, obj):
    # An answer whose body is obj as JSON (bytes: its length is known).
    return status, (headers or []) + ["Content-Type: application/json"], json.dumps(obj).encode()


async def send(writer, res, head_only=False):
    status, headers, body = res
    out = ["HTTP/1.0 %d %s\r\n" % (status, reason(status)), _SECURITY]
    if headers:
        for h in headers:
            out.append(h + "\r\n")
    if "Cache-Control" not in out[-1]:  # pagecss puts it last
        out.append("Cache-Control: no-store\r\n")
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


async def unload_when_idle(web):
    """Drops the server's pages once no request came for web.keep_loaded_s (started
    by hushgate.web after a request; here, since it runs only while they are loaded)."""
    try:
        while web.loaded():
            idle = web._idle
            await asyncio.sleep(web.keep_loaded_s)
            if not web.active and idle == web._idle:
                web.unload()
    finally:
        web._unloading = False

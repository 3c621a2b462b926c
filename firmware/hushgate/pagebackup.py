# The config's backup: GET /config.json (the download) and POST /upload (a config
# file sent back, validated like the settings form; nothing loaded on error), and
# the multipart/form-data parser the upload needs (hushgate.http calls it).
import json

from hushgate import config as _config


def handle(web, req):
    if req.path == "/config.json":
        return download(req, web)
    return upload(req, web)


def settings_view(*args, **kwargs):
    """The settings page again (imported only when needed: after validating)."""
    from hushgate.pagesettings import settings_view

    return settings_view(*args, **kwargs)


def upload(req, web):
    ctx = web.ctx
    raw = req.form.get("file") or ""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError
    except ValueError:
        text = "Not a config file (JSON)."
        return settings_view(req, web, ctx.config, [], 400, upload_error=text)
    new, errors = _config.validate(_config.migrate(data), ctx.config)
    _config.release()
    if errors:
        text = "Nothing was loaded: " + "; ".join(errors)
        return settings_view(req, web, ctx.config, [], 400, upload_error=text)
    from hushgate.pagechange import apply

    problem = apply(ctx, new)
    if problem:
        return settings_view(req, web, ctx.config, [], 500, upload_error=problem)
    return 303, ["Location: /settings?n=Config+loaded."], ""


def download(req, web):
    headers = [
        "Content-Type: application/json",
        'Content-Disposition: attachment; filename="hushgate-config.json"',
    ]
    return 200, headers, _config.pieces(web.ctx.config)


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

# What the settings page posts: the form (validated with the config file's own
# validation, hushgate.configfile, loaded by hushgate.config on first use and
# dropped with the page; nothing saved on error), the config upload, the password
# change; and the config download.
import json

from hushgate import config as _config
from hushgate.pagefields import settings_fields

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # as hushgate.pages (not loaded)


def apply(ctx, new):
    """hushgate.pagechange.apply, imported once the config has passed validation."""
    from hushgate.pagechange import apply

    return apply(ctx, new)


def settings_view(*args, **kwargs):
    """The settings page again (imported only when needed: after validating)."""
    from hushgate.pagesettings import settings_view

    return settings_view(*args, **kwargs)


def handle(web, req):
    path = req.path
    if path == "/settings":
        return save_settings(req, web)
    if path == "/config.json":
        return download(req, web)
    if path == "/upload":
        return upload(req, web)
    return password(req, web)


def save_settings(req, web):
    ctx = web.ctx
    fields = settings_fields(ctx.config)
    data, errors = config_from_form(req, ctx.config, fields, web.max_windows)
    new, more = _config.validate(data, ctx.config)
    _config.release()  # the validation code goes before the page is drawn again
    errors = errors + list(more)
    if not errors:
        problem = apply(ctx, new)
        if problem is None:
            return 303, ["Location: /settings?n=Saved."], ""
        errors = [problem]
    return settings_view(req, web, data, errors, 400)


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
    problem = apply(ctx, new)
    if problem:
        return settings_view(req, web, ctx.config, [], 500, upload_error=problem)
    return 303, ["Location: /settings?n=Config+loaded."], ""


def download(req, web):
    headers = [
        "Content-Type: application/json",
        'Content-Disposition: attachment; filename="hushgate-config.json"',
    ]
    return 200, headers, _config.dumps(web.ctx.config)


def password(req, web):
    gate_auth = web.auth
    new = req.form.get("password", "")
    if gate_auth.wait_s():
        error = "Too many wrong passwords: wait %d s." % gate_auth.wait_s()
    elif not gate_auth.check_password(req.form.get("old", "")):
        error = "The current password is wrong."
    elif new != req.form.get("confirm", ""):
        error = "The two new passwords differ."
    else:
        error = gate_auth.password_problem(new)
    if error:
        return settings_view(req, web, web.ctx.config, ["password: " + error], 400)
    gate_auth.set_password(new)
    from hushgate.pagelogin import logged_in

    return logged_in(web)


def lines(text):
    out = []
    for line in text.split("\n"):
        line = line.strip()
        if line:
            out.append(line)
    return out


def config_from_form(req, config, fields, max_windows):
    """The form's fields as a config dict (what was typed is kept even when it is
    wrong, so the page can show it again) and the errors found converting it."""
    data = dict(config)
    errors = []
    for key, _label, kind, _help in fields:
        raw = req.form.get(key, "").strip()
        if kind == "bool":
            data[key] = key in req.form
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
            data[key] = req.form.get(key, "")  # spaces may be part of it
        elif kind == "tz":
            data[key] = req.form.get("tzpick", "").strip() or raw
        elif kind == "windows":
            data[key] = windows_from_form(req, config.get(key), max_windows)
        elif kind == "json":
            try:
                data[key] = json.loads(raw)
            except ValueError:
                data[key] = raw
                errors.append("%s: not valid JSON" % key)
        else:
            data[key] = raw
    return data, errors


def windows_from_form(req, current, max_rows):
    """The quiet windows from the day pickers; windows the form had no rows for
    (more than max_rows) are kept as they were."""
    try:
        rows = min(int(req.form.get("qn", "")), max_rows)
    except ValueError:
        rows = 0
    windows = []
    form = req.form
    for i in range(rows):
        key = "q%d" % i
        chosen = set()
        for d in range(7):
            if key + DAYS[d] in form:  # a ticked day's box: q0Mon
                chosen.add(d)
        start = req.form.get(key + "s", "").strip()
        end = req.form.get(key + "e", "").strip()
        if not (chosen or start or end):
            continue
        windows.append({"days": day_text(chosen), "start": start, "end": end})
    if isinstance(current, list):
        windows.extend(current[rows:])
    return windows


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

# What the settings page's form posts: the form read back into a config (validated
# with the config file's own validation, hushgate.configfile, loaded by
# hushgate.config on first use and released before the page is drawn again; nothing
# saved on error). The config's download and upload are hushgate.pagebackup's, the
# password change hushgate.pagelogin's: this module is loaded next to the
# validation code, so it holds nothing else.
import json

from hushgate import config as _config
from hushgate.pagefields import settings_fields

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # as hushgate.pages (not loaded)


def handle(web, req):
    ctx = web.ctx
    fields = settings_fields(ctx.config)
    data, errors = config_from_form(req, ctx.config, fields, web.max_windows)
    new, more = _config.validate(data, ctx.config)
    _config.release()  # the validation code goes before the page is drawn again
    errors = errors + list(more)
    if not errors:
        from hushgate.pagechange import apply

        problem = apply(ctx, new)
        if problem is None:
            return 303, ["Location: /settings?n=Saved."], ""
        errors = [problem]
    from hushgate.pagesettings import settings_view

    web.unload("hushgate.pagesave")  # not needed to draw the form again: room for it
    return settings_view(req, web, data, errors, 400)


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
            # Empty keeps the saved one (the page never shows it); spaces may be part of it.
            typed = req.form.get(key, "")
            if typed:
                data[key] = typed
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

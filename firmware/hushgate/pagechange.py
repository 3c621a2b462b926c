# What the status page's buttons post: quiet mode, "I have looked", block or always
# let ring a caller from the log; and saving a changed config, which the settings
# page and the API share (the API draws no HTML: hushgate.pages is imported only for
# the error page).

QUIET_MODES = {"off": 0, "on": 1, "morning": 2}  # gate's QUIET_OFF/ON/UNTIL_MORNING


def handle(web, req):
    path = req.path
    ctx = web.ctx
    if path == "/quiet":
        mode = req.form.get("mode", "")
        if mode not in QUIET_MODES:
            return 400, None, "Unknown quiet mode"
        ctx.gate.set_quiet(QUIET_MODES[mode], ctx.clock.utc())
    elif path == "/seen":
        ctx.log.acknowledge()
    else:
        return number(ctx, req)
    return 303, ["Location: /"], ""


def number(ctx, req):
    block = "block" in req.form
    try:
        entry = ctx.log.find(int(req.form.get("block" if block else "allow", "")))
    except ValueError:
        entry = None
    if entry is None:
        error = "That call is no longer in the log."
    else:
        error = change_number(ctx, entry["number"], block)
    if error:
        from hushgate.pagelogin import plain_page
        from hushgate.pages import html

        return html(plain_page("Not changed", error), 400)
    who = entry["number"] or "Callers without a number"
    done = "are blocked" if block and not entry["number"] else "is blocked"
    if not block:
        done = "may ring" if not entry["number"] else "will always ring"
    return 303, ["Location: /?n=" + quote("%s %s." % (who, done))], ""


def quote(text):
    out = []
    for c in text:
        if c.isalpha() or c.isdigit() or c in "-_.*":
            out.append(c)
        else:
            for b in c.encode():
                out.append("%%%02X" % b)
    return "".join(out)


def change_number(ctx, num, block):
    """Block or allow one number ("" = callers without one); an error text or None."""
    from hushgate import config

    try:
        if block:
            new = config.block_number(ctx.config, num)
        else:
            new = config.allow_number(ctx.config, num)
    except ValueError as e:
        return str(e)
    new, errors = config.validate(new, ctx.config)
    config.release()
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

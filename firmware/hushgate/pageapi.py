# The JSON API under /api/ (docs/web.md): status, the call log, the config (read
# and write, validated), quiet mode, block/allow a number, "I have looked".
# hushgate.http has checked the session's CSRF header or HTTP Basic already. What a
# request needs of pagemode (the state in words) and pagechange (saving) is imported
# for it alone: a change then has room for the validation code.
import json

from hushgate import config as _config

QUIET_MODES = {"off": 0, "on": 1, "morning": 2}  # gate's QUIET_OFF/ON/UNTIL_MORNING


def handle(web, req):
    ctx = web.ctx
    path = req.path
    if req.method != "POST":
        if path == "/api/status":
            return 200, None, status_json(ctx)
        if path == "/api/calls":
            return 200, ["Content-Type: application/json"], calls_json(ctx.log)
        return 200, None, ctx.config
    try:
        data = json.loads(req.body or "null")
    except ValueError:
        data = None
    if path == "/api/seen":
        ctx.log.acknowledge()
        return 200, None, {"unseen": ctx.log.unseen}
    if not isinstance(data, dict):
        return error("send a JSON object", 400)
    if path == "/api/config":
        new, errors = _config.validate(data, ctx.config)
        _config.release()
        if errors:
            return error("invalid config; nothing saved", 400, errors)
        from hushgate.pagechange import apply

        problem = apply(ctx, new)
        return error(problem, 500) if problem else (200, None, ctx.config)
    if path == "/api/quiet":
        mode = data.get("mode")
        if mode not in QUIET_MODES:
            return error('mode must be "on", "off" or "morning"', 400)
        ctx.gate.set_quiet(QUIET_MODES[mode], ctx.clock.utc())
        return 200, None, status_json(ctx)
    num = data.get("number")
    if not isinstance(num, str) or data.get("list") not in ("block", "vip"):
        return error('send {"number": "...", "list": "block" or "vip"}', 400)
    from hushgate.pagechange import change_number

    problem = change_number(ctx, num.strip(), data["list"] == "block")
    if problem:
        return error(problem, 400)
    cfg = ctx.config
    lists = {"block": cfg["block"], "vip": cfg["vip"], "block_anonymous": cfg["block_anonymous"]}
    return 200, None, lists


def error(text, status, errors=None):
    body = {"error": text}
    if errors is not None:
        body["errors"] = errors
    return status, None, body


def calls_json(log):
    """{"calls": [...]}, one entry at a time."""
    from hushgate.pagemode import entries

    yield '{"calls": ['
    sep = ""
    for e in entries(log):
        yield sep + json.dumps(e)
        sep = ", "
    yield "]}"


def status_json(ctx):
    from hushgate.pagemode import is_quiet, mode_text, when

    utc = ctx.clock.utc()
    st = ctx.gate.status(utc)
    reg = getattr(ctx.proxy, "last_register", None)
    return {
        "utc": utc,
        "local": when(ctx.tz, utc) if utc is not None else None,
        "quiet": is_quiet(st),
        "mode": mode_text(st, ctx.tz),
        "gate": st,
        "uptime_s": ctx.uptime_s(),
        "mem": ctx.mem(),
        "counters": ctx.log.counters,
        "unseen": ctx.log.unseen,
        "totals": ctx.log.totals,
        "proxy": ctx.proxy.stats,
        "last_register": {"utc": reg[0], "status": reg[1]} if reg else None,
        "problems": list(getattr(ctx, "config_problems", None) or []),
    }

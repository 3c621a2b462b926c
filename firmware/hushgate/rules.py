# The household's rules in the two forms besides config.json: compiled into the
# gate's tables (configure_gate, when a config is loaded or saved) and edited from
# the call log (block_number, allow_number: the web page's and the button's "block
# this caller"). Needed for a moment each time, so config.release() drops this
# module with hushgate.configfile, whose parsers it uses.
from hushgate.config import network
from hushgate.configfile import copy, parse_days, parse_pattern, parse_time


def configure_gate(gate, config):
    """hushgate.gate.Gate.configure()'s work: a validated config compiled into the
    gate's tables (time zone, block and VIP patterns, scanner User-Agents as
    (lowercase bytes, name), trusted (net, mask) pairs, quiet intervals in minutes
    of the local week), the limiter's and the call log's bounds.
    """
    from hushgate.tz import TZ

    problem = ""
    try:
        tz = TZ(config["timezone"])
    except ValueError as e:
        tz = TZ("UTC0")
        problem = str(e)
    intl = config["international_prefix"]
    lists = []
    for key in ("block", "vip"):
        out = []
        for p in config[key]:
            parsed = parse_pattern(p, intl)
            if parsed is not None:
                out.append(parsed)
        lists.append(out)
    uas = []
    for ua in config["scanner_user_agents"]:
        ua = ua.strip()
        if ua:  # an empty prefix would match every User-Agent
            uas.append((ua.lower().encode(), ua))
    trusted = []
    for item in config["trusted"]:
        net = network(item)
        if net is not None:
            trusted.append(net)
    # Each quiet window becomes intervals in minutes of the local week (Monday
    # 00:00 = 0); an interval may run past the week's end, and membership tests
    # w and w + one week.
    intervals = []
    for item in config["quiet_hours"]:
        mask = parse_days(item["days"])
        start = parse_time(item["start"])
        end = parse_time(item["end"], True)
        if mask is None or start is None or end is None:
            continue
        length = end - start
        if length <= 0:
            length += 1440
        for day in range(7):
            if mask & (1 << day):
                s = day * 1440 + start
                intervals.append((s, s + length))
    gate.tz, gate.problem, gate._block, gate._vip = tz, problem, lists[0], lists[1]
    gate._uas, gate._trusted, gate._intervals = uas, trusted, intervals
    gate._intl = intl
    gate._repeat_ms = config["repeat_call_minutes"] * 60000
    gate.limiter.configure(
        config["sources_tracked"],
        config["rate_burst"],
        config["rate_per_second"],
        config["ban_minutes"] * 60000,
    )
    gate.limiter.trusted = trusted
    resize = getattr(gate.calllog, "resize", None)
    if resize is not None:
        resize(config["call_log_size"])
    gate.config = config  # last: the config is in use once everything above is built


def number_matches(number, pattern, international_prefix):
    """True when the caller's number matches one pattern string."""
    parsed = parse_pattern(pattern, international_prefix)
    if parsed is None or not number:
        return False
    # The caller's number as parse_pattern writes patterns (it may hold more than digits).
    canon = ""
    for ch in number:
        if ch not in " -.()/\t":
            canon += ch
    if canon[:1] == "+":
        canon = international_prefix + canon[1:]
    if parsed[1]:
        return canon[: len(parsed[0])] == parsed[0]
    return canon == parsed[0]


def _edit(config, number, add_to, remove_from):
    # block_number and allow_number: the number leaves one list (its exact entries:
    # prefixes stay, they name more people) and joins the other unless a pattern
    # there already catches it. Returns the new config and a pattern left in
    # remove_from that still catches the number (a prefix), or None.
    new = copy(config)
    intl = new["international_prefix"]
    kept = []
    still = None
    for p in new[remove_from]:
        if number_matches(number, p, intl):
            if not parse_pattern(p, intl)[1]:
                continue
            still = still or p
        kept.append(p)
    new[remove_from] = kept
    for p in new[add_to]:
        if number_matches(number, p, intl):
            return new, still
    new[add_to].append(number)
    return new, still


def block_number(config, number):
    """A new config in which this caller never rings (number "" = anonymous callers)."""
    if not number:
        new = copy(config)
        new["block_anonymous"] = True
        return new
    return _edit(config, number, "block", "vip")[0]


def allow_number(config, number):
    """A new config in which this caller rings even while quiet.

    Raises ValueError when a prefix in the block list still catches the number.
    """
    if not number:
        new = copy(config)
        new["block_anonymous"] = False
        return new
    new, still = _edit(config, number, "vip", "block")
    if still is not None:
        raise ValueError("%s is still blocked by the pattern %s" % (number, still))
    return new

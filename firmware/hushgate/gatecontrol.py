# The gate's controls, apart from its calls: setting a Gate up, a new config, the
# button's quiet modes with when "quiet until morning" ends, and status() for the
# web page and the LED.
#
# None of it runs per call, so hushgate.gate.Gate's methods import it for the call
# and each function here first drops the module again (from sys.modules and the
# package; a call under way keeps what it uses): it costs heap only meanwhile.
import sys

from hushgate.compat import const, forget, presized

# hushgate.gate's QUIET_OFF, QUIET_ON, QUIET_UNTIL_MORNING.
_OFF = const(0)
_ON = const(1)
_UNTIL_MORNING = const(2)

_WEEK = const(10080)  # minutes
_DAY = const(1440)
_MORNING = const(420)  # 07:00: the end of "quiet until morning" without a schedule


def start(gate, config, calllog, clock):
    """Gate.__init__'s work."""
    forget("gatecontrol")
    from hushgate.limiter import Limiter

    gate.calllog = calllog
    gate.clock = clock
    gate.limiter = Limiter(config["sources_tracked"])
    # The pre-filter, before parsing: rate limit and bans (allocates nothing when it
    # says no). The limiter's own method: one call less per datagram.
    gate.admit = gate.limiter.admit
    gate.quiet_mode = _OFF
    gate._quiet_until = None  # utc at which QUIET_UNTIL_MORNING ends, once known
    gate._quiet_from = None  # utc it was switched on, if the clock was known
    gate._dns = []
    gate._learned = []
    gate._provider = {}
    gate._repeat = presized(gate.repeat_size)  # canonical number -> ticks of its last call
    gate.last_unknown_source = None  # for the web page: who knocked last
    gate._last_scan_logged = None  # the address of the last scanner call logged
    # A stranger's INVITE kept by refuse_stranger() until log_scan() logs it: the
    # datagram, its source address and when it came.
    gate._scan = gate._scan_ip = gate._scan_utc = None
    configure(gate, config)


def configure(gate, config):
    """Gate.configure()'s work: a new validated config."""
    forget("gatecontrol")
    # The tables are compiled by rules.configure_gate (through configfile), with the
    # validation code: loaded for the moment and released again unless it was
    # loaded already.
    loaded = "hushgate.configfile" in sys.modules
    from hushgate.configfile import configure_gate

    try:
        configure_gate(gate, config)
    finally:
        if not loaded:
            from hushgate.config import release

            release()
    set_provider_addresses(gate, None)
    gate._minute_start = None  # zone or schedule changed: the minute's answer too
    # The schedule may have moved "morning": count again from the press.
    gate._quiet_until = None
    if gate.quiet_mode == _UNTIL_MORNING and gate._quiet_from is not None:
        gate._quiet_until = morning(gate, gate._quiet_from)


def set_provider_addresses(gate, ips):
    """Gate.set_provider_addresses()'s work: the addresses of the latest DNS answer
    (None: the same answer, after the learned addresses changed), and the learned."""
    forget("gatecontrol")
    if ips is not None:
        gate._dns = list(ips)[: gate.dns_size]
    provider = {}
    for ip in gate._dns + gate._learned:
        provider[ip] = True
    gate._provider = provider
    gate.limiter.exempt(provider)


def provider_seen(gate, ip):
    """Gate.provider_seen()'s work for an address that was not the last learned."""
    forget("gatecontrol")
    learned = gate._learned
    if ip in learned:
        learned.remove(ip)
    learned.append(ip)
    if len(learned) > gate.learned_size:
        learned.pop(0)
    set_provider_addresses(gate, None)


def _window_end(gate, w):
    # Where quiet that covers w ends, following windows that touch; None if w is not
    # quiet or quiet never ends (all week).
    end = gate._covering(w)
    limit = w + _WEEK
    while end is not None and end < limit:
        more = gate._covering(end)
        if more is None:
            return end
        end = more
    return None


def morning(gate, utc):
    """The end of the quiet window covering utc, else of the next one, or the next
    07:00 without a schedule (or when quiet never ends)."""
    forget("gatecontrol")
    intervals = gate._intervals
    lt = gate.tz.localtime(utc)
    minute = lt[3] * 60 + lt[4]
    w = lt[6] * _DAY + minute
    target = None
    if intervals:
        start = w
        if gate._covering(w) is None:
            ahead = _WEEK
            for s, _e in intervals:
                if (s - w) % _WEEK < ahead:
                    ahead = (s - w) % _WEEK
            start = w + ahead
        target = _window_end(gate, start)
    if target is None:
        target = w - minute + _MORNING
        if minute >= _MORNING:
            target += _DAY
    # The week minute back to utc, counted from the local day of utc.
    return gate.tz.to_utc(lt[0], lt[1], lt[2], 0, minute + target - w)


def set_quiet(gate, mode, utc):
    """Gate.set_quiet()'s work."""
    forget("gatecontrol")
    if mode not in (_OFF, _ON, _UNTIL_MORNING):
        raise ValueError("quiet mode %r" % (mode,))
    if utc is None:
        utc = gate.clock.utc()
    gate.quiet_mode = mode
    gate._quiet_from = utc
    gate._quiet_until = None
    if mode == _UNTIL_MORNING and utc is not None:
        gate._quiet_until = morning(gate, utc)


def status(gate, utc):
    """Gate.status()'s work: what the web page and the LED show."""
    forget("gatecontrol")
    if utc is None:
        utc = gate.clock.utc()
    # quiet_now() speaks as the call log does; the page and the LED know these names.
    name = ("quiet-button", "quiet-until-morning", "quiet-schedule", "ringing")[
        ("quiet (button)", "quiet until morning", "quiet hours", "ringing").index(
            gate.quiet_now(utc)
        )
    ]
    until = None
    if name == "quiet-until-morning" and gate._quiet_until is not None:
        lt = gate.tz.localtime(gate._quiet_until)
        until = "%02d:%02d" % (lt[3], lt[4])
    elif name == "quiet-schedule":
        lt = gate.tz.localtime(utc)
        end = _window_end(gate, lt[6] * _DAY + lt[3] * 60 + lt[4])
        if end is not None:
            end %= _DAY
            until = "%02d:%02d" % (end // 60, end % 60)
    log = gate.calllog
    return {
        "mode": name,
        "quiet": name != "ringing",
        "until": until,
        "quiet_mode": gate.quiet_mode,
        "clock_known": utc is not None,
        "schedule_applies": utc is not None or not gate._intervals,
        "counters": dict(log.counters),
        "unseen": log.unseen_silenced(),
        "refused": gate.limiter.refused,
        "bans": gate.limiter.bans,
        "provider_addresses": list(gate._provider),
        "last_unknown_source": gate.last_unknown_source,
        "problem": gate.problem,
    }

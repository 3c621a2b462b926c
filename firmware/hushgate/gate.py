# Who may ring, and when: the policy in front of the stateless proxy.
#
# decide() follows DESIGN.md's order: source, in-dialog, scanner fingerprints,
# block list, VIPs, anonymous callers, quiet (schedule or button) with the
# repeat-call bypass, forward. Pure: the clock object and now_ms come from the
# caller, so tests drive time; nothing here touches the network.
from binascii import unhexlify

from hushgate import config as _config
from hushgate import sip
from hushgate.compat import const, ticks_diff
from hushgate.limiter import Limiter
from hushgate.tz import TZ

FORWARD = const(0)
ANSWER = const(1)
DROP = const(2)

QUIET_OFF = const(0)
QUIET_ON = const(1)
QUIET_UNTIL_MORNING = const(2)

_WEEK = const(10080)  # minutes
_DAY = const(1440)
_MORNING = const(420)  # 07:00: the end of "quiet until morning" without a schedule

# Requests that belong to a dialog or an INVITE transaction even without a To tag.
_DIALOG_METHODS = (b"ACK", b"CANCEL", b"BYE", b"PRACK", b"UPDATE")
# Requests a phone never receives: from the provider too they are dropped.
_NOT_FOR_PHONE = (b"REGISTER", b"SUBSCRIBE", b"PUBLISH")
# SDP session lines of scanning tools (SIPVicious's svwar writes "s=svwar").
_SDP_SCANNERS = (b"\ns=svwar\r", b"\ns=sipvicious\r", b"\ns=friendly-scanner\r")
_DISPLAY_SCANNERS = ("sipvicious", "friendly-scanner")


class Verdict:
    """What to do with a request: action FORWARD/ANSWER/DROP, code for ANSWER,
    reason (short, for people), kind (what the call log counts it as)."""

    def __init__(self, action, code=0, reason="", kind=None):
        self.action = action
        self.code = code
        self.reason = reason
        self.kind = kind

    def __repr__(self):
        return "Verdict(%s, %d, %r)" % (
            ("FORWARD", "ANSWER", "DROP")[self.action],
            self.code,
            self.reason,
        )


# Verdicts given per datagram are made once: no garbage under a flood.
_UNKNOWN_SOURCE = Verdict(DROP, 0, "not from the provider", "source")
_NOT_IN_DIALOG = Verdict(DROP, 0, "not in a known dialog", "dialog")
_IN_DIALOG = Verdict(FORWARD, 0, "in dialog", "dialog")
_NOT_FOR_PHONE_V = Verdict(DROP, 0, "not for the phone", "other")
_FROM_PROVIDER = Verdict(FORWARD, 0, "from the provider", "other")


def _answer(setting, reason, kind):
    if setting == "drop":
        return Verdict(DROP, 0, reason, kind)
    return Verdict(ANSWER, setting, reason, kind)


def _vicious_tag(tag):
    # SIPVicious's tags are hex of "<printable text>\x01<decimal random number>".
    if len(tag) < 14 or len(tag) > 256:
        return False
    try:
        raw = unhexlify(tag)
    except ValueError:
        return False
    split = raw.find(b"\x01")
    if split < 1 or len(raw) - split < 6 or not raw[split + 1 :].isdigit():
        return False
    for c in raw[:split]:
        if c < 0x20 or c > 0x7E:
            return False
    return True


def _hhmm(minutes):
    minutes %= _DAY
    return "%02d:%02d" % (minutes // 60, minutes % 60)


class Gate:
    repeat_size = 16  # callers remembered for the repeat-call bypass
    learned_size = 4  # provider addresses learned from REGISTER answers
    dns_size = 8  # provider addresses taken from one DNS answer

    def __init__(self, config, calllog, clock):
        self.calllog = calllog
        self.clock = clock
        self.limiter = Limiter(config["sources_tracked"])
        self.quiet_mode = QUIET_OFF
        self._quiet_until = None  # utc at which QUIET_UNTIL_MORNING ends, once known
        self._quiet_from = None  # utc it was switched on, if the clock was known
        self._dns = []
        self._learned = []
        self._provider = {}
        self._repeat = {}  # canonical number -> ticks of its last call
        self.last_unknown_source = None  # for the web page: who knocked last
        self.problem = ""
        self.configure(config)

    # ---- configuration ----------------------------------------------------------

    def configure(self, config):
        """Take a new validated config (from config.validate or Store.load)."""
        self.config = config
        self.problem = ""
        try:
            self.tz = TZ(config["timezone"])
        except ValueError as e:
            self.tz = TZ("UTC0")
            self.problem = str(e)
        intl = config["international_prefix"]
        self._intl = intl
        self._block = self._patterns(config["block"])
        self._vip = self._patterns(config["vip"])
        self._uas = []
        for ua in config["scanner_user_agents"]:
            ua = ua.strip()
            if ua:  # an empty prefix would match every User-Agent
                self._uas.append((ua.lower().encode(), ua))
        self._trusted = []
        for item in config["trusted"]:
            net = _config.network(item)
            if net is not None:
                self._trusted.append(net)
        self._intervals = self._compile(config["quiet_hours"])
        self._repeat_ms = config["repeat_call_minutes"] * 60000
        self.limiter.configure(
            config["sources_tracked"],
            config["rate_burst"],
            config["rate_per_second"],
            config["ban_minutes"] * 60000,
        )
        self.limiter.trusted = self._trusted
        self._refresh_exempt()
        resize = getattr(self.calllog, "resize", None)
        if resize is not None:
            resize(config["call_log_size"])
        # The schedule may have moved "morning": count again from the press.
        self._quiet_until = None
        if self.quiet_mode == QUIET_UNTIL_MORNING and self._quiet_from is not None:
            self._quiet_until = self._morning(self._quiet_from)

    def _patterns(self, items):
        out = []
        for p in items:
            parsed = _config.parse_pattern(p, self._intl)
            if parsed is not None:
                out.append(parsed)
        return out

    def _compile(self, windows):
        # Each window becomes intervals in minutes of the local week (Monday 00:00
        # = 0); an interval may run past the week's end, and membership tests w
        # and w + one week.
        out = []
        for item in windows:
            mask = _config.parse_days(item["days"])
            start = _config.parse_time(item["start"])
            end = _config.parse_time(item["end"], True)
            if mask is None or start is None or end is None:
                continue
            length = end - start
            if length <= 0:
                length += _DAY
            for day in range(7):
                if mask & (1 << day):
                    s = day * _DAY + start
                    out.append((s, s + length))
        return out

    # ---- provider addresses ---------------------------------------------------------

    def set_provider_addresses(self, ips):
        """The provider's addresses from the latest DNS answer (replaces the last)."""
        self._dns = list(ips)[: self.dns_size]
        self._refresh_exempt()

    def provider_seen(self, ip):
        """A REGISTER answer came from ip: it is the provider's, even if DNS says no more."""
        learned = self._learned
        if learned and learned[-1] == ip:
            return
        if ip in learned:
            learned.remove(ip)
        learned.append(ip)
        if len(learned) > self.learned_size:
            learned.pop(0)
        self._refresh_exempt()

    def provider_addresses(self):
        return list(self._provider)

    def _refresh_exempt(self):
        provider = {}
        for ip in self._dns:
            provider[ip] = True
        for ip in self._learned:
            provider[ip] = True
        self._provider = provider
        self.limiter.exempt(provider)

    def _from_provider(self, ip):
        if ip in self._provider:
            return True
        return bool(self._trusted) and _config.in_networks(ip, self._trusted)

    # ---- the pre-filter ---------------------------------------------------------------

    def admit(self, ip, now_ms):
        """Rate limit and bans, before parsing; allocates nothing when it says no."""
        return self.limiter.admit(ip, now_ms)

    # ---- decisions ----------------------------------------------------------------------

    def decide(self, msg, source, now_ms, in_dialog):
        """The verdict for one inbound request (never a retransmission)."""
        method = msg.method
        ip = source[0]
        # A stranger's request outside any known dialog is the common case under
        # a scan: refuse it before looking at any header.
        if not in_dialog and not self._from_provider(ip):
            self.calllog.count("unknown_source")
            self.last_unknown_source = ip
            return _UNKNOWN_SOURCE
        if method in _DIALOG_METHODS or msg.name_addr(b"to").tag:
            if in_dialog:
                return _IN_DIALOG
            self.calllog.count("not_in_dialog")
            return _NOT_IN_DIALOG
        if not self._from_provider(ip):
            # Same Call-ID as a known dialog, but a new request from a stranger.
            self.calllog.count("unknown_source")
            self.last_unknown_source = ip
            return _UNKNOWN_SOURCE
        if in_dialog:
            # A new transaction of a call already let through (the INVITE again
            # with credentials after the ATA challenged it): not a new call.
            return _IN_DIALOG
        if method != b"INVITE":
            if method in _NOT_FOR_PHONE:
                self.calllog.count("not_for_phone")
                return _NOT_FOR_PHONE_V
            scanner = self._scanner(msg)
            if scanner is not None:
                self.calllog.count("scanner_requests")
                return Verdict(DROP, 0, "scanner: " + scanner, "scanner")
            return _FROM_PROVIDER
        utc = self.clock.utc()
        number = sip.caller_number(msg)
        verdict = self._judge(msg, number, now_ms, utc)
        self.calllog.record(utc, number, self._display(msg), ip, verdict)
        return verdict

    def _display(self, msg):
        for name in (b"p-asserted-identity", b"from"):
            try:
                addr = msg.name_addr(name)
            except sip.SipError:
                addr = None
            if addr is not None and addr.display:
                return addr.display
        return ""

    def _judge(self, msg, number, now_ms, utc):
        config = self.config
        scanner = self._scanner(msg)
        if scanner is not None:
            return Verdict(DROP, 0, "scanner: " + scanner, "scanner")
        canon = number
        if number[:1] == "+":
            canon = self._intl + number[1:]  # as parse_pattern writes patterns
        if canon and self._matches(self._block, canon):
            return _answer(config["block_answer"], "blocked caller " + number, "blocked")
        if canon and self._matches(self._vip, canon):
            return Verdict(FORWARD, 0, "VIP " + number, "rang")
        if not number and config["block_anonymous"]:
            return _answer(config["block_answer"], "anonymous caller", "blocked")
        repeat = self._repeat_call(canon, now_ms)
        quiet = self._quiet_reason(utc)
        if quiet is not None:
            if repeat:
                return Verdict(FORWARD, 0, "repeat call during " + quiet, "rang")
            return _answer(config["quiet_answer"], quiet, "quiet")
        if utc is None and self._intervals:
            return Verdict(FORWARD, 0, "clock not set: quiet hours not applied", "rang")
        return Verdict(FORWARD, 0, "rang", "rang")

    def _matches(self, patterns, canon):
        for digits, prefix in patterns:
            if prefix:
                if canon[: len(digits)] == digits:
                    return True
            elif canon == digits:
                return True
        return False

    def _repeat_call(self, canon, now_ms):
        # True when this number called within repeat_call_minutes; remembers this call.
        if not canon or self._repeat_ms <= 0:
            return False
        table = self._repeat
        last = table.get(canon)
        repeat = last is not None and 0 <= ticks_diff(now_ms, last) <= self._repeat_ms
        if last is None and len(table) >= self.repeat_size:
            oldest = None
            age = -1
            for key in table:
                a = ticks_diff(now_ms, table[key])
                if a < 0:
                    a = 1 << 29
                if a > age:
                    oldest, age = key, a
            del table[oldest]
        table[canon] = now_ms
        return repeat

    def _scanner(self, msg):
        ua = msg.get(b"user-agent")
        if ua:
            low = bytes(ua).lower()
            for prefix, name in self._uas:
                if low.startswith(prefix):
                    return name
        frm = msg.name_addr(b"from")
        for addr in (frm, msg.name_addr(b"to")):
            if addr is None or not addr.display:
                continue
            display = addr.display.lower()
            for word in _DISPLAY_SCANNERS:
                if word in display:
                    return word
            if display == "john doe" and addr is frm and frm.user == b"4000":
                return "John Doe"
        if frm is not None:
            tag = frm.tag
            if tag and _vicious_tag(bytes(tag)):
                return "SIPVicious tag"
        body = msg.body
        if body:
            body = bytes(body).lower()
            for line in _SDP_SCANNERS:
                if line in body:
                    return "SDP s=" + line[3:-1].decode()
        return None

    # ---- quiet ----------------------------------------------------------------------------

    def _week_minute(self, utc):
        lt = self.tz.localtime(utc)
        return lt[6] * _DAY + lt[3] * 60 + lt[4]

    def _covering(self, w):
        # The end of the latest-ending interval covering minute w (counted from
        # some Monday 00:00, possibly weeks ahead), or None.
        base = w - w % _WEEK
        w -= base
        best = None
        for s, e in self._intervals:
            for shift in (0, _WEEK):
                if s <= w + shift < e:
                    end = e - shift
                    if best is None or end > best:
                        best = end
        return None if best is None else best + base

    def _window_end(self, w):
        # Where quiet that covers w ends, following windows that touch; None if
        # it never ends (quiet all week).
        end = self._covering(w)
        if end is None:
            return None
        limit = w + _WEEK
        while end < limit:
            more = self._covering(end)
            if more is None:
                return end
            end = more
        return None

    def _next_start(self, w):
        best = None
        for s, _e in self._intervals:
            ahead = (s - w) % _WEEK
            if best is None or ahead < best:
                best = ahead
        return None if best is None else w + best

    def _schedule_active(self, utc):
        return (
            utc is not None
            and self._intervals
            and self._covering(self._week_minute(utc)) is not None
        )

    def _local_to_utc(self, utc, w, target):
        # The utc of week minute `target` (>= w), counted from the local day of utc.
        lt = self.tz.localtime(utc)
        minutes = lt[3] * 60 + lt[4] + (target - w)
        return self.tz.to_utc(lt[0], lt[1], lt[2], 0, minutes)

    def _morning(self, utc):
        # The end of the next quiet window from utc, or the next 07:00 without one.
        w = self._week_minute(utc)
        if self._intervals:
            start = w if self._covering(w) is not None else self._next_start(w)
            end = self._window_end(start)
            if end is not None:
                return self._local_to_utc(utc, w, end)
        day_minute = w % _DAY
        target = w - day_minute + _MORNING
        if day_minute >= _MORNING:
            target += _DAY
        return self._local_to_utc(utc, w, target)

    def set_quiet(self, mode, utc=None):
        """The button's (or web page's) quiet mode: QUIET_OFF, QUIET_ON, QUIET_UNTIL_MORNING."""
        if mode not in (QUIET_OFF, QUIET_ON, QUIET_UNTIL_MORNING):
            raise ValueError("quiet mode %r" % (mode,))
        if utc is None:
            utc = self.clock.utc()
        self.quiet_mode = mode
        self._quiet_from = utc
        self._quiet_until = None
        if mode == QUIET_UNTIL_MORNING and utc is not None:
            self._quiet_until = self._morning(utc)

    def _button(self, utc):
        # The button's mode now, ending "until morning" once its time has come.
        mode = self.quiet_mode
        if mode == QUIET_UNTIL_MORNING and utc is not None:
            if self._quiet_until is None:
                # Switched on before the clock was set: morning counts from now.
                self._quiet_from = utc
                self._quiet_until = self._morning(utc)
            if utc >= self._quiet_until:
                self.quiet_mode = mode = QUIET_OFF
                self._quiet_until = None
        return mode

    def _quiet_reason(self, utc):
        mode = self._button(utc)
        if mode == QUIET_ON:
            return "quiet (button)"
        if mode == QUIET_UNTIL_MORNING:
            return "quiet until morning"
        if self._schedule_active(utc):
            return "quiet hours"
        return None

    def status(self, utc=None):
        """For the web page and the LED."""
        if utc is None:
            utc = self.clock.utc()
        mode = self._button(utc)
        until = None
        if mode == QUIET_ON:
            name = "quiet-button"
        elif mode == QUIET_UNTIL_MORNING:
            name = "quiet-until-morning"
            if self._quiet_until is not None:
                lt = self.tz.localtime(self._quiet_until)
                until = "%02d:%02d" % (lt[3], lt[4])
        elif self._schedule_active(utc):
            name = "quiet-schedule"
            w = self._week_minute(utc)
            end = self._window_end(w)
            if end is not None:
                until = _hhmm(end)
        else:
            name = "ringing"
        log = self.calllog
        return {
            "mode": name,
            "quiet": name != "ringing",
            "until": until,
            "quiet_mode": mode,
            "clock_known": utc is not None,
            "schedule_applies": utc is not None or not self._intervals,
            "counters": dict(log.counters),
            "unseen": log.unseen_silenced(),
            "refused": self.limiter.refused,
            "bans": self.limiter.bans,
            "provider_addresses": self.provider_addresses(),
            "last_unknown_source": self.last_unknown_source,
            "problem": self.problem,
        }

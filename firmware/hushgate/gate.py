# Who may ring, and when: the policy in front of the stateless proxy.
#
# decide() follows DESIGN.md's order: source, in-dialog, scanner fingerprints,
# block list, VIPs, anonymous callers, quiet (schedule or button) with the
# repeat-call bypass, forward. Pure: the clock object and now_ms come from the
# caller, so tests drive time; nothing here touches the network.
#
# Written for a 110 KB heap: every function costs heap once loaded, so the steps
# are written out inside decide() rather than spread over small helpers, and only
# the verdicts a flood meets are made in advance. What runs on a button press, a
# config change or a web request (setting up, configure, set_quiet, status, when
# "quiet until morning" ends) is in hushgate/gatecontrol.py, loaded for the call
# and dropped again: the methods here that reach it are two lines each.
from binascii import unhexlify

from hushgate import sip
from hushgate.compat import const, ticks_diff
from hushgate.config import in_networks

FORWARD = const(0)
ANSWER = const(1)
DROP = const(2)

QUIET_OFF = const(0)
QUIET_ON = const(1)
QUIET_UNTIL_MORNING = const(2)

_WEEK = const(10080)  # minutes
_DAY = const(1440)

# Requests that belong to a dialog or an INVITE transaction even without a To tag.
_DIALOG_METHODS = (b"ACK", b"CANCEL", b"BYE", b"PRACK", b"UPDATE")
# Requests a phone never receives: from the provider too they are dropped.
_NOT_FOR_PHONE = (b"REGISTER", b"SUBSCRIBE", b"PUBLISH")
# SDP session lines of scanning tools (SIPVicious's svwar writes "s=svwar").
_SDP_SCANNERS = (b"\ns=svwar\r", b"\ns=sipvicious\r", b"\ns=friendly-scanner\r")


class Verdict:
    """What to do with a request: action FORWARD/ANSWER/DROP, code for ANSWER,
    reason (short, for people), kind (what the call log counts it as).

    A configured answer may be "drop" instead of a code: Verdict(ANSWER, "drop", ...)
    is then a DROP.
    """

    def __init__(self, action, code=0, reason="", kind=None):
        if code == "drop":
            action, code = DROP, 0
        self.action = action
        self.code = code
        self.reason = reason
        self.kind = kind


# The verdicts a scan or flood gets, one per datagram, are made once: no garbage.
_UNKNOWN_SOURCE = Verdict(DROP, 0, "not from the provider", "source")
# A call attempt from anywhere but the provider: a scan (the "John Doe" calls).
_SCANNER_CALL = Verdict(DROP, 0, "scanner: call not from the provider", "scanner")
_NOT_IN_DIALOG = Verdict(DROP, 0, "not in a known dialog", "dialog")
_IN_DIALOG = Verdict(FORWARD, 0, "in dialog", "dialog")


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


def _matches(patterns, canon):
    # canon: a caller's number as parse_pattern writes patterns.
    for digits, prefix in patterns:
        if canon == digits or (prefix and canon[: len(digits)] == digits):
            return True
    return False


class Gate:
    repeat_size = 16  # callers remembered for the repeat-call bypass
    learned_size = 4  # provider addresses learned from REGISTER answers
    dns_size = 8  # provider addresses taken from one DNS answer

    def __init__(self, config, calllog, clock):
        from hushgate.gatecontrol import start

        start(self, config, calllog, clock)

    def configure(self, config):
        """Take a new validated config (from config.validate or Store.load)."""
        from hushgate.gatecontrol import configure

        configure(self, config)

    # ---- provider addresses ---------------------------------------------------------

    def set_provider_addresses(self, ips=None):
        """The provider's addresses from the latest DNS answer (replaces the last).

        Without ips: the same DNS answer, after the learned addresses changed.
        """
        from hushgate.gatecontrol import set_provider_addresses

        set_provider_addresses(self, ips)

    def provider_seen(self, ip):
        """A REGISTER answer came from ip: it is the provider's, even if DNS says no more."""
        learned = self._learned
        if not learned or learned[-1] != ip:  # the same address again: nothing to learn
            from hushgate.gatecontrol import provider_seen

            provider_seen(self, ip)

    # ---- decisions ----------------------------------------------------------------------

    def refuse_stranger(self, ip, data):
        """Before parsing, for a request (raw bytes or memoryview `data`) while the
        proxy knows no dialog: True when decide() could only refuse it as not from
        the provider (it is then counted as decide() counts that), False for the
        provider's and trusted addresses.

        An INVITE from an address other than the last one logged is also kept, when
        none is kept already, for log_scan() to log it as decide() would: the call
        log's line is written later, not per datagram, so a scan costs no parse
        and, from many addresses, no more than one log line per log_scan()."""
        if ip in self._provider or (bool(self._trusted) and in_networks(ip, self._trusted)):
            return False  # the same test as decide()'s `known`
        # (Few locals: a frame this small stays off the heap.)
        if self._scan is None and ip != self._last_scan_logged and len(data) > 7:
            for i in range(7):
                if data[i] != b"INVITE "[i]:
                    break
            else:
                self._keep_scan(ip, data)
        self.calllog.count("unknown_source")
        self.last_unknown_source = ip
        return True

    def _keep_scan(self, ip, data):
        # The received bytes are kept, not copied (a memoryview of a buffer that is
        # read into again is).
        self._scan = data if isinstance(data, bytes) else bytes(data)
        self._scan_ip = ip
        self._scan_utc = self.clock.utc()
        self._last_scan_logged = ip

    def log_scan(self):
        """Log the stranger's INVITE refuse_stranger() kept, if any, as decide() logs
        one (kind scanner, the number and name of its From), and let the next be
        kept. The app calls this once a second. An INVITE that does not parse is
        counted (it was) and not logged, as decide() would not see it."""
        data = self._scan
        if data is None:
            return
        self._scan = None
        # A full parse, as decide() reads it: once a second at most, off the
        # datagrams' path.
        try:
            self._log_scanner(sip.parse(data), self._scan_ip, self._scan_utc)
        except sip.SipError:
            pass

    def _log_scanner(self, msg, ip, utc):
        # A stranger's call attempt, logged with its From: a stranger's
        # P-Asserted-Identity is not believed (RFC 3325 section 5: only from within
        # the trust domain, the provider).
        frm = msg.name_addr(b"from")
        self.calllog.record(utc, sip.addr_number(frm), frm.display, ip, _SCANNER_CALL)

    def decide(self, msg, source, now_ms, in_dialog):
        """The verdict for one inbound request (never a retransmission)."""
        method = msg.method
        ip = source[0]
        # (refuse_stranger() makes the same test before parsing.)
        known = ip in self._provider or (bool(self._trusted) and in_networks(ip, self._trusted))
        # A stranger's request outside any known dialog is the common case under a
        # scan: refused before any header is looked at. A stranger may only go on
        # with a dialog the gate knows (BYE from the far end's own server).
        if not known and not (
            in_dialog and (method in _DIALOG_METHODS or msg.name_addr(b"to").tag)
        ):
            self.calllog.count("unknown_source")
            self.last_unknown_source = ip
            if method != b"INVITE" or ip == self._last_scan_logged:
                return _UNKNOWN_SOURCE
            # One line in the call log per scanning address in a row: a scanner
            # that keeps knocking cannot push the real calls out of the log.
            self._last_scan_logged = ip
            self._log_scanner(msg, ip, self.clock.utc())
            return _SCANNER_CALL
        if in_dialog:
            # Also a new transaction of a call already let through (the INVITE
            # again with credentials after the ATA challenged it): not a new call.
            return _IN_DIALOG
        to = msg.name_addr(b"to")
        if method in _DIALOG_METHODS or to.tag:
            self.calllog.count("not_in_dialog")
            return _NOT_IN_DIALOG
        if method in _NOT_FOR_PHONE:
            self.calllog.count("not_for_phone")
            return Verdict(DROP, 0, "not for the phone", "other")
        # From and To are taken apart once here and shared by the steps below.
        frm = msg.name_addr(b"from")
        name = frm.display
        scanner = self._scanner(msg, frm, to, name)
        if method != b"INVITE":
            if scanner is not None:
                self.calllog.count("scanner_requests")
                return Verdict(DROP, 0, "scanner: " + scanner, "scanner")
            return Verdict(FORWARD, 0, "from the provider", "other")
        # An initial INVITE from the provider: a call, judged and logged.
        config = self.config
        utc = self.clock.utc()
        # The call log's name: From's display name unless P-Asserted-Identity has
        # one (parsed once, for the number too). A stranger's call is logged with its
        # From alone.
        asserted = sip.asserted_identity(msg)
        if asserted is not None:
            name = asserted.display or name
        number = sip.caller_number(msg, asserted, frm)
        canon = number
        if number[:1] == "+":
            canon = self._intl + number[1:]  # as parse_pattern writes patterns
        if scanner is not None:
            verdict = Verdict(DROP, 0, "scanner: " + scanner, "scanner")
        elif canon and _matches(self._block, canon):
            reason = "blocked caller " + number
            verdict = Verdict(ANSWER, config["block_answer"], reason, "blocked")
        elif canon and _matches(self._vip, canon):
            verdict = Verdict(FORWARD, 0, "VIP " + number, "rang")
        elif not number and config["block_anonymous"]:
            verdict = Verdict(ANSWER, config["block_answer"], "anonymous caller", "blocked")
        else:
            # Repeat-call bypass: this number called within repeat_call_minutes.
            # The table remembers this call too, dropping the oldest when full.
            repeat = False
            table = self._repeat
            if canon and self._repeat_ms > 0:
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
            quiet = self.quiet_now(utc)
            if quiet != "ringing":
                if repeat:
                    verdict = Verdict(FORWARD, 0, "repeat call during " + quiet, "rang")
                else:
                    verdict = Verdict(ANSWER, config["quiet_answer"], quiet, "quiet")
            elif utc is None and self._intervals:
                verdict = Verdict(FORWARD, 0, "clock not set: quiet hours not applied", "rang")
            else:
                verdict = Verdict(FORWARD, 0, "rang", "rang")
        self.calllog.record(utc, number, name, ip, verdict)
        return verdict

    def _scanner(self, msg, frm, to, display):
        # The scanning tool's name when the request carries its fingerprint, else
        # None. display: From's display name.
        ua = msg.get(b"user-agent")
        if ua:
            low = bytes(ua).lower()
            for prefix, name in self._uas:
                if low.startswith(prefix):
                    return name
        display = display.lower()
        if display == "john doe" and frm.user == b"4000":
            return "John Doe"
        for text in (display, to.display.lower()):
            for word in ("sipvicious", "friendly-scanner"):
                if word in text:
                    return word
        tag = frm.tag
        if tag and _vicious_tag(bytes(tag)):
            return "SIPVicious tag"
        # Only the SDP's session name line: no copy of the whole body.
        body = msg.body
        start = body.find(b"\ns=") if body else -1
        if start >= 0:
            end = body.find(b"\r", start)
            line = bytes(body[start : end + 1 if end >= 0 else len(body)]).lower()
            for name in _SDP_SCANNERS:
                if line == name:
                    return "SDP s=" + name[3:-1].decode()
        return None

    # ---- quiet ----------------------------------------------------------------------------

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

    def set_quiet(self, mode, utc=None):
        """The button's (or web page's) quiet mode: QUIET_OFF, QUIET_ON, QUIET_UNTIL_MORNING."""
        from hushgate.gatecontrol import set_quiet

        set_quiet(self, mode, utc)

    def quiet_now(self, utc):
        """Why calls are kept quiet at utc, in the call log's words: "quiet (button)",
        "quiet until morning" or "quiet hours"; "ringing" when they ring.

        What status()["mode"] says without building the rest of status() (for the
        LED). Ends "until morning" once its time came.
        """
        mode = self.quiet_mode
        if mode == QUIET_UNTIL_MORNING and utc is not None:
            if self._quiet_until is None:
                # Switched on before the clock was set: morning counts from now.
                from hushgate.gatecontrol import morning

                self._quiet_from = utc
                self._quiet_until = morning(self, utc)
            if utc >= self._quiet_until:
                self.quiet_mode = mode = QUIET_OFF
                self._quiet_until = None
        if mode == QUIET_ON:
            return "quiet (button)"
        if mode == QUIET_UNTIL_MORNING:
            return "quiet until morning"
        if utc is not None and self._intervals:
            # Worked out once per local minute: the calls within it reuse the answer.
            start = self._minute_start
            if start is None or not 0 <= utc - start < 60:
                lt = self.tz.localtime(utc)
                self._minute_start = utc - lt[5]
                self._minute_quiet = self._covering(lt[6] * _DAY + lt[3] * 60 + lt[4])
            if self._minute_quiet is not None:
                return "quiet hours"
        return "ringing"

    def status(self, utc=None):
        """For the web page and the LED: a dict (see hushgate/gatecontrol.py)."""
        from hushgate.gatecontrol import status

        return status(self, utc)

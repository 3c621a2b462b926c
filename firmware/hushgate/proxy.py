# The stateless proxy (RFC 3261 section 16.11) between the ATA and everyone else.
#
# handle() turns one received datagram into the datagrams to send. It keeps no
# transaction state it could not rebuild: the branch of the Via it adds is a hash
# of the request's own transaction identifiers, so a retransmission (and the CANCEL
# or non-2xx ACK of an INVITE) leaves with the same branch. Two small bounded
# tables remain: the dialogs the gate let in or the ATA started, and the verdicts
# on recent INVITEs, so a retransmitted INVITE meets the same fate without asking
# the gate again.
import gc
from array import array

from hushgate import sip
from hushgate.compat import const, ticks_add, ticks_diff
from hushgate.sip import (
    _DIGIT,
    _HOST,
    _LWS,
    _PVALUE,
    _TOKEN,
    SipError,
    _list_item_end,
    _quoted_end,
    _same_name,
    _skip,
    _skip_lws,
)

# Gate verdict actions (docs/interfaces.md, gate.py).
_FORWARD = const(0)
_ANSWER = const(1)
_DROP = const(2)

# Dialog origins.
_FROM_OUTSIDE = const(1)
_FROM_ATA = const(2)

# Slots of a Via value read by _via_fields.
_V_HOST_S = const(0)
_V_HOST_E = const(1)
_V_PORT = const(2)
_V_BRANCH_S = const(3)
_V_BRANCH_E = const(4)
_V_RECV_S = const(5)
_V_RECV_E = const(6)
_V_RPORT = const(7)  # index after the name `rport`, 0 when absent
_V_RPORT_S = const(8)
_V_RPORT_E = const(9)
_V_END = const(10)
_V_ZEROS = (0,) * 11

_MAGIC = b"z9hG4bK"
_NOTHING = ()  # what a dropped datagram yields: allocates nothing


def _via_fields(buf, s, e, out):
    # Read the Via value buf[s:e] (already known well formed) into `out`; returns
    # the index where the value ends (a comma or e).
    for k in range(11):
        out[k] = 0
    i = _skip_lws(buf, s, e)
    for n in range(3):
        i = _skip_lws(buf, _skip(buf, i, e, _TOKEN), e)
        if n < 2 and i < e and buf[i] == 47:  # /
            i = _skip_lws(buf, i + 1, e)
    out[_V_HOST_S] = i
    if i < e and buf[i] == 91:  # [IPv6]
        j = buf.find(b"]", i, e) + 1
    else:
        j = _skip(buf, i, e, _HOST)
    out[_V_HOST_E] = j
    i = _skip_lws(buf, j, e)
    if i < e and buf[i] == 58:  # :
        i = _skip_lws(buf, i + 1, e)
        j = _skip(buf, i, e, _DIGIT)
        port = 0
        for k in range(i, j):
            port = port * 10 + buf[k] - 48
        out[_V_PORT] = port if port < 65536 else 0
        i = j
    i = _skip_lws(buf, i, e)
    while i < e and buf[i] == 59:  # ;
        i = _skip_lws(buf, i + 1, e)
        ns = i
        i = _skip(buf, i, e, _TOKEN)
        ne = i
        i = _skip_lws(buf, i, e)
        vs = ve = i
        if i < e and buf[i] == 61:  # =
            vs = _skip_lws(buf, i + 1, e)
            ve = _quoted_end(buf, vs, e) if buf[vs] == 34 else _skip(buf, vs, e, _PVALUE)
            i = _skip_lws(buf, ve, e)
        if _same_name(buf, ns, ne, b"branch"):
            out[_V_BRANCH_S] = vs
            out[_V_BRANCH_E] = ve
        elif _same_name(buf, ns, ne, b"received"):
            out[_V_RECV_S] = vs
            out[_V_RECV_E] = ve
        elif _same_name(buf, ns, ne, b"rport"):
            out[_V_RPORT] = ne
            out[_V_RPORT_S] = vs
            out[_V_RPORT_E] = ve
    out[_V_END] = i
    return i


def _ipv4(buf, s, e):
    # A dotted IPv4 literal in buf[s:e] as str, or None.
    if e - s < 7 or e - s > 15:
        return None
    dots = 0
    for k in range(s, e):
        c = buf[k]
        if c == 46:
            dots += 1
        elif c < 48 or c > 57:
            return None
    if dots != 3:
        return None
    return buf[s:e].decode()


def _mix(buf, s, e, lanes):
    # Two 24-bit multiplicative hashes over buf[s:e]; small enough to stay a small
    # int on a 32-bit MicroPython port, so hashing allocates nothing.
    a = lanes[0]
    b = lanes[1]
    for k in range(s, e):
        c = buf[k]
        a = ((a * 33) ^ c) & 0xFFFFFF
        b = (b * 31 + c) & 0xFFFFFF
    lanes[0] = a
    lanes[1] = b


class Proxy:
    """Stateless SIP proxy logic. See docs/interfaces.md and docs/sip.md."""

    dialogs_max = 32
    dialog_setup_ms = 300000  # an INVITE not yet answered
    dialog_ms = 14400000  # an established call (refreshed by its requests)
    dialog_end_ms = 32000  # after BYE or a failed INVITE: room for ACK and retransmissions
    verdicts_max = 16
    verdict_ms = 32000  # 64*T1: an INVITE's retransmissions stop by then
    max_forwards = 70
    branch_prefix = b"z9hG4bKhg"

    def __init__(self, me, gate, log=None):
        self.me = me  # the setter below prepares our Via
        self.gate = gate
        self.log = log
        self.ata = None
        self.provider = None
        self.last_register = None
        self.stats = {
            "received": 0,
            "forwarded": 0,
            "answered": 0,
            "retransmissions": 0,
            "dropped_admit": 0,
            "dropped_bad": 0,
            "dropped_not_ours": 0,
            "dropped_gate": 0,
            "dropped_no_route": 0,
            "dropped_loop": 0,
            "too_many_hops": 0,
            "absorbed": 0,
            "keepalives": 0,
            "dropped_memory": 0,
            "errors": 0,
        }
        self._dialogs = {}  # Call-ID -> [expiry ticks, origin]
        self._verdicts = {}  # Call-ID -> [expiry, CSeq, branch hash, action, code, reason, ip]
        self._lanes = array("i", (0, 0))
        self._hashed = None  # the message whose branch hash _lanes holds
        self._via = array("H", _V_ZEROS)

    @property
    def me(self):
        """hushgate's own SIP address (ip, port); may be set again once bound."""
        return self._me

    @me.setter
    def me(self, address):
        self._me = address
        self._me_host = address[0].encode()
        self._via_line = b"Via: SIP/2.0/UDP %s:%d;branch=" % (self._me_host, address[1])

    # -- entry point ---------------------------------------------------------

    def handle(self, data, source, now_ms):
        """One datagram from `source` ((ip, port)) -> [(datagram, (ip, port))], or an
        empty sequence. Never raises for anything the datagram contains."""
        self.stats["received"] += 1
        try:
            return self._handle(data, source, now_ms)
        except MemoryError:
            # A fragmented heap may lack one contiguous block for a large datagram;
            # after a collection the second try usually finds it. A retried INVITE
            # meets its remembered verdict, so the gate is not asked twice.
            gc.collect()
        try:
            return self._handle(data, source, now_ms)
        except MemoryError:
            self.stats["dropped_memory"] += 1
            return _NOTHING

    def _handle(self, data, source, now_ms):
        stats = self.stats
        n = len(data)
        if n <= 4:
            # CRLF keep-alive pings (RFC 5626); data may be a memoryview: no strip()
            for k in range(n):
                if data[k] != 13 and data[k] != 10 and data[k] != 32:
                    break
            else:
                stats["keepalives"] += 1
                return _NOTHING
        ata = self.ata
        from_ata = ata is not None and source[0] == ata[0]
        if not from_ata and not self.gate.admit(source[0], now_ms):
            stats["dropped_admit"] += 1
            return _NOTHING
        try:
            msg = sip.parse(data)
        except SipError as e:
            stats["dropped_bad"] += 1
            if self.log is not None:
                self.log("sip: bad datagram from %s: %s" % (source[0], e))
            return _NOTHING
        try:
            if msg.method is None:
                return self._response(msg, source, now_ms, from_ata)
            if from_ata:
                return self._from_ata(msg, source, now_ms)
            return self._inbound(msg, source, now_ms)
        except SipError as e:
            stats["dropped_bad"] += 1
            if self.log is not None:
                self.log("sip: unusable message from %s: %s" % (source[0], e))
            return _NOTHING
        except (IndexError, ValueError, TypeError, KeyError, AttributeError) as e:
            # A bug here must cost one datagram, not the SIP task: counted, logged.
            stats["errors"] += 1
            if self.log is not None:
                self.log("sip: proxy error on a datagram from %s: %r" % (source[0], e))
            return _NOTHING

    # -- requests from the ATA -----------------------------------------------

    def _from_ata(self, msg, source, now_ms):
        target = self.provider
        if target is None:
            self.stats["dropped_no_route"] += 1
            return _NOTHING
        if self._is_ours_top_via(msg):
            self.stats["dropped_loop"] += 1
            return _NOTHING
        method = msg.method
        mf = self._max_forwards(msg)
        if mf == 0:
            return self._too_many_hops(msg, source)
        call_id = msg.call_id
        if method == b"BYE":
            self._remember(call_id, _FROM_ATA, now_ms, self.dialog_end_ms, False)
        elif method == b"INVITE" or method == b"SUBSCRIBE" or method == b"REFER":
            self._remember(call_id, _FROM_ATA, now_ms, self.dialog_setup_ms, True)
        elif call_id in self._dialogs and method != b"CANCEL":
            self._remember(call_id, _FROM_ATA, now_ms, self.dialog_ms, False)
        self.stats["forwarded"] += 1
        return [(self._forward_request(msg, mf, source, True), target)]

    # -- requests from outside -----------------------------------------------

    def _inbound(self, msg, source, now_ms):
        stats = self.stats
        method = msg.method
        call_id = msg.call_id
        to_tag = msg.name_addr(b"to").tag
        seen = self._verdicts.get(call_id)
        if seen is not None and ticks_diff(now_ms, seen[0]) >= 0:
            del self._verdicts[call_id]
            seen = None
        # The same transaction from the same source only: a copy sent from elsewhere
        # meets the gate like any other request.
        if seen is not None and seen[1] == msg.cseq_num and seen[6] == source[0]:
            branch = self._branch_hash(msg)
            if method == b"INVITE" and to_tag is None and seen[2] == branch:
                stats["retransmissions"] += 1
                return self._act(msg, source, now_ms, seen[3], seen[4], seen[5], False)
            if seen[3] == _ANSWER and method == b"ACK" and seen[2] == branch:
                stats["absorbed"] += 1  # the ACK of our own negative answer
                return _NOTHING
            if seen[3] == _ANSWER and method == b"CANCEL":
                stats["answered"] += 1
                return [(sip.response(msg, 200, b"OK", self._to_tag(msg)), source)]
        entry = self._dialogs.get(call_id)
        if entry is not None and ticks_diff(now_ms, entry[0]) >= 0:
            del self._dialogs[call_id]
            entry = None
        in_dialog = entry is not None
        verdict = self.gate.decide(msg, source, now_ms, in_dialog)
        action = verdict.action
        if method == b"INVITE" and to_tag is None:
            self._keep_verdict(msg, call_id, source, now_ms, verdict)
        return self._act(msg, source, now_ms, action, verdict.code, verdict.reason, in_dialog)

    def _act(self, msg, source, now_ms, action, code, reason, in_dialog):
        stats = self.stats
        if action == _ANSWER:
            if msg.method == b"ACK":
                stats["dropped_gate"] += 1
                return _NOTHING
            stats["answered"] += 1
            text = reason.encode() if isinstance(reason, str) else reason
            if not (isinstance(code, int) and 300 <= code <= 699):
                code = 480  # a gate's slip must not put a bad status line on the wire
            return [(sip.response(msg, code, text or b"Rejected", self._to_tag(msg)), source)]
        if action != _FORWARD:
            stats["dropped_gate"] += 1
            return _NOTHING
        target = self.ata
        if target is None:
            stats["dropped_no_route"] += 1
            return _NOTHING
        mf = self._max_forwards(msg)
        if mf == 0:
            return self._too_many_hops(msg, source)
        method = msg.method
        call_id = msg.call_id
        if method == b"BYE":
            self._remember(call_id, _FROM_OUTSIDE, now_ms, self.dialog_end_ms, False)
        elif method == b"INVITE" and not in_dialog:
            self._remember(call_id, _FROM_OUTSIDE, now_ms, self.dialog_setup_ms, True)
        elif in_dialog and method != b"CANCEL":
            self._remember(call_id, _FROM_OUTSIDE, now_ms, self.dialog_ms, False)
        stats["forwarded"] += 1
        return [(self._forward_request(msg, mf, source, False), target)]

    # -- responses -----------------------------------------------------------

    def _response(self, msg, source, now_ms, from_ata):
        stats = self.stats
        b = msg._b
        via = self._via
        i = msg._index(b"via", 0)
        vs = msg._vs(i)
        ve = msg._ve(i)
        first_end = _via_fields(b, vs, ve, via)
        if not self._is_ours(b, via):
            stats["dropped_not_ours"] += 1
            return _NOTHING
        # The next Via: the rest of this header line, or the next Via header.
        if first_end < ve:
            ns = _skip_lws(b, first_end + 1, ve)
            ne = ve
            cut_s = vs
            cut_e = ns
        else:
            j = msg._index(b"via", i + 1)
            if j < 0:
                stats["dropped_not_ours"] += 1  # addressed to hushgate itself
                return _NOTHING
            ns = msg._vs(j)
            ne = msg._ve(j)
            cut_s, cut_e = msg._line(i)
        _via_fields(b, ns, ne, via)
        if from_ata:
            dest = self._via_destination(b, via)
            if dest is None:
                dest = self.provider
        else:
            dest = self.ata
        if dest is None:
            stats["dropped_no_route"] += 1
            return _NOTHING
        method = msg.cseq_method
        status = msg.status
        if method == b"REGISTER" and not from_ata:
            self.gate.provider_seen(source[0])
            if status >= 200:
                self.last_register = (now_ms, status)
        elif method == b"INVITE" and status >= 200:
            call_id = msg.call_id
            if call_id in self._dialogs:
                ms = self.dialog_ms if status < 300 else self.dialog_end_ms
                self._remember(call_id, 0, now_ms, ms, False)
        stats["forwarded"] += 1
        out = b[:cut_s] + b[cut_e : msg._body_e()]
        return [(out, dest)]

    # -- helpers -------------------------------------------------------------

    def _is_ours(self, b, via):
        # Our Via: sent-by is `me` and the branch carries our prefix.
        hs = via[_V_HOST_S]
        he = via[_V_HOST_E]
        me = self._me_host
        if he - hs != len(me) or not b.startswith(me, hs):
            return False
        if (via[_V_PORT] or 5060) != self.me[1]:
            return False
        prefix = self.branch_prefix
        bs = via[_V_BRANCH_S]
        return via[_V_BRANCH_E] - bs > len(prefix) and b.startswith(prefix, bs)

    def _is_ours_top_via(self, msg):
        i = msg._index(b"via", 0)
        _via_fields(msg._b, msg._vs(i), msg._ve(i), self._via)
        return self._is_ours(msg._b, self._via)

    def _via_destination(self, b, via):
        # Where a response goes by this Via: received / rport first, then sent-by.
        if via[_V_RECV_E] > via[_V_RECV_S]:
            ip = _ipv4(b, via[_V_RECV_S], via[_V_RECV_E])
        else:
            ip = _ipv4(b, via[_V_HOST_S], via[_V_HOST_E])
        if ip is None:
            return None
        port = 0
        if via[_V_RPORT] and via[_V_RPORT_E] > via[_V_RPORT_S]:
            for k in range(via[_V_RPORT_S], via[_V_RPORT_E]):
                c = b[k]
                if c < 48 or c > 57:
                    port = 0
                    break
                port = port * 10 + c - 48
        if not 0 < port < 65536:
            port = via[_V_PORT] or 5060
        return (ip, port)

    def _max_forwards(self, msg):
        # Max-Forwards value, or -1 when absent.
        i = msg._index(b"max-forwards", 0)
        if i < 0:
            return -1
        return sip._digits(msg._b, msg._vs(i), msg._ve(i), 10)

    def _too_many_hops(self, msg, source):
        self.stats["too_many_hops"] += 1
        if msg.method == b"ACK":
            return _NOTHING
        return [(sip.response(msg, 483, b"Too Many Hops", self._to_tag(msg)), source)]

    def _branch_hash(self, msg):
        # Hash of what identifies the request's transaction (section 16.11): the
        # top Via value, Call-ID and CSeq number, and without an RFC 3261 branch
        # (magic cookie) also the Request-URI and From. Never the To (the
        # non-2xx ACK adds a tag) nor the CSeq method (CANCEL and ACK share their
        # INVITE's branch). Leaves both hash lanes in self._lanes (each < 2**24)
        # and returns the first; computed once per message.
        if self._hashed is msg:
            return self._lanes[0]
        b = msg._b
        lanes = self._lanes
        lanes[0] = 5381
        lanes[1] = 7
        i = msg._index(b"via", 0)
        vs = msg._vs(i)
        ve = _list_item_end(b, vs, msg._ve(i))
        while ve > vs and _LWS[b[ve - 1]]:
            ve -= 1
        _mix(b, vs, ve, lanes)
        cookie = b.find(_MAGIC, vs, ve) >= 0
        i = msg._index(b"call-id", 0)
        _mix(b, msg._vs(i), msg._ve(i), lanes)
        i = msg._index(b"cseq", 0)
        vs = msg._vs(i)
        _mix(b, vs, _skip(b, vs, msg._ve(i), _DIGIT), lanes)
        if not cookie:
            _mix(b, msg._uri_s(), msg._uri_e(), lanes)
            i = msg._index(b"from", 0)
            _mix(b, msg._vs(i), msg._ve(i), lanes)
        self._hashed = msg
        return lanes[0]

    def _to_tag(self, msg):
        self._hashed = None
        lanes = self._lanes
        lanes[0] = 5381
        lanes[1] = 11
        i = msg._index(b"call-id", 0)
        _mix(msg._b, msg._vs(i), msg._ve(i), lanes)
        return b"hg%06x%06x" % (lanes[0], lanes[1])

    def _keep_verdict(self, msg, call_id, source, now_ms, verdict):
        table = self._verdicts
        if call_id not in table and len(table) >= self.verdicts_max:
            _evict(table, now_ms)
        table[call_id] = [
            ticks_add(now_ms, self.verdict_ms),
            msg.cseq_num,
            self._branch_hash(msg),
            verdict.action,
            verdict.code,
            verdict.reason,
            source[0],
        ]

    def _remember(self, call_id, origin, now_ms, ms, create):
        # Create (when `create`) or refresh the dialog entry of call_id.
        table = self._dialogs
        entry = table.get(call_id)
        if entry is None:
            if not create:
                return
            if len(table) >= self.dialogs_max:
                _evict(table, now_ms)
            table[call_id] = [ticks_add(now_ms, ms), origin]
            return
        entry[0] = ticks_add(now_ms, ms)

    def _forward_request(self, msg, mf, source, from_ata):
        b = msg._b
        branch = self._branch_hash(msg)
        top = self._via_line + b"%s%06x%06x;rport\r\n" % (
            self.branch_prefix,
            branch,
            self._lanes[1],
        )
        start = b.find(b"\r\n") + 2
        edits = []  # (start, end, replacement, rank)
        if mf < 0:
            top += b"Max-Forwards: %d\r\n" % self.max_forwards
        edits.append((start, start, top, 0))
        if not from_ata:
            # Section 18.2.1 / RFC 3581: note where the request really came from, in
            # the sender's Via, so the answers find their way back through NAT.
            via = self._via
            i = msg._index(b"via", 0)
            vs = msg._vs(i)
            end = _via_fields(b, vs, msg._ve(i), via)
            while end > vs and _LWS[b[end - 1]]:
                end -= 1
            ip = source[0].encode()
            add = b""
            hs = via[_V_HOST_S]
            if via[_V_HOST_E] - hs != len(ip) or not b.startswith(ip, hs):
                if via[_V_RECV_E] == via[_V_RECV_S]:
                    add = b";received=" + ip
            if via[_V_RPORT] and via[_V_RPORT_E] == via[_V_RPORT_S]:
                rp = via[_V_RPORT]
                edits.append((rp, rp, b"=%d" % source[1], 2))
            if add:
                edits.append((end, end, add, 3))
        else:
            self._pop_own_route(msg, edits)
        if mf > 0:
            i = msg._index(b"max-forwards", 0)
            edits.append((msg._vs(i), msg._ve(i), b"%d" % (mf - 1), 4))
        edits.sort(key=_edit_start)
        return _splice(b, edits, msg._body_e())

    def _pop_own_route(self, msg, edits):
        # A Route toward hushgate itself (the ATA's outbound proxy setting, ;lr) is
        # consumed here (section 16.4); any other Route travels on unchanged.
        i = msg._index(b"route", 0)
        if i < 0:
            return
        b = msg._b
        vs = msg._vs(i)
        ve = msg._ve(i)
        first = _list_item_end(b, vs, ve)
        try:
            addr = sip.NameAddr(b, vs, first)
        except (SipError, IndexError, ValueError):
            return
        if addr.host != self._me_host or (addr.port or 5060) != self.me[1]:
            return
        if first < ve:
            edits.append((vs, _skip_lws(b, first + 1, ve), b"", 1))
        else:
            ls, le = msg._line(i)
            edits.append((ls, le, b"", 1))


def _edit_start(edit):
    # Edits at one position: insertions before removals, in a fixed order (rank),
    # whatever the sort's stability.
    return edit[0] * 16 + edit[3]


def _splice(b, edits, end):
    # b[:end] with each (start, stop, replacement) applied; one output buffer.
    size = end
    for s, e, rep, _rank in edits:
        size += len(rep) - (e - s)
    out = bytearray(size)
    view = memoryview(b)
    pos = 0
    at = 0
    for s, e, rep, _rank in edits:
        out[at : at + s - pos] = view[pos:s]
        at += s - pos
        out[at : at + len(rep)] = rep
        at += len(rep)
        pos = e
    out[at:] = view[pos:end]
    return bytes(out)


def _evict(table, now_ms):
    # Make room in a {key: [expiry, ...]} table: drop what expired, else the entry
    # closest to expiry.
    oldest = None
    soonest = 0
    freed = False
    for key in list(table):
        left = ticks_diff(table[key][0], now_ms)
        if left <= 0:
            del table[key]
            freed = True
        elif oldest is None or left < soonest:
            oldest = key
            soonest = left
    if not freed and oldest is not None:
        del table[oldest]

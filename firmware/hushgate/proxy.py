# The stateless proxy (RFC 3261 section 16.11) between the ATA and everyone else.
#
# handle() turns one received datagram into the datagrams to send. It keeps no
# transaction state it could not rebuild: the branch of the Via it adds is a hash
# of the request's own transaction identifiers, so a retransmission (and the CANCEL
# or non-2xx ACK of an INVITE) leaves with the same branch. Two small bounded
# tables remain: the dialogs the gate let in or the ATA started, and the verdicts
# on recent INVITEs, so a retransmitted INVITE meets the same fate without asking
# the gate again.
#
# Written for a small heap (see sip.py): few functions, each step of a datagram's
# way written once, in the order it happens.
import gc
from binascii import crc32

from hushgate import sip
from hushgate.compat import const, presized, ticks_add, ticks_diff
from hushgate.sip import _CLASS, SipError, _list_item_end, _skip, _via_end

# Gate verdict actions (docs/interfaces.md, gate.py).
_FORWARD = const(0)
_ANSWER = const(1)

# A Message's offset array (sip.py: _URI_S, _URI_E, _BODY_E; whether the To has a
# tag, _NA_TO + _V_TAG; header i at _BASE + _H_SIZE * i, its line start at +1,
# value start and end at +2 and +3).
_URI_S = const(0)
_URI_E = const(1)
_BODY_E = const(5)
_TO_TAG = const(61)
_TOP = const(70)  # the top Via's fields (sip._VIA_AT), slots _V_* from there
# Where a tracked header first occurs: 1 + its index at _FIRST + its id (sip.py).
_FIRST = const(7)
_VIA = const(1)
_FROM = const(2)
_CALL_ID = const(4)
_CSEQ = const(5)
_MAX_FORWARDS = const(7)
_ROUTE = const(10)
_BASE = const(84)
_H_SIZE = const(4)

# Character classes of sip._CLASS, and the slots sip._via_end fills (same values).
_LWS = const(8)
_DIGIT = const(16)
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
_V_END = const(13)


def _crc(msg, known, crc):
    # crc32 (C, so no loop per byte here) of the value of tracked header `known`
    # (or of the Request-URI for 0, the CSeq number for _CSEQ) chained on `crc`.
    b = msg._b
    h = msg._h
    if known == 0:
        s = h[_URI_S]
        e = h[_URI_E]
    else:
        k = _BASE + _H_SIZE * (h[_FIRST + known] - 1)
        s = h[k + 2]
        e = h[k + 3]
        if known == _CSEQ:
            e = _skip(b, s, e, _DIGIT)
    return crc32(memoryview(b)[s:e], crc)


def _call_key(msg):
    # What the dialog and verdict tables are keyed by: a 30-bit hash of the Call-ID
    # (a small int on every port), so an entry costs a dict slot and no object (a
    # bytes key each cost ~100 B: 32 dialogs of 44-byte Call-IDs held 3.6 KB).
    # A collision is harmless: only the provider's addresses (and the ATA) reach
    # these tables for new calls, strangers only as far as a known dialog lets
    # them; at worst one request of another call is treated as in-dialog (the ATA
    # still judges it, it has the real Call-ID) or meets the other INVITE's verdict
    # only if CSeq, source and branch hash match as well.
    return _crc(msg, _CALL_ID, 0) & 0x3FFFFFFF


class Proxy:
    """Stateless SIP proxy logic. See docs/interfaces.md and docs/sip.md.

    `me` (hushgate's own (ip, port)) may be set again once the socket is bound."""

    dialogs_max = 32
    dialog_setup_ms = 300000  # an INVITE not yet answered
    dialog_ms = 14400000  # an established call (refreshed by its requests)
    dialog_end_ms = 32000  # after BYE or a failed INVITE: room for ACK and retransmissions
    verdicts_max = 16
    verdict_ms = 32000  # 64*T1: an INVITE's retransmissions stop by then
    max_forwards = 70
    branch_prefix = b"z9hG4bKhg"

    def __init__(self, me, gate, log=None):
        self.me = me
        # (the `me` they were made from, its host as bytes, the start of our Via)
        self._me_host = (None, b"", b"")
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
        # Bounded tables, made full size now (see compat.presized).
        # _call_key(msg) (Call-ID hash) -> expiry ticks:
        self._dialogs = presized(self.dialogs_max)
        # the same key -> [expiry, CSeq, branch hash, action, code, reason, ip]:
        self._verdicts = presized(self.verdicts_max)
        self._hash = 0
        self._hashed = None  # the message whose branch hash _hash is
        self._via = sip._ZEROS[:13]  # sip._V_SIZE

    def handle(self, data, source, now_ms):
        """One datagram from `source` ((ip, port)) -> [(datagram, (ip, port))], or an
        empty sequence. Never raises for anything the datagram contains."""
        # What refuses a datagram before parsing, kept apart from _handle so that its
        # frame fits MicroPython's 11 words on the C stack: a refused datagram takes
        # nothing from the heap (test_refused_datagrams_take_nothing_from_the_heap).
        # Few locals and shallow expressions here for that reason.
        stats = self.stats
        stats["received"] += 1
        if len(data) <= 4 and _skip(data, 0, len(data), _LWS) == len(data):
            # CRLF keep-alive pings (RFC 5626); data may be a memoryview: no strip()
            stats["keepalives"] += 1
            return ()
        if self.ata is not None and source[0] == self.ata[0]:
            return self._handle(data, source, now_ms, True)
        if not self.gate.admit(source[0], now_ms):
            stats["dropped_admit"] += 1
            return ()
        # With no dialog known, a stranger's request (not a response: "SIP/") can
        # only be refused by the gate, whatever it says: refused unread (issue 8: a
        # scan costs no parse). The gate counts it as decide() would.
        if (
            not self._dialogs
            and len(data) > 8
            and (data[0] != 83 or data[1] != 73 or data[2] != 80 or data[3] != 47)
            and self.gate.refuse_stranger(source[0], data)
        ):
            stats["dropped_gate"] += 1
            return ()
        return self._handle(data, source, now_ms, False)

    def _handle(self, data, source, now_ms, from_ata):
        # What handle() let through: parsed, then on its way by kind and source.
        stats = self.stats
        me = self.me
        if self._me_host[0] is not me:
            host = me[0].encode()
            via = b"Via: SIP/2.0/UDP %s:%d;branch=%s" % (host, me[1], self.branch_prefix)
            self._me_host = (me, host, via)
        for _attempt in (0, 1):
            try:
                msg = sip.parse(data)
                if msg.method is None:
                    return self._response(msg, source, now_ms)
                if not from_ata:
                    return self._inbound(msg, source, now_ms)
                # A request from the ATA: to the provider.
                if self.provider is None:
                    stats["dropped_no_route"] += 1
                    return ()
                if self._is_ours(msg._b, msg._h, _TOP):
                    stats["dropped_loop"] += 1
                    return ()
                return self._forward(msg, source, now_ms, False)
            except MemoryError:
                # A fragmented heap may lack one contiguous block for a large
                # datagram; after a collection the second try usually finds it. A
                # retried INVITE meets its remembered verdict: the gate is asked once.
                gc.collect()
            except (SipError, IndexError, ValueError, TypeError, KeyError, AttributeError) as e:
                # A datagram that does not parse (SipError) is dropped and counted;
                # so is one that meets a bug here ("errors"): it must cost one
                # datagram, not the SIP task.
                stats["dropped_bad" if isinstance(e, SipError) else "errors"] += 1
                if self.log is not None:
                    self.log("sip: dropped a datagram from %s: %r" % (source[0], e))
                return ()
        stats["dropped_memory"] += 1
        return ()

    def _inbound(self, msg, source, now_ms):
        # A request from outside: the gate's verdict (or the one it gave this
        # INVITE's first copy), then answer, drop or forward to the ATA.
        stats = self.stats
        method = msg.method
        call_id = _call_key(msg)
        initial = method == b"INVITE" and not msg._h[_TO_TAG]
        seen = self._verdicts.get(call_id)
        if seen is not None and ticks_diff(now_ms, seen[0]) >= 0:
            del self._verdicts[call_id]
            seen = None
        verdict = None
        # The same transaction from the same source only: a copy sent from elsewhere
        # meets the gate like any other request.
        if seen is not None and seen[1] == msg.cseq_num and seen[6] == source[0]:
            branch = self._branch_hash(msg)
            if initial and seen[2] == branch:
                stats["retransmissions"] += 1
                verdict = seen
            elif seen[3] == _ANSWER and method == b"ACK" and seen[2] == branch:
                stats["absorbed"] += 1  # the ACK of our own negative answer
                return ()
            elif seen[3] == _ANSWER and method == b"CANCEL":
                stats["answered"] += 1
                return [(sip.response(msg, 200, b"OK", self._to_tag(msg)), source)]
        in_dialog = False
        if verdict is None:
            expiry = self._dialogs.get(call_id)
            if expiry is not None and ticks_diff(now_ms, expiry) >= 0:
                del self._dialogs[call_id]
                expiry = None
            in_dialog = expiry is not None
            v = self.gate.decide(msg, source, now_ms, in_dialog)
            verdict = [
                ticks_add(now_ms, self.verdict_ms),
                msg.cseq_num,
                0,
                v.action,
                v.code,
                v.reason,
                source[0],
            ]
            if initial:
                table = self._verdicts
                if call_id not in table and len(table) >= self.verdicts_max:
                    _evict(table, now_ms)
                verdict[2] = self._branch_hash(msg)
                table[call_id] = verdict
        action = verdict[3]
        if action == _ANSWER:
            if method == b"ACK":
                stats["dropped_gate"] += 1
                return ()
            stats["answered"] += 1
            code = verdict[4]
            text = verdict[5]  # str or bytes: sip.response takes both
            if not (isinstance(code, int) and 300 <= code <= 699):
                code = 480  # a gate's slip must not put a bad status line on the wire
            return [(sip.response(msg, code, text or b"Rejected", self._to_tag(msg)), source)]
        if action != _FORWARD:
            stats["dropped_gate"] += 1
            return ()
        if self.ata is None:
            stats["dropped_no_route"] += 1
            return ()
        return self._forward(msg, source, now_ms, in_dialog)

    def _response(self, msg, source, now_ms):
        # A response: our Via must be on top; it goes where the next Via says
        # (from the ATA) or to the ATA (from outside).
        stats = self.stats
        b = msg._b
        h = msg._h
        from_ata = self.ata is not None and source[0] == self.ata[0]
        i = h[_FIRST + _VIA] - 1
        k = _BASE + _H_SIZE * i
        vs = h[k + 2]
        ve = h[k + 3]
        first_end = h[_TOP + _V_END]  # parse read the top Via
        if not self._is_ours(b, h, _TOP):
            stats["dropped_not_ours"] += 1
            return ()
        # The next Via: the rest of this header line, or the next Via header.
        if first_end < ve:
            cut_s = vs
            cut_e = _skip(b, first_end + 1, ve, _LWS)
            vs = cut_e
        else:
            j = msg._index(b"v", i + 1)
            if j < 0:
                stats["dropped_not_ours"] += 1  # addressed to hushgate itself
                return ()
            cut_s = h[k + 1]
            cut_e = b.find(b"\r\n", ve) + 2
            k = _BASE + _H_SIZE * j
            vs = h[k + 2]
            ve = h[k + 3]
        dest = self.ata
        if from_ata:
            via = self._via
            for n in range(13):  # sip._V_SIZE
                via[n] = 0
            _via_end(b, vs, ve, via, 0)
            # Where a response goes by this Via: received / rport first, then
            # sent-by; a name (not an IPv4 literal) there: the provider.
            if via[_V_RECV_E] > via[_V_RECV_S]:
                s = via[_V_RECV_S]
                e = via[_V_RECV_E]
            else:
                s = via[_V_HOST_S]
                e = via[_V_HOST_E]
            dots = 0
            for n in range(s, e):
                c = b[n]
                if c == 46:
                    dots += 1
                elif c < 48 or c > 57:
                    dots = 9
            if dots == 3 and 7 <= e - s <= 15:
                ps = via[_V_RPORT_S]
                pe = via[_V_RPORT_E]
                port = 0
                if 0 < pe - ps <= 5 and _skip(b, ps, pe, _DIGIT) == pe:
                    port = sip._digits(b, ps, pe, 5)
                if not 0 < port < 65536:
                    port = via[_V_PORT] or 5060
                dest = (b[s:e].decode(), port)
            else:
                dest = self.provider
        if dest is None:
            stats["dropped_no_route"] += 1
            return ()
        method = msg.cseq_method
        status = msg.status
        if method == b"REGISTER" and not from_ata:
            self.gate.provider_seen(source[0])
            if status >= 200:
                self.last_register = (now_ms, status)
        elif method == b"INVITE" and status >= 200:
            call_id = _call_key(msg)
            if call_id in self._dialogs:
                ms = self.dialog_ms if status < 300 else self.dialog_end_ms
                self._dialogs[call_id] = ticks_add(now_ms, ms)
        stats["forwarded"] += 1
        return [(b[:cut_s] + b[cut_e : h[_BODY_E]], dest)]

    def _is_ours(self, b, via, at):
        # Our Via (its fields in `via` from `at`): sent-by is `me` and the branch
        # carries our prefix.
        hs = via[at + _V_HOST_S]
        me = self._me_host[1]
        if via[at + _V_HOST_E] - hs != len(me) or not b.startswith(me, hs):
            return False
        if (via[at + _V_PORT] or 5060) != self.me[1]:
            return False
        prefix = self.branch_prefix
        bs = via[at + _V_BRANCH_S]
        return via[at + _V_BRANCH_E] - bs > len(prefix) and b.startswith(prefix, bs)

    def _branch_hash(self, msg):
        # Hash of what identifies the request's transaction (section 16.11): the
        # top Via value, Call-ID and CSeq number, and without an RFC 3261 branch
        # (magic cookie) also the Request-URI and From. Never the To (the
        # non-2xx ACK adds a tag) nor the CSeq method (CANCEL and ACK share their
        # INVITE's branch). A crc32 chain, computed once per message.
        if self._hashed is not msg:
            b = msg._b
            k = _BASE + _H_SIZE * (msg._h[_FIRST + _VIA] - 1)
            s = msg._h[k + 2]
            e = msg._h[_TOP + _V_END]  # parse read the top Via
            while e > s and _CLASS[b[e - 1]] & _LWS:
                e -= 1
            crc = _crc(msg, _CSEQ, _crc(msg, _CALL_ID, crc32(memoryview(b)[s:e])))
            if b.find(b"z9hG4bK", s, e) < 0:
                crc = _crc(msg, _FROM, _crc(msg, 0, crc))
            self._hashed = msg
            self._hash = crc
        return self._hash

    def _to_tag(self, msg):
        # Our To tag on an answer: a hash of the Call-ID, so every retransmission
        # gets the same one.
        return b"hg%08x" % _crc(msg, _CALL_ID, 0x5BD1)

    def _forward(self, msg, source, now_ms, in_dialog):
        # Forward a request (to the provider from the ATA, else to the ATA): the
        # dialog table updated, our Via on top, Max-Forwards decremented (0: 483
        # back), the sender's Via noted (from outside) or our own Route removed
        # (from the ATA). One new datagram, built from a sorted list of edits.
        b = msg._b
        h = msg._h
        from_ata = self.ata is not None and source[0] == self.ata[0]
        mf = -1
        mf_k = _BASE + _H_SIZE * (h[_FIRST + _MAX_FORWARDS] - 1)  # < _BASE: none
        if mf_k >= _BASE:
            mf = sip._digits(b, h[mf_k + 2], h[mf_k + 3], 10)
        method = msg.method
        if mf == 0:
            self.stats["too_many_hops"] += 1
            if method == b"ACK":
                return ()
            return [(sip.response(msg, 483, b"Too Many Hops", self._to_tag(msg)), source)]
        # The dialog table: created by an initial INVITE (or, from the ATA, a
        # SUBSCRIBE or REFER), refreshed by in-dialog requests, shortened by BYE.
        call_id = _call_key(msg)
        table = self._dialogs
        ms = 0
        if method == b"BYE":
            ms = self.dialog_end_ms
        elif (method == b"INVITE" and (from_ata or not in_dialog)) or (
            from_ata and (method == b"SUBSCRIBE" or method == b"REFER")
        ):
            ms = self.dialog_setup_ms
            if call_id not in table:
                if len(table) >= self.dialogs_max:
                    _evict(table, now_ms)
                table[call_id] = 0
        elif (call_id in table if from_ata else in_dialog) and method != b"CANCEL":
            ms = self.dialog_ms
        if ms and call_id in table:
            table[call_id] = ticks_add(now_ms, ms)
        branch = self._branch_hash(msg)
        me = self.me
        top = self._me_host[2] + b"%08x;rport\r\n" % branch
        if mf < 0:
            top += b"Max-Forwards: %d\r\n" % self.max_forwards
        start = b.find(b"\r\n") + 2
        # (position * 16 + rank, start, end, replacement): sorted on the first item;
        # edits at one position apply insertions before removals, in rank order.
        edits = [(start * 16, start, start, top)]
        if not from_ata:
            # Section 18.2.1 / RFC 3581: note where the request really came from, in
            # the sender's Via, so the answers find their way back through NAT.
            end = h[_TOP + _V_END]  # parse read the top Via
            while _CLASS[b[end - 1]] & _LWS:
                end -= 1
            ip = source[0].encode()
            hs = h[_TOP + _V_HOST_S]
            if h[_TOP + _V_HOST_E] - hs != len(ip) or not b.startswith(ip, hs):
                if h[_TOP + _V_RECV_E] == h[_TOP + _V_RECV_S]:
                    edits.append((end * 16 + 3, end, end, b";received=" + ip))
            rp = h[_TOP + _V_RPORT]
            if rp and h[_TOP + _V_RPORT_E] == h[_TOP + _V_RPORT_S]:
                edits.append((rp * 16 + 2, rp, rp, b"=%d" % source[1]))
        else:
            # A Route toward hushgate itself (the ATA's outbound proxy setting, ;lr)
            # is consumed here (section 16.4); any other Route travels on unchanged.
            i = h[_FIRST + _ROUTE] - 1
            if i >= 0:
                k = _BASE + _H_SIZE * i
                vs = h[k + 2]
                ve = h[k + 3]
                first = _list_item_end(b, vs, ve)
                try:
                    addr = sip.NameAddr(b, vs, first)
                    ours = addr.host == self._me_host[1] and (addr.port or 5060) == me[1]
                except (SipError, IndexError, ValueError):
                    ours = False
                if ours and first < ve:
                    edits.append((vs * 16 + 1, vs, _skip(b, first + 1, ve, _LWS), b""))
                elif ours:
                    ls = h[k + 1]
                    edits.append((ls * 16 + 1, ls, b.find(b"\r\n", ve) + 2, b""))
        if mf > 0:
            vs = h[mf_k + 2]
            edits.append((vs * 16 + 4, vs, h[mf_k + 3], b"%d" % (mf - 1)))
        edits.sort()
        # b[:body end] with each edit applied, into one output buffer.
        end = h[_BODY_E]
        size = end
        for _key, s, e, rep in edits:
            size += len(rep) - (e - s)
        out = bytearray(size)
        view = memoryview(b)
        pos = 0
        at = 0
        for _key, s, e, rep in edits:
            out[at : at + s - pos] = view[pos:s]
            at += s - pos
            out[at : at + len(rep)] = rep
            at += len(rep)
            pos = e
        out[at:] = view[pos:end]
        self.stats["forwarded"] += 1
        return [(bytes(out), self.provider if from_ata else self.ata)]


def _evict(table, now_ms):
    # Make room in a {key: expiry or [expiry, ...]} table: drop what expired, else
    # the entry closest to expiry.
    oldest = None
    soonest = 0
    freed = False
    for key in list(table):
        entry = table[key]
        left = ticks_diff(entry if isinstance(entry, int) else entry[0], now_ms)
        if left <= 0:
            del table[key]
            freed = True
        elif oldest is None or left < soonest:
            oldest = key
            soonest = left
    if not freed and oldest is not None:
        del table[oldest]

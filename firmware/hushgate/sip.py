# SIP messages (RFC 3261 section 7) read lazily from one UDP datagram.
#
# parse() checks what a gatekeeper must be able to trust (start line, the required
# headers, CSeq, Content-Length, Via, From/To/Contact syntax) by scanning the bytes
# in place; it keeps only offsets into the datagram, in one small array, and builds
# bytes slices, lists and NameAddr objects when a caller asks for them. Every
# problem with the input surfaces as SipError, nothing else.
#
# Written for a small heap: an imported function costs about 100 bytes and every
# distinct name or string a qstr, so small helpers are merged into their one
# caller, lazy attributes go through one __getattr__ instead of a property each,
# and what is only needed while importing is deleted afterwards.
from array import array

from hushgate.compat import const

MAX_SIZE = const(4096)
_MAX_CSEQ = const(2147483647)

# Slots at the start of a Message's offset array; header entries follow, four
# slots each (_H_*): id (tracked header) or name fingerprint (_key), line start,
# value start, value end (after the colon and LWS, trailing LWS excluded; a
# folded value spans its continuation lines).
_URI_S = const(0)
_URI_E = const(1)
_REASON_S = const(2)
_REASON_E = const(3)
_BODY_S = const(4)
_BODY_E = const(5)
_COUNT = const(6)
_CSEQ_M = const(7)
_FIRST = const(7)  # _FIRST + id: 1 + index of the first header with that id (0: none)
_LAST = const(19)  # _LAST + id: 1 + index of the last one
_NA_FROM = const(32)  # From's NameAddr offsets (_NA_SIZE slots), filled while parsing
_NA_TO = const(51)  # To's
_VIA_AT = const(70)  # the top Via's fields (_V_* slots, and _V_END), filled while parsing
_BASE = const(84)
_H_LINE = const(1)
_H_VS = const(2)
_H_VE = const(3)
_H_SIZE = const(4)

_SP = const(32)
_HT = const(9)
_COMMA = const(44)
_SEMI = const(59)
_COLON = const(58)
_DQUOTE = const(34)
_BSLASH = const(92)
_LT = const(60)
_GT = const(62)
_EQ = const(61)
_SLASH = const(47)


class SipError(Exception):
    """The one exception a datagram that is not a usable SIP message raises."""


# Character classes, one bit each in _CLASS[byte] (proxy.py has the same values).
_TOKEN = const(1)  # RFC 3261 token
_HOST = const(2)
_SCHEME = const(4)
_LWS = const(8)
_DIGIT = const(16)
_PVALUE = const(32)  # parameter values: token, host (IPv6 too), odd separators seen in the wild
# Import-time loops use names that are already qstrs (function arguments) and
# delete them afterwards: every new name would cost a qstr for good.
_CLASS = bytearray(256)
for u in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":
    _CLASS[u] = _TOKEN | _HOST | _SCHEME | _PVALUE
for u in b"0123456789":
    _CLASS[u] |= _DIGIT
for u in b"-.!%*_+`'~:[]/@":
    _CLASS[u] |= _PVALUE
for u in b"-.!%*_+`'~":
    _CLASS[u] |= _TOKEN
for u in b"-._":
    _CLASS[u] |= _HOST
for u in b"+-.":
    _CLASS[u] |= _SCHEME
for u in b" \t\r\n":
    _CLASS[u] = _LWS
_CLASS = bytes(_CLASS)


# Known headers: usual spelling, "/" and the compact form, "*" when the values of
# one line are separate values (split at commas). id = position, from 1. The first
# _TRACKED (those the parser checks and the gate and proxy read) are identified
# while parsing and get two slots in each Message, where they first and last
# occur; those between Via and Contact may occur only once. Other headers are
# found by name when asked for (_index); they need no entry unless a list.
_SPEC = (
    b"Via/v* From/f To/t Call-ID/i CSeq Content-Length/l Max-Forwards Contact/m* Date Route*"
    b" User-Agent P-Asserted-Identity* Content-Type/c Content-Encoding/e* Subject/s"
    b" Supported/k* Record-Route* Path* Allow* Require* Proxy-Require* Unsupported* Accept*"
    b" Event/o Allow-Events/u* Refer-To/r Referred-By/b Session-Expires/x"
)
_VIA = const(1)
_FROM = const(2)
_TO = const(3)
_CALL_ID = const(4)
_CSEQ = const(5)
_CONTENT_LENGTH = const(6)
_MAX_FORWARDS = const(7)
_CONTACT = const(8)
_DATE = const(9)
_TRACKED = const(12)

# Read _SPEC once, at import (module-level code is freed after import): where each
# name is in _SPEC, its compact letter, whether it is a list, and the id by
# fingerprint % _KEY_MOD (_header_id; 183: the smallest modulus that keeps the 43
# names apart; test_sip checks it).
_KEY_MOD = const(183)
_NAME_SPAN = array("H", (0, 0))  # start, end of each name in _SPEC (id 0: none)
_KIND = bytearray(1)  # compact letter (0: none), + 128 when a list header
_BY_KEY = bytearray(_KEY_MOD)
# Names the code asks for (its own constants, so a handful) -> id (0: unknown).
_NAME_IDS = {}
_NAME_IDS_MAX = const(48)


def _same_ci(a, s, e, b, t, u):
    # a[s:e] equals b[t:u], ASCII letters in any case.
    if e - s != u - t:
        return False
    for k in range(e - s):
        c = a[s + k]
        d = b[t + k]
        if c != d:
            c |= 32
            if c != d | 32 or c < 97 or c > 122:
                return False
    return True


def _header_id(buf, s, e):
    # The id of header name buf[s:e] (long or compact form, any case), or for a
    # name not known its fingerprint (length, first and last letter, any case;
    # >= 1024, so never an id; equal names give equal fingerprints); a table
    # match is confirmed byte by byte. Message() computes fingerprints inline.
    key = e - s
    key = (key if key < 63 else 63) << 10 | (buf[s] & 31) << 5 | (buf[e - 1] & 31)
    known = _BY_KEY[key % _KEY_MOD]
    if e - s == 1:
        if (buf[s] | 32) == _KIND[known] & 127:
            return known
    elif known and _same_ci(buf, s, e, _SPEC, _NAME_SPAN[2 * known], _NAME_SPAN[2 * known + 1]):
        return known
    return key


i = 0
while i < len(_SPEC):
    t = _SPEC.find(b" ", i)
    if t < 0:
        t = len(_SPEC)
    e = t
    u = 0
    if _SPEC[e - 1] == 42:  # *
        u = 128
        e -= 1
    if _SPEC[e - 2] == 47:  # /x
        u += _SPEC[e - 1]
        _BY_KEY[_header_id(_SPEC, e - 1, e) % _KEY_MOD] = len(_KIND)
        e -= 2
    _BY_KEY[_header_id(_SPEC, i, e) % _KEY_MOD] = len(_KIND)
    _KIND.append(u)
    _NAME_SPAN.append(i)
    _NAME_SPAN.append(e)
    i = t + 1
_KIND = bytes(_KIND)
_BY_KEY = bytes(_BY_KEY)
del i, e, t, u


def _skip(buf, i, end, flags):
    # Index of the first byte from i not in the classes `flags`, or end.
    while i < end and _CLASS[buf[i]] & flags:
        i += 1
    return i


def _quoted_end(buf, i, end):
    # buf[i] is the opening quote; index after the closing one (a backslash
    # escapes the byte after it). find() runs in C: no Python loop per byte.
    i += 1
    while True:
        q = buf.find(b'"', i, end)
        if q < 0:
            raise SipError("unbalanced quote")
        k = buf.find(b"\\", i, q)
        if k < 0:
            return q + 1
        i = k + 2


# Slots of the array `via` that _via_end fills for proxy.py (which has the same).
_V_HOST_S = const(0)
_V_HOST_E = const(1)
_V_PORT = const(2)  # 0 when absent
_V_BRANCH_S = const(3)
_V_BRANCH_E = const(4)
_V_RECV_S = const(5)
_V_RECV_E = const(6)
_V_RPORT = const(7)  # index after the name `rport`, 0 when absent
_V_RPORT_S = const(8)
_V_RPORT_E = const(9)
_V_TAG = const(10)  # index after the name `tag` (NameAddr.tag), 0 when absent
_V_TAG_S = const(11)
_V_TAG_E = const(12)
_V_END = const(13)  # (Message only) where the top Via value ends: end or its comma
_V_SIZE = const(13)


def _params_end(buf, i, end, stop, into, at):
    # `*( ; name [= value] )` from i; index where it stops (end, or `stop` byte).
    # `into`: None; a dict that receives every parameter (lower-case name -> value,
    # b"" for a bare name); or a zeroed _V_* array that receives the branch,
    # received, rport and tag parameters (the tag without allocating a dict) in
    # its slots from `at`.
    cls = _CLASS
    while i < end and cls[buf[i]] & _LWS:
        i += 1
    while i < end and buf[i] == _SEMI:
        ns = i + 1
        while ns < end and cls[buf[ns]] & _LWS:
            ns += 1
        ne = ns
        while ne < end and cls[buf[ne]] & _TOKEN:
            ne += 1
        if ne == ns:
            raise SipError("bad parameter")
        # LWS around "=" is rare: _skip only when there is some (buf[end] is
        # never a token byte: values end at CR, LWS or a comma).
        i = vs = ve = _skip(buf, ne, end, _LWS) if cls[buf[ne]] & _LWS else ne
        if i < end and buf[i] == _EQ:
            vs = i + 1
            if cls[buf[vs]] & _LWS:
                vs = _skip(buf, vs, end, _LWS)
            if vs < end and buf[vs] == _DQUOTE:
                ve = _quoted_end(buf, vs, end)
            else:
                ve = vs
                while ve < end and cls[buf[ve]] & _PVALUE:
                    ve += 1
                if ve == vs:
                    raise SipError("bad parameter")
            i = _skip(buf, ve, end, _LWS) if cls[buf[ve]] & _LWS else ve
        if into is None:
            continue
        if isinstance(into, dict):
            into[buf[ns:ne].lower()] = buf[vs:ve]
            continue
        # The length picks the one name to compare; lower case is the usual spelling.
        n = ne - ns
        if n == 6 and (buf.startswith(b"branch", ns) or _same_ci(buf, ns, ne, b"branch", 0, 6)):
            into[at + _V_BRANCH_S] = vs
            into[at + _V_BRANCH_E] = ve
        elif n == 8 and (
            buf.startswith(b"received", ns) or _same_ci(buf, ns, ne, b"received", 0, 8)
        ):
            into[at + _V_RECV_S] = vs
            into[at + _V_RECV_E] = ve
        elif n == 5 and (buf.startswith(b"rport", ns) or _same_ci(buf, ns, ne, b"rport", 0, 5)):
            into[at + _V_RPORT] = ne
            into[at + _V_RPORT_S] = vs
            into[at + _V_RPORT_E] = ve
        elif (
            n == 3
            and not into[at + _V_TAG]
            and (buf.startswith(b"tag", ns) or _same_ci(buf, ns, ne, b"tag", 0, 3))
        ):
            into[at + _V_TAG] = ne  # the first tag parameter
            into[at + _V_TAG_S] = vs
            into[at + _V_TAG_E] = ve
    if i < end and buf[i] != stop:
        raise SipError("bad parameter")
    return i


def _via_end(buf, i, end, via, at):
    # One Via value from i: sent-protocol LWS sent-by params; index of the comma or
    # end. `via`: None, or an array whose _V_SIZE slots from `at` are zero and
    # receive its fields.
    if _CLASS[buf[i]] & _LWS:
        i = _skip(buf, i, end, _LWS)
    if i + 8 < end and buf.startswith(b"SIP/2.0/", i) and _CLASS[buf[i + 8]] & _TOKEN:
        # the usual spelling: only the transport to read
        i = _skip(buf, _skip(buf, i + 8, end, _TOKEN), end, _LWS)
    else:
        for n in range(3):
            j = _skip(buf, i, end, _TOKEN)
            if j == i:
                raise SipError("bad Via")
            i = _skip(buf, j, end, _LWS)
            if n < 2:
                if i >= end or buf[i] != _SLASH:
                    raise SipError("bad Via")
                i = _skip(buf, i + 1, end, _LWS)
    if i < end and buf[i] == 91:  # [IPv6]
        j = buf.find(b"]", i, end)
        if j < 0:
            raise SipError("bad Via")
        j += 1
    else:
        j = _skip(buf, i, end, _HOST)
        if j == i:
            raise SipError("bad Via")
    if via is not None:
        via[at + _V_HOST_S] = i
        via[at + _V_HOST_E] = j
    i = _skip(buf, j, end, _LWS) if _CLASS[buf[j]] & _LWS else j
    if i < end and buf[i] == _COLON:
        i = _skip(buf, i + 1, end, _LWS)
        j = _skip(buf, i, end, _DIGIT)
        if j == i or j - i > 5:
            raise SipError("bad Via")
        if via is not None:
            port = 0
            for n in range(i, j):
                port = port * 10 + buf[n] - 48
            via[at + _V_PORT] = port if port < 65536 else 0
        i = j
    return _params_end(buf, i, end, _COMMA, via, at)


def _naddr(buf, i, end, multi, out, at):
    # One name-addr or addr-spec with its parameters, from i; index where it stops
    # (end, or the comma before the next value when `multi`). When `out` is an
    # array zeroed from `at`, its six slots from there receive display start/end
    # (equal: none), URI start/end, parameters start/end, and _params_end fills
    # the tag slots.
    stop = _COMMA if multi else -1
    if _CLASS[buf[i]] & _LWS:
        i = _skip(buf, i, end, _LWS)
    ds = de = i
    c = buf[i] if i < end else 0
    if c == _DQUOTE:
        de = i = _quoted_end(buf, i, end)
        if _CLASS[buf[i]] & _LWS:
            i = _skip(buf, i, end, _LWS)
        if i >= end or buf[i] != _LT:
            raise SipError("bad address")
    elif c != _LT:
        j = i
        while j < end and _CLASS[buf[j]] & (_TOKEN | _LWS):
            j += 1
        if j < end and buf[j] == _LT:
            de = j
            while de > ds and _CLASS[buf[de - 1]] & _LWS:
                de -= 1
            i = j
    if i < end and buf[i] == _LT:
        us = i + 1
        ue = buf.find(b">", us, end)
        if ue < 0 or (  # no LWS inside <>: four C scans, no Python loop
            buf.find(b" ", us, ue) >= 0
            or buf.find(b"\t", us, ue) >= 0
            or buf.find(b"\r", us, ue) >= 0
            or buf.find(b"\n", us, ue) >= 0
        ):
            raise SipError("bad address")
        ps = ue + 1
    else:
        us = i
        ue = i
        while ue < end and buf[ue] != _SEMI and buf[ue] != stop and not _CLASS[buf[ue]] & _LWS:
            c = buf[ue]
            if c == 63 or c == _LT or c == _GT or c == _DQUOTE:  # an addr-spec with ? < > "
                raise SipError("bad address")
            ue += 1
        ps = ue
    j = us + 3 if buf.startswith(b"sip:", us) else _skip(buf, us, ue, _SCHEME)
    if j == us or j >= ue or buf[j] != _COLON:
        if not (ue - us == 1 and buf[us] == 42 and multi):  # Contact: *
            raise SipError("bad address")
    pe = _params_end(buf, ps, end, stop, out, at)
    if out is not None:
        out[at] = ds
        out[at + 1] = de
        out[at + 2] = us
        out[at + 3] = ue
        out[at + 4] = ps
        out[at + 5] = pe
    return pe


def _digits(buf, i, end, most):
    # Decimal number of at most `most` digits in buf[i:end] (LWS around allowed).
    if _CLASS[buf[i]] & _LWS:
        i = _skip(buf, i, end, _LWS)
    j = _skip(buf, i, end, _DIGIT)
    if j == i or j - i > most or (j < end and _skip(buf, j, end, _LWS) != end):
        raise SipError("bad header")
    n = 0  # not int(buf[i:j]): that slice would be garbage
    for k in range(i, j):
        n = n * 10 + buf[k] - 48
    return n


def _text(raw):
    # bytes -> str for people; never raises.
    try:
        return raw.decode()
    except UnicodeError:
        out = bytearray(raw)
        for k in range(len(out)):
            if out[k] > 127:
                out[k] = 63  # ?
        return bytes(out).decode()


def _unfold(value):
    if b"\r" not in value and b"\n" not in value:
        return value
    parts = value.replace(b"\r\n", b"\n").split(b"\n")
    for k in range(1, len(parts)):
        parts[k] = parts[k].lstrip(b" \t")
    return b" ".join(parts)


# NameAddr offset slots: display, URI, parameters (0-5, from _naddr); the tag
# (_V_TAG.., from _params_end, so reading it allocates nothing); then the URI's
# scheme end, user and host spans, port.
_NA_SCHEME_E = const(13)
_NA_USER_S = const(14)
_NA_USER_E = const(15)
_NA_HOST_S = const(16)
_NA_HOST_E = const(17)
_NA_PORT = const(18)
_NA_SIZE = const(19)


class NameAddr:
    """A From/To/Contact/P-Asserted-Identity value, taken apart on demand.

    display: str (unescaped, "" when none); scheme (lower case), user, host: bytes
    (user still %-escaped; for tel: URIs the number; b"" for other schemes); port:
    int or None; params: dict of header parameters (lower-case bytes name -> bytes
    value, b"" for a bare name); tag: bytes or None; uri: bytes.
    """

    def __init__(self, buf, start, end, h=None, at=0):
        # h, at: a Message's offset array whose slots from `at` already hold what
        # _naddr found in buf[start:end] (parse checks From and To that way), so
        # the value is not read twice; else offsets of its own.
        if h is None:
            h = _ZEROS[:_NA_SIZE]
            _naddr(buf, start, end, True, h, 0)
        self._b = buf
        self._h = h
        self._at = at
        us = h[at + 2]
        ue = h[at + 3]
        c = buf.find(b":", us, ue)
        h[at + _NA_SCHEME_E] = c if c > us else us
        h[at + _NA_USER_S] = h[at + _NA_USER_E] = h[at + _NA_HOST_S] = h[at + _NA_HOST_E] = ue
        if c < 0:
            return
        i = c + 1
        sl = c - us
        if (sl == 3 or sl == 4) and (buf[us] | 32) == 115 and (buf[us + 2] | 32) == 112:
            # sip: / sips: user[:password]@host[:port][;params][?headers]
            q = buf.find(b"?", i, ue)
            end = q if q >= 0 else ue
            k = buf.rfind(b"@", i, end)
            if k >= 0:
                pw = buf.find(b":", i, k)
                h[at + _NA_USER_S] = i
                h[at + _NA_USER_E] = pw if pw >= 0 else k
                i = k + 1
            else:
                h[at + _NA_USER_S] = h[at + _NA_USER_E] = i
            k = buf.find(b";", i, end)
            end = k if k >= 0 else end
            h[at + _NA_HOST_S] = i
            if i < end and buf[i] == 91:  # [IPv6]
                k = buf.find(b"]", i, end)
                j = k + 1 if k >= 0 else end
            else:
                j = buf.find(b":", i, end)
                if j < 0:
                    j = end
            h[at + _NA_HOST_E] = j
            if j < end and buf[j] == _COLON and 0 < end - j - 1 <= 5:
                if _skip(buf, j + 1, end, _DIGIT) == end:
                    h[at + _NA_PORT] = _digits(buf, j + 1, end, 5)
        elif sl == 3 and (buf[us] | 32) == 116 and (buf[us + 1] | 32) == 101:  # tel:
            k = buf.find(b";", i, ue)
            h[at + _NA_USER_S] = i
            h[at + _NA_USER_E] = k if k >= 0 else ue
            h[at + _NA_HOST_S] = h[at + _NA_HOST_E] = i

    def __getattr__(self, name):
        # The public fields (see the class docstring), each worked out when read.
        o = self._h
        a = self._at
        buf = self._b
        if name == "tag":
            return buf[o[a + _V_TAG_S] : o[a + _V_TAG_E]] if o[a + _V_TAG] else None
        if name == "user":
            return buf[o[a + _NA_USER_S] : o[a + _NA_USER_E]]
        if name == "host":
            return buf[o[a + _NA_HOST_S] : o[a + _NA_HOST_E]]
        if name == "port":
            return o[a + _NA_PORT] or None
        if name == "uri":
            return buf[o[a + 2] : o[a + 3]]
        if name == "scheme":
            return buf[o[a + 2] : o[a + _NA_SCHEME_E]].lower()
        if name == "display":
            if o[a] == o[a + 1]:
                return ""
            if buf[o[a]] != _DQUOTE:
                return _text(_unfold(buf[o[a] : o[a + 1]]))
            raw = buf[o[a] + 1 : o[a + 1] - 1]
            if b"\\" in raw:
                out = bytearray()
                k = 0
                while k < len(raw):
                    if raw[k] == _BSLASH and k + 1 < len(raw):
                        k += 1
                    out.append(raw[k])
                    k += 1
                raw = bytes(out)
            return _text(raw)
        if name == "params":
            found = {}
            _params_end(buf, o[a + 4], o[a + 5], -1, found, 0)
            return found
        raise AttributeError(name)


class Message:
    """One parsed datagram. Build with parse(); see docs/interfaces.md.

    method, status and cseq_num are set while parsing; uri, reason, body, call_id
    and cseq_method are sliced from the datagram when read (__getattr__)."""

    max_size = MAX_SIZE
    max_headers = 80
    version = b"SIP/2.0"  # the only one parse() accepts

    def __init__(self, b):
        # Scan the datagram b (bytes, at most max_size) and check it (module comment).
        # The hot loops lean on C-implemented bytes methods (find, count,
        # startswith): under MicroPython a Python loop costs ~0.13 us per byte.
        n = len(b)
        if n > 65535:  # offsets are 16-bit
            raise SipError("datagram too large")
        self._b = b
        self._na = None  # NameAddr objects made so far (name_addr)
        # Offsets go to a scratch array sized for max_headers (so the header lines
        # need not be counted first) and are copied out at the end.
        h = _SCRATCH
        h[:_BASE] = _ZEROS
        cls = _CLASS
        sl = b.find(b"\r\n")
        # Start line: a status line, or METHOD SP Request-URI SP SIP/2.0.
        if b.startswith(b"SIP/2.0 "):
            self.method = None
            j = _skip(b, 8, sl, _DIGIT)
            if j != 11 or (j < sl and b[j] != _SP):
                raise SipError("bad status line")
            status = (b[8] - 48) * 100 + (b[9] - 48) * 10 + b[10] - 48
            if status < 100 or status > 699:
                raise SipError("bad status line")
            self.status = status
            h[_REASON_S] = j + 1 if j < sl else sl
            h[_REASON_E] = sl
        else:
            self.status = 0
            sp1 = b.find(b" ", 0, sl)
            us = sp1 + 1
            sp2 = b.find(b" ", us, sl)
            # One space each side of the URI, a token method, a URI with a scheme
            # and no control character, space, < or > (min() of a memoryview: C).
            j = _skip(b, us, sp2, _SCHEME)
            m = _method(b, 0, sp1)  # None: not one of the usual ones
            if (
                sp1 <= 0
                or sp2 < 0
                or sl - sp2 != 8
                or not b.startswith(b"SIP/2.0", sp2 + 1)
                or (m is None and _skip(b, 0, sp1, _TOKEN) != sp1)
                or j == us
                or j >= sp2
                or b[j] != _COLON
                or min(memoryview(b)[us:sp2]) < 33
                or b.find(b"<", us, sp2) >= 0
                or b.find(b">", us, sp2) >= 0
            ):
                raise SipError("bad request line")
            if (j - us == 3 and b.startswith(b"sip", us)) or (
                j - us == 4 and b.startswith(b"sips", us)
            ):
                at = b.rfind(b"@", us, sp2)
                if b.find(b"?", at + 1 if at >= 0 else us, sp2) >= 0:
                    raise SipError("headers in Request-URI")
            h[_URI_S] = us
            h[_URI_E] = sp2
            self.method = m if m is not None else b[:sp1]
        # Header lines, each value's span trimmed of LWS as it is read; a folded
        # continuation line extends the previous value. Only the tracked names
        # are confirmed here (they are checked below); any other line keeps its
        # name's fingerprint, and _index confirms the name when one is asked for.
        k = _BASE - _H_SIZE
        i = sl + 2
        top = _BASE + _H_SIZE * self.max_headers
        while True:
            e = b.find(b"\r\n", i)
            if e <= i:
                if e == i:  # the empty line: the end of the headers
                    break
                raise SipError("no end of headers")
            c = b[i]
            if c < 33:
                if (c != _SP and c != _HT) or k < _BASE:
                    raise SipError("bad header")
                vs = h[k + _H_VS]
                if vs == h[k + _H_VE]:  # empty so far: the value starts on this line
                    vs = h[k + _H_VS] = _skip(b, i, e, _LWS)
                ve = e
                while ve > vs and cls[b[ve - 1]] & _LWS:
                    ve -= 1
                h[k + _H_VE] = ve
                i = e + 2
                continue
            k += _H_SIZE
            if k >= top:
                raise SipError("too many header lines")
            colon = b.find(b":", i, e)
            if colon <= i:  # no colon (-1), or no name before it
                raise SipError("bad header")
            ne = colon
            d = b[ne - 1]
            if cls[d] & _LWS:  # LWS before the colon
                while ne > i and cls[b[ne - 1]] & _LWS:
                    ne -= 1
                if ne <= i:
                    raise SipError("bad header")
                d = b[ne - 1]
            key = ne - i
            key = (key if key < 63 else 63) << 10 | (c & 31) << 5 | (d & 31)
            known = _BY_KEY[key % _KEY_MOD]
            if known and known <= _TRACKED:
                t = (  # the usual spellings (constants): one startswith() confirms
                    b"Via",
                    b"From",
                    b"To",
                    b"Call-ID",
                    b"CSeq",
                    b"Content-Length",
                    b"Max-Forwards",
                    b"Contact",
                    b"Date",
                    b"Route",
                    b"User-Agent",
                    b"P-Asserted-Identity",
                )[known - 1]
                if (
                    (c | 32) == _KIND[known] & 127
                    if ne - i == 1
                    else (ne - i == len(t) and b.startswith(t, i))
                    or _same_ci(b, i, ne, _SPEC, _NAME_SPAN[2 * known], _NAME_SPAN[2 * known + 1])
                ):
                    key = known
                    t = (k - _BASE) // _H_SIZE + 1
                    if h[_FIRST + known] == 0:
                        h[_FIRST + known] = t
                    elif _VIA < known < _CONTACT:  # single-valued ones
                        raise SipError("duplicate header")
                    h[_LAST + known] = t
            h[k] = key
            h[k + _H_LINE] = i
            # The value, usually after one space: trimmed byte by byte otherwise.
            vs = colon + 1
            if b[vs] == _SP:
                vs += 1
            if cls[b[vs]] & _LWS or cls[b[e - 1]] & _LWS:
                vs = _skip(b, vs, e, _LWS)
                ve = e
                while ve > vs and cls[b[ve - 1]] & _LWS:
                    ve -= 1
                h[k + _H_VE] = ve
            else:
                h[k + _H_VE] = e
            h[k + _H_VS] = vs
            i = e + 2
        he = i - 2
        count = (k - _BASE) // _H_SIZE + 1
        h[_COUNT] = count
        if not (
            h[_FIRST + _FROM]
            and h[_FIRST + _TO]
            and h[_FIRST + _CALL_ID]
            and h[_FIRST + _CSEQ]
            and h[_FIRST + _VIA]
        ):
            raise SipError("missing header")
        # Via, From, To and Contact values well formed (several per line for Via
        # and Contact); Max-Forwards a number; Date in GMT.
        for k in range(_BASE, _BASE + _H_SIZE * count, _H_SIZE):
            known = h[k]
            if known > _DATE or known == _CALL_ID or known == _CSEQ:
                continue
            vs = h[k + _H_VS]
            ve = h[k + _H_VE]
            if known == _MAX_FORWARDS:
                _digits(b, vs, ve, 10)
            elif known == _DATE:
                if ve - vs < 3 or not b.startswith(b"GMT", ve - 3):
                    raise SipError("Date not in GMT")
            elif known != _CONTENT_LENGTH:
                while True:
                    if known == _VIA:
                        if h[_VIA_AT + _V_END]:
                            break  # the others: when the proxy reads one (_via_end)
                        # the top one, whose fields the proxy reads
                        j = h[_VIA_AT + _V_END] = _via_end(b, vs, ve, h, _VIA_AT)
                    elif known == _CONTACT:
                        j = _naddr(b, vs, ve, True, None, 0)
                    else:  # From, To: what is found is kept for name_addr()
                        j = _naddr(b, vs, ve, False, h, _NA_FROM if known == _FROM else _NA_TO)
                    if j >= ve:
                        break
                    vs = j + 1
        # CSeq: number LWS method, the method equal to the request's.
        k = _BASE + _H_SIZE * (h[_FIRST + _CSEQ] - 1)
        vs = h[k + _H_VS]
        ve = h[k + _H_VE]
        j = _skip(b, vs, ve, _DIGIT)
        ms = _skip(b, j, ve, _LWS)
        if j >= ve or ms == j or ms == ve:
            raise SipError("bad CSeq")
        m = self.method
        if m is None:
            if _skip(b, ms, ve, _TOKEN) != ve:
                raise SipError("bad CSeq")
        elif ve - ms != len(m) or not b.startswith(m, ms):  # a token: the request's
            raise SipError("CSeq method differs from the request's")
        num = _digits(b, vs, j, 10)
        if num > _MAX_CSEQ:
            raise SipError("bad CSeq")
        self.cseq_num = num
        h[_CSEQ_M] = ms
        # The body: exactly Content-Length bytes, else the rest of the datagram.
        bs = he + 4
        h[_BODY_S] = bs
        h[_BODY_E] = n
        i = h[_FIRST + _CONTENT_LENGTH]
        if i:
            k = _BASE + _H_SIZE * (i - 1)
            length = _digits(b, h[k + _H_VS], h[k + _H_VE], 5)
            if bs + length > n:
                raise SipError("body shorter than Content-Length")
            h[_BODY_E] = bs + length
        self._h = h[: _BASE + _H_SIZE * count]

    def _index(self, name, start):
        # Index (0-based) of the first header named `name` (bytes, any case, long
        # or compact form) at or after `start`, or -1. A tracked header's lines
        # carry its id; any other line its name's fingerprint (_key), so a line
        # is compared byte by byte only when its fingerprint is the one sought.
        h = self._h
        n = len(name)
        if n == 0:
            return -1
        known = _NAME_IDS.get(name)  # _name_id(name), without a call when known
        if known is None:
            known = _name_id(name)
        if known <= _TRACKED:
            if start == 0 or start >= h[_LAST + known]:
                return h[_FIRST + known] - 1 if start == 0 else -1
            for i in range(start, h[_COUNT]):
                if h[_BASE + _H_SIZE * i] == known:
                    return i
            return -1
        b = self._b
        if known < 1024:  # known, untracked: its long name and its compact letter
            s = _NAME_SPAN[2 * known]
            e = _NAME_SPAN[2 * known + 1]
            key = (e - s if e - s < 63 else 63) << 10 | (_SPEC[s] & 31) << 5 | (_SPEC[e - 1] & 31)
            letter = _KIND[known] & 127
            short = 1 << 10 | (letter & 31) << 5 | (letter & 31) if letter else -1
        else:
            key = known
            s = 0
            e = n
            short = -1
        for i in range(start, h[_COUNT]):
            k = _BASE + _H_SIZE * i
            if h[k] == key:
                ls = h[k + _H_LINE]
                ne = b.find(b":", ls)
                while _CLASS[b[ne - 1]] & _LWS:
                    ne -= 1
                if known < 1024:
                    if _same_ci(b, ls, ne, _SPEC, s, e):
                        return i
                elif _same_ci(b, ls, ne, name, 0, n):
                    return i
            elif h[k] == short and (b[h[k + _H_LINE]] | 32) == letter:
                return i
        return -1

    def __getattr__(self, name):
        # The lazy fields (class docstring): sliced only when read.
        h = self._h
        b = self._b
        if name == "call_id":
            # Read by the proxy more than once: kept as an attribute once made.
            k = h[_FIRST + _CALL_ID]
            k = _BASE + _H_SIZE * (k - 1)
            self.call_id = value = _unfold(b[h[k + _H_VS] : h[k + _H_VE]])
            return value
        if name == "uri":
            return b[h[_URI_S] : h[_URI_E]] if self.method is not None else b""
        if name == "body":
            return b[h[_BODY_S] : h[_BODY_E]]
        if name == "reason":
            return b[h[_REASON_S] : h[_REASON_E]]
        if name == "cseq_method":
            k = _BASE + _H_SIZE * (h[_FIRST + _CSEQ] - 1)
            m = _method(b, h[_CSEQ_M], h[k + _H_VE])
            return m if m is not None else b[h[_CSEQ_M] : h[k + _H_VE]]
        raise AttributeError(name)

    def get(self, name):
        """First value of header `name` (long or compact form, any case), or None."""
        i = self._index(name, 0)
        if i < 0:
            return None
        k = _BASE + _H_SIZE * i
        return _unfold(self._b[self._h[k + _H_VS] : self._h[k + _H_VE]])

    def get_all(self, name):
        """Every value of header `name`, in order; list headers split at commas."""
        known = _name_id(name) if name else 0
        split = known < 1024 and _KIND[known] & 128
        out = []
        b = self._b
        h = self._h
        i = self._index(name, 0)
        while i >= 0:
            k = _BASE + _H_SIZE * i
            vs = h[k + _H_VS]
            ve = h[k + _H_VE]
            while True:
                j = _list_item_end(b, vs, ve) if split else ve
                e = j
                while e > vs and _CLASS[b[e - 1]] & _LWS:
                    e -= 1
                if e > vs or not split:
                    out.append(_unfold(b[vs:e]))
                if j >= ve:
                    break
                vs = _skip(b, j + 1, ve, _LWS)
            i = self._index(name, i + 1)
        return out

    def vias(self):
        """Every Via value, top first."""
        return self.get_all(b"via")

    def name_addr(self, name):
        """The first value of a From/To/Contact/P-Asserted-Identity header as NameAddr,
        or None when absent. A malformed value raises SipError."""
        i = self._index(name, 0)
        if i < 0:
            return None
        # The gate and the proxy ask for From and To several times: each header's
        # NameAddr is made once per message.
        made = self._na
        if made is not None and i in made:
            return made[i]
        h = self._h
        k = _BASE + _H_SIZE * i
        at = _NA_FROM if i == h[_FIRST + _FROM] - 1 else _NA_TO if i == h[_FIRST + _TO] - 1 else 0
        try:
            addr = NameAddr(self._b, h[k + _H_VS], h[k + _H_VE], h if at else None, at)
        except (IndexError, ValueError, UnicodeError) as e:
            raise SipError("bad name-addr: %r" % e)
        if made is None:
            made = self._na = {}
        made[i] = addr
        return addr

    def to_bytes(self):
        """The message as sent, without bytes beyond Content-Length."""
        end = self._h[_BODY_E]
        return self._b if end == len(self._b) else self._b[:end]


def _name_id(name):
    # _header_id of a name the code asks for (its own constants, so a handful):
    # remembered, so each is worked out once.
    known = _NAME_IDS.get(name)
    if known is None:
        known = _header_id(name, 0, len(name))
        if len(_NAME_IDS) < _NAME_IDS_MAX:
            _NAME_IDS[name] = known
    return known


def _list_item_end(b, i, end):
    # Index of the comma ending the list item that starts at i (quotes and <>
    # respected), found with find() rather than a loop per byte.
    while True:
        c = b.find(b",", i, end)
        if c < 0:
            c = end
        q = b.find(b'"', i, c)
        a = b.find(b"<", i, c)
        if q < 0 and a < 0:
            return c
        if q >= 0 and (a < 0 or q < a):
            i = _quoted_end(b, q, end)
        else:
            j = b.find(b">", a, end)
            if j < 0:
                return end
            i = j + 1


def _method(b, s, e):
    # The request method b[s:e] when one of the common ones, as a shared bytes
    # object (a constant of this function, so reading it allocates nothing),
    # else None.
    for m in (
        b"INVITE",
        b"ACK",
        b"BYE",
        b"CANCEL",
        b"OPTIONS",
        b"REGISTER",
        b"PRACK",
        b"UPDATE",
        b"INFO",
        b"SUBSCRIBE",
        b"NOTIFY",
        b"REFER",
        b"MESSAGE",
    ):
        if e - s == len(m) and b.startswith(m, s):
            return m
    return None


# Zeros the offset arrays start from (a slice of an array is an array, copied in
# C), and the scratch array Message() fills (it grows with Message.max_headers).
_ZEROS = array("H", bytes(2 * _BASE))
_SCRATCH = array("H", bytes(2 * (_BASE + _H_SIZE * (Message.max_headers + 1))))


def parse(data, max_size=None):
    """Parse one datagram (bytes, bytearray or memoryview) into a Message.

    Raises SipError, and only SipError, when the datagram is too large (max_size,
    default Message.max_size) or is not a well-formed SIP message."""
    global _SCRATCH
    try:
        if len(data) > (Message.max_size if max_size is None else max_size):
            raise SipError("datagram too large")
        if not isinstance(data, bytes):
            data = bytes(data)  # the receive buffer is reused: a copy
        if _BASE + _H_SIZE * (Message.max_headers + 1) > len(_SCRATCH):
            _SCRATCH = array("H", bytes(2 * (_BASE + _H_SIZE * (Message.max_headers + 1))))
        return Message(data)
    except (IndexError, ValueError, UnicodeError, TypeError, KeyError, OverflowError) as e:
        # Not bytes (TypeError), or a slip of the parser on some odd input.
        raise SipError("malformed: %r" % e)


# -- numbers and answers ------------------------------------------------------


def asserted_identity(msg):
    """P-Asserted-Identity as a NameAddr (the provider's word on who calls), or None
    when there is none or it is not a name-addr."""
    try:
        return msg.name_addr(b"p-asserted-identity")
    except SipError:
        return None


def caller_number(msg, asserted=False, frm=None):
    """The caller's number: P-Asserted-Identity's user (or tel: number), else From's,
    %-escapes decoded and visual separators removed; "" when anonymous. asserted and
    frm: asserted_identity(msg) and From's NameAddr, for a caller that has them
    already (asserted False: not read yet)."""
    addr = asserted_identity(msg) if asserted is False else asserted
    if addr is None or not addr.user:
        addr = frm if frm is not None else msg.name_addr(b"from")
    return "" if addr is None else addr_number(addr)


def addr_number(addr):
    """The number of one NameAddr as caller_number() reads it."""
    # Digits (after a +), the usual number, need no more than the anonymous host
    # looked for; anything else is decoded and stripped a byte at a time.
    user = addr.user
    n = len(user)
    if n and _skip(user, 1 if user[0] == 43 else 0, n, _DIGIT) == n:
        return "" if addr.host.lower() == b"anonymous.invalid" else user.decode()
    if b"%" in user:  # %XX escapes decoded (a bad escape stays as it is)
        raw = user
        user = bytearray()
        i = 0
        n = len(raw)
        while i < n:
            c = raw[i]
            if c == 37 and i + 3 <= n:
                try:
                    c = int(raw[i + 1 : i + 3], 16)
                    i += 2
                except ValueError:
                    pass
            user.append(c)
            i += 1
        user = bytes(user)
    if (
        user.lower()
        in (
            b"anonymous",
            b"unknown",
            b"restricted",
            b"unavailable",
            b"private",
            b"withheld",
        )
        or addr.host.lower() == b"anonymous.invalid"
    ):
        return ""
    out = bytearray()
    for c in user:
        if c not in b"-.() \t":
            out.append(c)
    return _text(bytes(out))


def response(request, code, reason, to_tag=None):
    """Bytes of a response to `request` (section 8.2.6): its Via(s), From, To (with
    `to_tag` added when the To has no tag), Call-ID, CSeq; no body."""
    if isinstance(reason, str):
        reason = reason.encode()
    parts = [b"SIP/2.0 %d %s\r\n" % (code, reason)]
    for v in request.get_all(b"via"):
        parts.append(b"Via: %s\r\n" % v)
    to = request.get(b"to")
    if to_tag and not request._h[_NA_TO + _V_TAG]:
        to += b";tag=" + (to_tag if isinstance(to_tag, bytes) else to_tag.encode())
    parts.append(
        b"From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n"
        % (request.get(b"from"), to, request.call_id, request.get(b"cseq"))
    )
    return b"".join(parts)


# const() is only needed while the module loads (MicroPython folds it away).
del const

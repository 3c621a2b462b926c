# SIP messages (RFC 3261 section 7) read lazily from one UDP datagram.
#
# parse() checks what a gatekeeper must be able to trust (start line, the required
# headers, CSeq, Content-Length, Via, From/To/Contact syntax) by scanning the bytes
# in place; it keeps only offsets into the datagram, in one small array, and builds
# bytes slices, lists and NameAddr objects when a caller asks for them. Every
# problem with the input surfaces as SipError, nothing else.
from array import array

from hushgate.compat import const

MAX_SIZE = const(4096)
_MAX_CSEQ = const(2147483647)

# Slots at the start of a Message's offset array; header entries follow, four
# slots each: id (known header) or name key, line start, name end, line end (the
# CRLF of its last folded line).
_URI_S = const(0)
_URI_E = const(1)
_REASON_S = const(2)
_REASON_E = const(3)
_BODY_S = const(4)
_BODY_E = const(5)
_COUNT = const(6)
_CSEQ_M = const(7)
_FIRST = const(7)  # _FIRST + id: 1 + index of the first header with that id (0: none)
_BASE = const(18)

_SP = const(32)
_HT = const(9)
_CR = const(13)
_LF = const(10)
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


def _table(chars):
    flags = bytearray(256)
    for c in chars:
        flags[c] = 1
    return bytes(flags)


_ALNUM = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# RFC 3261 token.
_TOKEN = _table(_ALNUM + b"-.!%*_+`'~")
_HOST = _table(_ALNUM + b"-._")
_SCHEME = _table(_ALNUM + b"+-.")
_LWS = _table(b" \t\r\n")
_DIGIT = _table(b"0123456789")
# Parameter values: token, host (IPv6 included) or the odd separator seen in the wild.
_PVALUE = _table(_ALNUM + b"-.!%*_+`'~:[]/@")

_KNOWN_METHODS = (
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
    b"PUBLISH",
)


def _key(buf, start, end):
    # Cheap fingerprint of a header name (length, first and last letter, any case),
    # always >= 1024 so it never equals a known header's id; equal names give
    # equal keys, and a key match is confirmed byte by byte.
    n = end - start
    return (n if n < 63 else 63) << 10 | (buf[start] & 31) << 5 | (buf[end - 1] & 31)


# Known headers: usual spelling, "/" and the compact form, "*" when the values of
# one line are separate values (split at commas). id = position, from 1. The first
# _TRACKED get a slot in each Message holding where they first occur, filled while
# parsing; those between Via and Contact may occur only once. One bytes object
# and three small arrays, not a tuple of names: less heap when loaded from .mpy.
_SPEC = (
    b"Via/v* From/f To/t Call-ID/i CSeq Content-Length/l Max-Forwards Contact/m* Date Route*"
    b" Content-Type/c Content-Encoding/e* Subject/s Supported/k* Record-Route* Path*"
    b" User-Agent Server P-Asserted-Identity* Privacy Expires Allow* Require*"
    b" Proxy-Require* Unsupported* Accept* Event/o Allow-Events/u* Refer-To/r"
    b" Referred-By/b Session-Expires/x"
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
_TRACKED = const(10)


def _read_spec():
    starts = array("H", (0,))  # id 0: none
    ends = array("H", (0,))
    compact = bytearray(1)
    listed = bytearray(1)
    by_key = {}  # _key of a known name (long or compact) -> id
    i = 0
    n = len(_SPEC)
    while i < n:
        j = _SPEC.find(b" ", i)
        if j < 0:
            j = n
        e = j
        listed.append(_SPEC[e - 1] == 42)  # *
        if listed[-1]:
            e -= 1
        compact.append(_SPEC[e - 1] if _SPEC[e - 2] == 47 else 0)  # /x
        if compact[-1]:
            by_key[_key(_SPEC, e - 1, e)] = len(starts)
            e -= 2
        by_key[_key(_SPEC, i, e)] = len(starts)
        starts.append(i)
        ends.append(e)
        i = j + 1
    return starts, ends, bytes(compact), bytes(listed), by_key


_NAME_S, _NAME_E, _COMPACT, _LISTED, _BY_KEY = _read_spec()
# Names the code asks for (its own constants, so a handful) -> id (0: unknown).
_NAME_IDS = {}
_NAME_IDS_MAX = const(48)


def _same_ci(a, s, e, b, t):
    # a[s:e] equals b[t:t + e - s], ASCII letters in any case.
    for k in range(e - s):
        c = a[s + k]
        d = b[t + k]
        if c != d:
            c |= 32
            if c != d | 32 or c < 97 or c > 122:
                return False
    return True


def _same_name(buf, start, end, lower):
    return end - start == len(lower) and _same_ci(buf, start, end, lower, 0)


def _header_id(buf, s, e):
    # The id of header name buf[s:e] (long or compact form, any case), or 0.
    known = _BY_KEY.get(_key(buf, s, e))
    if known is None:
        return 0
    if e - s == 1:
        return known if (buf[s] | 32) == _COMPACT[known] else 0
    ns = _NAME_S[known]
    if _NAME_E[known] - ns == e - s and _same_ci(buf, s, e, _SPEC, ns):
        return known
    return 0


def _skip_lws(buf, i, end):
    while i < end and _LWS[buf[i]]:
        i += 1
    return i


def _skip(buf, i, end, flags):
    while i < end and flags[buf[i]]:
        i += 1
    return i


def _quoted_end(buf, i, end):
    # buf[i] is the opening quote; index after the closing one.
    i += 1
    while i < end:
        c = buf[i]
        if c == _DQUOTE:
            return i + 1
        if c == _BSLASH:
            i += 1
        i += 1
    raise SipError("unbalanced quote")


def _params_end(buf, i, end, stop):
    # `*( ; name [= value] )` from i; index where it stops (end, or `stop` byte).
    i = _skip_lws(buf, i, end)
    while i < end and buf[i] == _SEMI:
        i = _skip_lws(buf, i + 1, end)
        j = _skip(buf, i, end, _TOKEN)
        if j == i:
            raise SipError("empty parameter")
        i = _skip_lws(buf, j, end)
        if i < end and buf[i] == _EQ:
            i = _skip_lws(buf, i + 1, end)
            if i < end and buf[i] == _DQUOTE:
                j = _quoted_end(buf, i, end)
            else:
                j = _skip(buf, i, end, _PVALUE)
                if j == i:
                    raise SipError("empty parameter value")
            i = _skip_lws(buf, j, end)
    if i < end and buf[i] != stop:
        raise SipError("bad parameter")
    return i


def _via_end(buf, i, end):
    # One Via value from i: sent-protocol LWS sent-by params; index of the comma or end.
    i = _skip_lws(buf, i, end)
    for n in range(3):
        j = _skip(buf, i, end, _TOKEN)
        if j == i:
            raise SipError("bad Via protocol")
        i = _skip_lws(buf, j, end)
        if n < 2:
            if i >= end or buf[i] != _SLASH:
                raise SipError("bad Via protocol")
            i = _skip_lws(buf, i + 1, end)
    if i < end and buf[i] == 91:  # [IPv6]
        j = buf.find(b"]", i, end)
        if j < 0:
            raise SipError("bad Via host")
        j += 1
    else:
        j = _skip(buf, i, end, _HOST)
        if j == i:
            raise SipError("bad Via host")
    i = _skip_lws(buf, j, end)
    if i < end and buf[i] == _COLON:
        i = _skip_lws(buf, i + 1, end)
        j = _skip(buf, i, end, _DIGIT)
        if j == i or j - i > 5:
            raise SipError("bad Via port")
        i = j
    return _params_end(buf, i, end, _COMMA)


def _naddr(buf, i, end, multi, out):
    # One name-addr or addr-spec with its parameters, from i; index where it stops
    # (end, or the comma before the next value when `multi`). When `out` is an
    # array, its first six slots receive display start/end (equal: none), URI
    # start/end, parameters start/end.
    stop = _COMMA if multi else -1
    i = _skip_lws(buf, i, end)
    ds = de = i
    if i < end and buf[i] == _DQUOTE:
        de = _quoted_end(buf, i, end)
        i = _skip_lws(buf, de, end)
        if i >= end or buf[i] != _LT:
            raise SipError("display name without <uri>")
    else:
        j = i
        while j < end and (_TOKEN[buf[j]] or _LWS[buf[j]]):
            j += 1
        if j < end and buf[j] == _LT:
            de = j
            while de > ds and _LWS[buf[de - 1]]:
                de -= 1
            i = j
    if i < end and buf[i] == _LT:
        us = i + 1
        ue = buf.find(b">", us, end)
        if ue < 0:
            raise SipError("unclosed <")
        for k in range(us, ue):
            if _LWS[buf[k]]:
                raise SipError("space in <uri>")
        ps = ue + 1
    else:
        us = i
        ue = i
        while ue < end and buf[ue] != _SEMI and buf[ue] != stop and not _LWS[buf[ue]]:
            c = buf[ue]
            if c == 63 or c == _LT or c == _GT or c == _DQUOTE:  # ? < > "
                raise SipError("addr-spec needs <>")
            ue += 1
        ps = ue
    j = _skip(buf, us, ue, _SCHEME)
    if j == us or j >= ue or buf[j] != _COLON:
        if not (ue - us == 1 and buf[us] == 42 and multi):  # Contact: *
            raise SipError("bad URI")
    pe = _params_end(buf, ps, end, stop)
    if out is not None:
        out[0] = ds
        out[1] = de
        out[2] = us
        out[3] = ue
        out[4] = ps
        out[5] = pe
    return pe


def _digits(buf, i, end, most):
    # Decimal number of at most `most` digits in buf[i:end] (LWS around allowed).
    i = _skip_lws(buf, i, end)
    j = _skip(buf, i, end, _DIGIT)
    if j == i or j - i > most or _skip_lws(buf, j, end) != end:
        raise SipError("bad number")
    n = 0
    for k in range(i, j):
        n = n * 10 + buf[k] - 48
    return n


def _text(raw):
    # bytes -> str for people; never raises.
    try:
        return raw.decode()
    except UnicodeError:
        return "".join([chr(c) if c < 128 else "?" for c in raw])


def _unfold(value):
    if b"\r" not in value and b"\n" not in value:
        return value
    parts = value.replace(b"\r\n", b"\n").split(b"\n")
    for k in range(1, len(parts)):
        parts[k] = parts[k].lstrip(b" \t")
    return b" ".join(parts)


def _unescape_user(raw):
    # %XX escapes of a URI user part; a bad escape stays as it is.
    if b"%" not in raw:
        return raw
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c == 37 and i + 3 <= n:
            try:
                out.append(int(raw[i + 1 : i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(c)
        i += 1
    return bytes(out)


# NameAddr offset slots: display, URI, parameters (from _naddr), then the URI's
# scheme end, user and host spans, port.
_NA_SCHEME_E = const(6)
_NA_USER_S = const(7)
_NA_USER_E = const(8)
_NA_HOST_S = const(9)
_NA_HOST_E = const(10)
_NA_PORT = const(11)
_NA_ZEROS = (0,) * 12


class NameAddr:
    """A From/To/Contact/P-Asserted-Identity value, taken apart on demand.

    display: str (unescaped, "" when none); scheme (lower case), user, host: bytes
    (user still %-escaped; for tel: URIs the number; b"" for other schemes); port:
    int or None; params: dict of header parameters (lower-case bytes name -> bytes
    value, b"" for a bare name); tag: bytes or None; uri: bytes.
    """

    def __init__(self, buf, start, end):
        o = array("H", _NA_ZEROS)
        _naddr(buf, start, end, True, o)
        self._b = buf
        self._o = o
        us = o[2]
        ue = o[3]
        c = buf.find(b":", us, ue)
        o[_NA_SCHEME_E] = c if c > us else us
        o[_NA_USER_S] = o[_NA_USER_E] = o[_NA_HOST_S] = o[_NA_HOST_E] = ue
        if c < 0:
            return
        i = c + 1
        sl = c - us
        if (sl == 3 or sl == 4) and (buf[us] | 32) == 115 and (buf[us + 2] | 32) == 112:
            # sip: / sips: user[:password]@host[:port][;params][?headers]
            q = buf.find(b"?", i, ue)
            end = q if q >= 0 else ue
            at = buf.rfind(b"@", i, end)
            if at >= 0:
                pw = buf.find(b":", i, at)
                o[_NA_USER_S] = i
                o[_NA_USER_E] = pw if pw >= 0 else at
                i = at + 1
            else:
                o[_NA_USER_S] = o[_NA_USER_E] = i
            semi = buf.find(b";", i, end)
            hend = semi if semi >= 0 else end
            o[_NA_HOST_S] = i
            if i < hend and buf[i] == 91:  # [IPv6]
                close = buf.find(b"]", i, hend)
                j = close + 1 if close >= 0 else hend
            else:
                j = buf.find(b":", i, hend)
                if j < 0:
                    j = hend
            o[_NA_HOST_E] = j
            if j < hend and buf[j] == _COLON and 0 < hend - j - 1 <= 5:
                if _skip(buf, j + 1, hend, _DIGIT) == hend:
                    o[_NA_PORT] = _digits(buf, j + 1, hend, 5)
        elif sl == 3 and (buf[us] | 32) == 116 and (buf[us + 1] | 32) == 101:  # tel:
            semi = buf.find(b";", i, ue)
            o[_NA_USER_S] = i
            o[_NA_USER_E] = semi if semi >= 0 else ue
            o[_NA_HOST_S] = o[_NA_HOST_E] = i

    @property
    def display(self):
        o = self._o
        buf = self._b
        if o[0] == o[1]:
            return ""
        if buf[o[0]] != _DQUOTE:
            return _text(_unfold(buf[o[0] : o[1]]))
        raw = buf[o[0] + 1 : o[1] - 1]
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

    @property
    def uri(self):
        return self._b[self._o[2] : self._o[3]]

    @property
    def scheme(self):
        o = self._o
        return _lower_scheme(self._b, o[2], o[_NA_SCHEME_E])

    @property
    def user(self):
        return self._b[self._o[_NA_USER_S] : self._o[_NA_USER_E]]

    @property
    def host(self):
        return self._b[self._o[_NA_HOST_S] : self._o[_NA_HOST_E]]

    @property
    def port(self):
        return self._o[_NA_PORT] or None

    @property
    def params(self):
        return self._param(None)

    @property
    def tag(self):
        return self._param(b"tag")

    def _param(self, want):
        # The value of header parameter `want` (None when absent), or, for want None,
        # every parameter as a dict.
        buf = self._b
        pe = self._o[5]
        found = {} if want is None else None
        i = self._o[4]
        while True:
            i = _skip_lws(buf, i, pe)
            if i >= pe or buf[i] != _SEMI:
                return found
            i = _skip_lws(buf, i + 1, pe)
            ns = i
            i = _skip(buf, i, pe, _TOKEN)
            ne = i
            i = _skip_lws(buf, i, pe)
            vs = ve = i
            if i < pe and buf[i] == _EQ:
                vs = _skip_lws(buf, i + 1, pe)
                ve = (
                    _quoted_end(buf, vs, pe) if buf[vs] == _DQUOTE else _skip(buf, vs, pe, _PVALUE)
                )
                i = ve
            if want is None:
                found[buf[ns:ne].lower()] = buf[vs:ve]
            elif _same_name(buf, ns, ne, want):
                return buf[vs:ve]

    def __repr__(self):
        return "NameAddr(%r, %r)" % (self.display, self.uri)


def _lower_scheme(buf, s, e):
    for scheme in (b"sip", b"sips", b"tel"):
        if _same_name(buf, s, e, scheme):
            return scheme
    return buf[s:e].lower()


class Message:
    """One parsed datagram. Build with parse(); see docs/interfaces.md."""

    max_size = MAX_SIZE
    max_headers = 80
    version = b"SIP/2.0"  # the only one parse() accepts

    def __init__(self, data, max_size=None):
        limit = self.max_size if max_size is None else max_size
        if len(data) > limit:
            raise SipError("datagram too large")
        if len(data) > 65535:
            raise SipError("datagram too large")
        self._b = data
        self._parse(data)

    # -- parsing -------------------------------------------------------------

    def _parse(self, b):
        n = len(b)
        he = b.find(b"\r\n\r\n")
        if he <= 0:
            raise SipError("no end of headers")
        lines = b.count(b"\r\n", 0, he + 2)
        if lines - 1 > self.max_headers:
            raise SipError("too many header lines")
        h = array("H", memoryview(_ZEROS)[: _BASE + 4 * lines])
        self._h = h
        sl = b.find(b"\r\n")
        self._start_line(b, sl, h)
        count = 0
        i = sl + 2
        stop = he + 2
        while i < stop:
            e = b.find(b"\r\n", i, stop)
            c = b[i]
            if c == _SP or c == _HT:
                if count == 0:
                    raise SipError("folded first header")
                h[_BASE + 4 * count - 1] = e
            else:
                colon = b.find(b":", i, e)
                if colon < 0:
                    raise SipError("header line without colon")
                ne = colon
                while ne > i and (b[ne - 1] == _SP or b[ne - 1] == _HT):
                    ne -= 1
                if ne == i:
                    raise SipError("bad header name")
                k = _BASE + 4 * count
                known = _header_id(b, i, ne)
                if known:
                    key = known
                    if known <= _TRACKED:
                        if h[_FIRST + known] == 0:
                            h[_FIRST + known] = count + 1
                        elif _VIA < known < _CONTACT:  # single-valued ones
                            raise SipError("duplicate header")
                else:
                    if _skip(b, i, ne, _TOKEN) != ne:
                        raise SipError("bad header name")
                    key = _key(b, i, ne)
                h[k] = key
                h[k + 1] = i
                h[k + 2] = ne
                h[k + 3] = e
                count += 1
            i = e + 2
        h[_COUNT] = count
        self._check(b, h, n, he)

    def _start_line(self, b, sl, h):
        if b.startswith(b"SIP/2.0 "):
            self.method = None
            i = 8
            j = _skip(b, i, sl, _DIGIT)
            if j - i != 3 or (j < sl and b[j] != _SP):
                raise SipError("bad status code")
            status = (b[i] - 48) * 100 + (b[i + 1] - 48) * 10 + b[i + 2] - 48
            if status < 100 or status > 699:
                raise SipError("bad status code")
            self.status = status
            h[_REASON_S] = j + 1 if j < sl else sl
            h[_REASON_E] = sl
            return
        self.status = 0
        sp1 = b.find(b" ", 0, sl)
        sp2 = b.find(b" ", sp1 + 1, sl)
        if sp1 <= 0 or sp2 < 0 or b.find(b" ", sp2 + 1, sl) >= 0:
            raise SipError("bad request line")
        if sl - sp2 != 8 or not b.startswith(b"SIP/2.0", sp2 + 1):
            raise SipError("bad SIP version")
        if _skip(b, 0, sp1, _TOKEN) != sp1:
            raise SipError("bad method")
        us = sp1 + 1
        if sp2 == us or _skip(b, us, sp2, _LWS) != us:
            raise SipError("bad Request-URI")
        for k in range(us, sp2):
            if b[k] == _HT or b[k] < 32 or b[k] == _LT or b[k] == _GT:
                raise SipError("bad Request-URI")
        j = _skip(b, us, sp2, _SCHEME)
        if j == us or j >= sp2 or b[j] != _COLON:
            raise SipError("Request-URI without scheme")
        if (j - us == 3 and b.startswith(b"sip", us)) or (
            j - us == 4 and b.startswith(b"sips", us)
        ):
            at = b.rfind(b"@", us, sp2)
            if b.find(b"?", at + 1 if at >= 0 else us, sp2) >= 0:
                raise SipError("headers in Request-URI")
        h[_URI_S] = us
        h[_URI_E] = sp2
        self.method = _method(b, 0, sp1)

    def _check(self, b, h, n, he):
        if not (h[_FIRST + _FROM] and h[_FIRST + _TO] and h[_FIRST + _CALL_ID]):
            raise SipError("missing header")
        if not (h[_FIRST + _CSEQ] and h[_FIRST + _VIA]):
            raise SipError("missing header")
        # CSeq: number LWS method, the method equal to the request's.
        i = self._index(b"cseq", 0)
        vs = self._vs(i)
        ve = self._ve(i)
        j = _skip(b, vs, ve, _DIGIT)
        if j == vs or j - vs > 10 or j >= ve or not _LWS[b[j]]:
            raise SipError("bad CSeq")
        num = 0
        for k in range(vs, j):
            num = num * 10 + b[k] - 48
        if num > _MAX_CSEQ:
            raise SipError("CSeq out of range")
        self.cseq_num = num
        ms = _skip_lws(b, j, ve)
        if ms == ve or _skip(b, ms, ve, _TOKEN) != ve:
            raise SipError("bad CSeq method")
        h[_CSEQ_M] = ms
        if self.method is not None:
            m = self.method
            if ve - ms != len(m) or not b.startswith(m, ms):
                raise SipError("CSeq method differs from the request's")
        # Via: at least one, each value well formed.
        seen = 0
        i = self._index(b"via", 0)
        while i >= 0:
            vs = self._vs(i)
            ve = self._ve(i)
            while True:
                k = _via_end(b, vs, ve)
                seen += 1
                if k >= ve:
                    break
                vs = k + 1
            i = self._index(b"via", i + 1)
        if not seen:
            raise SipError("missing Via")
        for name in (b"from", b"to"):
            i = self._index(name, 0)
            ve = self._ve(i)
            if _naddr(b, self._vs(i), ve, False, None) != ve:
                raise SipError("bad " + name.decode())
        i = self._index(b"contact", 0)
        while i >= 0:
            vs = self._vs(i)
            ve = self._ve(i)
            while True:
                k = _naddr(b, vs, ve, True, None)
                if k >= ve:
                    break
                vs = k + 1
            i = self._index(b"contact", i + 1)
        i = self._index(b"max-forwards", 0)
        if i >= 0:
            vs = self._vs(i)
            ve = self._ve(i)
            _digits(b, vs, ve, 10)
        i = self._index(b"date", 0)
        if i >= 0:
            vs = self._vs(i)
            ve = self._ve(i)
            if ve - vs < 3 or not b.startswith(b"GMT", ve - 3):
                raise SipError("Date not in GMT")
        bs = he + 4
        i = self._index(b"content-length", 0)
        if i >= 0:
            vs = self._vs(i)
            ve = self._ve(i)
            length = _digits(b, vs, ve, 5)
            if bs + length > n:
                raise SipError("body shorter than Content-Length")
            h[_BODY_E] = bs + length
        else:
            h[_BODY_E] = n
        h[_BODY_S] = bs

    # -- header table --------------------------------------------------------

    def _index(self, name, start):
        # Index (0-based) of the first header named `name` (bytes, any case, long
        # or compact form) at or after `start`, or -1.
        h = self._h
        n = len(name)
        if n == 0:
            return -1
        known = _NAME_IDS.get(name)
        if known is None:
            known = _header_id(name, 0, n)
            if len(_NAME_IDS) < _NAME_IDS_MAX:
                _NAME_IDS[name] = known
        if known:
            if start == 0 and known <= _TRACKED:
                return h[_FIRST + known] - 1
            for i in range(start, h[_COUNT]):
                if h[_BASE + 4 * i] == known:
                    return i
            return -1
        key = _key(name, 0, n)
        b = self._b
        for i in range(start, h[_COUNT]):
            k = _BASE + 4 * i
            if h[k] == key and h[k + 2] - h[k + 1] == n:
                if _same_ci(b, h[k + 1], h[k + 2], name, 0):
                    return i
        return -1

    def _vs(self, i):
        # Where the value of header i starts (after the colon and LWS).
        k = _BASE + 4 * i
        h = self._h
        return _skip_lws(self._b, self._b.find(b":", h[k + 2]) + 1, h[k + 3])

    def _ve(self, i):
        # Where the value of header i ends (trailing LWS excluded).
        k = _BASE + 4 * i
        h = self._h
        b = self._b
        ve = h[k + 3]
        vs = h[k + 2]
        while ve > vs and _LWS[b[ve - 1]]:
            ve -= 1
        return ve

    # Offsets for proxy.py (const names do not exist at run time on MicroPython).
    def _uri_s(self):
        return self._h[_URI_S]

    def _uri_e(self):
        return self._h[_URI_E]

    def _body_e(self):
        return self._h[_BODY_E]

    def _line(self, i):
        # (line start, index after its CRLF) of header i, folded lines included.
        k = _BASE + 4 * i
        return self._h[k + 1], self._h[k + 3] + 2

    # -- public --------------------------------------------------------------

    @property
    def uri(self):
        return self._b[self._h[_URI_S] : self._h[_URI_E]] if self.method is not None else b""

    @property
    def reason(self):
        return self._b[self._h[_REASON_S] : self._h[_REASON_E]]

    @property
    def body(self):
        return self._b[self._h[_BODY_S] : self._h[_BODY_E]]

    @property
    def call_id(self):
        return self.get(b"call-id")

    @property
    def cseq_method(self):
        h = self._h
        k = _BASE + 4 * self._index(b"cseq", 0)
        ve = h[k + 3]
        b = self._b
        while _LWS[b[ve - 1]]:
            ve -= 1
        return _method(b, h[_CSEQ_M], ve)

    def get(self, name):
        """First value of header `name` (long or compact form, any case), or None."""
        i = self._index(name, 0)
        if i < 0:
            return None
        vs = self._vs(i)
        ve = self._ve(i)
        return _unfold(self._b[vs:ve])

    def get_all(self, name):
        """Every value of header `name`, in order; list headers split at commas."""
        split = _LISTED[_header_id(name, 0, len(name))] if name else 0
        out = []
        b = self._b
        i = self._index(name, 0)
        while i >= 0:
            vs = self._vs(i)
            ve = self._ve(i)
            if split:
                while True:
                    k = _list_item_end(b, vs, ve)
                    e = k
                    while e > vs and _LWS[b[e - 1]]:
                        e -= 1
                    if e > vs:
                        out.append(_unfold(b[vs:e]))
                    if k >= ve:
                        break
                    vs = _skip_lws(b, k + 1, ve)
            else:
                out.append(_unfold(b[vs:ve]))
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
        try:
            return NameAddr(self._b, self._vs(i), self._ve(i))
        except (IndexError, ValueError, UnicodeError) as e:
            raise SipError("bad name-addr: %r" % e)

    def headers(self):
        """[(name, value)] in order, names as sent, values unfolded (for tests, tools)."""
        out = []
        h = self._h
        b = self._b
        for i in range(h[_COUNT]):
            k = _BASE + 4 * i
            vs = self._vs(i)
            ve = self._ve(i)
            out.append((b[h[k + 1] : h[k + 2]], _unfold(b[vs:ve])))
        return out

    def to_bytes(self):
        """The message as sent, without bytes beyond Content-Length."""
        end = self._h[_BODY_E]
        return self._b if end == len(self._b) else self._b[:end]


def _list_item_end(b, i, end):
    # Index of the comma ending the list item that starts at i (quotes and <> respected).
    while i < end:
        c = b[i]
        if c == _COMMA:
            return i
        if c == _DQUOTE:
            i = _quoted_end(b, i, end)
            continue
        if c == _LT:
            j = b.find(b">", i, end)
            if j < 0:
                return end
            i = j
        i += 1
    return end


def _method(b, s, e):
    # The request method; one shared bytes object for the common ones.
    for m in _KNOWN_METHODS:
        if e - s == len(m) and b.startswith(m, s):
            return m
    return b[s:e]


_ZEROS = bytes(_BASE + 4 * (Message.max_headers + 2))


def parse(data, max_size=None):
    """Parse one datagram (bytes, bytearray or memoryview) into a Message.

    Raises SipError, and only SipError, when the datagram is too large (max_size,
    default Message.max_size) or is not a well-formed SIP message."""
    try:
        size = len(data)
    except TypeError:
        raise SipError("not bytes")
    limit = Message.max_size if max_size is None else max_size
    if size > limit:
        raise SipError("datagram too large")
    if not isinstance(data, bytes):
        try:
            data = bytes(data)
        except TypeError:
            raise SipError("not bytes")
    if Message.max_headers + 2 > (len(_ZEROS) - _BASE) // 4:
        _grow_zeros()
    try:
        return Message(data, limit)
    except SipError:
        raise
    except (IndexError, ValueError, UnicodeError, TypeError, KeyError, OverflowError) as e:
        raise SipError("malformed: %r" % e)


def _grow_zeros():
    global _ZEROS
    _ZEROS = bytes(_BASE + 4 * (Message.max_headers + 2))


# -- numbers and answers ------------------------------------------------------

_ANONYMOUS = (b"anonymous", b"unknown", b"restricted", b"unavailable", b"private", b"withheld")


def caller_number(msg):
    """The caller's number: P-Asserted-Identity's user (or tel: number), else From's,
    %-escapes decoded and visual separators removed; "" when anonymous."""
    addr = None
    try:
        addr = msg.name_addr(b"p-asserted-identity")
    except SipError:
        addr = None
    if addr is None or not addr.user:
        addr = msg.name_addr(b"from")
    if addr is None:
        return ""
    user = _unescape_user(addr.user)
    if user.lower() in _ANONYMOUS or addr.host.lower() == b"anonymous.invalid":
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
    b = request._b
    parts = [b"SIP/2.0 %d %s\r\n" % (code, reason)]
    i = request._index(b"via", 0)
    while i >= 0:
        vs = request._vs(i)
        ve = request._ve(i)
        parts.append(b"Via: ")
        parts.append(_unfold(b[vs:ve]))
        parts.append(b"\r\n")
        i = request._index(b"via", i + 1)
    for label, name in ((b"From: ", b"from"), (b"To: ", b"to"), (b"Call-ID: ", b"call-id")):
        parts.append(label)
        parts.append(request.get(name))
        if name == b"to" and to_tag and request.name_addr(b"to").tag is None:
            parts.append(b";tag=")
            parts.append(to_tag if isinstance(to_tag, bytes) else to_tag.encode())
        parts.append(b"\r\n")
    parts.append(b"CSeq: ")
    parts.append(request.get(b"cseq"))
    parts.append(b"\r\nContent-Length: 0\r\n\r\n")
    return b"".join(parts)

# The call log: the last calls in a fixed ring, and counters.
#
# Counters exist three times: since boot (RAM only), in total and since the user
# last looked ("unseen", the LED's "a call was blocked"). The last two survive a
# reboot through the state folder, written at most every save_every_ms because
# flash wears out.
#
# What runs at start, on a config change or when the counters are written (reading
# and writing the counters file, resize) is in hushgate/calllogfile.py, loaded for
# the call and dropped again: it costs heap only meanwhile.
from struct import pack_into, unpack_from

from hushgate.compat import const, ticks_diff

# A verdict's kind: what the call counts as. Kinds other than "rang" mean the
# phone stayed silent, which is what the LED's "blocked" state reports.
KINDS = ("rang", "blocked", "quiet", "scanner")

# The entries live in one bytearray allocated with the log, a record of _RECORD
# bytes each: a call logged allocates nothing that lasts, and 50 entries hold
# 4.8 KB whatever arrives (as tuples of fresh strings they held twice that).
# A record: id, utc + 1 (0 when unknown), code, action, kind (index in KINDS),
# the byte lengths of number, name and reason, the source's four octets, then
# number, name and reason as UTF-8 in the _TEXT bytes after this header.
_HEAD = "<IIHBB3B"
_IP_AT = const(15)
_HEAD_SIZE = const(19)
_KIND_AT = const(11)
_TEXT = const(77)
_RECORD = const(96)


def _as_dict(item):
    # item: one record (a memoryview of the ring, as _newest gives them).
    f = unpack_from(_HEAD, item)
    texts = []
    at = _HEAD_SIZE
    for n in f[5:]:
        texts.append(bytes(item[at : at + n]).decode())
        at += n
    return _entry(
        f[0], f[1] - 1 if f[1] else None, texts, item[_IP_AT : _IP_AT + 4], f[3], f[2], f[4]
    )


def _entry(seq, utc, texts, octets, action, code, kind):
    # texts: number, name, reason; kind: index in KINDS.
    return {
        "id": seq,
        "utc": utc,
        "number": texts[0],
        "name": texts[1],
        "source": "%d.%d.%d.%d" % (octets[0], octets[1], octets[2], octets[3]),
        "action": ("forward", "answer", "drop")[action] if action < 3 else str(action),
        "code": code,
        "reason": texts[2],
        "kind": KINDS[kind],
    }


def _zeros():
    return {"calls": 0, "rang": 0, "blocked": 0, "quiet": 0, "scanner": 0}


class CallLog:
    size = 50
    save_every_ms = 10 * 60 * 1000
    file = "counters.json"
    # Limits in UTF-8 bytes; a longer text is cut at a character and ends in "…".
    # The three share a record's _TEXT bytes: the name gets what number and reason
    # leave (all of max_name unless both are unusually long).
    max_number = 32
    max_name = 40
    max_reason = 60

    def __init__(self, store=None, size=None):
        if size:
            self.size = size
        self._ring = bytearray(self.size * _RECORD)
        self._count = 0  # entries held
        self._next = 0  # slot the next entry goes to
        self._seq = 0  # id of the last entry
        self._ip = None  # the last source logged, and its octets
        self._octets = None
        self.counters = _zeros()  # since boot
        self.totals = _zeros()  # since the counters file was made
        self.unseen = _zeros()  # since acknowledge()
        self.store = store
        self.problem = ""  # what went wrong reading the counters file, for the web page
        self._dirty = False
        self._saved_at = None
        if store is not None:
            from hushgate.calllogfile import load

            load(self)

    # ---- entries -------------------------------------------------------------

    def record(self, utc, number, name, source_ip, verdict):
        """Log one call attempt and count it; returns the entry (a dict)."""
        kind = getattr(verdict, "kind", None)
        action = verdict.action
        if kind not in KINDS:
            kind = "rang" if action == 0 else "blocked"
        self._seq += 1
        # Number first (the web page blocks and allows by it), then reason, then
        # name, each within what the record has left.
        raws = []
        texts = []
        room = _TEXT
        for text, limit in (
            (number, self.max_number),
            (verdict.reason, self.max_reason),
            (name, self.max_name),
        ):
            if text is None:
                text = ""
            elif not isinstance(text, str):
                text = str(text)
            raw = text.encode()
            limit = min(limit, room)
            if len(raw) > limit:
                cut = limit - 3
                while cut > 0 and raw[cut] & 0xC0 == 0x80:  # not inside a character
                    cut -= 1
                raw = raw[:cut] + b"\xe2\x80\xa6" if cut > 0 else b""
                text = raw.decode()
            raws.append(raw)
            texts.append(text)
            room -= len(raw)
        ring = self._ring
        at = self._next * _RECORD
        end = at + _HEAD_SIZE
        for raw in (raws[0], raws[2], raws[1]):
            ring[end : end + len(raw)] = raw
            end += len(raw)
        # The source: calls come from the provider's few addresses, so the last one's
        # octets are kept rather than parsed again.
        if source_ip != self._ip:
            octets = bytearray(4)
            try:
                parts = source_ip.split(".")
                for i in range(4):
                    octets[i] = int(parts[i]) & 0xFF
            except (AttributeError, ValueError, IndexError):
                pass  # not an IPv4 address: logged as 0.0.0.0
            self._ip = source_ip
            self._octets = octets
        octets = self._octets
        ring[at + _IP_AT : at + _IP_AT + 4] = octets
        code = verdict.code
        if not (isinstance(code, int) and 0 <= code <= 0xFFFF):
            code = 0
        if not (isinstance(action, int) and 0 <= action < 256):
            action = 255
        kind = KINDS.index(kind)
        if not (isinstance(utc, int) and 0 <= utc < 0xFFFFFFFF):
            utc = None
        pack_into(
            _HEAD,
            ring,
            at,
            self._seq,
            0 if utc is None else utc + 1,
            code,
            action,
            kind,
            len(raws[0]),
            len(raws[2]),
            len(raws[1]),
        )
        self._next = (self._next + 1) % self.size
        if self._count < self.size:
            self._count += 1
        for counts in (self.counters, self.totals, self.unseen):
            counts["calls"] += 1
            counts[KINDS[kind]] += 1
        self._dirty = True
        return _entry(self._seq, utc, (texts[0], texts[2], texts[1]), octets, action, code, kind)

    def count(self, kind, n=1):
        """Count an event that is not a call (e.g. "unknown_source"), since boot and in total.

        Scanners knock all day: these alone do not make the counters due for a write;
        they are saved with the next call, acknowledgement or clean stop.
        """
        # Written out, not a loop over a tuple of the two: a stranger's refused
        # datagram comes through here and must not allocate (a new kind aside).
        counts = self.counters
        counts[kind] = counts.get(kind, 0) + n
        counts = self.totals
        counts[kind] = counts.get(kind, 0) + n

    def _newest(self):
        # The records (memoryviews of the ring, for _as_dict), newest first.
        out = []
        ring = memoryview(self._ring)
        size = self.size
        i = self._next
        for _ in range(self._count):
            i = (i - 1) % size
            out.append(ring[i * _RECORD : i * _RECORD + _RECORD])
        return out

    def entries(self):
        """Every entry, newest first, as dicts ready for JSON."""
        out = []
        for item in self._newest():
            out.append(_as_dict(item))
        return out

    def find(self, entry_id):
        # Ids are consecutive, newest last: the entry's place follows from its id.
        back = self._seq - entry_id if isinstance(entry_id, int) else -1
        if 0 <= back < self._count:
            return _as_dict(self._newest()[back])
        return None

    def last_caller(self):
        """Number of the last call that rang ("" if it was anonymous), or None."""
        for item in self._newest():
            if item[_KIND_AT] == 0:  # kind "rang"
                return _as_dict(item)["number"]
        return None

    def resize(self, size):
        """Change the bound, keeping the newest entries that fit."""
        if size != self.size:
            from hushgate.calllogfile import resize

            resize(self, size)

    # ---- since the user last looked ---------------------------------------------

    def unseen_silenced(self):
        """Calls that did not ring since acknowledge(): the LED's "a call was blocked"."""
        unseen = self.unseen
        return unseen["blocked"] + unseen["quiet"] + unseen["scanner"]

    def acknowledge(self):
        self.unseen = _zeros()
        self._dirty = True
        self.save()

    # ---- persistence --------------------------------------------------------------

    def save(self):
        """Write the counters now (clean stop, or the user looked). True if written."""
        if self.store is None or not self._dirty:
            return False
        from hushgate.calllogfile import save

        return save(self)

    def tick(self, now_ms):
        """Called periodically: writes the counters when changed and due. True if written."""
        if self._saved_at is None:
            self._saved_at = now_ms
            return False
        if self._dirty and ticks_diff(now_ms, self._saved_at) >= self.save_every_ms:
            self._saved_at = now_ms
            return self.save()
        return False

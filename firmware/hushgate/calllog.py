# The call log: the last calls in a fixed ring, and counters.
#
# Counters exist three times: since boot (RAM only), in total and since the user
# last looked ("unseen", the LED's "a call was blocked"). The last two survive a
# reboot through the state folder, written at most every save_every_ms because
# flash wears out.
from hushgate.compat import const, ticks_diff

# A verdict's kind: what the call counts as. Kinds other than "rang" mean the
# phone stayed silent, which is what the LED's "blocked" state reports.
KINDS = ("rang", "blocked", "quiet", "scanner")

# Fields of an entry (a tuple: cheaper than a dict or an object per call).
_ID = const(0)
_UTC = const(1)
_NUMBER = const(2)
_NAME = const(3)
_SOURCE = const(4)
_ACTION = const(5)
_CODE = const(6)
_REASON = const(7)
_KIND = const(8)


def _as_dict(item):
    action = item[_ACTION]
    return {
        "id": item[_ID],
        "utc": item[_UTC],
        "number": item[_NUMBER],
        "name": item[_NAME],
        "source": item[_SOURCE],
        "action": ("forward", "answer", "drop")[action] if 0 <= action < 3 else str(action),
        "code": item[_CODE],
        "reason": item[_REASON],
        "kind": item[_KIND],
    }


def _zeros():
    return {"calls": 0, "rang": 0, "blocked": 0, "quiet": 0, "scanner": 0}


class CallLog:
    size = 50
    save_every_ms = 10 * 60 * 1000
    file = "counters.json"
    max_number = 32
    max_name = 40
    max_reason = 60

    def __init__(self, store=None, size=None):
        if size:
            self.size = size
        self._ring = [None] * self.size
        self._next = 0  # slot the next entry goes to
        self._seq = 0  # id of the last entry
        self.counters = _zeros()  # since boot
        self.totals = _zeros()  # since the counters file was made
        self.unseen = _zeros()  # since acknowledge()
        self.store = store
        self.problem = ""  # what went wrong reading the counters file, for the web page
        self._dirty = False
        self._saved_at = None
        if store is None:
            return
        # The counters file: totals and unseen survive a reboot.
        data, problem = store.read_json(self.file)
        if data is None and problem == self.file + " is missing":
            problem = ""  # first boot
        self.problem = problem
        if not isinstance(data, dict):
            return
        for name in ("totals", "unseen"):
            saved = data.get(name)
            if not isinstance(saved, dict):
                continue
            counts = getattr(self, name)
            for key in saved:
                value = saved[key]
                # JSON keys are text; a bounded number of kinds, whatever the file says.
                if isinstance(value, int) and value >= 0 and (key in counts or len(counts) < 32):
                    counts[key] = value

    # ---- entries -------------------------------------------------------------

    def record(self, utc, number, name, source_ip, verdict):
        """Log one call attempt and count it; returns the entry (a dict)."""
        kind = getattr(verdict, "kind", None)
        action = verdict.action
        if kind not in KINDS:
            kind = "rang" if action == 0 else "blocked"
        self._seq += 1
        texts = [number, name, verdict.reason]
        limits = (self.max_number, self.max_name, self.max_reason)
        for i in range(3):
            text = texts[i]
            if text is None:
                text = ""
            elif not isinstance(text, str):
                text = str(text)
            if len(text) > limits[i]:
                text = text[: limits[i] - 1] + "…"
            texts[i] = text
        number, name, reason = texts
        item = (self._seq, utc, number, name, source_ip, action, verdict.code, reason, kind)
        self._ring[self._next] = item
        self._next = (self._next + 1) % self.size
        for counts in (self.counters, self.totals, self.unseen):
            counts["calls"] += 1
            counts[kind] += 1
        self._dirty = True
        return _as_dict(item)

    def count(self, kind, n=1):
        """Count an event that is not a call (e.g. "unknown_source"), since boot and in total.

        Scanners knock all day: these alone do not make the counters due for a write;
        they are saved with the next call, acknowledgement or clean stop.
        """
        for counts in (self.counters, self.totals):
            counts[kind] = counts.get(kind, 0) + n

    def _newest(self):
        # The entries (tuples), newest first.
        out = []
        size = self.size
        i = self._next
        for _ in range(size):
            i = (i - 1) % size
            item = self._ring[i]
            if item is None:
                break
            out.append(item)
        return out

    def entries(self):
        """Every entry, newest first, as dicts ready for JSON."""
        out = []
        for item in self._newest():
            out.append(_as_dict(item))
        return out

    def find(self, entry_id):
        for item in self._newest():
            if item[_ID] == entry_id:
                return _as_dict(item)
        return None

    def last_caller(self):
        """Number of the last call that rang ("" if it was anonymous), or None."""
        for item in self._newest():
            if item[_KIND] == "rang":
                return item[_NUMBER]
        return None

    def resize(self, size):
        """Change the bound, keeping the newest entries that fit."""
        if size == self.size:
            return
        keep = self._newest()[:size]
        keep.reverse()
        self.size = size
        self._ring = keep + [None] * (size - len(keep))
        self._next = len(keep) % size

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
        """Write the counters now (clean stop, or the user looked)."""
        if self.store is None or not self._dirty:
            return False
        data = {"version": 1, "totals": self.totals, "unseen": self.unseen}
        try:
            self.store.write_json(self.file, data)
        except OSError as e:
            # A full or failing flash must not stop the calls; the page shows it.
            self.problem = "could not write %s: %s" % (self.file, e)
            return False
        self._dirty = False
        self.problem = ""
        return True

    def tick(self, now_ms):
        """Called periodically: writes the counters when changed and due. True if written."""
        if self._saved_at is None:
            self._saved_at = now_ms
            return False
        if self._dirty and ticks_diff(now_ms, self._saved_at) >= self.save_every_ms:
            self._saved_at = now_ms
            return self.save()
        return False

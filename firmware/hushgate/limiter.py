# Per-source rate limit with temporary bans, checked on every inbound datagram
# before it is parsed (DESIGN.md, gate step 1).
#
# A token bucket per source address in a fixed-size table (parallel lists indexed
# by slot, so an update stores small ints and allocates nothing), a ban once a
# source empties its bucket, and one shared bucket for all untrusted traffic so a
# flood from ever-new (spoofed) addresses neither churns the table nor eats the
# CPU. Refusing a datagram allocates nothing: a flood costs one dict look-up.
from hushgate.compat import const, ticks_diff
from hushgate.config import in_networks

_TOKEN = const(1000)  # one datagram, in milli-tokens: integer arithmetic, no floats

# Slot states.
_FREE = const(0)
_OK = const(1)
_BANNED = const(2)
_TRUSTED = const(3)  # a trusted network: never limited


class Limiter:
    size = 64  # sources tracked; the least recently seen one is evicted
    burst = 30  # datagrams one source may send at once
    per_second = 5  # ... and steadily after that
    ban_ms = 600000  # a source that empties its bucket is refused this long (0: no ban)
    # All untrusted sources together. Parsing one datagram costs a few tens of ms on
    # an ESP32, so this is what keeps a scan from many addresses off the CPU.
    shared_burst = 60
    shared_per_second = 10

    def __init__(self, size=None, burst=None, per_second=None, ban_ms=None):
        self._built = None
        self.configure(size, burst, per_second, ban_ms)
        self._exempt = {}
        self.trusted = []  # (net, mask) pairs, from config.network()
        self.refused = 0  # datagrams refused since boot
        self.bans = 0  # bans started since boot

    def configure(self, size=None, burst=None, per_second=None, ban_ms=None):
        if burst is not None:
            self.burst = burst
        if per_second is not None:
            self.per_second = per_second
        if ban_ms is not None:
            self.ban_ms = ban_ms
        self._cap = self.burst * _TOKEN
        # Beyond this many ms of silence a bucket is full again; below it the
        # refill product stays a small int.
        self._full_ms = self._cap // self.per_second + 1
        self._shared_cap = self.shared_burst * _TOKEN
        self._shared_full_ms = self._shared_cap // self.shared_per_second + 1
        if size is not None:
            self.size = size
        if self._built != self.size:
            self._build()

    def _build(self):
        size = self.size
        self._slot = {}  # ip -> slot
        self._ips = [None] * size
        self._state = [_FREE] * size
        self._tokens = [0] * size
        self._seen = [0] * size  # ticks of the last refill, or of the ban
        self._shared = self._shared_cap
        self._shared_seen = None
        self._built = size

    def exempt(self, ips):
        """Addresses never limited nor banned (the provider's); replaces the previous set."""
        exempt = {}
        for ip in ips:
            exempt[ip] = True
            self.forget(ip)
        self._exempt = exempt

    def forget(self, ip):
        i = self._slot.pop(ip, None)
        if i is not None:
            self._ips[i] = None
            self._state[i] = _FREE

    def is_banned(self, ip, now_ms):
        i = self._slot.get(ip)
        return (
            i is not None
            and self._state[i] == _BANNED
            and 0 <= ticks_diff(now_ms, self._seen[i]) < self.ban_ms
        )

    def banned(self, now_ms):
        """Addresses banned now (for the web page)."""
        return [ip for ip in self._slot if self.is_banned(ip, now_ms)]

    def __len__(self):
        return len(self._slot)

    def admit(self, ip, now_ms):
        """True to let the datagram through. Allocates nothing when it says no."""
        if ip in self._exempt:
            return True
        i = self._slot.get(ip)
        if i is None:
            if not self._take_shared(now_ms):
                self.refused += 1
                return False
            self._insert(ip, now_ms)
            return True
        state = self._state[i]
        if state == _TRUSTED:
            return True
        if state == _BANNED:
            since = ticks_diff(now_ms, self._seen[i])
            if 0 <= since < self.ban_ms:
                self.refused += 1
                return False
            self._state[i] = _OK
            self._tokens[i] = self._cap
            self._seen[i] = now_ms
        elapsed = ticks_diff(now_ms, self._seen[i])
        self._seen[i] = now_ms
        tokens = self._tokens[i]
        if elapsed < 0 or elapsed >= self._full_ms:
            tokens = self._cap
        else:
            tokens += elapsed * self.per_second
            if tokens > self._cap:
                tokens = self._cap
        if tokens < _TOKEN:
            self._tokens[i] = tokens
            if self.ban_ms > 0:
                self._state[i] = _BANNED
                self.bans += 1
            self.refused += 1
            return False
        if not self._take_shared(now_ms):
            self._tokens[i] = tokens
            self.refused += 1
            return False
        self._tokens[i] = tokens - _TOKEN
        return True

    def _take_shared(self, now_ms):
        seen = self._shared_seen
        tokens = self._shared
        if seen is None:
            tokens = self._shared_cap
        else:
            elapsed = ticks_diff(now_ms, seen)
            if elapsed < 0 or elapsed >= self._shared_full_ms:
                tokens = self._shared_cap
            else:
                tokens += elapsed * self.shared_per_second
                if tokens > self._shared_cap:
                    tokens = self._shared_cap
        self._shared_seen = now_ms
        if tokens < _TOKEN:
            self._shared = tokens
            return False
        self._shared = tokens - _TOKEN
        return True

    def _insert(self, ip, now_ms):
        i = self._victim(now_ms)
        old = self._ips[i]
        if old is not None:
            del self._slot[old]
        self._ips[i] = ip
        self._slot[ip] = i
        self._seen[i] = now_ms
        if self.trusted and in_networks(ip, self.trusted):
            self._state[i] = _TRUSTED
            return
        self._state[i] = _OK
        self._tokens[i] = self._cap - _TOKEN

    def _victim(self, now_ms):
        # A free slot, else the least recently seen source that is not banned,
        # else the ban that started first (it ends soonest).
        best = -1
        best_age = -1
        best_banned = True
        for i in range(self.size):
            state = self._state[i]
            if state == _FREE:
                return i
            banned = state == _BANNED and 0 <= ticks_diff(now_ms, self._seen[i]) < self.ban_ms
            age = ticks_diff(now_ms, self._seen[i])
            if age < 0:
                age = 1 << 29  # wrapped: older than anything
            if (best_banned and not banned) or (banned == best_banned and age > best_age):
                best, best_age, best_banned = i, age, banned
        return best

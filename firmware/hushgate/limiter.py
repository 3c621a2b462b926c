# Per-source rate limit with temporary bans, checked on every inbound datagram
# before it is parsed (DESIGN.md, gate step 1).
#
# A token bucket per source address in a fixed-size table (a dict ip -> slot, and
# per slot two int32 array cells, so an update stores small ints and allocates
# nothing), a ban once a source empties its bucket, and one shared
# bucket for all untrusted traffic so a flood from ever-new (spoofed) addresses
# neither churns the table nor eats the CPU. Refusing a datagram allocates
# nothing: a flood costs one dict look-up.
#
# Kept small for a 110 KB heap: few methods (the shared bucket is written out
# inside admit) and arrays rather than lists of ints.
from array import array

from hushgate.compat import const, presized, ticks_diff
from hushgate.config import in_networks

_TOKEN = const(1000)  # one datagram, in milli-tokens: integer arithmetic, no floats

# A slot's _tokens cell is its bucket (>= 0), or one of these states.
_FREE = const(-1)
_BANNED = const(-2)  # since the tick in its _seen cell
_TRUSTED = const(-3)  # a trusted network: never limited


class Limiter:
    size = 64  # sources tracked; the least recently seen one is evicted
    # ... of this many slots taken in turn (a sampled LRU): a new source evicts for
    # this many steps, not one per slot (a scan brings a new source per datagram).
    evict_sample = 8
    burst = 30  # datagrams one source may send at once
    per_second = 5  # ... and steadily after that
    ban_ms = 600000  # a source that empties its bucket is refused this long (0: no ban)
    # All untrusted sources together. Parsing one datagram costs a few tens of ms on
    # an ESP32, so this is what keeps a scan from many addresses off the CPU.
    shared_burst = 60
    shared_per_second = 10
    # What the gate sets; exempt() and the gate replace these objects, never
    # change them in place, so class-level values are safe.
    trusted = ()  # (net, mask) pairs, from config.network()
    _exempt = ()  # exempt() makes it a dict
    _tokens = None

    def configure(self, size=None, burst=None, per_second=None, ban_ms=None):
        """New limits (None keeps one); a new size empties the table."""
        if self._tokens is None:
            # First call (as __init__): counters on the instance now, so that
            # counting a refusal never allocates.
            self.refused = 0  # datagrams refused since boot
            self.bans = 0  # bans started since boot
            self.changes = 0  # counts changes to what passes() returns
        if burst is not None:
            self.burst = burst
        if per_second is not None:
            self.per_second = per_second
        if ban_ms is not None:
            self.ban_ms = ban_ms
        if size is not None:
            self.size = size
        self._cap = self.burst * _TOKEN
        # Beyond this many ms of silence a bucket is full again; below it the
        # refill product stays a small int (no long ints on a 32-bit board).
        self._full_ms = self._cap // self.per_second + 1
        self._shared_cap = self.shared_burst * _TOKEN
        self._shared_full_ms = self._shared_cap // self.shared_per_second + 1
        size = self.size
        if self._tokens is None or len(self._tokens) != size + 1:
            self._slot = presized(size)  # ip -> slot; its table never grows
            self._ips = [None] * size  # slot -> ip
            self._hand = 0  # the slot the next eviction looks at first
            # Per slot, and in the extra last cell the shared bucket: tokens (or
            # the state), and ticks of the last refill or of the ban. ticks_ms()
            # < 2**30 and tokens <= 1000 * _TOKEN: both fit an int32.
            tokens = self._tokens = array("i", bytes(4 * size + 4))
            self._seen = array("i", bytes(4 * size + 4))
            for i in range(size):
                tokens[i] = _FREE
            tokens[size] = self.shared_burst * _TOKEN
            self.changes += 1

    __init__ = configure  # Limiter(size, burst, per_second, ban_ms)

    # closed(), passes() and banned() let the socket refuse a datagram before it
    # reads it whole and builds the address admit() takes (udp.Endpoint: on the
    # unix port that costs more than the refusal itself).
    def closed(self, now_ms):
        """True while admit() refuses every source but those of passes(): the shared
        bucket has no token at now_ms. Changes nothing."""
        last = self.size
        elapsed = ticks_diff(now_ms, self._seen[last])
        if elapsed < 0 or elapsed >= self._shared_full_ms:
            return False
        return self._tokens[last] + elapsed * self.shared_per_second < _TOKEN

    def passes(self):
        """The addresses admit() lets through even while closed(): the exempt ones
        and the trusted ones in the table. `changes` counts changes to this list."""
        ips = list(self._exempt)
        for ip in self._slot:
            if self._tokens[self._slot[ip]] == _TRUSTED:
                ips.append(ip)
        return ips

    def banned(self, ip, now_ms):
        """True while admit() would refuse ip for its ban at now_ms. Changes nothing."""
        i = self._slot.get(ip)
        if i is None or self._tokens[i] != _BANNED:
            return False
        elapsed = ticks_diff(now_ms, self._seen[i])
        return 0 <= elapsed < self.ban_ms

    def exempt(self, ips):
        """Addresses never limited nor banned (the provider's); replaces the previous set."""
        exempt = {}
        for ip in ips:
            exempt[ip] = True
            i = self._slot.pop(ip, None)
            if i is not None:
                self._tokens[i] = _FREE
                self._ips[i] = None
        self._exempt = exempt
        self.changes += 1

    # admit() keeps to seven locals and short expressions: a MicroPython function
    # whose frame (locals + value stack) outgrows about ten slots gets it from the
    # heap on every call, which is both an allocation and slow (the tests check it).
    # The shared bucket is written out once, at its end, where every untrusted
    # datagram that got past its own source's bucket comes.
    def admit(self, ip, now_ms):
        """True to let the datagram through. Allocates nothing when it says no."""
        if ip in self._exempt:
            return True
        i = self._slot.get(ip)
        if i is not None:
            tokens = self._tokens[i]
            if tokens == _TRUSTED:
                return True
            elapsed = ticks_diff(now_ms, self._seen[i])
            if tokens == _BANNED and 0 <= elapsed < self.ban_ms:
                self.refused += 1
                return False
            # This source's bucket (full again after a ban: tokens < 0).
            self._seen[i] = now_ms
            if tokens < 0 or elapsed < 0 or elapsed >= self._full_ms:
                tokens = self._cap
            else:
                tokens += elapsed * self.per_second
                if tokens > self._cap:
                    tokens = self._cap
            self._tokens[i] = tokens
            if tokens < _TOKEN:
                if self.ban_ms > 0:
                    self._tokens[i] = _BANNED
                    self.bans += 1
                self.refused += 1
                return False
        # One token from the shared bucket of every untrusted source, kept in the
        # tables' last cell.
        last = self.size
        elapsed = ticks_diff(now_ms, self._seen[last])
        self._seen[last] = now_ms
        tokens = self._tokens[last]
        if elapsed < 0 or elapsed >= self._shared_full_ms:
            tokens = self._shared_cap
        else:
            tokens += elapsed * self.shared_per_second
            if tokens > self._shared_cap:
                tokens = self._shared_cap
        if tokens < _TOKEN:
            self._tokens[last] = tokens
            self.refused += 1
            return False
        self._tokens[last] = tokens - _TOKEN
        if i is None:
            self._insert(ip, now_ms)
        else:
            self._tokens[i] -= _TOKEN
        return True

    def _insert(self, ip, now_ms):
        # A new source takes a free slot, else of the next evict_sample slots the
        # least recently seen source that is not banned, else the ban that started
        # first (it ends soonest).
        slots = self._slot
        table = self._tokens
        size = self.size
        if len(slots) < size:
            i = 0
            while table[i] != _FREE:
                i += 1
        else:
            hand = self._hand
            best_age = -1
            best_banned = True
            for _ in range(min(self.evict_sample, size)):
                age = ticks_diff(now_ms, self._seen[hand])
                banned = table[hand] == _BANNED and 0 <= age < self.ban_ms
                if age < 0:
                    age = 1 << 29  # wrapped: older than anything
                if (best_banned and not banned) or (banned == best_banned and age > best_age):
                    i, best_age, best_banned = hand, age, banned
                hand = hand + 1 if hand + 1 < size else 0
            self._hand = hand
            del slots[self._ips[i]]
        slots[ip] = i
        self._ips[i] = ip
        self._seen[i] = now_ms
        if self.trusted:
            self.changes += 1  # a trusted source may have come or gone
        if self.trusted and in_networks(ip, self.trusted):
            table[i] = _TRUSTED
        else:
            table[i] = self._cap - _TOKEN

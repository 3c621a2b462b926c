# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
import gc

from hushgate.compat import ticks_add, ticks_diff
from hushgate.config import network
from hushgate.limiter import Limiter

T0 = 123456


def banned(lim, now_ms):
    """The addresses lim refuses as banned at now_ms (its table read directly)."""
    return [
        ip
        for ip, i in lim._slot.items()
        if lim._tokens[i] == -2 and 0 <= ticks_diff(now_ms, lim._seen[i]) < lim.ban_ms
    ]


def _heap_lock():
    # MicroPython can forbid allocation; CPython has no such switch.
    try:
        import micropython

        return micropython.heap_lock, micropython.heap_unlock
    except (ImportError, AttributeError):
        return None, None


def test_burst_then_refused_then_banned():
    lim = Limiter(size=8, burst=5, per_second=1, ban_ms=60000)
    results = [lim.admit("203.0.113.9", T0) for _ in range(7)]
    assert results == [True] * 5 + [False, False]
    assert lim.bans == 1 and lim.refused == 2
    assert banned(lim, T0) == ["203.0.113.9"]
    # Still banned a little before the end, even though the bucket refilled.
    assert not lim.admit("203.0.113.9", ticks_add(T0, 59999))
    assert lim.admit("203.0.113.9", ticks_add(T0, 60000))
    assert banned(lim, ticks_add(T0, 60000)) == []


def test_steady_rate_within_limit_is_never_refused():
    lim = Limiter(size=8, burst=3, per_second=10, ban_ms=60000)
    now = T0
    for _ in range(500):
        assert lim.admit("198.51.100.1", now)
        now = ticks_add(now, 100)  # exactly 10 per second
    assert lim.refused == 0


def test_without_ban_only_the_excess_is_refused():
    lim = Limiter(size=8, burst=2, per_second=1, ban_ms=0)
    assert [lim.admit("198.51.100.1", T0) for _ in range(3)] == [True, True, False]
    assert lim.admit("198.51.100.1", ticks_add(T0, 1000))
    assert lim.bans == 0


def test_other_sources_unaffected_by_a_ban():
    lim = Limiter(size=8, burst=2, per_second=1, ban_ms=60000)
    for _ in range(5):
        lim.admit("203.0.113.9", T0)
    assert lim.admit("203.0.113.10", T0)
    assert banned(lim, T0) == ["203.0.113.9"]


def test_provider_is_never_banned():
    lim = Limiter(size=8, burst=2, per_second=1, ban_ms=60000)
    lim.exempt(["192.0.2.10"])
    assert all(lim.admit("192.0.2.10", T0) for _ in range(1000))
    assert lim.refused == 0 and len(lim._slot) == 0


def test_exempting_lifts_an_existing_ban():
    lim = Limiter(size=8, burst=1, per_second=1, ban_ms=60000)
    lim.admit("192.0.2.10", T0)
    lim.admit("192.0.2.10", T0)
    assert "192.0.2.10" in banned(lim, T0)
    lim.exempt(["192.0.2.10"])
    assert lim.admit("192.0.2.10", T0)


def test_trusted_networks_are_not_limited():
    lim = Limiter(size=8, burst=1, per_second=1, ban_ms=60000)
    lim.trusted = [network("10.0.0.0/8")]
    assert all(lim.admit("10.1.2.3", T0) for _ in range(100))
    assert not all(lim.admit("11.1.2.3", T0) for _ in range(3))


def test_table_bounded_evicting_least_recently_seen():
    lim = Limiter(size=4, burst=10, per_second=1, ban_ms=60000)
    for k in range(4):
        lim.admit("198.51.100.%d" % k, ticks_add(T0, k))
    lim.admit("198.51.100.0", ticks_add(T0, 10))  # seen again: now the newest
    lim.admit("198.51.100.9", ticks_add(T0, 11))
    assert len(lim._slot) == 4
    assert "198.51.100.1" not in lim._slot
    assert "198.51.100.0" in lim._slot


def test_eviction_spares_banned_sources_while_others_remain():
    lim = Limiter(size=3, burst=1, per_second=1, ban_ms=600000)
    lim.admit("203.0.113.1", T0)
    lim.admit("203.0.113.1", T0)  # banned, and the oldest
    for k in range(20):
        lim.admit("198.51.100.%d" % k, ticks_add(T0, 1 + k))
    assert "203.0.113.1" in banned(lim, ticks_add(T0, 100))
    assert len(lim._slot) == 3


def test_eviction_compares_only_a_sample_of_slots_in_turn():
    # A new source in a full table looks at evict_sample slots from where the last
    # eviction stopped: the least recently seen of those goes, a banned one only
    # if all of them are banned.
    lim = Limiter(size=12, burst=1, per_second=1, ban_ms=600000)
    lim.evict_sample = 4
    lim.shared_burst = 1000
    lim.configure()
    for k in range(12):
        lim.admit("198.51.100.%d" % k, ticks_add(T0, k))  # slot k, seen at T0 + k
    lim.admit("198.51.100.0", ticks_add(T0, 100))  # refused (burst 1), banned
    lim.admit("198.51.100.2", ticks_add(T0, 20000))  # seen again, bucket refilled
    lim.admit("203.0.113.1", ticks_add(T0, 20001))  # slots 0-3: 0 banned, 2 fresh: 1 goes
    assert "198.51.100.1" not in lim._slot and lim._slot["203.0.113.1"] == 1
    lim.admit("203.0.113.2", ticks_add(T0, 20002))  # slots 4-7: the oldest, 4, goes
    assert "198.51.100.4" not in lim._slot and lim._slot["203.0.113.2"] == 4
    for k in range(8, 12):
        for _ in range(2):
            lim.admit("198.51.100.%d" % k, ticks_add(T0, 20003))  # banned
    lim.admit("203.0.113.3", ticks_add(T0, 20004))  # slots 8-11: all banned, 8 first
    assert "198.51.100.8" not in lim._slot and lim._slot["203.0.113.3"] == 8
    assert "198.51.100.0" in banned(lim, ticks_add(T0, 20005))
    assert len(lim._slot) == 12


def test_shared_bucket_stops_a_flood_from_new_addresses():
    lim = Limiter(size=16, burst=5, per_second=1, ban_ms=60000)
    lim.shared_burst = 50
    lim.shared_per_second = 10
    lim.configure()
    lim.exempt(["192.0.2.10"])
    admitted = sum(1 for k in range(1000) if lim.admit("10.9.%d.%d" % (k // 250, k % 250), T0))
    assert admitted == 50
    assert len(lim._slot) == 16
    assert lim.admit("192.0.2.10", T0)  # the provider still gets through
    # A second later the shared bucket has 10 more.
    later = ticks_add(T0, 1000)
    assert sum(1 for k in range(100) if lim.admit("172.16.0.%d" % k, later)) == 10


def test_ticks_wrap_around():
    lim = Limiter(size=4, burst=2, per_second=1, ban_ms=5000)
    start = ticks_add(0, -2000)  # just before the tick counter wraps
    assert lim.admit("198.51.100.1", start)
    assert lim.admit("198.51.100.1", start)
    assert not lim.admit("198.51.100.1", start)  # banned across the wrap
    assert not lim.admit("198.51.100.1", ticks_add(start, 4999))
    assert lim.admit("198.51.100.1", ticks_add(start, 5000))


def test_resize_by_configure():
    lim = Limiter(size=4)
    for k in range(4):
        lim.admit("198.51.100.%d" % k, T0)
    lim.configure(size=8, burst=3)
    assert len(lim._slot) == 0 and lim.size == 8 and lim.burst == 3


def test_refusal_allocates_nothing():
    lim = Limiter(size=8, burst=3, per_second=1, ban_ms=60000)
    banned_ip = "203.0.113.9"
    for _ in range(4):
        lim.admit(banned_ip, T0)
    empty = Limiter(size=8, burst=1, per_second=1, ban_ms=0)
    empty_ip = "203.0.113.10"
    empty.admit(empty_ip, T0)
    flooded = Limiter(size=8)
    flooded.shared_burst = 1
    flooded.configure()
    flooded.admit("198.51.100.1", T0)
    new_ip = "198.51.100.2"
    lock, unlock = _heap_lock()
    refused = 0
    n = 0
    gc.collect()
    if lock:
        lock()
    try:
        while n < 300:
            # Banned, over the rate without a ban, and a new source refused by
            # the shared bucket: the three ways to say no.
            if not lim.admit(banned_ip, T0 + n):
                refused += 1
            if not empty.admit(empty_ip, T0):
                refused += 1
            if not flooded.admit(new_ip, T0):
                refused += 1
            n += 1
    finally:
        if unlock:
            unlock()
    assert refused == 900
    assert lim.refused == 301


def _admit_all(lim, ips, now_ms):
    admitted = 0
    for ip in ips:
        if lim.admit(ip, now_ms):
            admitted += 1
    return admitted


def test_new_sources_fill_and_churn_the_table_without_allocating():
    # The table is made full size at start: a scan from many addresses, when the heap
    # is in pieces, must not need a block for it to grow (once, a 1.2 KB block nobody
    # could find turned every new source into a MemoryError).
    lim = Limiter(size=64)
    lim.shared_burst = lim.shared_per_second = 100000  # the shared bucket never says no
    lim.configure()
    ips = ["198.51.100.%d" % n for n in range(200)]
    lock, unlock = _heap_lock()
    gc.collect()
    if lock:
        lock()
    try:
        admitted = _admit_all(lim, ips, T0) + _admit_all(lim, ips, T0 + 1)
    finally:
        if unlock:
            unlock()
    assert admitted == 400 and len(lim._slot) == 64


def test_closed_says_when_a_stranger_would_be_refused():
    lim = Limiter(size=4, burst=100, per_second=1, ban_ms=0)
    lim.shared_burst = 3
    lim.configure()
    now = T0
    seen = set()
    for k in range(400):
        closed = lim.closed(now)
        assert lim.closed(now) == closed  # asking changes nothing
        refused = lim.refused
        ip = "192.0.2.%d" % (k % 250)  # never one of the 4 in the table
        assert lim.admit(ip, now) == (not closed)
        assert lim.refused == refused + closed
        seen.add(closed)
        now = ticks_add(now, 37)  # a token every 100 ms: open about a third of the time
    assert seen == {True, False}


def test_banned_says_what_admit_refuses_for_a_ban():
    lim = Limiter(size=8, burst=2, per_second=1, ban_ms=60000)
    lim.trusted = [network("10.0.0.0/8")]
    lim.exempt(["192.0.2.1"])
    for ip in ("203.0.113.9", "10.1.2.3", "192.0.2.1"):
        for _ in range(5):
            lim.admit(ip, T0)
    lim.admit("203.0.113.10", T0)  # one datagram: its bucket is not empty
    refused, bans = lim.refused, lim.bans
    for now, want in ((T0, True), (ticks_add(T0, 59999), True), (ticks_add(T0, 60000), False)):
        assert lim.banned("203.0.113.9", now) is want
        assert lim.banned("203.0.113.9", now) is want  # asking changes nothing
        for other in ("203.0.113.10", "10.1.2.3", "192.0.2.1", "198.51.100.1"):
            assert lim.banned(other, now) is False
    assert (lim.refused, lim.bans) == (refused, bans)
    # Where banned() says yes, admit() says no; the ban over, both let it in.
    assert not lim.admit("203.0.113.9", ticks_add(T0, 59999))
    assert lim.admit("203.0.113.9", ticks_add(T0, 60000))
    assert not lim.banned("203.0.113.9", ticks_add(T0, 60000))


def test_passes_are_the_exempt_and_the_trusted_in_the_table():
    lim = Limiter(size=128)  # room for the shared bucket's burst: nothing evicted
    lim.trusted = [network("10.0.0.0/8")]
    changes = lim.changes
    lim.exempt(["192.0.2.1"])
    assert lim.changes > changes and lim.passes() == ["192.0.2.1"]
    changes = lim.changes
    assert lim.admit("10.1.2.3", T0)
    assert lim.changes > changes and sorted(lim.passes()) == ["10.1.2.3", "192.0.2.1"]
    n = 0
    while not lim.closed(T0):
        lim.admit("198.51.100.%d" % n, T0)
        n += 1
    # Closed: only they get through.
    assert lim.admit("10.1.2.3", T0) and lim.admit("192.0.2.1", T0)
    assert not lim.admit("198.51.100.0", T0) and not lim.admit("203.0.113.1", T0)


def test_admit_takes_no_frame_from_the_heap():
    # Under heap_lock MicroPython quietly puts a frame too big for its C stack budget
    # on the C stack instead, and otherwise frees it on return: only the count of
    # bytes ever allocated shows that admit() would take one from the heap each call.
    try:
        from micropython import mem_total
    except ImportError:
        return  # CPython (frames are not the heap's business there), or no stats
    lim = Limiter(size=8, burst=2, per_second=1, ban_ms=60000)
    lim.shared_burst = 3
    lim.configure()
    ips = ("203.0.113.1", "203.0.113.2", "203.0.113.3")
    assert [lim.admit(ips[0], T0) for _ in range(3)] == [True, True, False]  # banned
    assert [lim.admit(ips[1], T0) for _ in range(2)] == [True, False]  # shared bucket empty
    assert not lim.admit(ips[2], T0)  # not in the table, shared bucket empty
    before = mem_total()
    for _ in range(300):
        for ip in ips:
            lim.admit(ip, T0)
    after = mem_total()
    assert lim.refused == 3 + 900
    assert after == before, after - before


def test_memory_stays_bounded_under_many_sources():
    lim = Limiter(size=64, burst=2, per_second=1, ban_ms=60000)
    lim.shared_burst = 1000
    lim.shared_per_second = 1000
    lim.configure()
    now = T0
    for k in range(300):
        lim.admit("10.0.%d.%d" % (k // 200, k % 200), now)
        now = ticks_add(now, 1)
    gc.collect()
    before = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    for k in range(3000):
        ip = "10.%d.%d.%d" % (k // 60000, (k // 200) % 250, k % 200)
        lim.admit(ip, now)
        lim.admit(ip, now)
        lim.admit(ip, now)  # and get banned
        now = ticks_add(now, 1)
    gc.collect()
    after = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    assert len(lim._slot) == 64
    assert len(lim._slot) <= lim.size
    # The table holds 64 address strings; everything else was preallocated.
    assert after - before < 4096, after - before

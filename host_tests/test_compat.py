# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
from hushgate.compat import const, presized, ticks_add, ticks_diff, ticks_ms

_LIMIT = const(42)


def test_const_is_the_value():
    assert _LIMIT == 42
    assert const(7) + 1 == 8


def test_ticks_advance():
    start = ticks_ms()
    later = ticks_add(start, 1500)
    assert ticks_diff(later, start) == 1500
    assert ticks_diff(start, later) == -1500


def test_ticks_diff_across_wrap():
    # Find the wrap point by adding until the raw value decreases.
    big = ticks_add(0, -1)
    assert big > 0
    after = ticks_add(big, 10)
    assert after < big
    assert ticks_diff(after, big) == 10
    assert ticks_diff(big, after) == -10


def test_ticks_ms_is_monotonic_enough():
    a = ticks_ms()
    b = ticks_ms()
    assert ticks_diff(b, a) >= 0


def test_sleep_ms_runs_under_asyncio():
    import asyncio

    from hushgate.compat import sleep_ms

    done = []

    async def main():
        await sleep_ms(1)
        done.append(1)

    asyncio.run(main())
    assert done == [1]


def _fill(table, keys):
    for key in keys:
        table[key] = 1


def test_a_presized_table_is_empty_and_fills_without_allocating():
    import gc

    table = presized(64)
    assert table == {} and len(table) == 0
    keys = ["10.0.0.%d" % i for i in range(64)]
    try:
        from micropython import heap_lock, heap_unlock
    except ImportError:  # CPython: only the dict's behaviour is checked
        _fill(table, keys)
    else:
        gc.collect()
        heap_lock()
        try:
            _fill(table, keys)  # a MemoryError here: the table had to grow
        finally:
            heap_unlock()
        plain = {}
        heap_lock()
        try:
            _fill(plain, keys)
        except MemoryError:
            pass
        finally:
            heap_unlock()
        assert len(plain) < 64  # the check can fail: a plain dict grows
    assert len(table) == 64 and table["10.0.0.63"] == 1

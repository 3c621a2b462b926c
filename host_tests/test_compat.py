# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
from hushgate.compat import const, ticks_add, ticks_diff, ticks_ms

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

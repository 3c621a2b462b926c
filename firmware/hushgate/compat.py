# What the pure modules need from MicroPython, for both interpreters.
# Feature detection, not version checks: on MicroPython these are the built-ins,
# on CPython small equivalents with the same wrap-around semantics.
try:
    from micropython import const
except ImportError:

    def const(value):
        return value


import time

try:
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
except AttributeError:
    # MicroPython's ticks wrap at a power of two; keep the same period so code
    # tested on CPython meets the same wrap-around it will meet on a board.
    _TICKS_PERIOD = 1 << 30
    _TICKS_HALF = _TICKS_PERIOD // 2

    def ticks_ms():
        return int(time.monotonic() * 1000) & (_TICKS_PERIOD - 1)

    def ticks_add(ticks, delta):
        return (ticks + delta) % _TICKS_PERIOD

    def ticks_diff(end, start):
        return ((end - start + _TICKS_HALF) % _TICKS_PERIOD) - _TICKS_HALF


def forget(*names):
    """Drop the lazily loaded modules hushgate.<name> until they are needed again.

    What runs rarely lives in modules loaded for the call; this lets their heap go.
    Only useful when nothing else holds such a module or one of its functions.
    """
    import sys

    import hushgate

    for name in names:
        sys.modules.pop("hushgate." + name, None)
        try:
            delattr(hushgate, name)  # the package keeps its submodules as attributes too
        except (AttributeError, KeyError):  # KeyError: MicroPython, when it is not there
            pass


def presized(n):
    """An empty dict whose table already has room for n entries.

    A dict grows by allocating a larger table, and a bounded one does it while it
    fills: for the limiter's sources, during a scan from many addresses, when the
    heap is busiest and in pieces (a 1.2 KB block nobody could find stopped every
    new source). Made at start instead, a table never needs another block; an
    emptied dict keeps its table in both interpreters. Small-int keys sit in the
    slots of their own value; removed from the last down, each leaves its slot
    empty rather than marked deleted, so lookups stay short."""
    table = {}
    for i in range(n):
        table[i] = None
    for i in range(n - 1, -1, -1):
        del table[i]
    return table


def sleep_ms(ms):
    """An awaitable that sleeps ms milliseconds (asyncio.sleep_ms where it exists)."""
    # asyncio is imported here, not at the top: it costs ~5 KB of heap, which users
    # of const or ticks (the pure modules' tests, tools) should not pay. A plain
    # function, not a coroutine, so MicroPython's allocation-free sleep_ms is kept.
    import asyncio

    try:
        return asyncio.sleep_ms(ms)
    except AttributeError:
        return asyncio.sleep(ms / 1000)

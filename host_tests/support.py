# Test support for CPython and MicroPython: tools/mptest.py compiles it with the tests.
from hushgate import config


def registry():
    """hushgate.config's tables of keys, defaults and extra checks, for restore().

    config.register (net.Board.options() calls it for a board's own settings) adds to
    module-level tables that every later test would see: the settings form would gain
    fields, validation checks. A test that registers keys hands this to restore() when
    it ends (try/finally: these files also run under MicroPython, without pytest's
    fixtures; under pytest conftest.py does it for every test)."""
    return list(config.KEYS), dict(config.DEFAULTS), dict(config.EXTRA_CHECKS)


def restore(saved):
    """Put back the tables registry() returned, in place: hushgate.configfile holds
    the same list and dicts."""
    config.KEYS[:] = saved[0]
    for table, before in ((config.DEFAULTS, saved[1]), (config.EXTRA_CHECKS, saved[2])):
        table.clear()
        table.update(before)

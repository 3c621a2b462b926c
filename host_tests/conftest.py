# What pytest shares between the test files (CPython only: tools/mptest.py runs the
# MicroPython-ready files without it, and those restore what they change themselves).
import pytest

from hushgate import config


@pytest.fixture(autouse=True)
def _config_registry_restored():
    """hushgate.config.register() (net.Board.options() calls it for the board's own
    settings) adds keys to module-level tables that every later test would see: the
    settings form gains fields, validation gains checks. Each test gets the tables
    back as they were, restored in place (hushgate.configfile holds the same objects)."""
    keys, defaults, checks = list(config.KEYS), dict(config.DEFAULTS), dict(config.EXTRA_CHECKS)
    yield
    config.KEYS[:] = keys
    config.DEFAULTS.clear()
    config.DEFAULTS.update(defaults)
    config.EXTRA_CHECKS.clear()
    config.EXTRA_CHECKS.update(checks)

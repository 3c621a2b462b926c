# What pytest shares between the test files (CPython only: tools/mptest.py runs the
# MicroPython-ready files without it, and those restore what they change themselves).
import pytest
from support import registry, restore


@pytest.fixture(autouse=True)
def _config_registry_restored():
    """Each test gets hushgate.config's tables of keys back as they were
    (support.registry says why)."""
    saved = registry()
    yield
    restore(saved)

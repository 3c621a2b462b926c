# The `host` board: hushgate on a PC under the MicroPython unix port.
# The network is the PC's own; the LED prints its pattern on change; the button is
# simulated from stdin (a line "b" is a short press, "l" a long press, "h" a press
# held until the next line), so a person at a terminal or a test can press it.
#
# Written for the heap like the firmware (docs/boards.md, "Heap"): the command line
# is read by host_options.py, loaded once at boot and dropped again; the board
# module is its own clock (utc()) and the button's state lives in module globals,
# so the only class is the LED's.
import sys
import time

from hushgate.compat import const, ticks_add, ticks_diff, ticks_ms

NAME = "host"
button_active_low = True
# Short and long presses as the pin would see them; longer than the panel's debounce
# and long-press thresholds with a margin for a busy PC.
_SHORT_PRESS_MS = const(150)
_LONG_PRESS_MS = const(2500)

clock_known = True  # False with `--clock unset`: behave as a board before NTP answered
_release_at = None  # the simulated button reads pressed until then
_held = False  # "h": pressed until the next line


def options(argv=None):
    """The command line as a dict; exits with the usage on a mistake."""
    global clock_known
    import host_options

    try:
        opts = host_options.parse(sys.argv[1:] if argv is None else argv)
    finally:
        del sys.modules["host_options"]
    clock_known = opts["clock"]
    return opts


def utc():
    """UTC from the PC's clock, or None with `--clock unset` (board.clock is this module)."""
    return int(time.time()) if clock_known else None


clock = sys.modules[__name__]


class Led:
    """Prints the pattern's name when it changes; the blinking itself is not shown."""

    level = 0
    pattern = None

    def __call__(self, level):
        self.level = level

    def show_pattern(self, name):
        if name != self.pattern:
            self.pattern = name
            sys.stderr.write("LED: %s\n" % name)


led = Led()


def button():
    """The simulated pin: 0 (pressed, active low) until the stdin reader's deadline."""
    global _release_at
    pressed = _held
    if _release_at is not None:
        pressed = ticks_diff(_release_at, ticks_ms()) > 0
        if not pressed:
            _release_at = None
    return 0 if pressed else 1


async def _read_stdin():
    global _release_at, _held
    import asyncio

    reader = asyncio.StreamReader(sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return  # stdin closed (a service or a test): the button stays released
        word = line.strip()
        if word in commands:
            commands[word]()
        elif word in (b"b", b"l"):
            _held = False
            ms = _SHORT_PRESS_MS if word == b"b" else _LONG_PRESS_MS
            _release_at = ticks_add(ticks_ms(), ms)
        elif word in (b"h", b""):
            _release_at = None
            _held = word == b"h"


# Other stdin words -> callables, registered by the app (e.g. b"m": print the heap).
commands = {}


def watchdog(timeout_ms):
    """No hardware watchdog on a PC: the supervisor still checks its tasks."""
    return None


async def network_up(config):
    """The PC's network is already up; nothing to bring up."""
    return True


def tasks():
    """Board-specific background tasks for the app to supervise."""
    return [("stdin-button", _read_stdin)]

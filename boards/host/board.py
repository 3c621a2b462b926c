# The `host` board: hushgate on a PC under the MicroPython unix port.
# The network is the PC's own; the LED prints its pattern on change; the button is
# simulated from stdin (a line "b" is a short press, "l" a long press, "h" a press
# held until the next line), so a person at a terminal or a test can press it.
import asyncio
import sys
import time

from hushgate.compat import ticks_add, ticks_diff, ticks_ms

NAME = "host"
USAGE = """usage: tools/run [options]
  --listen HOST:PORT    SIP address hushgate binds (default 127.0.0.1:5060)
  --ata HOST:PORT       the ATA behind hushgate (overrides config.json "ata")
  --provider HOST:PORT  the SIP provider (overrides config.json "provider")
  --web HOST:PORT       the web page (default 127.0.0.1:8080)
  --state DIR           folder for config.json and counters (default ./state)
  --clock unset         behave as a board before NTP answered (schedules off)
stdin: "b" + Enter = short button press, "l" + Enter = long press (2.5 s),
       "m" + Enter = print the heap in use (after a collection)"""

button_active_low = True
# Short and long presses as the pin would see them; longer than the panel's debounce
# and long-press thresholds with a margin for a busy PC.
SHORT_PRESS_MS = 150
LONG_PRESS_MS = 2500


def _address(text, default_port):
    host, _, port = text.rpartition(":")
    if not host:
        host, port = port, default_port
    return host, int(port)


def options(argv=None):
    """The command line as a dict; exits with the usage on a mistake."""
    argv = sys.argv[1:] if argv is None else argv
    opts = {
        "listen": ("127.0.0.1", 5060),
        "ata": None,
        "provider": None,
        "web": ("127.0.0.1", 8080),
        "state": "state",
        "clock": True,
    }
    i = 0
    try:
        while i < len(argv):
            flag = argv[i]
            if flag in ("-h", "--help"):
                print(USAGE)
                sys.exit(0)
            value = argv[i + 1]
            if flag in ("--listen", "--web"):
                opts[flag[2:]] = _address(value, 5060 if flag == "--listen" else 80)
            elif flag in ("--ata", "--provider"):
                _address(value, 5060)  # validated here, kept as text for config.json
                opts[flag[2:]] = value
            elif flag == "--state":
                opts["state"] = value
            elif flag == "--clock" and value == "unset":
                opts["clock"] = False
                clock.known = False
            else:
                raise ValueError(flag)
            i += 2
    except (IndexError, ValueError):
        print("hushgate: bad option near %r\n%s" % (" ".join(argv[i : i + 2]), USAGE))
        sys.exit(2)
    return opts


class Clock:
    """UTC from the PC's clock; `--clock unset` keeps it unknown, like a board before NTP."""

    def __init__(self, known=True):
        self.known = known

    def utc(self):
        return int(time.time()) if self.known else None


class Led:
    """Prints the pattern's name when it changes; the blinking itself is not shown."""

    def __init__(self, out=None):
        self._out = out or sys.stderr
        self.level = 0
        self.pattern = None

    def __call__(self, level):
        self.level = level

    def show_pattern(self, name):
        if name != self.pattern:
            self.pattern = name
            self._out.write("LED: %s\n" % name)


class Button:
    """A pin that reads pressed until a deadline set by the stdin reader."""

    def __init__(self):
        self._release_at = None
        self._held = False

    def __call__(self):
        pressed = self._held
        if self._release_at is not None:
            pressed = ticks_diff(self._release_at, ticks_ms()) > 0
            if not pressed:
                self._release_at = None
        return 0 if pressed else 1  # active low, like the boards' buttons to GND

    def press(self, ms):
        self._held = False
        self._release_at = ticks_add(ticks_ms(), ms)

    def hold(self, on):
        self._release_at = None
        self._held = on

    async def read_stdin(self):
        reader = asyncio.StreamReader(sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                return  # stdin closed (a service or a test): the button stays released
            word = line.strip()
            if word == b"b":
                self.press(SHORT_PRESS_MS)
            elif word == b"l":
                self.press(LONG_PRESS_MS)
            elif word == b"h":
                self.hold(True)
            elif word == b"":
                self.hold(False)
            elif word in commands:
                commands[word]()


# Other stdin words -> callables, registered by the app (e.g. b"m": print the heap).
commands = {}
led = Led()
button = Button()
clock = Clock()


def watchdog(timeout_ms):
    """No hardware watchdog on a PC: the supervisor still checks its tasks."""
    return None


async def network_up(config):
    """The PC's network is already up; nothing to bring up."""
    return True


def tasks():
    """Board-specific background tasks for the app to supervise."""
    return [("stdin-button", button.read_stdin)]

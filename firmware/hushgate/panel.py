# The front panel: one button and one LED, and what they mean.
# Pins come from the board as callables (a machine.Pin is one): the button's returns
# 0/1, the LED's takes 0/1. The clock and sleep are injected too, so tests drive
# everything with a fake clock on both interpreters.
#
# Written for the heap (docs/boards.md, "Heap"): each function or class costs about
# 100-250 bytes once loaded, so the button, the LED and the gestures share one class
# with few methods, and the rare paths (what a press does, the power-up reset) are
# in hushgate/panelgesture.py, loaded only while they run.
from hushgate.compat import sleep_ms, ticks_add, ticks_diff, ticks_ms

# LED patterns, played in a loop: each step is its length in ms, positive while the
# LED is on, negative while it is off. Distinct by eye from across a room: the rhythm
# differs, not only the speed (docs/boards.md has the table).
NORMAL = (1000,)
QUIET = (1500, -1500)
BLOCKED = (120, -180, 120, -2580)
NO_NETWORK = (100, -100)
NO_CLOCK = (900, -300, 150, -300)
ERROR = (
    150, -150, 150, -150, 150, -450,
    450, -150, 450, -150, 450, -450,
    150, -150, 150, -150, 150, -1500,
)  # fmt: skip
# Played once when a gesture was taken (block, password reset), so the hand on the
# button knows it worked before letting go.
CONFIRM = (-50, 50, -50, 50, -50, 50, -50, 50, -300)

# The LED's stories, most urgent first: the first one that is true is shown (their
# names, for the host board's console, are in Panel.tick).
_STORIES = (ERROR, NO_NETWORK, NO_CLOCK, BLOCKED, QUIET, NORMAL)

_powered_up = False  # the power-up gesture is looked for once per boot


class Panel:
    """The button, the LED and the gestures, wired to the app.

    Uses app.board (button(), button_active_low, led(level), optional online() and
    led.show_pattern(name)), app.gate (quiet_mode, set_quiet(mode, utc), quiet_now(utc)),
    app.log (the call log: unseen counts, acknowledge(), last_caller()),
    app.clock.utc(), app.config, app.apply(new_config), app.config_problems, and
    app.online when the board has no online(); app.state_dir and app.auth (the web
    page's, if any) for the power-up gesture.
    log(message): one line per gesture (the console by default).

    The button is polled: a press counts once the pin has held its new level for
    debounce_ms. A long press is reported while the button is still down, as soon as
    it has been held long_ms; its release then reports nothing. A press already down
    when the panel is made (the power-up gesture) reports nothing on release.
    """

    debounce_ms = 50
    long_ms = 2000
    poll_ms = 20
    refresh_ms = 1000  # the LED's story is worked out at most this often

    def __init__(self, app, log=print, clock=ticks_ms):
        board = app.board
        self.app = app
        self._log = log
        self._clock = clock
        self._refreshed = None  # when the LED's story was last chosen
        # The button (None: the board has none).
        self.button = button = getattr(board, "button", None)
        self._down_level = 0 if getattr(board, "button_active_low", True) else 1
        self._raw = self.pressed = button is not None and button() == self._down_level
        self._since = clock()  # when the pin last changed
        self._down_at = None  # start of the press still to be reported, if any
        # The LED (None: the board has none).
        self.led = getattr(board, "led", None)
        self.level = None  # what the pin was last set to
        self.pattern = None  # show() starts one, with the step playing and its start
        self.after = None  # while a pattern plays once: the one to go back to

    # -- the button --

    def poll(self, now):
        """Read the button once; returns "short", "long" or None."""
        raw = self.button() == self._down_level
        if raw != self._raw:
            self._raw = raw
            self._since = now
        elif raw != self.pressed:
            if ticks_diff(now, self._since) >= self.debounce_ms:
                self.pressed = raw
                if raw:
                    self._down_at = self._since
                elif self._down_at is not None:
                    self._down_at = None
                    return "short"
        elif raw and self._down_at is not None:
            if ticks_diff(now, self._down_at) >= self.long_ms:
                self._down_at = None  # reported: its release says nothing
                return "long"
        return None

    # -- the LED --

    def show(self, pattern, once=False):
        """Play `pattern` in a loop, or `once` and then go back to what was showing.

        A pattern shown while another plays once waits for it to end.
        """
        if once:
            if self.after is None:
                self.after = self.pattern
        elif self.after is not None:
            self.after = pattern
            return
        elif pattern == self.pattern:
            return
        self.pattern = pattern
        self._index = 0
        self._step_at = now = self._clock()
        self.update(now)

    def update(self, now):
        """Set the LED for time `now`; returns ms until its next step."""
        pattern = self.pattern
        elapsed = ticks_diff(now, self._step_at)
        while True:  # after a stall, through every step missed: rare, and not long
            ms = pattern[self._index]
            if ms < 0:
                ms = -ms
            if elapsed < ms:
                break
            self._step_at = ticks_add(self._step_at, ms)
            elapsed -= ms
            self._index += 1
            if self._index == len(pattern):
                self._index = 0
                if self.after is not None:  # played once: back to the loop
                    pattern = self.pattern = self.after
                    self.after = None
        level = 1 if pattern[self._index] > 0 else 0
        if level != self.level and self.led is not None:
            self.level = level
            self.led(level)
        return ms - elapsed

    # -- what it all means --

    def press(self, event):
        """A "short" press acknowledges silenced calls if any are unseen, else steps
        the quiet mode; a "long" one blocks the last caller that rang."""
        _gesture("press", self, event)

    def tick(self, now):
        """One step of the panel: button, LED's story, LED. Returns ms to sleep."""
        wait = self.refresh_ms
        if self.button is not None:
            event = self.poll(now)
            if event is not None:
                self.press(event)
            wait = self.poll_ms
        app = self.app
        if self._refreshed is None or ticks_diff(now, self._refreshed) >= self.refresh_ms:
            self._refreshed = now
            utc = app.clock.utc()
            online = getattr(app.board, "online", None)
            online = online() if online is not None else getattr(app, "online", True)
            # Calls that did not ring since the user last looked, scanners not
            # counted: an internet-facing box meets scanners all day.
            unseen = app.log.unseen
            story = (
                bool(app.config_problems),
                not online,
                utc is None,
                unseen["blocked"] + unseen["quiet"] > 0,
                app.gate.quiet_now(utc) != "ringing",
                True,
            ).index(True)
            self.show(_STORIES[story])  # waits while a confirmation plays
            show_name = getattr(self.led, "show_pattern", None)
            if show_name is not None:
                show_name("error,no network,no clock,blocked,quiet,normal".split(",")[story])
        ms = self.update(now)
        return ms if ms < wait else wait

    async def power_up(self, seconds=5, sleep=sleep_ms):
        """The power-up gesture: the button held for `seconds` forgets the web password.

        Looked for once per boot, before the panel's loop. The LED is steady on while
        the button is held and flickers when it is done. Returns True when it reset.
        """
        global _powered_up
        if _powered_up or not self.pressed:
            _powered_up = True
            return False  # a normal boot waits for nothing
        _powered_up = True
        return await _gesture("power_up", self, seconds, sleep)


def _gesture(name, *args):
    # The gestures' code (hushgate/panelgesture.py) runs once per press or boot: it
    # is loaded for the moment and dropped again (a coroutine it returns keeps what
    # it needs).
    import sys

    import hushgate
    from hushgate import panelgesture

    try:
        return getattr(panelgesture, name)(*args)
    finally:
        del sys.modules["hushgate.panelgesture"]
        try:
            delattr(hushgate, "panelgesture")
        except (AttributeError, KeyError):
            pass


async def run(app):
    """The panel's task for the app: the power-up gesture (once per boot), then the
    button and the LED until cancelled; the LED goes off when it ends."""
    panel = Panel(app)
    try:
        await panel.power_up()
        while True:
            await sleep_ms(panel.tick(ticks_ms()))
    finally:
        if panel.led is not None:
            panel.led(0)

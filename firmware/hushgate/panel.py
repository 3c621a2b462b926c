# The front panel: one button and one LED.
# Pins are injected as callables (a machine.Pin is one): the button's returns 0/1,
# the LED's takes 0/1. Clock and sleep are injected too, so tests drive everything
# with a fake clock on both interpreters.
import asyncio

from hushgate.compat import const, sleep_ms, ticks_add, ticks_diff, ticks_ms

SHORT = const(1)
LONG = const(2)

# The button's quiet positions, numbered as in gate.py (host_tests/test_boards.py checks
# they agree); not imported, so the panel's tests need not load the whole gate.
QUIET_OFF = const(0)
QUIET_ON = const(1)
QUIET_UNTIL_MORNING = const(2)

_NEXT_QUIET = {QUIET_OFF: QUIET_ON, QUIET_ON: QUIET_UNTIL_MORNING, QUIET_UNTIL_MORNING: QUIET_OFF}

# LED patterns: (level, ms) steps played in a loop. Distinct by eye from across a
# room: rhythm differs, not only speed (docs/boards.md has the table).
NORMAL = ((1, 1000),)
QUIET = ((1, 1500), (0, 1500))
BLOCKED = ((1, 120), (0, 180), (1, 120), (0, 2580))
NO_NETWORK = ((1, 100), (0, 100))
NO_CLOCK = ((1, 900), (0, 300), (1, 150), (0, 300))
ERROR = (
    (1, 150), (0, 150), (1, 150), (0, 150), (1, 150), (0, 450),
    (1, 450), (0, 150), (1, 450), (0, 150), (1, 450), (0, 450),
    (1, 150), (0, 150), (1, 150), (0, 150), (1, 150), (0, 1500),
)  # fmt: skip
OFF = ((0, 1000),)
# Played once when a gesture was taken (block, password reset), so the hand on the
# button knows it worked before letting go.
CONFIRM = ((0, 50), (1, 50), (0, 50), (1, 50), (0, 50), (1, 50), (0, 50), (1, 50), (0, 300))

PATTERN_NAMES = {
    id(NORMAL): "normal",
    id(QUIET): "quiet",
    id(BLOCKED): "blocked",
    id(NO_NETWORK): "no network",
    id(NO_CLOCK): "no clock",
    id(ERROR): "error",
    id(OFF): "off",
    id(CONFIRM): "confirm",
}


def pattern_name(pattern):
    return PATTERN_NAMES.get(id(pattern), "custom")


def choose_pattern(error, online, clock_known, unseen, quiet):
    """The one pattern the LED shows for this state; the most urgent story wins."""
    if error:
        return ERROR
    if not online:
        return NO_NETWORK
    if not clock_known:
        return NO_CLOCK
    if unseen:
        return BLOCKED
    if quiet:
        return QUIET
    return NORMAL


class Button:
    """A push button read by polling: debounced, short and long presses.

    A press counts once the pin has held its new level for debounce_ms. A long press
    is reported while the button is still down, as soon as it has been held long_ms;
    its release then reports nothing. A press already down when polling starts (the
    power-up gesture) reports nothing on release.
    """

    debounce_ms = 50
    long_ms = 2000
    poll_ms = 20

    def __init__(self, pin, active_low=True, clock=ticks_ms, sleep=sleep_ms):
        self._pin = pin
        self._down_level = 0 if active_low else 1
        self._clock = clock
        self._sleep = sleep
        self.on_short = None
        self.on_long = None
        self._task = None
        now = clock()
        self._raw = self.pressed_now()
        self._stable = self._raw
        self._since = now
        self._down_at = None
        self._long_sent = False

    def pressed_now(self):
        """The pin's level right now, as pressed or not (no debouncing)."""
        return self._pin() == self._down_level

    @property
    def pressed(self):
        """The debounced state."""
        return self._stable

    def poll(self, now):
        """Read the pin once; returns SHORT, LONG or None."""
        raw = self.pressed_now()
        if raw != self._raw:
            self._raw = raw
            self._since = now
            return None
        if raw == self._stable:
            if (
                raw
                and self._down_at is not None
                and not self._long_sent
                and ticks_diff(now, self._down_at) >= self.long_ms
            ):
                self._long_sent = True
                return LONG
            return None
        if ticks_diff(now, self._since) < self.debounce_ms:
            return None
        self._stable = raw
        if raw:
            self._down_at = self._since
            self._long_sent = False
            return None
        down_at = self._down_at
        self._down_at = None
        if down_at is not None and not self._long_sent:
            return SHORT
        return None

    async def held_at_boot(self, seconds=5):
        """True when the button is held for `seconds` from now (the power-up gesture).

        Returns False as soon as the button has been up for debounce_ms, so a normal
        boot waits only that long.
        """
        start = self._clock()
        up_since = None
        while True:
            now = self._clock()
            if self.pressed_now():
                up_since = None
            else:
                if up_since is None:
                    up_since = now
                if ticks_diff(now, up_since) >= self.debounce_ms:
                    return False
            if ticks_diff(now, start) >= seconds * 1000:
                return True
            await self._sleep(self.poll_ms)

    async def run(self):
        while True:
            event = self.poll(self._clock())
            if event == SHORT and self.on_short:
                self.on_short()
            elif event == LONG and self.on_long:
                self.on_long()
            await self._sleep(self.poll_ms)

    def start(self):
        if self._task is None:
            self._task = asyncio.create_task(self.run())
        return self._task

    def deinit(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None


class Led:
    """Plays a pattern of (level, ms) steps in a loop; writes the pin only on change."""

    check_ms = 100  # longest sleep, so a new pattern starts promptly

    def __init__(self, pin, clock=ticks_ms, sleep=sleep_ms):
        self._pin = pin
        self._clock = clock
        self._sleep = sleep
        self._level = None
        self._task = None
        self._pattern = OFF
        self._after = None
        self._index = 0
        self._step_at = clock()
        self._period = 1000
        self.on_pattern = None  # called with each pattern started (host board prints it)

    @property
    def pattern(self):
        return self._pattern

    @property
    def level(self):
        return self._level

    @property
    def playing_once(self):
        return self._after is not None

    def show(self, pattern):
        """Play `pattern` in a loop (after the one-shot pattern, if one is playing)."""
        if self._after is not None:
            self._after = pattern
        elif pattern is not self._pattern:
            self._start(pattern)

    def play_once(self, pattern):
        """Play `pattern` once, then go back to what was showing."""
        after = self._after if self._after is not None else self._pattern
        self._start(pattern)
        self._after = after

    def _start(self, pattern):
        self._pattern = pattern
        self._after = None
        self._index = 0
        self._step_at = self._clock()
        period = 0
        for _level, ms in pattern:
            period += ms
        self._period = period
        self._write(pattern[0][0])
        if self.on_pattern is not None:
            self.on_pattern(pattern)

    def _write(self, level):
        if level != self._level:
            self._level = level
            self._pin(level)

    def update(self, now):
        """Set the pin for time `now`; returns ms until the next step."""
        pattern = self._pattern
        elapsed = ticks_diff(now, self._step_at)
        if elapsed >= self._period and self._after is None:
            # Skip whole loops at once after a long stall.
            skip = elapsed - elapsed % self._period
            self._step_at = ticks_add(self._step_at, skip)
            elapsed -= skip
        ms = pattern[self._index][1]
        while elapsed >= ms:
            self._step_at = ticks_add(self._step_at, ms)
            elapsed -= ms
            self._index += 1
            if self._index == len(pattern):
                self._index = 0
                if self._after is not None:
                    self._start(self._after)
                    self._step_at = ticks_add(now, -elapsed)
                    return self.update(now)
            ms = pattern[self._index][1]
        self._write(pattern[self._index][0])
        return ms - elapsed

    async def run(self):
        while True:
            wait = self.update(self._clock())
            await self._sleep(wait if wait < self.check_ms else self.check_ms)

    def start(self):
        if self._task is None:
            self._task = asyncio.create_task(self.run())
        return self._task

    def deinit(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._write(0)


class Panel:
    """The gestures and the LED's story, wired to the gate and the call log.

    gate: set_quiet(mode, utc), quiet_mode, status(utc) -> dict whose "mode" is
    "ringing" unless quiet (by schedule or button).
    calllog: unseen_silenced() (calls kept silent since acknowledged), acknowledge(),
    last_caller() -> number, "" (anonymous) or None.
    utc(): seconds since 1970 or None while the clock is unknown.
    config(): the current config dict; save(new_config) persists and applies it.
    log(message): optional, one line per gesture.
    health(): optional, (error, online); else the attributes `error` (the config fell
    back to defaults or the last good file) and `online`, which the app sets.
    """

    refresh_ms = 1000  # gate.status() builds a dict: not more often than this

    def __init__(
        self, gate, calllog, utc, config, save, button=None, led=None, log=None, clock=ticks_ms
    ):
        self.gate = gate
        self.calllog = calllog
        self._utc = utc
        self._config = config
        self._save = save
        self.button = button
        self.led = led
        self._log = log
        self._clock = clock
        self.online = False
        self.error = False
        self._refreshed = None
        self.health = None
        if button is not None:
            button.on_short = self.short_press
            button.on_long = self.long_press

    def _say(self, message):
        if self._log is not None:
            self._log(message)
        return message

    def short_press(self):
        """Acknowledge blocked calls if any are unseen, else step the quiet mode."""
        if self.calllog.unseen_silenced():
            self.calllog.acknowledge()
            self.refresh()
            return self._say("button: blocked calls acknowledged")
        mode = _NEXT_QUIET.get(self.gate.quiet_mode, QUIET_OFF)
        self.gate.set_quiet(mode, self._utc())
        self.refresh()
        if mode == QUIET_ON:
            return self._say("button: quiet on")
        if mode == QUIET_UNTIL_MORNING:
            return self._say("button: quiet until morning")
        return self._say("button: quiet off")

    def long_press(self):
        """Block the last caller that rang."""
        number = self.calllog.last_caller()
        if number is None:
            return self._say("button: no caller to block")
        from hushgate.config import block_number  # already loaded by the app

        who = number or "anonymous callers"
        current = self._config()
        new = block_number(current, number)
        if new == current:
            return self._say("button: %s already blocked" % who)
        try:
            self._save(new)
        except Exception as e:  # a full or failing flash must not kill the panel
            return self._say("button: blocking %s not saved: %r" % (who, e))
        if self.led is not None:
            self.led.play_once(CONFIRM)
        return self._say("button: blocked %s" % who)

    def pattern(self):
        utc = self._utc()
        status = self.gate.status(utc)
        if self.health is not None:
            self.error, self.online = self.health()
        return choose_pattern(
            self.error,
            self.online,
            utc is not None,
            self.calllog.unseen_silenced(),
            status.get("mode", "ringing") != "ringing",
        )

    def refresh(self):
        """Show the pattern the state calls for (unless a confirmation is playing)."""
        self._refreshed = self._clock()
        if self.led is None:
            return None
        pattern = self.pattern()
        self.led.show(pattern)
        return pattern

    def tick(self, now):
        """One step of the panel: button, state, LED. Returns ms to sleep."""
        button = self.button
        if button is not None:
            event = button.poll(now)
            if event == SHORT:
                self.short_press()
            elif event == LONG:
                self.long_press()
        if self._refreshed is None or ticks_diff(now, self._refreshed) >= self.refresh_ms:
            self.refresh()
        wait = self.refresh_ms
        if self.led is not None:
            wait = self.led.update(now)
        if button is not None and button.poll_ms < wait:
            wait = button.poll_ms
        return wait

    async def run(self, sleep=sleep_ms):
        """The panel's one task: polls the button and plays the LED."""
        while True:
            await sleep(self.tick(self._clock()))


_powered_up = False


async def power_up(board, reset, seconds=5, log=None, clock=ticks_ms, sleep=sleep_ms):
    """The power-up gesture: the button held for `seconds` calls reset() (the web password).

    Checked once per boot, first thing, before the network (which may take long) is
    brought up. The LED is steady on while the button is held and flickers when the
    reset is done. Returns True when it reset.
    """
    global _powered_up
    if _powered_up or getattr(board, "button", None) is None:
        return False
    _powered_up = True
    button = Button(board.button, getattr(board, "button_active_low", True), clock, sleep)
    led = None
    if getattr(board, "led", None) is not None and button.pressed_now():
        led = Led(board.led, clock, sleep)
        led.show(NORMAL)  # "I see you holding it"
    held = await button.held_at_boot(seconds)
    if held:
        reset()
        if log is not None:
            log("button: web password reset (held at power-up)")
    if led is not None:
        if held:
            led.show(CONFIRM)
            end = ticks_add(clock(), led._period)
            while ticks_diff(end, clock()) > 0:
                await sleep(led.update(clock()))
        led.deinit()
    return held


def reset_password(state_dir, web_auth=None):
    """Forget the web page's password (the web's Auth if running, else its file)."""
    if web_auth is None:
        from hushgate import auth

        web_auth = auth.Auth(state_dir, lambda: 0)
    web_auth.clear()


async def run(app):
    """The panel task for the app: builds button, LED and controller from app.board.

    Uses app.board (led, button, button_active_low, optional online()), app.gate,
    app.log (the call log), app.clock.utc, app.config, app.apply(new_config),
    app.config_problems, app.state_dir and app.auth (the web's, when it exists).
    The power-up gesture is checked once per boot, not again when the task restarts.
    """
    import sys

    def log(text):
        sys.stderr.write(text + "\n")

    board = app.board
    button = None
    if getattr(board, "button", None) is not None:
        button = Button(board.button, getattr(board, "button_active_low", True))
    led = None
    if getattr(board, "led", None) is not None:
        led = Led(board.led)
        show = getattr(board.led, "show_pattern", None)
        if show is not None:
            led.on_pattern = lambda pattern: show(pattern_name(pattern))
    panel = Panel(
        app.gate,
        app.log,
        app.clock.utc,
        lambda: app.config,
        app.apply,
        button=button,
        led=led,
        log=log,
    )
    board_online = getattr(board, "online", None)

    def health():
        online = board_online() if board_online else getattr(app, "online", True)
        return bool(app.config_problems), online

    panel.health = health
    # Normally done by the app before the network comes up; here for an app that did not.
    await power_up(
        board, lambda: reset_password(app.state_dir, getattr(app, "auth", None)), log=log
    )
    try:
        await panel.run()
    finally:
        if led is not None:
            led.deinit()

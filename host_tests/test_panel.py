# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
import asyncio

from hushgate import config, panel
from hushgate.compat import sleep_ms, ticks_add
from hushgate.panel import (
    BLOCKED,
    CONFIRM,
    ERROR,
    NO_CLOCK,
    NO_NETWORK,
    NORMAL,
    QUIET,
    Panel,
)

# gate.py's quiet modes, in the order the short press steps them.
QUIET_OFF = 0
QUIET_ON = 1
QUIET_UNTIL_MORNING = 2


class Clock:
    """A fake ticks_ms clock; its sleep advances time."""

    def __init__(self, t=0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, ms):
        self.t = ticks_add(self.t, ms)

    async def sleep(self, ms):
        self.advance(ms)


class InPin:
    def __init__(self, level=1):
        self.level = level

    def __call__(self):
        return self.level


class OutPin:
    """Records (time, level) of every write."""

    def __init__(self, clock):
        self.clock = clock
        self.writes = []

    def __call__(self, level):
        self.writes.append((self.clock.t, level))


class FakeGate:
    def __init__(self):
        self.quiet_mode = QUIET_OFF
        self.calls = []
        self.schedule_quiet = False

    def set_quiet(self, mode, utc):
        self.calls.append((mode, utc))
        self.quiet_mode = mode

    def quiet_now(self, utc):
        # gate.Gate.quiet_now(): "ringing", or why calls are kept quiet.
        if self.quiet_mode == QUIET_ON:
            return "quiet (button)"
        if self.quiet_mode == QUIET_UNTIL_MORNING:
            return "quiet until morning"
        return "quiet hours" if self.schedule_quiet else "ringing"


class FakeLog:
    """calllog.CallLog's side the panel uses: unseen counts by kind, last caller."""

    def __init__(self, blocked=0, last=None):
        self.unseen = {"calls": blocked, "rang": 0, "blocked": blocked, "quiet": 0, "scanner": 0}
        self.last = last
        self.acks = 0

    def acknowledge(self):
        self.acks += 1
        for kind in self.unseen:
            self.unseen[kind] = 0

    def last_caller(self):
        return self.last


class FakeAuth:
    def __init__(self, clock):
        self.clock = clock
        self.cleared = []

    def clear(self):
        self.cleared.append(self.clock.t)


class HostLed(OutPin):
    """The host board's LED: also told the pattern's name."""

    def __init__(self, clock):
        super().__init__(clock)
        self.names = []

    def show_pattern(self, name):
        self.names.append(name)


class FakeBoard:
    def __init__(self, clock, level=1, active_low=True, led=True):
        self.button = InPin(level)
        self.button_active_low = active_low
        self.led = OutPin(clock) if led else None


class FakeUtc:
    def __init__(self, utc=1764072000):
        self.now = utc

    def utc(self):
        return self.now


def defaults(**changes):
    out = {}
    for key, value in config.DEFAULTS.items():
        out[key] = list(value) if isinstance(value, list) else value
    for key, value in changes.items():
        out[key] = value
    return out


class FakeApp:
    def __init__(self, board, blocked=0, last=None, config=None):
        self.board = board
        self.gate = FakeGate()
        self.log = FakeLog(blocked, last)
        self.clock = FakeUtc()
        self.config = config if config is not None else defaults()
        self.config_problems = []
        self.online = True
        self.state_dir = "build"
        self.saved = []

    def apply(self, new):
        self.saved.append(new)
        self.config = new


def make_panel(level=1, active_low=True, led=True, **app_args):
    """A panel on a fake board and app with a fake clock: (panel, app, clock, lines)."""
    clock = Clock()
    app = FakeApp(FakeBoard(clock, level, active_low, led), **app_args)
    lines = []
    return Panel(app, lines.append, clock), app, clock, lines


def drive(panel, clock, levels):
    """Feed (level, ms) stretches to the button, polling every poll_ms; returns (time, event)."""
    events = []
    for level, ms in levels:
        panel.button.level = level
        end = ticks_add(clock.t, ms)
        while clock.t != end:
            event = panel.poll(clock.t)
            if event is not None:
                events.append((clock.t, event))
            clock.advance(panel.poll_ms)
    return events


def make_button(level=1, active_low=True):
    p, _app, clock, _lines = make_panel(level, active_low, led=False)
    return p, clock


# --- the button ---


def test_short_press_reported_once_on_release():
    b, clock = make_button()
    events = drive(b, clock, [(1, 200), (0, 300), (1, 400)])
    # Released at 500; the up level is accepted after debounce_ms (50) of stability.
    assert events == [(560, "short")]


def test_bounces_shorter_than_debounce_are_ignored():
    b, clock = make_button()
    events = drive(b, clock, [(1, 100), (0, 20), (1, 40), (0, 20), (1, 300)])
    assert events == []
    assert not b.pressed


def test_bouncy_press_still_one_short():
    b, clock = make_button()
    contacts = [(1, 100), (0, 20), (1, 20), (0, 20), (1, 20), (0, 400), (1, 20), (0, 20), (1, 400)]
    events = drive(b, clock, contacts)
    assert [e for _t, e in events] == ["short"]


def test_long_press_reported_while_held_and_release_is_silent():
    b, clock = make_button()
    events = drive(b, clock, [(1, 100), (0, 3000), (1, 500)])
    # Down at 100, held long_ms (2000) -> reported at 2100 while still held.
    assert events == [(2100, "long")]


def test_press_just_under_long_is_short():
    b, clock = make_button()
    events = drive(b, clock, [(1, 100), (0, 1940), (1, 500)])
    assert [e for _t, e in events] == ["short"]


def test_long_ms_is_a_class_attribute_tests_can_lower():
    b, clock = make_button()
    b.long_ms = 300
    events = drive(b, clock, [(1, 100), (0, 400), (1, 100)])
    assert events == [(400, "long")]


def test_active_high_button():
    b, clock = make_button(level=0, active_low=False)
    assert not b.pressed
    events = drive(b, clock, [(0, 100), (1, 200), (0, 200)])
    assert events == [(360, "short")]


def test_button_down_at_start_reports_nothing_on_release():
    b, clock = make_button(level=0)
    assert b.pressed
    events = drive(b, clock, [(0, 3000), (1, 200)])
    assert events == []
    # ...and the next press works normally.
    events = drive(b, clock, [(0, 200), (1, 200)])
    assert [e for _t, e in events] == ["short"]


def test_button_across_ticks_wrap():
    b, clock = make_button()
    clock.t = ticks_add(0, -1000)
    events = drive(b, clock, [(1, 200), (0, 2500), (1, 200)])
    assert [e for _t, e in events] == ["long"]
    assert events[0][0] == ticks_add(0, 1200)


# --- the LED ---


def play(pattern, ms, step=10):
    p, _app, clock, _lines = make_panel()
    p.show(pattern)
    while clock.t < ms:
        p.update(clock.t)
        clock.advance(step)
    return p.led.writes


def test_led_steady_on_writes_once():
    assert play(NORMAL, 5000) == [(0, 1)]


def test_led_double_flash_sequence():
    assert play(BLOCKED, 6000) == [
        (0, 1), (120, 0), (300, 1), (420, 0),
        (3000, 1), (3120, 0), (3300, 1), (3420, 0),
    ]  # fmt: skip


def test_led_quiet_is_slow_blink():
    assert play(QUIET, 6500) == [(0, 1), (1500, 0), (3000, 1), (4500, 0), (6000, 1)]


def test_led_fast_blink():
    writes = play(NO_NETWORK, 1000)
    assert writes[:4] == [(0, 1), (100, 0), (200, 1), (300, 0)]
    assert len(writes) == 10


def test_led_clock_unknown_is_long_short():
    assert play(NO_CLOCK, 1700) == [(0, 1), (900, 0), (1200, 1), (1350, 0), (1650, 1)]


def test_led_sos_has_three_short_three_long_three_short():
    assert [ms for ms in ERROR if ms > 0] == [150, 150, 150, 450, 450, 450, 150, 150, 150]
    writes = play(ERROR, 6000)
    assert writes[0] == (0, 1)
    assert writes[1] == (150, 0)


def test_led_update_returns_time_to_next_step():
    p, _app, _clock, _lines = make_panel()
    p.show(BLOCKED)
    assert p.update(0) == 120
    assert p.update(50) == 70
    assert p.update(130) == 170


def test_led_catches_up_after_a_long_stall():
    p, _app, _clock, _lines = make_panel()
    p.show(QUIET)
    # 100 whole periods plus 1600 ms: second step (off), which ends at 3000.
    p.update(300000 + 1600)
    assert p.level == 0
    assert p.update(300000 + 1700) == 1300


def test_led_same_pattern_does_not_restart():
    p, _app, clock, _lines = make_panel()
    p.show(QUIET)
    clock.advance(1600)
    p.update(clock.t)
    p.show(QUIET)
    assert p.led.writes == [(0, 1), (1600, 0)]


def test_led_play_once_then_back():
    p, _app, clock, _lines = make_panel()
    p.show(NORMAL)
    clock.advance(500)
    p.update(clock.t)
    p.show(CONFIRM, once=True)
    assert p.after is NORMAL
    while clock.t < 1500:
        p.update(clock.t)
        clock.advance(10)
    # A flicker off-on-off-on, a pause, then steady on again.
    assert p.led.writes == [
        (0, 1), (500, 0), (550, 1), (600, 0), (650, 1), (700, 0), (750, 1), (800, 0), (850, 1),
        (900, 0), (1200, 1),
    ]  # fmt: skip
    assert p.pattern is NORMAL
    assert p.after is None


def test_led_show_during_play_once_waits():
    p, _app, clock, _lines = make_panel()
    p.show(NORMAL)
    p.show(CONFIRM, once=True)
    p.show(QUIET)
    assert p.pattern is CONFIRM
    clock.advance(650)
    p.update(clock.t)
    assert p.pattern is CONFIRM
    clock.advance(100)
    p.update(clock.t)
    assert p.pattern is QUIET
    assert p.level == 1


def test_patterns_are_distinct():
    patterns = [NORMAL, QUIET, BLOCKED, NO_NETWORK, NO_CLOCK, ERROR, CONFIRM]
    for i, a in enumerate(patterns):
        for b in patterns[i + 1 :]:
            assert a != b


# --- the gestures and the LED's story ---


def test_short_press_cycles_quiet_modes():
    p, app, _clock, lines = make_panel()
    for _ in range(4):
        p.press("short")
    assert app.gate.calls == [
        (QUIET_ON, 1764072000),
        (QUIET_UNTIL_MORNING, 1764072000),
        (QUIET_OFF, 1764072000),
        (QUIET_ON, 1764072000),
    ]
    assert lines == [
        "button: quiet on",
        "button: quiet until morning",
        "button: quiet off",
        "button: quiet on",
    ]


def test_short_press_first_acknowledges_blocked_calls():
    p, app, clock, lines = make_panel(blocked=2)
    p.tick(clock.t)
    assert p.pattern is BLOCKED
    p.press("short")
    assert app.log.acks == 1
    assert app.gate.calls == []
    p.tick(clock.t)  # the story is chosen again at once, not after refresh_ms
    assert p.pattern is NORMAL
    p.press("short")
    assert app.gate.calls == [(QUIET_ON, 1764072000)]
    p.tick(clock.t)
    assert p.pattern is QUIET
    assert lines == ["button: blocked calls acknowledged", "button: quiet on"]


def test_scanners_and_calls_that_rang_do_not_light_the_led():
    p, app, clock, lines = make_panel()
    app.log.unseen["scanner"] = 40
    app.log.unseen["rang"] = 2
    app.log.unseen["calls"] = 42
    p.tick(clock.t)
    assert p.pattern is NORMAL
    p.press("short")  # nothing to acknowledge: it steps the quiet mode
    assert app.log.acks == 0 and lines == ["button: quiet on"]
    p, app, clock, lines = make_panel()
    app.log.unseen["quiet"] = 1  # answered by the gate while quiet
    p.tick(clock.t)
    assert p.pattern is BLOCKED


def test_long_press_blocks_last_caller():
    p, app, _clock, lines = make_panel(
        last="0033147310370", config=defaults(block=["0800*"], vip=["0033147310370", "112"])
    )
    p.press("long")
    # Blocked, and no longer a VIP (a VIP would ring through the block).
    assert app.saved == [defaults(block=["0800*", "0033147310370"], vip=["112"])]
    assert p.pattern is CONFIRM
    p.press("long")
    assert len(app.saved) == 1
    assert lines == ["button: blocked 0033147310370", "button: 0033147310370 already blocked"]


def test_long_press_without_caller_changes_nothing():
    p, app, _clock, lines = make_panel(last=None)
    p.press("long")
    assert app.saved == []
    assert lines == ["button: no caller to block"]


def test_long_press_save_failure_is_reported_not_raised():
    p, app, _clock, lines = make_panel(last="123")

    def broken(new):
        raise OSError(28)

    app.apply = broken
    p.press("long")
    assert app.config == defaults()
    assert lines[0].startswith("button: blocking 123 not saved")


def test_long_press_on_anonymous_caller_blocks_anonymous():
    p, app, _clock, lines = make_panel(last="")
    p.press("long")
    assert app.saved == [defaults(block_anonymous=True)]
    assert lines == ["button: blocked anonymous callers"]


def test_long_press_number_caught_by_prefix_is_already_blocked():
    p, app, _clock, lines = make_panel(last="0800123", config=defaults(block=["0800*"]))
    p.press("long")
    assert app.saved == []
    assert lines == ["button: 0800123 already blocked"]


def test_led_story_priority_rule():
    p, app, clock, _lines = make_panel()

    def story():
        clock.advance(p.refresh_ms)
        p.tick(clock.t)
        return p.pattern

    assert story() is NORMAL
    app.gate.schedule_quiet = True
    assert story() is QUIET
    app.log.unseen["blocked"] = 1
    assert story() is BLOCKED
    app.clock.now = None
    assert story() is NO_CLOCK
    app.online = False
    assert story() is NO_NETWORK
    app.config_problems = ["config.json: not JSON, defaults used"]
    assert story() is ERROR
    app.board.online = lambda: True  # the board's own word wins over app.online
    assert story() is ERROR
    app.config_problems = []
    assert story() is NO_CLOCK


def test_panel_tick_drives_button_and_led():
    p, app, clock, _lines = make_panel()
    writes = p.led.writes

    def run_for(level, ms):
        p.button.level = level
        end = clock.t + ms
        while clock.t < end:
            wait = p.tick(clock.t)
            assert 0 < wait <= p.poll_ms
            clock.advance(10)

    run_for(1, 200)
    run_for(0, 200)  # short press
    run_for(1, 3200)
    assert app.gate.quiet_mode == QUIET_ON
    assert p.pattern is QUIET
    # Steady on; pressed 200..400, polled every 10 ms here, so the short press is taken
    # at 450 (release + debounce) and the slow blink starts there.
    assert writes == [(0, 1), (1950, 0), (3450, 1)]


def power_up_with(level, release_at=None):
    p, app, clock, lines = make_panel(level)
    app.auth = FakeAuth(clock)
    real_sleep = clock.sleep

    async def sleep(ms):
        if release_at is not None and clock.t >= release_at:
            p.button.level = 1
        await real_sleep(ms)

    panel._powered_up = False
    done = asyncio.run(p.power_up(5, sleep))
    return done, p, app, lines, clock


def test_power_up_gesture_resets_password_and_confirms():
    done, p, app, lines, clock = power_up_with(0)
    assert done is True
    assert app.auth.cleared == [5000]
    assert lines == ["button: web password reset (held at power-up)"]
    # Steady on while held, then the flicker (off-on x4, pause), then the LED's story.
    assert p.pattern is CONFIRM and p.after is NORMAL
    while clock.t < 5700:
        p.update(clock.t)
        clock.advance(10)
    assert p.led.writes == [
        (0, 1), (5000, 0), (5050, 1), (5100, 0), (5150, 1), (5200, 0), (5250, 1),
        (5300, 0), (5350, 1), (5400, 0),
    ]  # fmt: skip
    p.update(clock.t)
    assert p.pattern is NORMAL


def test_power_up_released_early_does_nothing():
    done, p, app, lines, clock = power_up_with(0, release_at=2000)
    assert done is False
    assert app.auth.cleared == [] and lines == []
    assert p.led.writes == [(0, 1)]  # steady on, as the panel's story "normal" goes on
    assert 2000 < clock.t < 2100


def test_power_up_without_gesture_is_quick_and_once_per_boot():
    done, p, app, _lines, clock = power_up_with(1)
    assert done is False and app.auth.cleared == []
    assert clock.t == 0  # the button is up: nothing to wait for
    assert p.led.writes == []  # the LED is left to the panel
    # Once per boot: a restarted panel task does not look again.
    p, app, _clock, _lines = make_panel(0)
    app.auth = None  # would fail if used
    assert asyncio.run(p.power_up()) is False


def test_power_up_without_web_clears_the_password_file():
    import os

    folder = "build/test_panel_state"
    for path in ("build", folder):
        try:
            os.mkdir(path)
        except OSError:
            pass
    with open(folder + "/web.pw", "w") as f:
        f.write("x")
    p, app, clock, lines = make_panel(0)
    app.state_dir = folder
    panel._powered_up = False
    assert asyncio.run(p.power_up(5, clock.sleep)) is True
    assert "web.pw" not in os.listdir(folder)


# --- the app's panel task ---


def test_run_for_the_app_shows_state_on_the_board_led():
    app = FakeApp(FakeBoard(Clock()))
    app.board.led = HostLed(Clock())
    app.log.unseen["blocked"] = 1
    panel._powered_up = False  # the task looks for the power-up gesture itself

    async def main():
        task = asyncio.create_task(panel.run(app))
        await sleep_ms(300)
        app.config_problems = ["config.json: not JSON, defaults used"]
        await sleep_ms(Panel.refresh_ms + 300)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(main())
    led = app.board.led
    assert led.names[0] == "blocked" and led.names[-1] == "error"
    assert led.writes[0][1] == 1
    assert led.writes[-1][1] == 0  # turned off when the task ends

# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
import asyncio

from hushgate import config, panel
from hushgate.compat import sleep_ms, ticks_add
from hushgate.panel import (
    BLOCKED,
    CONFIRM,
    ERROR,
    LONG,
    NO_CLOCK,
    NO_NETWORK,
    NORMAL,
    OFF,
    QUIET,
    QUIET_OFF,
    QUIET_ON,
    QUIET_UNTIL_MORNING,
    SHORT,
    Button,
    Led,
    Panel,
    choose_pattern,
)


class StopRunError(Exception):
    pass


class Clock:
    """A fake ticks_ms clock; its sleep advances time and ends a test run at `until`."""

    def __init__(self, t=0, until=None):
        self.t = t
        self.until = until
        self.slept = 0

    def __call__(self):
        return self.t

    def advance(self, ms):
        self.t = ticks_add(self.t, ms)

    async def sleep(self, ms):
        self.slept += ms
        self.advance(ms)
        if self.until is not None and self.slept >= self.until:
            raise StopRunError()


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

    def status(self, utc):
        # The shape of gate.Gate.status(): "mode" is "ringing" unless quiet.
        if self.quiet_mode == QUIET_ON:
            return {"mode": "quiet-button"}
        if self.quiet_mode == QUIET_UNTIL_MORNING:
            return {"mode": "quiet-until-morning"}
        return {"mode": "quiet-schedule" if self.schedule_quiet else "ringing"}


class FakeLog:
    def __init__(self, unseen=0, last=None):
        self.unseen = unseen
        self.last = last
        self.acks = 0

    def acknowledge(self):
        self.acks += 1
        self.unseen = 0

    def unseen_silenced(self):
        return self.unseen

    def last_caller(self):
        return self.last


def drive(button, clock, levels):
    """Feed (level, ms) stretches to the pin, polling every poll_ms; returns (time, event)."""
    events = []
    for level, ms in levels:
        button._pin.level = level
        end = ticks_add(clock.t, ms)
        while clock.t != end:
            event = button.poll(clock.t)
            if event is not None:
                events.append((clock.t, event))
            clock.advance(button.poll_ms)
    return events


def make_button(clock, level=1, active_low=True):
    return Button(InPin(level), active_low=active_low, clock=clock, sleep=clock.sleep)


# --- Button ---


def test_short_press_reported_once_on_release():
    clock = Clock()
    b = make_button(clock)
    events = drive(b, clock, [(1, 200), (0, 300), (1, 400)])
    # Released at 500; the up level is accepted after debounce_ms (50) of stability.
    assert events == [(560, SHORT)]


def test_bounces_shorter_than_debounce_are_ignored():
    clock = Clock()
    b = make_button(clock)
    events = drive(b, clock, [(1, 100), (0, 20), (1, 40), (0, 20), (1, 300)])
    assert events == []
    assert not b.pressed


def test_bouncy_press_still_one_short():
    clock = Clock()
    b = make_button(clock)
    contacts = [(1, 100), (0, 20), (1, 20), (0, 20), (1, 20), (0, 400), (1, 20), (0, 20), (1, 400)]
    events = drive(b, clock, contacts)
    assert [e for _t, e in events] == [SHORT]


def test_long_press_reported_while_held_and_release_is_silent():
    clock = Clock()
    b = make_button(clock)
    events = drive(b, clock, [(1, 100), (0, 3000), (1, 500)])
    # Down at 100, held long_ms (2000) -> reported at 2100 while still held.
    assert events == [(2100, LONG)]


def test_press_just_under_long_is_short():
    clock = Clock()
    b = make_button(clock)
    events = drive(b, clock, [(1, 100), (0, 1940), (1, 500)])
    assert [e for _t, e in events] == [SHORT]


def test_long_ms_is_a_class_attribute_tests_can_lower():
    clock = Clock()
    b = make_button(clock)
    b.long_ms = 300
    events = drive(b, clock, [(1, 100), (0, 400), (1, 100)])
    assert events == [(400, LONG)]


def test_active_high_button():
    clock = Clock()
    b = make_button(clock, level=0, active_low=False)
    assert not b.pressed_now()
    events = drive(b, clock, [(0, 100), (1, 200), (0, 200)])
    assert events == [(360, SHORT)]


def test_button_down_at_start_reports_nothing_on_release():
    clock = Clock()
    b = make_button(clock, level=0)
    assert b.pressed
    events = drive(b, clock, [(0, 3000), (1, 200)])
    assert events == []
    # ...and the next press works normally.
    events = drive(b, clock, [(0, 200), (1, 200)])
    assert [e for _t, e in events] == [SHORT]


def test_button_across_ticks_wrap():
    clock = Clock(t=ticks_add(0, -1000))
    b = make_button(clock)
    events = drive(b, clock, [(1, 200), (0, 2500), (1, 200)])
    assert [e for _t, e in events] == [LONG]
    assert events[0][0] == ticks_add(0, 1200)


def test_held_at_boot_true_after_five_seconds():
    clock = Clock()
    b = make_button(clock, level=0)
    assert asyncio.run(b.held_at_boot(5)) is True
    assert clock.t == 5000


def test_held_at_boot_false_quickly_when_not_pressed():
    clock = Clock()
    b = make_button(clock, level=1)
    assert asyncio.run(b.held_at_boot(5)) is False
    # Up for debounce_ms (50), seen at the poll after it (every 20 ms).
    assert clock.t == 60


def test_held_at_boot_false_when_released_early():
    clock = Clock()
    pin = InPin(0)
    b = Button(pin, clock=clock, sleep=clock.sleep)

    async def release_at_3s():
        task = asyncio.create_task(b.held_at_boot(5))
        # The fake sleep never yields; release the pin from inside the clock instead.
        return await task

    def sleep_then_release(ms):
        if clock.t >= 3000:
            pin.level = 1
        return Clock.sleep(clock, ms)

    b._sleep = sleep_then_release
    assert asyncio.run(release_at_3s()) is False
    assert 3000 <= clock.t <= 3100


def test_button_task_calls_callbacks():
    clock = Clock(until=5000)
    pin = InPin(1)
    b = Button(pin, clock=clock, sleep=clock.sleep)
    seen = []
    b.on_short = lambda: seen.append(("short", clock.t))
    b.on_long = lambda: seen.append(("long", clock.t))
    real_sleep = clock.sleep

    async def scripted_sleep(ms):
        # Press 100..300 (short), press 1000..3500 (long).
        t = clock.t
        pin.level = 0 if (100 <= t < 300 or 1000 <= t < 3500) else 1
        await real_sleep(ms)

    b._sleep = scripted_sleep
    try:
        asyncio.run(b.run())
    except StopRunError:
        pass
    assert seen == [("short", 380), ("long", 3020)]


def test_button_start_and_deinit():
    clock = Clock()
    b = make_button(clock)

    async def main():
        task = b.start()
        assert b.start() is task
        b.deinit()
        assert b._task is None

    asyncio.run(main())


# --- LED ---


def play(pattern, ms, step=10):
    clock = Clock()
    pin = OutPin(clock)
    led = Led(pin, clock=clock, sleep=clock.sleep)
    led.show(pattern)
    while clock.t < ms:
        led.update(clock.t)
        clock.advance(step)
    return pin.writes


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
    ons = []
    for level, ms in ERROR:
        if level:
            ons.append(ms)
    assert ons == [150, 150, 150, 450, 450, 450, 150, 150, 150]
    writes = play(ERROR, 6000)
    assert writes[0] == (0, 1)
    assert writes[1] == (150, 0)


def test_led_update_returns_time_to_next_step():
    clock = Clock()
    led = Led(OutPin(clock), clock=clock)
    led.show(BLOCKED)
    assert led.update(0) == 120
    assert led.update(50) == 70
    assert led.update(130) == 170


def test_led_catches_up_after_a_long_stall():
    clock = Clock()
    pin = OutPin(clock)
    led = Led(pin, clock=clock)
    led.show(QUIET)
    # 100 whole periods plus 1600 ms: second step (off), which ends at 3000.
    led.update(300000 + 1600)
    assert led.level == 0
    assert led.update(300000 + 1700) == 1300


def test_led_same_pattern_does_not_restart():
    clock = Clock()
    pin = OutPin(clock)
    led = Led(pin, clock=clock)
    led.show(QUIET)
    clock.advance(1600)
    led.update(clock.t)
    led.show(QUIET)
    assert pin.writes == [(0, 1), (1600, 0)]


def test_led_play_once_then_back():
    clock = Clock()
    pin = OutPin(clock)
    led = Led(pin, clock=clock)
    led.show(NORMAL)
    clock.advance(500)
    led.update(clock.t)
    led.play_once(CONFIRM)
    assert led.playing_once
    while clock.t < 1500:
        led.update(clock.t)
        clock.advance(10)
    # A flicker off-on-off-on, a pause, then steady on again.
    assert pin.writes == [
        (0, 1), (500, 0), (550, 1), (600, 0), (650, 1), (700, 0), (750, 1), (800, 0), (850, 1),
        (900, 0), (1200, 1),
    ]  # fmt: skip
    assert led.pattern is NORMAL
    assert not led.playing_once


def test_led_show_during_play_once_waits():
    clock = Clock()
    pin = OutPin(clock)
    led = Led(pin, clock=clock)
    led.show(NORMAL)
    led.play_once(CONFIRM)
    led.show(QUIET)
    assert led.pattern is CONFIRM
    clock.advance(650)
    led.update(clock.t)
    assert led.pattern is CONFIRM
    clock.advance(100)
    led.update(clock.t)
    assert led.pattern is QUIET
    assert led.level == 1


def test_led_task_plays_and_deinit_turns_off():
    clock = Clock(until=700)
    pin = OutPin(clock)
    led = Led(pin, clock=clock, sleep=clock.sleep)
    led.show(BLOCKED)
    try:
        asyncio.run(led.run())
    except StopRunError:
        pass
    assert pin.writes == [(0, 1), (120, 0), (300, 1), (420, 0)]
    led.deinit()
    assert led.level == 0


def test_patterns_are_distinct():
    patterns = [NORMAL, QUIET, BLOCKED, NO_NETWORK, NO_CLOCK, ERROR, OFF]
    for i, a in enumerate(patterns):
        for b in patterns[i + 1 :]:
            assert a != b
    assert panel.pattern_name(BLOCKED) == "blocked"
    assert panel.pattern_name(((1, 5),)) == "custom"


def test_priority_rule():
    assert choose_pattern(True, False, False, 3, True) is ERROR
    assert choose_pattern(False, False, False, 3, True) is NO_NETWORK
    assert choose_pattern(False, True, False, 3, True) is NO_CLOCK
    assert choose_pattern(False, True, True, 3, True) is BLOCKED
    assert choose_pattern(False, True, True, 0, True) is QUIET
    assert choose_pattern(False, True, True, 0, False) is NORMAL


# --- Panel (gestures) ---


def defaults(**changes):
    out = {}
    for key, value in config.DEFAULTS.items():
        out[key] = list(value) if isinstance(value, list) else value
    for key, value in changes.items():
        out[key] = value
    return out


def make_panel(unseen=0, last=None, config=None, save=None):
    clock = Clock()
    state = {"config": config if config is not None else defaults(), "saved": []}

    def default_save(new):
        state["saved"].append(new)
        state["config"] = new

    gate = FakeGate()
    log = FakeLog(unseen, last)
    lines = []
    button = Button(InPin(1), clock=clock, sleep=clock.sleep)
    led = Led(OutPin(clock), clock=clock)
    p = Panel(
        gate,
        log,
        lambda: 1764072000,
        lambda: state["config"],
        save or default_save,
        button=button,
        led=led,
        log=lines.append,
        clock=clock,
    )
    p.online = True
    return p, gate, log, state, lines, clock


def test_short_press_cycles_quiet_modes():
    p, gate, _log, _state, lines, _clock = make_panel()
    p.short_press()
    p.short_press()
    p.short_press()
    p.short_press()
    assert gate.calls == [
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
    p, gate, log, _state, lines, _clock = make_panel(unseen=2)
    p.refresh()
    assert p.led.pattern is BLOCKED
    p.short_press()
    assert log.acks == 1
    assert gate.calls == []
    assert p.led.pattern is NORMAL
    p.short_press()
    assert gate.calls == [(QUIET_ON, 1764072000)]
    assert p.led.pattern is QUIET
    assert lines == ["button: blocked calls acknowledged", "button: quiet on"]


def test_long_press_blocks_last_caller():
    p, _gate, _log, state, lines, _clock = make_panel(
        last="0033147310370", config=defaults(block=["0800*"], vip=["0033147310370", "112"])
    )
    p.long_press()
    # Blocked, and no longer a VIP (a VIP would ring through the block).
    assert state["saved"] == [defaults(block=["0800*", "0033147310370"], vip=["112"])]
    assert p.led.pattern is CONFIRM
    p.long_press()
    assert len(state["saved"]) == 1
    assert lines == ["button: blocked 0033147310370", "button: 0033147310370 already blocked"]


def test_long_press_without_caller_changes_nothing():
    p, _gate, _log, state, lines, _clock = make_panel(last=None)
    p.long_press()
    assert state["saved"] == []
    assert lines == ["button: no caller to block"]


def test_long_press_save_failure_is_reported_not_raised():
    def broken(new):
        raise OSError(28)

    p, _gate, _log, state, lines, _clock = make_panel(last="123", save=broken)
    p.long_press()
    assert state["config"] == defaults()
    assert lines[0].startswith("button: blocking 123 not saved")


def test_long_press_on_anonymous_caller_blocks_anonymous():
    p, _gate, _log, state, lines, _clock = make_panel(last="")
    p.long_press()
    assert state["saved"] == [defaults(block_anonymous=True)]
    assert lines == ["button: blocked anonymous callers"]


def test_long_press_number_caught_by_prefix_is_already_blocked():
    p, _gate, _log, state, lines, _clock = make_panel(
        last="0800123", config=defaults(block=["0800*"])
    )
    p.long_press()
    assert state["saved"] == []
    assert lines == ["button: 0800123 already blocked"]


def test_panel_led_follows_state():
    p, gate, log, _state, _lines, _clock = make_panel()
    assert p.refresh() is NORMAL
    gate.schedule_quiet = True
    assert p.refresh() is QUIET
    log.unseen = 1
    assert p.refresh() is BLOCKED
    p._utc = lambda: None
    assert p.refresh() is NO_CLOCK
    p.online = False
    assert p.refresh() is NO_NETWORK
    p.error = True
    assert p.refresh() is ERROR


def test_panel_tick_drives_button_and_led():
    p, gate, _log, _state, _lines, clock = make_panel()
    pin = p.button._pin
    writes = p.led._pin.writes

    def run_for(level, ms):
        pin.level = level
        end = clock.t + ms
        while clock.t < end:
            wait = p.tick(clock.t)
            assert 0 < wait <= p.button.poll_ms
            clock.advance(10)

    run_for(1, 200)
    run_for(0, 200)  # short press
    run_for(1, 3200)
    assert gate.quiet_mode == QUIET_ON
    assert p.led.pattern is QUIET
    # Steady on; pressed 200..400, polled every 10 ms here, so the short press is taken
    # at 450 (release + debounce) and the slow blink starts there.
    assert writes == [(0, 1), (1950, 0), (3450, 1)]


def power_up_with(level, release_at=None):
    clock = Clock()
    board = FakeBoard()
    board.led = OutPin(clock)
    board.button.level = level
    resets = []
    lines = []
    real_sleep = clock.sleep

    async def sleep(ms):
        if release_at is not None and clock.t >= release_at:
            board.button.level = 1
        await real_sleep(ms)

    panel._powered_up = False
    done = asyncio.run(
        panel.power_up(board, lambda: resets.append(clock.t), 5, lines.append, clock, sleep)
    )
    return done, resets, lines, board.led.writes, clock


def test_power_up_gesture_resets_password_and_confirms():
    done, resets, lines, writes, clock = power_up_with(0)
    assert done is True
    assert resets == [5000]
    assert lines == ["button: web password reset (held at power-up)"]
    # Steady on while held, then the flicker (off-on x4, pause), then off.
    assert writes == [
        (0, 1), (5000, 0), (5050, 1), (5100, 0), (5150, 1), (5200, 0), (5250, 1),
        (5300, 0), (5350, 1), (5400, 0),
    ]  # fmt: skip
    assert clock.t == 5700


def test_power_up_released_early_does_nothing():
    done, resets, lines, writes, clock = power_up_with(0, release_at=2000)
    assert done is False
    assert resets == [] and lines == []
    assert writes == [(0, 1), (clock.t, 0)]
    assert 2000 < clock.t < 2100


def test_power_up_without_gesture_is_quick_and_once_per_boot():
    done, resets, _lines, writes, clock = power_up_with(1)
    assert done is False and resets == []
    assert clock.t == 60  # up for debounce_ms, seen at the next 20 ms poll
    assert writes == []  # the LED is left to the panel
    # Once per boot: a restarted panel task does not check again.
    board = FakeBoard()
    board.button.level = 0
    assert asyncio.run(panel.power_up(board, lambda: 1 / 0)) is False


# --- the app's panel task ---


class HostLed:
    def __init__(self):
        self.levels = []
        self.names = []

    def __call__(self, level):
        self.levels.append(level)

    def show_pattern(self, name):
        self.names.append(name)


class FakeBoard:
    button_active_low = True

    def __init__(self):
        self.led = HostLed()
        self.button = InPin(1)


class FakeClockSource:
    def utc(self):
        return 1764072000


class FakeApp:
    def __init__(self):
        self.board = FakeBoard()
        self.gate = FakeGate()
        self.log = FakeLog(unseen=1, last="0612345678")
        self.clock = FakeClockSource()
        self.config = defaults()
        self.config_problems = []
        self.state_dir = "build"
        self.applied = []

    def apply(self, new):
        self.applied.append(new)
        self.config = new


def test_run_for_the_app_shows_state_on_the_board_led():
    app = FakeApp()
    panel._powered_up = False  # the task checks the power-up gesture if the app did not

    async def main():
        task = asyncio.create_task(panel.run(app))
        await sleep_ms(300)
        app.config_problems = ["config.json: not JSON, defaults used"]
        await sleep_ms(panel.Panel.refresh_ms + 300)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(main())
    assert app.board.led.names == ["blocked", "error"]
    assert app.board.led.levels[0] == 1
    assert app.board.led.levels[-1] == 0  # turned off when the task ends

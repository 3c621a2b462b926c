# What the panel's gestures do (hushgate/panel.py's Panel.press and power_up): a
# press acknowledges, steps the quiet mode or blocks the last caller; the button
# held at power-up forgets the web password. Rare, so panel.py loads this module
# only while one runs.
from hushgate.compat import ticks_diff
from hushgate.panel import CONFIRM, NORMAL


def press(panel, event):
    """Panel.press: "short" or "long"."""
    app = panel.app
    calls = app.log
    if event == "short":
        unseen = calls.unseen
        if unseen["blocked"] + unseen["quiet"]:
            calls.acknowledge()
            said = "blocked calls acknowledged"
        else:
            # gate.py's QUIET_OFF, QUIET_ON, QUIET_UNTIL_MORNING are 0, 1, 2, stepped
            # in that order (host_tests/test_boards.py checks); not imported, so the
            # panel's tests need not load the whole gate.
            mode = (app.gate.quiet_mode + 1) % 3
            app.gate.set_quiet(mode, app.clock.utc())
            said = "quiet off,quiet on,quiet until morning".split(",")[mode]
        panel._refreshed = None  # the LED's story changed: at the next tick
    else:
        number = calls.last_caller()
        if number is None:
            said = "no caller to block"
        else:
            from hushgate.config import block_number  # already loaded by the app

            who = number or "anonymous callers"
            new = block_number(app.config, number)
            if new == app.config:
                said = who + " already blocked"
            else:
                try:
                    app.apply(new)
                    said = "blocked " + who
                    panel.show(CONFIRM, True)
                except Exception as e:  # a full flash must not kill the panel
                    said = "blocking %s not saved: %r" % (who, e)
    panel._log("button: " + said)


async def power_up(panel, seconds, sleep):
    """Panel.power_up, once the button is found held at power-up."""
    panel.show(NORMAL)  # "I see you holding it"
    start = panel._clock()
    while ticks_diff(panel._clock(), start) < seconds * 1000:
        await sleep(panel.poll_ms)
        panel.poll(panel._clock())
        if not panel.pressed:
            return False
    auth = getattr(panel.app, "auth", None)  # the web page's, when it runs
    if auth is None:
        from hushgate.auth import Auth

        auth = Auth(panel.app.state_dir, int)  # clear() needs no clock
    auth.clear()
    panel._log("button: web password reset (held at power-up)")
    panel.show(CONFIRM, True)
    return True

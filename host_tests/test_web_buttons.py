# CPython, and MicroPython with a 128k heap (docs/web.md: at 110k, a few saves in a
# row, each loading the config validation, sometimes find the heap too fragmented):
# the status page's buttons (quiet, "I have looked", block or always let ring a
# caller), CSRF, GETs change nothing (harness in test_web).
import json

from test_web import (
    HOST,
    NOW,
    file_config,
    form,
    get,
    logged_in,
    post_form,
    record,
)

# -- the buttons --------------------------------------------------------------------


def test_quiet_button_and_seen():
    ctx, app, client, token = logged_in()
    res = post_form(client, "/quiet", form(csrf=token, mode="on"))
    assert res.status_code == 303 and ctx.gate.set_calls == [(1, NOW)]
    text = get(client, "/").text
    assert "Ring again" in text and "Quiet (button)" in text
    post_form(client, "/quiet", form(csrf=token, mode="morning"))
    assert "Quiet until 07:00" in get(client, "/").text
    post_form(client, "/quiet", form(csrf=token, mode="off"))
    assert [m for m, _ in ctx.gate.set_calls] == [1, 2, 0]
    assert post_form(client, "/quiet", form(csrf=token, mode="loud")).status_code == 400
    record(ctx, "0699", "Bob", "quiet", 1, 480, "quiet hours")
    assert ctx.log.unseen["quiet"] == 1
    assert post_form(client, "/seen", form(csrf=token)).status_code == 303
    assert ctx.log.unseen["quiet"] == 0 and ctx.log.counters["quiet"] == 1


def test_posts_without_the_csrf_token_change_nothing():
    ctx, app, client, token = logged_in()
    entry = record(ctx, "0612345678", "Alice")
    for path, body in (
        ("/quiet", form(mode="on")),
        ("/quiet", form(mode="on", csrf="0" * 32)),
        ("/seen", form(csrf="")),
        ("/number", form(block=entry["id"])),
        ("/settings", form(ata="10.0.0.9:5060")),
    ):
        res = post_form(client, path, body)
        assert res.status_code == 403, path
    assert ctx.gate.set_calls == [] and ctx.applied == [] and ctx.log.unseen["calls"] == 1
    # a cross-site Origin is refused even with the token
    res = post_form(client, "/quiet", form(mode="on", csrf=token), {"Origin": "http://evil.test"})
    assert res.status_code == 403 and ctx.gate.set_calls == []
    res = post_form(client, "/quiet", form(mode="on", csrf=token), {"Origin": "http://" + HOST})
    assert res.status_code == 303


def test_gets_change_nothing():
    ctx, app, client, token = logged_in()
    record(ctx, "0699", "Bob", "quiet", 1, 480, "quiet hours")
    before = (json.dumps(ctx.config), ctx.gate.quiet_mode, ctx.log.unseen["calls"])
    for path in ("/", "/calls", "/settings", "/config.json", "/api/status", "/api/calls",
                 "/api/config", "/quiet?mode=on", "/seen", "/number?block=1", "/logout",
                 "/api/quiet", "/api/seen"):  # fmt: skip
        get(client, path)
    assert (json.dumps(ctx.config), ctx.gate.quiet_mode, ctx.log.unseen["calls"]) == before
    assert ctx.applied == [] and get(client, "/").status_code == 200


def test_block_and_allow_from_the_log():
    ctx, app, client, token = logged_in()
    alice = record(ctx, "0612345678", "Alice")
    res = post_form(client, "/number", form(csrf=token, block=alice["id"]))
    assert res.status_code == 303 and "blocked" in res.headers["Location"]
    assert ctx.config["block"] == ["0612345678"]
    assert file_config(ctx)["block"] == ["0612345678"]
    assert "0612345678 is blocked" in get(client, res.headers["Location"]).text
    res = post_form(client, "/number", form(csrf=token, allow=alice["id"]))
    assert res.status_code == 303
    assert ctx.config["block"] == [] and ctx.config["vip"] == ["0612345678"]
    anon = record(ctx, "", "")
    res = post_form(client, "/number", form(csrf=token, block=anon["id"]))
    assert res.status_code == 303, res.status_code
    assert ctx.config["block_anonymous"] is True
    res = post_form(client, "/number", form(csrf=token, block=9999))
    assert res.status_code == 400 and "no longer" in res.text
    bad = record(ctx, "<u>", "x")
    res = post_form(client, "/number", form(csrf=token, block=bad["id"]))
    assert res.status_code == 400 and "&lt;u&gt;" in res.text and "<u>" not in res.text
    assert ctx.config["block"] == []


def test_block_when_the_flash_fails_keeps_the_old_config():
    ctx, app, client, token = logged_in()
    alice = record(ctx, "0612345678", "Alice")
    ctx.fail_save = True
    res = post_form(client, "/number", form(csrf=token, block=alice["id"]))
    assert res.status_code == 400 and "nothing was changed" in res.text
    assert ctx.config["block"] == []

# Runs on CPython and MicroPython (heap 120k: on this 64-bit port a test's new app found
# no 2.3 KB block for its call log at 110k in 6 of 30 runs, as the run's folder name
# moved the layout): the JSON API, with HTTP Basic and with a session (harness in
# test_web).
from test_web import (
    FORM,
    basic,
    get,
    logged_in,
    new_app,
    post_form,
    record,
    setup_password,
)

# -- the JSON API ----------------------------------------------------------------------


def test_api_with_basic_auth():
    ctx, app, client = new_app()
    setup_password(client)
    client.cookies = {}
    assert get(client, "/api/status").status_code == 401
    record(ctx, "0612345678", "Alice")
    assert get(client, "/api/status", basic()).json["counters"]["rang"] == 1
    assert get(client, "/api/calls", basic()).json["calls"][0]["number"] == "0612345678"
    assert get(client, "/api/config", basic()).json == ctx.config
    j = {"Content-Type": "application/json"}
    j.update(basic())
    res = client.post("/api/quiet", headers=dict(j), body={"mode": "on"})
    assert res.status_code == 200 and res.json["quiet"] is True
    res = client.post("/api/quiet", headers=dict(j), body={"mode": "loud"})
    assert res.status_code == 400
    res = client.post("/api/number", headers=dict(j), body={"number": "0611", "list": "block"})
    assert res.status_code == 200 and res.json["block"] == ["0611"]
    res = client.post("/api/number", headers=dict(j), body={"number": "0611", "list": "vip"})
    assert res.json["vip"] == ["0611"] and res.json["block"] == []
    new = dict(ctx.config)
    new["repeat_call_minutes"] = 10
    res = client.post("/api/config", headers=dict(j), body=new)
    assert res.status_code == 200 and ctx.config["repeat_call_minutes"] == 10
    new["quiet_hours"] = [{"days": "Mon", "start": "25:00", "end": "07:00"}]
    res = client.post("/api/config", headers=dict(j), body=new)
    assert res.status_code == 400 and "quiet_hours[0].start" in res.json["errors"][0]
    assert ctx.config["quiet_hours"] == []
    res = client.post("/api/config", headers=dict(j), body="[1, 2")
    assert res.status_code == 400
    res = client.post("/api/seen", headers=dict(j), body={})
    assert res.json["unseen"]["calls"] == 0
    # a form post with Basic is refused (scripts send JSON)
    h = dict(FORM)
    h.update(basic())
    assert post_form(client, "/api/quiet", "mode=on", h).status_code == 415


def test_api_wrong_basic_password_slows_down():
    ctx, app, client = new_app()
    setup_password(client)
    client.cookies = {}
    codes = [get(client, "/api/status", basic("not it at all")).status_code for _ in range(4)]
    assert codes[:3] == [401, 401, 401] and codes[3] == 429
    assert get(client, "/api/status", basic()).status_code == 429


def test_api_with_session_needs_the_csrf_header():
    ctx, app, client, token = logged_in()
    j = {"Content-Type": "application/json"}
    assert (client.post("/api/quiet", headers=dict(j), body={"mode": "on"})).status_code == 403
    j["X-CSRF-Token"] = token
    assert (client.post("/api/quiet", headers=dict(j), body={"mode": "on"})).status_code == 200
    assert ctx.gate.quiet_mode == 1


class _JsonOutOfHeapOnce:
    """Stands in for pagesend's json: the first dumps finds the heap in pieces."""

    def __init__(self, real):
        self.real = real
        self.failed = 0

    def dumps(self, obj):
        if not self.failed:
            self.failed = 1
            raise MemoryError()
        return self.real.dumps(obj)


def test_api_json_that_runs_out_of_heap_is_tried_again_with_the_spare_lent():
    import sys

    ctx, app, client = new_app()
    setup_password(client)
    client.cookies = {}
    lent = []
    ctx.free_spare = lambda: lent.append(1) or True
    app.keep_loaded_s = 20  # pagesend stays loaded between the two requests
    app.heap_free = lambda: None
    assert get(client, "/api/status", basic()).status_code == 200  # loads pagesend
    send = sys.modules["hushgate.pagesend"]
    real = send.json
    send.json = stand_in = _JsonOutOfHeapOnce(real)
    try:
        res = get(client, "/api/status", basic())
    finally:
        send.json = real
    assert stand_in.failed and lent == [1]
    assert res.status_code == 200 and res.json["counters"]["rang"] == 0
    assert res.headers["Content-Type"] == "application/json"

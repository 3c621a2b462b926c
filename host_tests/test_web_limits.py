# Runs on CPython and MicroPython: the limits on what a client may send, slow
# clients, the connection limit, the page unloading when idle (harness in test_web).
import asyncio
import sys

from test_web import (
    NOW,
    Reader,
    Writer,
    get,
    logged_in,
    new_app,
    page_module,
    raw,
    run,
)

# -- limits on what a client may send ------------------------------------------------------


def test_request_head_over_2_kb_gets_431():
    ctx, app, client = new_app()
    head = b"GET / HTTP/1.0\r\n" + b"X-Long: " + b"a" * 1900 + b"\r\n" + b"X-More: b\r\n" * 20
    assert raw(app, head + b"\r\n")[0] == 431
    assert raw(app, b"GET /" + b"a" * 3000 + b" HTTP/1.0\r\n\r\n")[0] == 431
    # exactly at the limit still passes
    head = b"GET / HTTP/1.0\r\nHost: x\r\nX: "
    head += b"a" * (app.max_head - len(head) - 4) + b"\r\n\r\n"
    assert len(head) == app.max_head and raw(app, head)[0] == 303
    assert raw(app, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")[0] == 303  # still serving


def test_bodies_over_the_limit_get_413_and_change_nothing():
    ctx, app, client, token = logged_in()
    session = "hg=" + client.cookies["hg"]
    req = (
        b"POST /quiet HTTP/1.0\r\nCookie: %s\r\nContent-Type: application/x-www-form-urlencoded"
        % (session.encode())
    )
    # refused on the Content-Length alone, before a byte of the body is read
    start = ("csrf=%s&mode=on&pad=" % token).encode()
    status, out = raw(app, req + b"\r\nContent-Length: 8193\r\n\r\n" + start)
    assert status == 413
    status, out = raw(app, b"POST /upload HTTP/1.0\r\nContent-Length: 12289\r\n\r\n{")
    assert status == 413
    app.max_body = 100  # tests lower the limits
    body = start + b"x" * 100
    status, out = raw(app, req + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert status == 413
    assert ctx.gate.set_calls == []
    ok = ("csrf=%s&mode=on" % token).encode()
    status, out = raw(app, req + b"\r\nContent-Length: %d\r\n\r\n" % len(ok) + ok)
    assert status == 303 and ctx.gate.set_calls == [(1, NOW)]


def test_malformed_requests_get_400():
    ctx, app, client = new_app()
    for data in (
        b"garbage\r\n\r\n",
        b"GET / HTTP/1.0\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.0\r\nContent-Length: ten\r\n\r\n",
        b"GET / HTTP/1.0\r\nContent-Length: -5\r\n\r\n",
        b"POST /login HTTP/1.0\r\nContent-Length: 50\r\n\r\nshort",
        b"GET /?a=%zz HTTP/1.0\r\n\r\n",
        b"\xff\xfe / HTTP/1.0\r\n\r\n",
    ):
        status, out = raw(app, data)
        assert 400 <= status < 500, (data, status)
    assert raw(app, b"")[0] == 400


def test_slow_client_is_cut():
    ctx, app, client = new_app()
    app.read_timeout_s = 0.2
    status, out = raw(app, b"GET / HTTP/1.0\r\nHost: x\r\n", stall=True)
    assert status == 408


def test_too_many_connections_get_503():
    ctx, app, client = new_app()
    app.active = app.max_connections
    status, out = raw(app, b"GET / HTTP/1.0\r\n\r\n")
    assert status == 503
    app.active = 0
    assert raw(app, b"GET / HTTP/1.0\r\n\r\n")[0] == 303
    assert app.active == 0


def test_the_page_unloads_when_idle_with_one_waiting_task():
    ctx, app, client = new_app()
    app.keep_loaded_s = 0.05
    app.heap_free = lambda: None  # kept whatever this VM's heap has free
    started = []
    send = page_module("pagesend")  # the module the requests will find loaded
    wait = send.unload_when_idle

    async def counted(web):
        started.append(1)
        await wait(web)

    send.unload_when_idle = counted

    async def many():
        for _ in range(20):
            await app.serve(Reader(b"GET /s.css HTTP/1.0\r\n\r\n"), Writer(("10.0.0.2", 1)))
        assert app.loaded() and "hushgate.pagecss" in sys.modules
        await asyncio.sleep(0.3)

    asyncio.run(many())
    assert started == [1] and not app.loaded() and "hushgate.pagecss" not in sys.modules
    app.keep_loaded_s = 0
    assert raw(app, b"GET /s.css HTTP/1.0\r\n\r\n")[0] == 200
    for name in sys.modules:
        assert not name.startswith("hushgate.page") and name != "hushgate.http", name


def test_the_page_is_dropped_at_once_when_the_heap_runs_low():
    ctx, app, client = new_app()
    app.keep_loaded_s = 20
    app.heap_free = lambda: app.keep_loaded_min_free  # just enough: kept
    assert raw(app, b"GET /s.css HTTP/1.0\r\n\r\n")[0] == 200
    assert app.loaded() and "hushgate.pagecss" in sys.modules
    app.heap_free = lambda: app.keep_loaded_min_free - 1
    assert raw(app, b"GET /s.css HTTP/1.0\r\n\r\n")[0] == 200
    assert not app.loaded() and "hushgate.pagecss" not in sys.modules


class _OutOfHeap:
    """Stands in for a page module whose handle() finds the heap full."""

    def __init__(self):
        self.calls = 0

    def handle(self, web, req):
        self.calls += 1
        raise MemoryError()


def test_a_page_out_of_heap_is_tried_again_once_the_pages_are_dropped():
    ctx, app, client = new_app()
    app.keep_loaded_s = 0
    full = _OutOfHeap()
    sys.modules["hushgate.pagecss"] = full  # loaded, as a page kept from earlier
    assert raw(app, b"GET /s.css HTTP/1.0\r\n\r\n")[0] == 200  # the real one, reloaded
    assert full.calls == 1
    # Still out of heap with the pages dropped: 503, and the server goes on.
    unload = app.unload

    def unload_keeping_full(only=None):
        unload(only)
        sys.modules["hushgate.pagecss"] = full

    app.unload = unload_keeping_full
    lent = []
    ctx.free_spare = lambda: lent.append(1) or True  # the app's spare block, lent
    status, out = raw(app, b"GET /s.css HTTP/1.0\r\n\r\n")
    assert status == 503 and b"too little memory free for this page" in out
    assert full.calls == 3 and lent == [1]  # lent for the second try only
    app.unload = unload
    unload()
    assert raw(app, b"GET /s.css HTTP/1.0\r\n\r\n")[0] == 200


class _SlowWriter(Writer):
    """Each write waits a little, so that two answers could interleave."""

    def __init__(self, peer, log):
        Writer.__init__(self, peer)
        self.log = log

    async def awrite(self, data):
        self.log.append(self.peer[1])
        await asyncio.sleep(0.01)
        await Writer.awrite(self, data)


def test_pages_are_answered_one_at_a_time():
    # A browser asks for the page, its CSS and its script at once: two answers side by
    # side do not fit a board's heap, so the second waits for the first to be sent.
    ctx, app, client = new_app()
    log = []
    writers = [_SlowWriter(("192.168.1.20", port), log) for port in (1, 2, 3)]

    async def three():
        await asyncio.gather(
            *[app.serve(Reader(b"GET /s.css HTTP/1.0\r\n\r\n"), w) for w in writers]
        )

    run(three())
    assert all(w.closed and w.out.startswith(b"HTTP/1.0 200") for w in writers)
    order = [port for i, port in enumerate(log) if i == 0 or log[i - 1] != port]
    assert sorted(order) == [1, 2, 3], log  # each answer's writes in one run
    assert app.active == 0


def test_quiet_hours_shown_with_their_end():
    ctx, app, client, token = logged_in()
    ctx.gate.schedule = ("quiet-schedule", "18:00")
    text = get(client, "/").text
    assert "Quiet hours until 18:00" in text and "Quiet now" in text
    status = get(client, "/api/status").json
    assert status["quiet"] is True and status["gate"]["mode"] == "quiet-schedule"
    ctx.clock.t = None
    assert "clock not set" in get(client, "/").text


def test_a_client_that_expects_100_continue_is_told_to_go_on():
    ctx, app, client, token = logged_in()
    session = "hg=" + client.cookies["hg"]
    body = b"csrf=" + token.encode() + b"&mode=on"
    head = "POST /quiet HTTP/1.1\r\nCookie: %s\r\nExpect: 100-continue\r\n" % session
    head += "Content-Length: %d\r\n\r\n" % len(body)
    writer = Writer(("192.168.1.20", 5000))
    run(app.serve(Reader(head.encode() + body), writer))
    assert writer.out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 303 See Other\r\n")
    assert ctx.gate.set_calls == [(1, NOW)]

"""Properties of the web server under any input (CPython, hypothesis): whatever bytes a
client sends, the connection gets a 4xx/3xx/2xx answer (never a 5xx, never an exception),
is closed, and no state changes unless the request was a well-formed, authenticated one."""

import asyncio
import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_web import FORM, PASSWORD, Reader, Writer, logged_in, new_app
from test_web_settings import settings_form

from hushgate import config

METHODS = [b"GET", b"POST", b"HEAD", b"PUT", b"OPTIONS", b"G\xffT", b""]
PATHS = [
    b"/",
    b"/calls",
    b"/settings",
    b"/login",
    b"/setup",
    b"/logout",
    b"/quiet",
    b"/seen",
    b"/number",
    b"/upload",
    b"/config.json",
    b"/password",
    b"/api/status",
    b"/api/config",
    b"/api/quiet",
    b"/api/number",
    b"/calls?page=-1",
    b"/?n=%zz",
    b"/%00",
]
HEADER_NAMES = [
    b"Content-Length",
    b"Content-Type",
    b"Cookie",
    b"Authorization",
    b"Origin",
    b"Host",
    b"X-CSRF-Token",
    b"X",
]
CONTENT_TYPES = [
    b"application/x-www-form-urlencoded",
    b"application/json",
    b"multipart/form-data; boundary=b",
    b"multipart/form-data",
    b"text/plain",
]

header = st.tuples(
    st.sampled_from(HEADER_NAMES),
    st.one_of(
        st.sampled_from(CONTENT_TYPES),
        st.integers(-5, 20000).map(lambda n: str(n).encode()),
        st.binary(max_size=80),
    ),
)
request = st.builds(
    lambda method, path, headers, body, version: (
        method
        + b" "
        + path
        + b" "
        + version
        + b"\r\n"
        + b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        + b"\r\n"
        + body
    ),
    st.sampled_from(METHODS),
    st.one_of(st.sampled_from(PATHS), st.binary(max_size=60)),
    st.lists(header, max_size=6),
    st.one_of(
        st.binary(max_size=300),
        st.sampled_from(
            [b"csrf=x&mode=on", b'{"mode": "on"}', b"--b\r\n\r\n--b--", b"a=%ff%fe", b"{"]
        ),
    ),
    st.sampled_from([b"HTTP/1.0", b"HTTP/1.1", b"HTTP", b""]),
)


def serve(app, data):
    writer = Writer(("192.168.1.20", 4000))
    asyncio.run(app.serve(Reader(data), writer))
    return writer


def status_of(writer):
    line = writer.out.split(b"\r\n", 1)[0]
    assert line.startswith(b"HTTP/1.0 "), line
    return int(line.split()[1])


def check(ctx, app, data):
    before = (json.dumps(ctx.config), ctx.gate.quiet_mode, len(ctx.applied))
    writer = serve(app, data)
    status = status_of(writer)
    assert status < 500, (data, status, writer.out[:300])
    assert writer.closed and app.active == 0
    # without the session cookie or the password nothing may change
    assert (json.dumps(ctx.config), ctx.gate.quiet_mode, len(ctx.applied)) == before


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _kept_loaded(app):
    """The app with its server and pages left imported between requests, as on the
    box within keep_loaded_s. new_app() unloads them after every request (unloading is
    tested in test_web_limits): each example then re-imported (compiled) the modules
    and ran gc.collect(), which in a full test process is ~0.1 s, a minute a test."""
    app.unload = _nothing
    return app


def _nothing(*args):
    pass


@FAST
@given(data=request)
def test_any_request_before_the_password_is_set(data):
    ctx, app, client = new_app()
    _kept_loaded(app)
    app.auth.rounds = 1
    check(ctx, app, data)


_STATE = {}
SEEN = set()


def _logged_in_app():
    # one app for all examples: setting it up costs more than an example
    if not _STATE:
        ctx, app, client, token = logged_in()
        _STATE["app"] = (ctx, _kept_loaded(app))
    return _STATE["app"]


@FAST
@given(data=request)
def test_any_request_without_credentials_once_the_password_is_set(data):
    ctx, app = _logged_in_app()
    app.auth.fails = 0
    app.auth.locked_until = 0
    check(ctx, app, data)


@FAST
@given(data=st.binary(max_size=3000))
def test_any_bytes(data):
    ctx, app = _logged_in_app()
    check(ctx, app, data)


def test_the_password_survives_the_properties():
    ctx, app = _logged_in_app()
    assert app.auth.check_password(PASSWORD)


field_value = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "0", "480", "drop", "22:00", "25:00", "Mon", "0612345678", "x\ny"]),
)
settings_fields = st.dictionaries(
    st.sampled_from(
        [
            "ata",
            "provider",
            "timezone",
            "tzpick",
            "quiet_answer",
            "vip",
            "block",
            "repeat_call_minutes",
            "block_answer",
            "international_prefix",
            "trusted",
            "rate_burst",
            "qn",
            "q0Mon",
            "q0s",
            "q0e",
            "block_anonymous",
            "call_log_size",
        ]
    ),  # fmt: skip
    field_value,
    max_size=10,
)


@FAST
@given(fields=settings_fields)
@example(fields={})  # the good form as it is: saved
@example(fields={"q0s": "25:00"})  # one mistake: nothing saved
def test_any_settings_form_saves_a_valid_config_or_nothing(fields):
    ctx, app = _logged_in_app()
    token = app.auth.csrf(_STATE.setdefault("session", app.auth.login()))
    session = "hg=" + _STATE["session"]
    before = json.dumps(ctx.config)
    body = settings_form(token, **fields).encode()  # a good form with some fields changed
    head = "POST /settings HTTP/1.0\r\nCookie: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
    head = head % (session, FORM["Content-Type"], len(body))
    writer = serve(app, (head + "\r\n").encode() + body)
    status = status_of(writer)
    assert status in (303, 400), (fields, status)
    SEEN.add(status)
    if status == 400:
        assert json.dumps(ctx.config) == before
    assert config.validate(ctx.config, ctx.config)[0] == ctx.config  # what is live is valid
    assert ctx.store.load()[0] == ctx.config  # and is what the file holds


def test_the_settings_property_saw_both_outcomes():
    if not SEEN:  # run alone: run the property first
        test_any_settings_form_saves_a_valid_config_or_nothing()
    assert SEEN == {303, 400}

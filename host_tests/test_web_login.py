# Runs on CPython and MicroPython: the web page's first visit, LAN-only setup, foreign
# host names, login, logout, slow-down, sessions across the ticks wrap, and the
# server's smallest answers (harness in test_web).
from test_web import (
    PASSWORD,
    Client,
    csrf_in,
    form,
    get,
    new_app,
    page_module,
    post_form,
    raw,
    setup_password,
)

# -- the server's smallest answers ---------------------------------------------------


def test_client_sees_the_first_visit_redirect():
    ctx, app, client = new_app()
    res = get(client, "/")
    assert res.status_code == 303 and res.headers["Location"] == "/setup"
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert not app.loaded()  # keep_loaded_s = 0: dropped after the request


def test_style_sheet_without_a_session():
    ctx, app, client = new_app()
    res = get(client, "/s.css")
    assert res.status_code == 200 and "max-age" in res.headers["Cache-Control"]
    assert res.headers["Content-Type"] == "text/css" and b"body{" in res.body


# -- first visit, password, login -------------------------------------------------


def test_first_visit_shows_only_the_set_password_form():
    ctx, app, client = new_app()
    for path in ("/", "/settings", "/calls", "/login"):
        res = get(client, path)
        assert res.status_code == 303 and res.headers["Location"] == "/setup", path
    res = get(client, "/api/status")
    assert res.status_code == 403 and "password" in res.json["error"]
    page = get(client, "/setup")
    assert 'name="password"' in page.text and 'name="confirm"' in page.text
    assert "Status" not in page.text  # no navigation before the password exists
    cookie = page.headers["Set-Cookie"][0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_unknown_paths_404_and_the_form_token_stays():
    ctx, app, client = new_app()
    first = csrf_in(get(client, "/setup").text)
    for path in ("/favicon.ico", "/api/nothing", "/setup/x"):
        assert get(client, path).status_code == 404, path
    assert csrf_in(get(client, "/setup").text) == first  # a second tab, the same token
    assert (client.request("PUT", "/settings")).status_code == 405
    res = post_form(client, "/setup", form(csrf=first, password=PASSWORD, confirm=PASSWORD))
    assert res.status_code == 303


def test_set_password_only_from_the_lan():
    ctx, app, client = new_app()
    status, out = raw(app, b"GET /setup HTTP/1.0\r\n\r\n", peer=("203.0.113.7", 4000))
    assert status == 403
    assert b'name="password"' not in out and b"home network" in out
    status, out = raw(app, b"GET /setup HTTP/1.0\r\n\r\n", peer=("192.168.1.20", 4000))
    assert status == 200 and b'name="confirm"' in out
    # the unix port's raw sockaddr: AF_INET 2 (little-endian), port, 10.1.2.3
    sockaddr = bytes([2, 0, 0x13, 0x88, 10, 1, 2, 3]) + bytes(8)
    status, out = raw(app, b"GET /setup HTTP/1.0\r\n\r\n", peer=sockaddr)
    assert status == 200
    sockaddr = bytes([2, 0, 0x13, 0x88, 8, 8, 8, 8]) + bytes(8)
    assert raw(app, b"GET /setup HTTP/1.0\r\n\r\n", peer=sockaddr)[0] == 403
    assert not app.auth.has_password()


def test_peer_ip_and_is_lan():
    login = page_module("pagelogin")
    assert login.peer_ip(("10.0.0.1", 80)) == "10.0.0.1"
    assert login.peer_ip(bytes([2, 0, 0, 80, 127, 0, 0, 3]) + bytes(8)) == "127.0.0.3"
    v6 = bytes([10, 0, 0, 80, 0, 0, 0, 0]) + bytes(15) + b"\x01" + bytes(4)
    assert login.peer_ip(v6) == "0:0:0:0:0:0:0:1"
    assert login.peer_ip(b"") == "" and login.peer_ip(None) == ""
    for ip in ("127.0.0.1", "10.9.8.7", "192.168.0.1", "172.16.0.1", "172.31.255.1",
               "169.254.1.1", "::1", "fe80::1", "fd00::1", "::ffff:192.168.1.5"):  # fmt: skip
        assert login.is_lan(ip), ip
    for ip in (
        "8.8.8.8",
        "172.32.0.1",
        "172.15.0.1",
        "192.169.0.1",
        "2001:db8::1",
        "",
        "11.0.0.1",
    ):
        assert not login.is_lan(ip), ip


def test_set_password_not_through_a_foreign_host_name():
    ctx, app, client = new_app()
    for host in ("evil.example.com", "evil.example.com:8080", "1.2.3.4.evil.net"):
        res = get(client, "/setup", {"Host": host})
        assert res.status_code == 403, host
    for host in ("192.168.1.50", "192.168.1.50:8080", "hushgate", "hushgate.local",
                 "hg.fritz.box", "[fd00::5]:80", "localhost:8080", "box.home.arpa"):  # fmt: skip
        assert page_module("pagelogin").local_host(host), host
    assert get(client, "/setup", {"Host": "hushgate.lan"}).status_code == 200


def test_set_password_logs_in_with_a_strict_httponly_cookie():
    ctx, app, client = new_app()
    res = setup_password(client)
    assert res.headers["Location"] == "/"
    session = [c for c in res.headers["Set-Cookie"] if c.startswith("hg=")][0]
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/" in session
    with open(ctx.state_dir + "/web.pw") as f:
        assert PASSWORD not in f.read()
    assert get(client, "/").status_code == 200
    # once set, the set-password form is gone
    other = Client(app)
    assert get(other, "/setup").headers["Location"] == "/login"
    assert get(other, "/").headers["Location"] == "/login"


def test_the_panel_reset_reaches_the_running_page():
    ctx, app, client = new_app()
    setup_password(client)
    assert ctx.auth is app.auth
    ctx.auth.clear()  # what the panel does when the button is held at power-up
    assert get(client, "/").headers["Location"] == "/setup"


def test_login_logout_and_slow_down():
    ctx, app, client = new_app()
    setup_password(client)
    client.cookies = {}
    assert get(client, "/").status_code == 303
    for _ in range(app.auth.free_tries - 1):
        page = get(client, "/login")
        res = post_form(client, "/login", form(csrf=csrf_in(page.text), password="wrong one"))
        assert res.status_code == 401 and "Wrong password" in res.text
    page = get(client, "/login")
    res = post_form(client, "/login", form(csrf=csrf_in(page.text), password="wrong one"))
    assert res.status_code == 401
    page = get(client, "/login")
    res = post_form(client, "/login", form(csrf=csrf_in(page.text), password=PASSWORD))
    assert res.status_code == 429 and "wait" in res.text
    assert get(client, "/").status_code == 303
    app._ms += app.auth.max_delay_s * 1000
    page = get(client, "/login")
    res = post_form(client, "/login", form(csrf=csrf_in(page.text), password=PASSWORD))
    assert res.status_code == 303
    page = get(client, "/")
    assert page.status_code == 200
    session = client.cookies["hg"]
    assert session in app.auth.sessions
    res = post_form(client, "/logout", form(csrf=csrf_in(page.text)))
    assert res.status_code == 303 and res.headers["Location"] == "/login"
    assert get(client, "/").status_code == 303
    assert session not in app.auth.sessions


def test_sessions_keep_time_across_the_ticks_wrap():
    from hushgate.compat import ticks_add

    ctx, app, client = new_app()
    period = ticks_add(0, -1) + 1  # 2**30 on the boards and in compat, more on the unix port
    t = [period - 5000]

    def ticks():
        return t[0]

    app.ticks_ms = ticks
    app._last = ticks()
    start = app.now_s()
    token = app.auth.login()
    for _ in range(8):  # 40 days in 5-day steps, the counter wrapping several times
        t[0] = ticks_add(t[0], 5 * 86400 * 1000)
        app.now_s()
    assert app.now_s() - start == 40 * 86400
    assert app.auth.csrf(token) is None  # idle longer than session_idle_s: ended
    token = app.auth.login()
    t[0] = ticks_add(t[0], 3600 * 1000)
    assert app.auth.csrf(token) is not None


def test_login_form_needs_its_own_cookie():
    ctx, app, client = new_app()
    setup_password(client)
    client.cookies = {}
    page = get(client, "/login")
    token = csrf_in(page.text)
    client.cookies = {}  # a cross-site POST carries no SameSite=Strict cookie
    res = post_form(client, "/login", form(csrf=token, password=PASSWORD))
    assert res.status_code == 400 and get(client, "/").status_code == 303

# Before a session: the set-password form (first visit, home network only), the
# login form with its slow-down, and logging out; and the settings page's password
# change. Both forms carry a double-submit
# token (cookie hgp and a hidden field), since there is no session to tie one to.
from hushgate import auth
from hushgate.compat import const
from hushgate.pages import (
    esc,
    foot,
    head,
    hidden,
    html,
    message,
)

COOKIE = "hg"  # the session (hushgate.http reads it too)
PRE_COOKIE = "hgp"  # double-submit token of the forms shown before a session
_AF_INET = const(2)
_AF_INET6 = const(10)


def handle(web, req):
    path = req.path
    if path == "/logout":
        web.auth.logout(req.cookies.get(COOKIE))
        return 303, ["Location: /login", cookie(COOKIE, "", 0)], ""
    if path == "/setup":
        return setup(req, web)
    if path == "/password":
        return password(req, web)
    return login(req, web)


def peer_ip(addr):
    """The client's address as text, from lwIP's (ip, port) or the unix port's
    raw sockaddr bytes; "" when it cannot be read."""
    if isinstance(addr, tuple) and addr:
        return str(addr[0])
    if isinstance(addr, (bytes, bytearray)) and len(addr) >= 8:
        family = addr[0] | addr[1] << 8
        if family == _AF_INET:
            return "%d.%d.%d.%d" % (addr[4], addr[5], addr[6], addr[7])
        if family == _AF_INET6 and len(addr) >= 24:
            raw = addr[8:24]
            if raw[:12] == b"\x00" * 10 + b"\xff\xff":
                return "%d.%d.%d.%d" % (raw[12], raw[13], raw[14], raw[15])
            return ":".join("%x" % (raw[i] << 8 | raw[i + 1]) for i in range(0, 16, 2))
    return ""


def local_host(host):
    """True for a Host header naming this box as a LAN user would: an address, a
    single label, or a home-network domain. A web page elsewhere that rebinds its
    own name to the box's address sends its own name, and must not set the password."""
    host = host.lower()
    if host.startswith("["):
        return True  # an IPv6 address
    if host.count(":") == 1:
        host = host[: host.find(":")]
    labels = host.split(".")
    if len(labels) == 1 or all(label.isdigit() for label in labels):
        return True
    for suffix in (".local", ".lan", ".home.arpa", ".internal", ".localdomain", ".home", ".box"):
        if host.endswith(suffix):
            return True
    return False


def is_lan(ip):
    """Loopback, private (RFC 1918), link-local, or IPv6 ULA/link-local/loopback."""
    ip = ip.lower()
    if ip.startswith("::ffff:"):
        ip = ip[7:]
    if ip.startswith("10.") or ip.startswith("127.") or ip.startswith("192.168."):
        return True
    if ip.startswith("169.254."):
        return True
    if ip.startswith("172."):
        parts = ip.split(".")
        return len(parts) == 4 and parts[1].isdigit() and 16 <= int(parts[1]) <= 31
    if ip in ("::1", "0:0:0:0:0:0:0:1") or ip.startswith("fe80:"):
        return True
    return ip[:2] in ("fc", "fd") and ":" in ip


def password_page(title, action, csrf, error=None, note=None, confirm=False, min_len=8):
    yield from head(title)
    yield "<h1>%s</h1>" % esc(title)
    if note:
        yield "<p>%s</p>" % esc(note)
    yield message(error)
    yield '<form method="post" action="%s">%s' % (action, hidden(csrf))
    yield (
        '<label for="pw">Password</label><input type="password" id="pw" name="password"'
        ' autocomplete="%s" required%s>'
        % (
            "new-password" if confirm else "current-password",
            ' minlength="%d"' % min_len if confirm else "",
        )
    )
    if confirm:
        yield (
            '<label for="pw2">The same again</label><input type="password" id="pw2"'
            ' name="confirm" autocomplete="new-password" required>'
        )
    yield '<p><button class="big">%s</button></p></form>' % esc(title)
    yield from foot()


def pre_form(req, web, title, action, error=None, note=None, confirm=False, status=200):
    # One token per browser, kept while its cookie lives, so two tabs both work.
    pre = req.cookies.get(PRE_COOKIE) or ""
    if len(pre) != 32 or not all(c in "0123456789abcdef" for c in pre):
        pre = auth.token()
    gen = password_page(title, action, pre, error, note, confirm, web.auth.min_length)
    return html(gen, status, [cookie(PRE_COOKIE, pre, 3600)])


def pre_ok(req):
    return auth.consteq(req.form.get("csrf", ""), req.cookies.get(PRE_COOKIE) or "-")


def setup(req, web):
    gate_auth = web.auth
    if gate_auth.has_password():
        return 303, ["Location: /login"], ""
    if not is_lan(peer_ip(req.peer)) or not local_host(req.headers.get("host") or ""):
        return html(plain_page("Not here", "Set the password from the home network."), 403)
    note = "Choose the password for this page (at least %d characters)." % gate_auth.min_length
    if req.method != "POST":
        return pre_form(req, web, "Set password", "/setup", note=note, confirm=True)
    password = req.form.get("password", "")
    if not pre_ok(req):
        error = "The form expired: please try again."
    elif password != req.form.get("confirm", ""):
        error = "The two passwords differ."
    else:
        error = gate_auth.password_problem(password)
    if error:
        return pre_form(req, web, "Set password", "/setup", error, note, True, 400)
    gate_auth.set_password(password)
    return logged_in(web)


def login(req, web):
    if req.method != "POST":
        return pre_form(req, web, "Log in", "/login")
    if not pre_ok(req):
        text = "The form expired: please try again."
        return pre_form(req, web, "Log in", "/login", text, None, False, 400)
    wait = web.auth.wait_s()
    if wait:
        text = "Too many wrong passwords: wait %d s and try again." % wait
        return pre_form(req, web, "Log in", "/login", text, None, False, 429)
    if not web.auth.check_password(req.form.get("password", "")):
        return pre_form(req, web, "Log in", "/login", "Wrong password.", None, False, 401)
    return logged_in(web)


def password(req, web):
    """The settings page's password change (POST /password)."""
    gate_auth = web.auth
    new = req.form.get("password", "")
    if gate_auth.wait_s():
        error = "Too many wrong passwords: wait %d s." % gate_auth.wait_s()
    elif not gate_auth.check_password(req.form.get("old", "")):
        error = "The current password is wrong."
    elif new != req.form.get("confirm", ""):
        error = "The two new passwords differ."
    else:
        error = gate_auth.password_problem(new)
    if error:
        from hushgate.pagesettings import settings_view

        return settings_view(req, web, web.ctx.config, ["password: " + error], 400)
    gate_auth.set_password(new)
    return logged_in(web)


def cookie(name, value, max_age):
    return "Set-Cookie: %s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict" % (
        name,
        value,
        max_age,
    )


def logged_in(web):
    """After a password was set or checked: a new session, to the status page."""
    return (
        303,
        [
            "Location: /",
            cookie(COOKIE, web.auth.login(), web.auth.session_idle_s),
            cookie(PRE_COOKIE, "", 0),
        ],
        "",
    )


def plain_page(title, text):
    yield from head(title)
    yield "<h1>%s</h1><p>%s</p>" % (esc(title), esc(text))
    yield from foot()

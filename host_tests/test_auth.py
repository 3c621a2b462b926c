# Runs on CPython and MicroPython: the web page's password, sessions, CSRF tokens.
import os

from hushgate import auth

# RFC 4231 test case 2
HMAC_KEY = b"Jefe"
HMAC_MSG = b"what do ya want for nothing?"
HMAC_HEX = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


class Clock:
    def __init__(self):
        self.t = 1000

    def __call__(self):
        return self.t


def _folder():
    base = "/tmp" if _is_dir("/tmp") else "."
    path = "%s/hg-auth-%s" % (base, auth.token()[:12])
    os.mkdir(path)
    return path


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def _hex(data):
    return "".join("%02x" % c for c in data)


def _auth(clock=None):
    a = auth.Auth(_folder(), clock or Clock())
    a.rounds = 20  # the algorithm, not the cost, is under test here
    return a


def test_hmac_sha256_matches_rfc4231():
    assert _hex(auth.hmac_sha256(HMAC_KEY, HMAC_MSG)) == HMAC_HEX


def test_hmac_long_key_is_hashed_first():
    # RFC 4231 test case 6: a 131-byte key
    key = b"\xaa" * 131
    msg = b"Test Using Larger Than Block-Size Key - Hash Key First"
    want = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    assert _hex(auth.hmac_sha256(key, msg)) == want


def test_pbkdf2_matches_reference():
    # the figures CPython's hashlib.pbkdf2_hmac("sha256", b"password", b"salt", n) gives
    assert _hex(auth.pbkdf2_sha256(b"password", b"salt", 1)) == (
        "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
    )
    assert _hex(auth.pbkdf2_sha256(b"password", b"salt", 4096)) == (
        "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
    )


def test_consteq():
    assert auth.consteq("abc", "abc")
    assert auth.consteq(b"abc", "abc")
    assert not auth.consteq("abc", "abd")
    assert not auth.consteq("abc", "abcd")
    assert not auth.consteq("", "a")
    assert auth.consteq("", "")


def test_tokens_are_random_hex():
    a, b = auth.token(), auth.token()
    assert len(a) == 32 and a != b
    int(a, 16)


def test_no_password_until_set_and_file_holds_no_cleartext():
    a = _auth()
    assert not a.has_password()
    assert not a.check_password("anything-at-all")
    a.set_password("correct horse")
    assert a.has_password()
    with open(a.path) as f:
        text = f.read()
    assert "correct horse" not in text
    assert text.startswith("pbkdf2-sha256$20$")
    # a fresh object (after a reboot) reads the same hash
    b = auth.Auth(a.path.rsplit("/", 1)[0], Clock())
    assert b.check_password("correct horse")
    assert not b.check_password("Correct horse")


def test_salt_differs_between_settings():
    a = _auth()
    a.set_password("same password")
    with open(a.path) as f:
        first = f.read()
    a.set_password("same password")
    with open(a.path) as f:
        second = f.read()
    assert first != second


def test_short_and_long_passwords_refused_and_nothing_written():
    a = _auth()
    for bad in ("short", "x" * (a.max_length + 1)):
        try:
            a.set_password(bad)
            raise AssertionError("accepted " + bad)
        except ValueError as e:
            assert "characters" in str(e)
    assert not a.has_password()
    assert "web.pw" not in os.listdir(a.path.rsplit("/", 1)[0])


def test_wrong_passwords_slow_down_then_recover():
    clock = Clock()
    a = _auth(clock)
    a.set_password("the right one")
    for _ in range(a.free_tries - 1):
        assert not a.check_password("wrong")
        assert a.wait_s() == 0
    assert not a.check_password("wrong")
    assert a.wait_s() == 1
    # during the wait even the right password is not looked at
    assert not a.check_password("the right one")
    clock.t += 1
    assert not a.check_password("wrong")
    assert a.wait_s() == 2
    for _ in range(20):
        clock.t += a.wait_s()
        a.check_password("wrong")
    assert a.wait_s() == a.max_delay_s
    clock.t += a.max_delay_s
    assert a.check_password("the right one")
    assert a.fails == 0 and a.wait_s() == 0


def test_sessions_bounded_and_expire():
    clock = Clock()
    a = _auth(clock)
    a.set_password("the right one")
    tokens = []
    for _ in range(a.max_sessions + 2):
        clock.t += 1
        tokens.append(a.login())
    assert len(a.sessions) == a.max_sessions
    assert a.csrf(tokens[0]) is None and a.csrf(tokens[1]) is None
    csrf = a.csrf(tokens[-1])
    assert csrf and len(csrf) == 32 and csrf != tokens[-1]
    assert a.csrf(tokens[-1]) == csrf
    assert a.csrf("") is None and a.csrf(None) is None and a.csrf("x" * 32) is None
    clock.t += a.session_idle_s + 1
    assert a.csrf(tokens[-1]) is None
    assert a.sessions == {}


def test_logout_and_password_change_end_sessions():
    a = _auth()
    a.set_password("the right one")
    s1, s2 = a.login(), a.login()
    a.logout(s1)
    assert a.csrf(s1) is None and a.csrf(s2)
    a.set_password("another good one")
    assert a.csrf(s2) is None


def test_basic_header():
    import binascii

    a = _auth()
    a.set_password("the right one")

    def header(text):
        return "Basic " + binascii.b2a_base64(text.encode()).decode().strip()

    assert a.check_basic(header("admin:the right one"))
    assert a.check_basic(header("admin:the right one"))  # remembered
    assert a.check_basic(header("anyone:the right one"))
    assert not a.check_basic(header("admin:the wrong one"))
    assert not a.check_basic(header("no colon"))
    assert not a.check_basic("Basic !!!not base64")
    assert not a.check_basic("Bearer abc")
    a.set_password("another good one")
    assert not a.check_basic(header("admin:the right one"))


def test_clear_forgets_password():
    a = _auth()
    a.set_password("the right one")
    s = a.login()
    a.clear()
    assert not a.has_password() and a.csrf(s) is None
    b = auth.Auth(a.path.rsplit("/", 1)[0], Clock())
    assert not b.has_password()


def test_leftover_temporary_file_is_used():
    a = _auth()
    a.set_password("the right one")
    os.rename(a.path, a.path + ".tmp")  # as if power failed between remove and rename
    b = auth.Auth(a.path.rsplit("/", 1)[0], Clock())
    assert b.check_password("the right one")


def test_corrupt_file_means_no_password():
    a = _auth()
    with open(a.path, "w") as f:
        f.write("pbkdf2-sha256$zz$00$00")
    b = auth.Auth(a.path.rsplit("/", 1)[0], Clock())
    assert not b.has_password()

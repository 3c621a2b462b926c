# The web page's password, sessions and CSRF tokens, on both interpreters. This
# part stays in memory (it holds the sessions and what every request checks);
# hashing, setting and checking a password, logging in and out and forgetting the
# password, even reading the password's file, are hushgate.pagepw's, loaded for the
# request that needs them and dropped with the pages (Auth.__getattr__ finds them).


def consteq(a, b):
    """Compare two str/bytes in time that depends only on their lengths."""
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    diff = len(a) ^ len(b)
    if diff:
        b = a
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def _pw():
    from hushgate import pagepw

    return pagepw


def __getattr__(name):
    """token(), SCHEME, hmac_sha256, pbkdf2_sha256: in hushgate.pagepw, loaded when
    needed."""
    return getattr(_pw(), name)


class Auth:
    """One password for the page, a few sessions in RAM, a slow-down after
    wrong passwords. Times are seconds from `now_s()` (monotonic, no wrap).

    Also (hushgate.pagepw's, through __getattr__): set_password(password) stores a
    salted hash atomically and ends every session (ValueError for a refused
    password, OSError if it cannot write); password_problem(password) says why one
    is refused, or None; check_password(password) -> True/False, False without
    looking while a slow-down runs; check_basic(header) for `Authorization: Basic`
    (any user name; the last header that passed is remembered as a salted digest);
    login() -> a new session's cookie token (the least recently used session goes
    when the table is full); logout(token); clear() forgets the password (the
    button held at power-up) and ends the sessions."""

    file_name = "web.pw"
    rounds = 2000  # about 10 ms on a PC, about 1 s on an ESP32
    min_length = 8
    max_length = 128
    max_sessions = 4
    session_idle_s = 14 * 86400
    free_tries = 3  # wrong passwords in a row before the delays start
    max_delay_s = 60

    _record = False  # the password file's record; False: not read yet (pagepw.read)

    def __init__(self, folder, now_s):
        self.path = folder.rstrip("/") + "/" + self.file_name
        self.now_s = now_s
        self.sessions = {}  # token -> [last_used_s, csrf]
        self.fails = 0
        self.locked_until = 0
        self._basic = None  # digest of the last Authorization header that passed

    def __getattr__(self, name):
        function = getattr(_pw(), name)  # AttributeError if pagepw has none either
        return lambda *args: function(self, *args)

    def has_password(self):
        if self._record is False:  # the first request reads the file
            _pw().read(self)
        return self._record is not None

    def wait_s(self):
        """Seconds before another password may be tried (0: now)."""
        left = self.locked_until - self.now_s()
        return left if left > 0 else 0

    def csrf(self, session_token):
        """The session's CSRF token (and the session is touched), or None. Sessions
        unused for session_idle_s end here."""
        now = self.now_s()
        found = None
        sessions = self.sessions
        for key in list(sessions):
            value = sessions[key]
            if now - value[0] > self.session_idle_s:
                del sessions[key]
            elif session_token and consteq(key, session_token):
                value[0] = now
                found = value[1]
        return found

# The web page's password, sessions and CSRF tokens, on both interpreters. This
# part stays in memory (it holds the sessions); hashing, setting and checking a
# password are hushgate.pagepw's, loaded for the request that needs them and dropped
# with the pages.
import os
from binascii import hexlify, unhexlify

SCHEME = "pbkdf2-sha256"

# Every port that can run the web page has os.urandom (ESP32, RP2: hardware RNG).
_urandom = os.urandom


def token():
    """A fresh random token: 32 hex characters (128 bits)."""
    return hexlify(_urandom(16)).decode()


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
    """hmac_sha256, pbkdf2_sha256: in hushgate.pagepw, loaded when needed."""
    return getattr(_pw(), name)


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class Auth:
    """One password for the page, a few sessions in RAM, a slow-down after
    wrong passwords. Times are seconds from `now_s()` (monotonic, no wrap)."""

    file_name = "web.pw"
    rounds = 2000  # about 10 ms on a PC, about 1 s on an ESP32
    min_length = 8
    max_length = 128
    max_sessions = 4
    session_idle_s = 14 * 86400
    free_tries = 3  # wrong passwords in a row before the delays start
    max_delay_s = 60

    def __init__(self, folder, now_s):
        self.path = folder.rstrip("/") + "/" + self.file_name
        self.now_s = now_s
        self.sessions = {}  # token -> [last_used_s, csrf]
        self.fails = 0
        self.locked_until = 0
        self._basic = None  # digest of the last Authorization header that passed
        self._record = self._read()

    # -- the password file ------------------------------------------------

    def _read(self):
        # A power cut between remove and rename (ports whose rename will not
        # replace) leaves only the temporary file: it is complete, use it.
        for path in (self.path, self.path + ".tmp"):
            try:
                with open(path) as f:
                    parts = f.read().strip().split("$")
                if len(parts) == 4 and parts[0] == SCHEME:
                    return int(parts[1]), unhexlify(parts[2]), unhexlify(parts[3])
            except (OSError, ValueError):
                pass
        return None

    def has_password(self):
        return self._record is not None

    def password_problem(self, password):
        """A sentence saying why this password is refused, or None."""
        if len(password) < self.min_length:
            return "at least %d characters, please" % self.min_length
        if len(password) > self.max_length:
            return "at most %d characters, please" % self.max_length
        return None

    def set_password(self, password):
        """Store a salted hash (atomically) and end every session.
        Raises ValueError for a refused password, OSError if it cannot write."""
        _pw().set_password(self, password)

    def clear(self):
        """Forget the password (the button held at power-up): the next visit
        sets a new one. Sessions end too."""
        for path in (self.path, self.path + ".tmp"):
            if _exists(path):
                os.remove(path)
        self._record = None
        self.sessions = {}
        self._basic = None

    # -- checking, with a slow-down ---------------------------------------

    def wait_s(self):
        """Seconds before another password may be tried (0: now)."""
        left = self.locked_until - self.now_s()
        return left if left > 0 else 0

    def check_password(self, password):
        """True/False; False without looking while a slow-down is running."""
        return _pw().check_password(self, password)

    def check_basic(self, header):
        """An `Authorization: Basic ...` header (any user name) -> True/False.
        The last header that passed is remembered as a salted digest, so a
        script polling the API does not pay the password hash every time."""
        return _pw().check_basic(self, header)

    # -- sessions -----------------------------------------------------------

    def login(self):
        """A new session; returns its cookie token. The least recently used
        session goes when the table is full."""
        now = self.now_s()
        self._expire(now)
        while len(self.sessions) >= self.max_sessions:
            oldest = None
            for key, value in self.sessions.items():
                if oldest is None or value[0] < self.sessions[oldest][0]:
                    oldest = key
            del self.sessions[oldest]
        key = token()
        self.sessions[key] = [now, token()]
        return key

    def csrf(self, session_token):
        """The session's CSRF token (and the session is touched), or None."""
        if not session_token:
            return None
        now = self.now_s()
        self._expire(now)
        for key, value in self.sessions.items():
            if consteq(key, session_token):
                value[0] = now
                return value[1]
        return None

    def logout(self, session_token):
        for key in list(self.sessions):
            if consteq(key, session_token or ""):
                del self.sessions[key]

    def _expire(self, now):
        for key in list(self.sessions):
            if now - self.sessions[key][0] > self.session_idle_s:
                del self.sessions[key]

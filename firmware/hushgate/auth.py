# The web page's password, sessions and CSRF tokens, on both interpreters.
# MicroPython has hashlib.sha256 but no hmac module, so HMAC (RFC 2104) and
# PBKDF2 (RFC 8018, one 32-byte block) are written here; CPython's
# hashlib.pbkdf2_hmac is the oracle in the tests.
import hashlib
import os
from binascii import a2b_base64, hexlify, unhexlify

from hushgate.compat import const

_BLOCK = const(64)
_SCHEME = "pbkdf2-sha256"

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


def _pads(key):
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + bytes(_BLOCK - len(key))
    return bytes(c ^ 0x36 for c in key), bytes(c ^ 0x5C for c in key)


def _hmac(inner_key, outer_key, msg):
    h = hashlib.sha256(inner_key)
    h.update(msg)
    o = hashlib.sha256(outer_key)
    o.update(h.digest())
    return o.digest()


def hmac_sha256(key, msg):
    ik, ok = _pads(key)
    return _hmac(ik, ok, msg)


def pbkdf2_sha256(password, salt, rounds):
    """PBKDF2-HMAC-SHA256 giving one 32-byte block; keys as bytes."""
    ik, ok = _pads(password)
    u = _hmac(ik, ok, salt + b"\x00\x00\x00\x01")
    acc = int.from_bytes(u, "big")
    for _ in range(rounds - 1):
        u = _hmac(ik, ok, u)
        acc ^= int.from_bytes(u, "big")
    return acc.to_bytes(32, "big")


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
                if len(parts) == 4 and parts[0] == _SCHEME:
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
        problem = self.password_problem(password)
        if problem:
            raise ValueError(problem)
        salt = _urandom(16)
        digest = pbkdf2_sha256(password.encode(), salt, self.rounds)
        line = "%s$%d$%s$%s\n" % (
            _SCHEME,
            self.rounds,
            hexlify(salt).decode(),
            hexlify(digest).decode(),
        )
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(line)
        try:
            os.rename(tmp, self.path)
        except OSError:
            os.remove(self.path)
            os.rename(tmp, self.path)
        self._record = (self.rounds, salt, digest)
        self.sessions = {}
        self._basic = None

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
        if self._record is None or self.wait_s():
            return False
        rounds, salt, digest = self._record
        if isinstance(password, str):
            password = password.encode()
        if len(password) <= self.max_length * 4 and consteq(
            pbkdf2_sha256(password, salt, rounds), digest
        ):
            self.fails = 0
            return True
        self.fails += 1
        extra = self.fails - self.free_tries
        if extra >= 0:
            delay = 1 << extra if extra < 6 else self.max_delay_s
            self.locked_until = self.now_s() + min(delay, self.max_delay_s)
        return False

    def check_basic(self, header):
        """An `Authorization: Basic ...` header (any user name) -> True/False.
        The last header that passed is remembered as a salted digest, so a
        script polling the API does not pay the password hash every time."""
        if self._record is None or not header.startswith("Basic "):
            return False
        salt = self._record[1]
        seen = hashlib.sha256(salt + header.encode()).digest()
        if self._basic is not None and consteq(seen, self._basic):
            return True
        try:
            user_pass = a2b_base64(header[6:].strip())
        except ValueError:
            return False
        colon = user_pass.find(b":")
        if colon < 0 or not self.check_password(user_pass[colon + 1 :]):
            return False
        self._basic = seen
        return True

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

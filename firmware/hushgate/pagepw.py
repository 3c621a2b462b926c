# What hushgate.auth.Auth does rarely, loaded only then (and dropped with the pages):
# setting and checking the password, logging in and out, forgetting the password.
# MicroPython has hashlib.sha256 but no hmac module, so HMAC (RFC 2104) and PBKDF2
# (RFC 8018, one 32-byte block) are written here; CPython's hashlib.pbkdf2_hmac is
# the oracle in the tests. The functions take the Auth object first: Auth's
# __getattr__ hands them out as its methods.
import hashlib
import os
from binascii import a2b_base64, hexlify, unhexlify

from hushgate.auth import consteq
from hushgate.compat import const

_BLOCK = const(64)
SCHEME = "pbkdf2-sha256"

# Every port that can run the web page has os.urandom (ESP32, RP2: hardware RNG).
_urandom = os.urandom


def token():
    """A fresh random token: 32 hex characters (128 bits); auth.token()."""
    return hexlify(_urandom(16)).decode()


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


def read(a):
    """The password's file into a._record ((rounds, salt, hash), None: no password).
    A power cut between remove and rename (ports whose rename will not replace)
    leaves only the temporary file: it is complete, use it."""
    a._record = None
    for path in (a.path, a.path + ".tmp"):
        try:
            with open(path) as f:
                parts = f.read().strip().split("$")
            if len(parts) == 4 and parts[0] == SCHEME:
                a._record = int(parts[1]), unhexlify(parts[2]), unhexlify(parts[3])
                return
        except (OSError, ValueError):
            pass


def password_problem(a, password):
    if len(password) < a.min_length:
        return "at least %d characters, please" % a.min_length
    if len(password) > a.max_length:
        return "at most %d characters, please" % a.max_length
    return None


def set_password(a, password):
    problem = password_problem(a, password)
    if problem:
        raise ValueError(problem)
    salt = os.urandom(16)
    digest = pbkdf2_sha256(password.encode(), salt, a.rounds)
    line = "%s$%d$%s$%s\n" % (SCHEME, a.rounds, hexlify(salt).decode(), hexlify(digest).decode())
    tmp = a.path + ".tmp"
    with open(tmp, "w") as f:
        f.write(line)
    try:
        os.rename(tmp, a.path)
    except OSError:
        os.remove(a.path)
        os.rename(tmp, a.path)
    a._record = (a.rounds, salt, digest)
    a.sessions = {}
    a._basic = None


def check_password(a, password):
    if not a.has_password() or a.wait_s():
        return False
    rounds, salt, digest = a._record
    if isinstance(password, str):
        password = password.encode()
    if len(password) <= a.max_length * 4 and consteq(
        pbkdf2_sha256(password, salt, rounds), digest
    ):
        a.fails = 0
        return True
    a.fails += 1
    extra = a.fails - a.free_tries
    if extra >= 0:
        delay = 1 << extra if extra < 6 else a.max_delay_s
        a.locked_until = a.now_s() + min(delay, a.max_delay_s)
    return False


def check_basic(a, header):
    if not a.has_password() or not header.startswith("Basic "):
        return False
    seen = hashlib.sha256(a._record[1] + header.encode()).digest()
    if a._basic is not None and consteq(seen, a._basic):
        return True
    try:
        user_pass = a2b_base64(header[6:].strip())
    except ValueError:
        return False
    colon = user_pass.find(b":")
    if colon < 0 or not check_password(a, user_pass[colon + 1 :]):
        return False
    a._basic = seen
    return True


def login(a):
    now = a.now_s()
    a.csrf(None)  # ended sessions go first
    sessions = a.sessions
    while len(sessions) >= a.max_sessions:
        oldest = None
        for key, value in sessions.items():
            if oldest is None or value[0] < sessions[oldest][0]:
                oldest = key
        del sessions[oldest]
    key = token()
    sessions[key] = [now, token()]
    return key


def logout(a, session_token):
    for key in list(a.sessions):
        if consteq(key, session_token or ""):
            del a.sessions[key]


def clear(a):
    for path in (a.path, a.path + ".tmp"):
        try:
            os.stat(path)
        except OSError:
            continue  # not there: nothing to remove (a failing remove does raise)
        os.remove(path)
    a._record = None
    a.sessions = {}
    a._basic = None

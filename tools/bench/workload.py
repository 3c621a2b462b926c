# The memory benchmark's workload, run inside MicroPython: the real App with a
# stand-in board (no pins, no sockets), datagrams handed to the proxy as the SIP
# loop would, and web requests through the web page's own connection handler.
import asyncio
import gc

_PROVIDER = ("192.0.2.10", 5060)
_ME = ("192.0.2.50", 5060)
_ATA = "192.0.2.60:5060"

_INVITE = (
    "INVITE sip:0155512345@{me} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP {src}:5060;branch=z9hG4bK{n}x;rport\r\n"
    "Max-Forwards: 69\r\n"
    'From: "{name}" <sip:{caller}@{src}>;tag={n}a\r\n'
    "To: <sip:0155512345@{me}>\r\n"
    "Call-ID: {n}-{caller}@{src}\r\n"
    "CSeq: 101 INVITE\r\n"
    "Contact: <sip:{caller}@{src}:5060>\r\n"
    "User-Agent: {ua}\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: {blen}\r\n\r\n{body}"
)
_SDP = (
    "v=0\r\no=- 1 1 IN IP4 {src}\r\ns={s}\r\nc=IN IP4 {src}\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)
_OPTIONS = (
    "OPTIONS sip:100@{me} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP {src}:5060;branch=z9hG4bK-{n};rport\r\n"
    'From: "sipvicious"<sip:100@1.1.1.1>;tag=6132{n}\r\n'
    'To: "sipvicious"<sip:100@1.1.1.1>\r\n'
    "Call-ID: {n}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
    "User-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n"
)


class _Clock:
    def utc(self):
        return 1795600000  # a fixed Tuesday afternoon: no quiet hours by default


class _Board:
    NAME = "bench"
    button_active_low = True
    clock = _Clock()

    def led(self, level):
        pass

    def button(self):
        return 1

    def watchdog(self, timeout_ms):
        return None

    async def network_up(self, config):
        return True

    def tasks(self):
        return []


def start(state):
    opts = {
        "listen": _ME,
        "ata": _ATA,
        "provider": "%s:%d" % _PROVIDER,
        "web": ("127.0.0.1", 0),
        "state": state,
        "clock": True,
    }
    try:
        import os

        os.mkdir(state)
    except OSError:
        pass
    # Imported here, as main.py does it: the bench counts their cost.
    from hushgate import state

    loaded = state.load(opts)
    from hushgate import app as app_module

    app = app_module.App(_Board(), opts, loaded)
    app.proxy.me = _ME
    app.proxy.ata = ("192.0.2.60", 5060)
    app.proxy.provider = _PROVIDER
    app.gate.set_provider_addresses([_PROVIDER[0]])
    return app


def _datagram(i, rnd):
    """Wanted calls, scanners and garbage, in a fixed mix."""
    kind = i % 10
    n = "%d" % i
    if kind < 3:  # a wanted call from the provider
        body = _SDP.format(src=_PROVIDER[0], s="call")
        text = _INVITE.format(
            me="%s:%d" % _ME,
            src=_PROVIDER[0],
            n=n,
            name="Caller %d" % (i % 7),
            caller="0033147%06d" % (i % 97),
            ua="Provider SBC",
            blen=len(body),
            body=body,
        )
        return text.encode(), _PROVIDER
    src = "203.0.113.%d" % (1 + rnd % 250)
    if kind < 6:
        return _OPTIONS.format(me=_ME[0], src=src, n=n).encode(), (src, 5060)
    if kind < 8:  # the "John Doe" INVITE from a stranger
        body = _SDP.format(src=src, s="-")
        text = _INVITE.format(
            me="%s:%d" % _ME,
            src=src,
            n=n,
            name="John Doe",
            caller="4000",
            ua="",
            blen=len(body),
            body=body,
        )
        return text.encode(), (src, 5060)
    # garbage: random bytes of a random length
    size = 1 + rnd % 600
    # Filled in place, from rnd's low byte (all that reaches the result): on a 32-bit
    # VM, rnd * 7 is a big integer, and a byte each made the bench's own garbage.
    data = bytearray(size)
    low = rnd & 0xFF
    for k in range(size):
        data[k] = (low * 7 + k * 13) & 0xFF
    return bytes(data), (src, 40000 + rnd % 1000)


def push(app, count, peak):
    """count datagrams through the proxy; heap after collection every thousand."""
    handle = app.proxy.handle
    marks = []
    rnd = 12345
    now = 0
    for i in range(count):
        rnd = (rnd * 1103515245 + 12345) & 0x7FFFFFFF
        data, source = _datagram(i, rnd)
        now += 3
        handle(data, source, now)
        data = None
        peak.sample()
        if i % 1000 == 999:
            gc.collect()
            marks.append(gc.mem_alloc())
    return marks


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    async def readline(self):
        end = self.data.find(b"\n", self.pos)
        end = len(self.data) if end < 0 else end + 1
        line = self.data[self.pos : end]
        self.pos = end
        return line

    async def read(self, n=-1):
        end = len(self.data) if n < 0 else min(len(self.data), self.pos + n)
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    async def readexactly(self, n):
        return await self.read(n)


class _Writer:
    def __init__(self, peak):
        self.size = 0
        self.head = b""
        self.peak = peak

    async def awrite(self, data):
        if not self.head:
            self.head = bytes(data[:64]) if isinstance(data, (bytes, bytearray)) else data[:64]
        self.size += len(data)
        self.peak.sample()

    async def aclose(self):
        pass

    def get_extra_info(self, name):
        return ("127.0.0.1", 50000)

    def close(self):
        pass

    async def wait_closed(self):
        pass


async def _request(web, text, peak):
    writer = _Writer(peak)
    await web.serve(_Reader(text.encode()), writer)
    head = writer.head if isinstance(writer.head, bytes) else writer.head.encode()
    return head, writer.size


def serve(app, count, peak):
    """Set a password, log in, then load the status page count times."""
    from hushgate import web as web_module

    web = web_module.make_app(app)
    web.keep_loaded_s = 0  # worst case for the heap: load and drop the page code every time
    app.auth = web.auth
    web.auth.set_password("bench-password-1")
    token = web.auth.login()
    cookie = "hg=" + token
    result = {"requests": 0, "errors": 0}

    async def run():
        for _ in range(count):
            head, size = await _request(
                web, "GET / HTTP/1.1\r\nHost: bench\r\nCookie: %s\r\n\r\n" % cookie, peak
            )
            result["requests"] += 1
            if not head.startswith(b"HTTP/1.0 200") or size < 500:
                result["errors"] += 1
                if result["errors"] == 1:
                    print("web_first_error", head)

    asyncio.run(run())
    return result


# A settings form as a user sends it: every field, two quiet windows.
_SETTINGS = (
    "csrf={csrf}&ata=192.0.2.60%3A5060&provider=192.0.2.10%3A5060"
    "&timezone=CET-1CEST%2CM3.5.0%2CM10.5.0%2F3&tzpick=&quiet_answer=480"
    "&vip=0612345678%0D%0A%2B33+6+99+99+99+99&repeat_call_minutes={repeat}&block=0900*"
    "&block_answer=603&international_prefix=00&trusted=&scanner_user_agents=friendly-scanner"
    "%0D%0Asipvicious&rate_burst=30&rate_per_second=5&ban_minutes=10&sources_tracked=64"
    "&call_log_size=50&qn=2&q0Mon=on&q0Tue=on&q0Wed=on&q0Thu=on&q0Fri=on&q0s=22%3A00"
    "&q0e=07%3A00&q1Sat=on&q1Sun=on&q1s=23%3A00&q1e=09%3A00"
)


def settings(app, count, peak):
    """Load the settings page and save the form (valid, changed each time) count times."""
    from hushgate import web as web_module

    web = web_module.make_app(app)
    web.keep_loaded_s = 0
    app.auth = web.auth
    token = web.auth.login()
    cookie = "hg=" + token
    result = {"requests": 0, "errors": 0}

    async def run():
        for i in range(count):
            head, size = await _request(
                web,
                "GET /settings HTTP/1.1\r\nHost: bench\r\nCookie: %s\r\n\r\n" % cookie,
                peak,
            )
            ok = head.startswith(b"HTTP/1.0 200") and size > 500
            body = _SETTINGS.format(csrf=web.auth.csrf(token), repeat=3 + i % 5)
            head, size = await _request(
                web,
                "POST /settings HTTP/1.1\r\nHost: bench\r\nCookie: %s\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: %d\r\n\r\n%s" % (cookie, len(body), body),
                peak,
            )
            # A saved form answers with a redirect to the page (303).
            ok = ok and head.startswith(b"HTTP/1.0 303")
            ok = ok and app.config.get("repeat_call_minutes") == 3 + i % 5
            result["requests"] += 2
            if not ok:
                result["errors"] += 1
                if result["errors"] == 1:
                    print("settings_first_error", head)

    asyncio.run(run())
    return result

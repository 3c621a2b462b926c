# Heap figures of the web page under MicroPython (a benchmark, not a test): what stays
# after import, what each page module costs while loaded, what a request costs at its
# peak above what was in use before it, and that nothing is left after.
#
#   .venv/bin/python tools/build.py --board host --out build/webmem && \
#   cp host_tests/webmem.py build/webmem/ && \
#   MICROPYPATH=.frozen:build/webmem .venv/bin/micropython -X heapsize=400k build/webmem/webmem.py
#
# (from the repository's root: the micropython command there finds the frozen asyncio)
#
# (any heap that fits the rest; figures are differences, so the size does not change them)
import gc
import os

try:
    from micropython import mem_info  # noqa: F401
except ImportError:
    pass


def used():
    gc.collect()
    return gc.mem_alloc()


class Reader:
    def __init__(self, data):
        self.data = data

    async def read(self, n=-1):
        n = len(self.data) if n < 0 else n
        out, self.data = self.data[:n], self.data[n:]
        return out


class Writer:
    peak = 0

    def __init__(self):
        self.n = 0
        self.status = b""

    def get_extra_info(self, name):
        return ("192.168.1.20", 5000)

    async def awrite(self, data):
        # the response is being written: what the request holds now is about its most
        gc.collect()
        a = gc.mem_alloc()
        if a > Writer.peak:
            Writer.peak = a
        if not self.n:
            self.status = bytes(data[:12])
        self.n += len(data)

    async def aclose(self):
        pass


def main():
    import asyncio

    base = used()
    from hushgate import calllog, config, gate, tz  # noqa: F401  (the rest of the firmware)

    rest = used()
    from hushgate import web

    resident_code = used() - rest

    class Clock:
        def utc(self):
            return 1764000000

    class Proxy:
        stats = {"forwarded": 0}
        last_register = (1764000000, 200)

    class Ctx:
        pass

    ctx = Ctx()
    ctx.state_dir = "/tmp/hg-webmem"
    try:
        os.mkdir(ctx.state_dir)
    except OSError:
        pass
    ctx.store = config.Store(ctx.state_dir)
    ctx.config, ctx.config_problems = ctx.store.load()
    ctx.clock = Clock()
    ctx.log = calllog.CallLog()
    ctx.gate = gate.Gate(ctx.config, ctx.log, ctx.clock)
    ctx.proxy = Proxy()
    ctx.tz = ctx.gate.tz
    ctx.uptime_s = lambda: 100
    ctx.mem = lambda: {"alloc": gc.mem_alloc(), "free": gc.mem_free()}

    class V:
        action, code, reason, kind = 1, 603, "blocked caller 0033147310370", "blocked"

    for i in range(ctx.log.size):
        ctx.log.record(1764000000 - i * 60, "00331473103%02d" % i, "Caller %d" % i, "1.2.3.4", V())
    config.release()  # loading the config brought the validation code: not the page's
    before_app = used()
    server = web.make_app(ctx)
    server.keep_loaded_s = 0
    server.auth.rounds = 200
    if not server.auth.has_password():
        server.auth.set_password("a long password")
    token = server.auth.login()
    server.unload()  # what setting the password and logging in loaded (hushgate.pagepw)
    resident = used() - before_app

    def get(path, body=None):
        w = Writer()
        req = "GET %s HTTP/1.0\r\nCookie: hg=%s\r\n\r\n" % (path, token)
        if body is not None:  # a form, posted
            req = "POST %s HTTP/1.0\r\nCookie: hg=%s\r\nContent-Length: %d\r\n\r\n%s" % (
                path,
                token,
                len(body),
                body,
            )
        asyncio.run(server.serve(Reader(req.encode()), w))
        return w

    def validate(data, current=None):
        # the validation code is loaded only while a page validates: sampled here too
        from hushgate import configfile

        out = configfile.validate(data, current)
        gc.collect()
        Writer.peak = max(Writer.peak, gc.mem_alloc())
        return out

    config.validate = validate
    csrf = server.auth.csrf(token)
    # a settings form with a mistake in it: validated, refused, shown again with errors
    refused = "csrf=%s&qn=1&q0d=Mon&q0s=25:00&q0e=07:00&rate_burst=x" % csrf
    posts = {"/settings": refused, "/quiet": "csrf=%s&mode=on" % csrf}

    print("web: before hushgate %d B, the rest of the firmware %d B" % (base, rest - base))
    print(
        "web: resident code (web + auth) %d B; Web object with ctx %d B"
        % (resident_code, resident)
    )
    paths = ("/", "/calls", "/settings", "/api/status", "/api/calls", "/api/config", "/s.css")
    config.release()  # loading the config brought the validation code: not the page's
    first = used()
    for path in paths:  # every module once: names interned, configfile loaded and let go
        get(path)
    print(
        "web: left for good after the first requests (names interned by the modules) %d B"
        % (used() - first)
    )
    import sys

    names = "http pagesend pages pagemode pagestatus pagechange pagefields pagesettings pagesave"
    for name in (names + " pagebackup pagelogin pagepw pageapi pagecss configfile").split():
        start = used()
        __import__("hushgate." + name)
        print("web: import hushgate.%-13s %6d B" % (name, used() - start))
        server.unload()
        sys.modules.pop("hushgate.configfile", None)
    for path in paths + ("POST /settings", "POST /quiet"):
        body = posts.get(path[5:]) if path[:5] == "POST " else None
        start = used()
        Writer.top = 0
        for _ in range(10):
            Writer.peak = 0
            w = get(path[5:] if body else path, body)
            Writer.top = max(Writer.top, Writer.peak)
        after = used()
        print(
            "web: %-15s %s %6d B sent, in use while sending +%6d B, after 10 requests %+d B"
            % (path, w.status.decode(), w.n, Writer.top - start, after - start)
        )


main()

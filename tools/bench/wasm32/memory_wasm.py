# Runs inside the MicroPython webassembly port (run.mjs in this folder drives it): the
# memory benchmark's workload (tools/bench/memory_mp.py) on a 32-bit VM. Prints the
# same "key value" lines for tools/bench_memory.py.
#
# Why this is not memory_mp.py: that port collects garbage only when control returns
# to JavaScript. While Python runs, gc.collect() merely asks for a collection, and an
# allocation that does not fit grows the heap instead of collecting. So the workload
# runs as steps, each a call from JavaScript, with a full collection between them:
#   - a figure measured "after X" is the heap after that collection: live data only,
#     as memory_mp.py's gc.collect() + gc.mem_alloc();
#   - one step is one module import, one datagram, or the stretch of a web request
#     between two writes (each write yields to JavaScript for 1 ms), so a peak sample
#     is live data plus the garbage of at most one step: an upper bound, as
#     memory_mp.py's samples are with the collector run every 4 KB;
#   - a heap that had to grow means a fixed heap of --heap bytes would have raised
#     MemoryError there (the port grows it only after its no-op collection): reported
#     as "heap_exceeded <step>" and counted as a failure.
import asyncio
import gc
import os
import random
import sys

import micropython


class _NoSocket:
    """The port has no socket module; the firmware imports it, the bench opens none."""

    AF_INET = 2
    SOCK_DGRAM = 2
    SOL_SOCKET = 1
    SO_REUSEADDR = 4

    @staticmethod
    def getaddrinfo(host, port, *args):
        # numeric addresses only (all the bench uses), answered as lwIP does on a board
        return [(2, 2, 0, "", (host, port))]

    @staticmethod
    def socket(*args):
        raise OSError("no sockets in the memory bench")


sys.modules["socket"] = _NoSocket


def _urandom(n):
    """os.urandom, which the port lacks (the unix port and the boards have it)."""
    return bytes(random.getrandbits(8) for _ in range(n))


os.urandom = _urandom  # the port's os is a Python package: its dict takes a new name

import workload  # noqa: E402  (the bench's own code, before the baseline)

# step() results
DONE = 0
NEXT = 1
WAIT = 2  # an asyncio task runs: call busy() until it is done


def say(key, value):
    print(key, value)


class Peak:
    """The largest heap in use seen at a sample, and whether the heap had to grow."""

    def __init__(self, bench):
        self.top = 0
        self.bench = bench

    def sample(self):
        n = gc.mem_alloc()
        if n > self.top:
            self.top = n
        self.bench.check()


class _Writer(workload._Writer):
    """The workload's writer; each write also yields to JavaScript (and its collector)."""

    async def awrite(self, data):
        await workload._Writer.awrite(self, data)
        await asyncio.sleep_ms(1)


class _Reader(workload._Reader):
    """The workload's reader; each read also yields to JavaScript (and its collector)."""

    async def readline(self):
        await asyncio.sleep_ms(1)
        return await workload._Reader.readline(self)

    async def read(self, n=-1):
        await asyncio.sleep_ms(1)
        return await workload._Reader.read(self, n)


class Bench:
    def __init__(self, argv):
        self.phase_modules = argv[0].split(",")
        self.web_modules = argv[1].split(",")
        self.datagrams = argv[2]
        self.pages = argv[3]
        self.state = argv[4]
        self.saves = argv[5]
        self.heap = argv[6]
        self.where = "start"
        self.exceeded = False
        self.running = 0
        self.live_top = 0
        self.cap = 0
        self.steps = self.run()

    def check(self):
        """Has the heap grown past its size? (max new split is constant: it cancels out)"""
        if self.cap and gc.mem_alloc() + gc.mem_free() > self.cap and not self.exceeded:
            self.exceeded = True
            if self.where.startswith("setup"):
                say("heap_grew_in", self.where)
            else:
                say("heap_exceeded", self.where)

    def step(self):
        """One step; JavaScript collects garbage after each."""
        try:
            result = next(self.steps) or NEXT
        except StopIteration:
            result = DONE
        self.check()
        gc.collect()  # here: only marks a collection as wanted
        return result

    def busy(self):
        return self.running

    def used(self):
        """The heap in use right after a step: the collection ran in between."""
        if self.exceeded and gc.mem_alloc() + gc.mem_free() <= self.cap:
            self.exceeded = False  # the added area was empty again and went back
        n = gc.mem_alloc()
        if n > self.live_top:
            self.live_top = n
        return n

    async def request(self, web, text, peak, answer):
        try:
            writer = _Writer(peak)
            await web.serve(_Reader(text.encode()), writer)
            head = writer.head if isinstance(writer.head, bytes) else writer.head.encode()
            answer.append((head, writer.size))
        except Exception as e:
            sys.print_exception(e)
            answer.append((b"", 0))
        finally:
            self.running = 0

    def fetch(self, web, text, peak):
        # One request as a task, which starts on JavaScript's next timer: the caller
        # yields from this and gets the answer's (head, size).
        answer = []
        self.running = 1  # until the task ends
        asyncio.create_task(self.request(web, text, peak, answer))
        yield WAIT
        self.used()
        return answer[0] if answer else (b"", 0)

    def run(self):
        yield
        self.cap = gc.mem_alloc() + gc.mem_free()
        if self.cap - self.heap > gc.mem_free():  # grew while loading the bench
            self.exceeded = True
            say("heap_exceeded", "loading the bench")
        base = self.used()
        say("baseline", base)
        before = base
        for label, names in (
            ("after_import_own", self.phase_modules),
            ("after_import_all", self.web_modules),
        ):
            for name in names:
                self.where = "import " + name
                __import__(name)
                yield
                now = self.used()
                say("import " + name, now - before)
                before = now
            say(label, before - base)
        label = names = None
        # The web page loads these per request and drops them again; so does the bench.
        for name in list(sys.modules):
            if name.split(".")[0] == "microdot" or name in self.web_modules:
                sys.modules.pop(name)
        import hushgate

        for name in self.web_modules:
            if name.startswith("hushgate.") and hasattr(hushgate, name[9:]):
                delattr(hushgate, name[9:])
        name = None
        yield
        self.live_top = 0
        peak = Peak(self)
        self.where = "start"
        app = workload.start(self.state)
        yield
        say("after_start", self.used() - base)
        handle = app.proxy.handle
        rnd = 12345
        now = 0
        for i in range(self.datagrams):
            self.where = "datagram %d" % i
            rnd = (rnd * 1103515245 + 12345) & 0x7FFFFFFF
            data, source = workload._datagram(i, rnd)
            now += 3
            handle(data, source, now)
            data = source = None
            peak.sample()
            yield
            self.used()
            if i % 1000 == 999:
                say("datagrams_%d" % (i + 1), self.used() - base)
        handle = None
        self.where = "setup (web page, password hashed)"
        from hushgate import web as web_module

        web = web_module.make_app(app)
        web.keep_loaded_s = 0  # worst case: load and drop the page code every time
        app.auth = web.auth
        web.auth.set_password("bench-password-1")
        token = web.auth.login()
        cookie = "hg=" + token
        requests = errors = 0
        yield
        for i in range(self.pages):
            self.where = "status page %d" % i
            head, size = yield from self.fetch(
                web, "GET / HTTP/1.1\r\nHost: bench\r\nCookie: %s\r\n\r\n" % cookie, peak
            )
            requests += 1
            if not head.startswith(b"HTTP/1.0 200") or size < 500:
                errors += 1
                if errors == 1:
                    print("web_first_error", head)
            head = None
            yield
            self.used()
        say("web_requests", requests)
        say("web_errors", errors)
        web = None
        yield
        say("after_run", self.used() - base)
        say("peak", peak.top - base)
        say("peak_live", self.live_top - base)
        # Saving the settings loads the validation code on top of everything: its own peak.
        self.where = "setup (settings)"
        self.live_top = 0
        peak = Peak(self)
        web = web_module.make_app(app)
        web.keep_loaded_s = 0
        app.auth = web.auth
        token = web.auth.login()
        cookie = "hg=" + token
        requests = errors = 0
        yield
        for i in range(self.saves):
            self.where = "settings page %d" % i
            head, size = yield from self.fetch(
                web,
                "GET /settings HTTP/1.1\r\nHost: bench\r\nCookie: %s\r\n\r\n" % cookie,
                peak,
            )
            ok = head.startswith(b"HTTP/1.0 200") and size > 500
            self.where = "settings save %d" % i
            body = workload._SETTINGS.format(csrf=web.auth.csrf(token), repeat=3 + i % 5)
            request = (
                "POST /settings HTTP/1.1\r\nHost: bench\r\nCookie: %s\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: %d\r\n\r\n%s" % (cookie, len(body), body)
            )
            body = None
            head, size = yield from self.fetch(web, request, peak)
            request = None
            # A saved form answers with a redirect to the page (303).
            ok = ok and head.startswith(b"HTTP/1.0 303")
            ok = ok and app.config.get("repeat_call_minutes") == 3 + i % 5
            requests += 2
            if not ok:
                errors += 1
                if errors == 1:
                    print("settings_first_error", head)
            head = None
            yield
            self.used()
        say("settings_requests", requests)
        say("settings_errors", errors)
        say("peak_settings", peak.top - base)
        say("peak_settings_live", self.live_top - base)
        web = None
        yield
        say("after_settings", self.used() - base)
        say("heap_free", self.cap - gc.mem_alloc())
        micropython.mem_info()

# The web page's resident part: the limits, the password and sessions. The server
# (hushgate.http) and the page module a request needs (hushgate.page*) are imported
# when a connection arrives and dropped when the page has been idle keep_loaded_s:
# a page is looked at a few times a day, the heap is needed all the time. What ctx
# must offer is listed in docs/web.md.
import asyncio
import gc
import sys

from hushgate import auth
from hushgate.compat import sleep_ms, ticks_diff, ticks_ms


class Web:
    """make_app(ctx) -> Web; `await web.start_server(host, port)` serves forever."""

    max_head = 2048  # request line and headers together
    chunk = 128  # the head is read this much at a time
    max_body = 8192
    max_upload = 12288  # the config file upload
    max_connections = 3
    read_timeout_s = 5
    write_timeout_s = 20
    keep_loaded_s = 20  # 0: drop the server and the pages after every request
    # Below this much free heap after a request its code is dropped at once: the SIP
    # side, whose receive path needs a free block for each datagram, needs the room more.
    keep_loaded_min_free = 32 * 1024
    turn_poll_ms = 5  # how often a page waiting for its turn looks
    calls_on_status = 10
    calls_per_page = 12
    max_windows = 10  # rows of day pickers on the settings page

    ticks_ms = staticmethod(ticks_ms)  # tests drive the clock through this

    @staticmethod
    def heap_free():
        """Free heap in bytes; None where the interpreter does not tell (CPython)."""
        mem_free = getattr(gc, "mem_free", None)
        return mem_free() if mem_free else None

    def __init__(self, ctx):
        self.ctx = ctx
        self._ms = 0
        self._last = self.ticks_ms()
        self.auth = auth.Auth(ctx.state_dir, self.now_s)
        if getattr(ctx, "auth", None) is None:
            ctx.auth = self.auth  # the panel's password reset must reach this one
        self.active = 0
        self._answering = False  # one page answered at a time (see _answer)
        self._idle = 0  # bumped by every request; an unload waits for it to stay still
        self._unloading = False

    def loaded(self):
        return "hushgate.pagesend" in sys.modules

    def unload(self, only=None):
        """Forget the server, the pages and the config validation until needed (or
        only the module named)."""
        pkg = sys.modules["hushgate"]
        for name in list(sys.modules):
            ours = name[:13] == "hushgate.page" or name == "hushgate.http"
            if name == only or not only and ours:
                del sys.modules[name]
                if hasattr(pkg, name[9:]):
                    delattr(pkg, name[9:])
        if not only and "hushgate.configfile" in sys.modules:
            sys.modules["hushgate.config"].release()
        gc.collect()

    def now_s(self):
        """Seconds since start for sessions and the slow-down. ticks_ms wraps (every
        12 days on the boards, and a difference means something only within 6), so
        the elapsed time is summed here, at least hourly (start_server)."""
        now = self.ticks_ms()
        self._ms += ticks_diff(now, self._last)
        self._last = now
        return self._ms // 1000

    async def start_server(self, host="0.0.0.0", port=80):
        self.server = await asyncio.start_server(self.serve, host, port)
        while True:
            await asyncio.sleep(3600)
            self.now_s()

    async def serve(self, reader, writer):
        """One connection: at most max_connections at once, one request each."""
        self._idle += 1
        if not hasattr(writer, "awrite"):  # CPython's StreamWriter
            from hushgate.httpcpython import Writer

            writer = Writer(writer)
        busy = self.active >= self.max_connections
        self.active += 1
        try:
            await self._answer(reader, writer, busy)
        finally:
            self.active -= 1
            if not self.active:
                free = self.heap_free()
                low = free is not None and free < self.keep_loaded_min_free
                if not self.keep_loaded_s or low:
                    self.unload()
                elif not self._unloading and self.loaded():  # one waiting task at most
                    self._unloading = True
                    send = sys.modules["hushgate.pagesend"]
                    asyncio.create_task(send.unload_when_idle(self))

    async def _answer(self, reader, writer, busy):
        try:
            # the request is read and checked, its reader dropped, then the page loaded:
            # the two never share the heap
            from hushgate import http

            req, res = await http.handle(self, reader, writer, busy)
            http = None
            self.unload("hushgate.http")
            # One page at a time, the others waiting their turn (a browser asks for the
            # page, its CSS and script at once; two pages side by side do not fit a
            # board's heap). Requests are read meanwhile: a browser's idle
            # preconnection must not hold the others up.
            # A flag looked at every few ms, not an asyncio.Lock: that costs a module
            # and 0.9 KB of heap for the handful of waits a page view makes.
            while self._answering:
                await sleep_ms(self.turn_poll_ms)
            self._answering = True
            try:
                from hushgate import pagesend

                await pagesend.answer(self, req, res, writer)
            finally:
                self._answering = False
        except MemoryError:  # no room for the server: the connection is closed unanswered
            self.unload()
            try:
                await writer.aclose()
            except Exception:
                pass


def make_app(ctx):
    return Web(ctx)

# The web page's resident part: the listening socket, the limits, the password
# and sessions. What answers a request (Microdot and hushgate.pages) is imported
# when a connection arrives and dropped from the heap when the page has been idle
# for keep_loaded_s: a page is looked at a few times a day, the heap is needed
# all the time. What ctx must offer is listed in docs/web.md.
import asyncio
import gc
import sys

from hushgate import auth
from hushgate.compat import ticks_diff, ticks_ms

_LAZY = ("hushgate.pages", "microdot.microdot", "microdot")


class Web:
    """make_app(ctx) -> Web; `await web.start_server(host, port)` serves forever."""

    max_head = 2048  # request line and headers together
    max_body = 8192
    max_upload = 12288  # the config file upload
    max_connections = 3
    read_timeout_s = 5
    write_timeout_s = 20
    keep_loaded_s = 20  # 0: drop Microdot and the pages after every request
    calls_on_status = 10
    calls_per_page = 12
    max_windows = 10  # rows of day pickers on the settings page

    ticks_ms = staticmethod(ticks_ms)  # tests drive the clock through this

    def __init__(self, ctx):
        self.ctx = ctx
        self._ms = 0
        self._last = self.ticks_ms()
        self.auth = auth.Auth(ctx.state_dir, self.now_s)
        if getattr(ctx, "auth", None) is None:
            ctx.auth = self.auth  # the panel's password reset must reach this one
        self.active = 0
        self._app = None
        self._idle = 0  # bumped by every request; an unload waits for it to stay still
        self._unloading = False

    def app(self):
        """The Microdot app, importing it if needed."""
        if self._app is None:
            from hushgate import pages

            self._app = pages.build(self)
        return self._app

    def unload(self):
        self._app = None
        for name in _LAZY:
            if sys.modules.pop(name, None) is not None:
                parent, _, child = name.rpartition(".")
                if parent in sys.modules and hasattr(sys.modules[parent], child):
                    delattr(sys.modules[parent], child)
        gc.collect()

    def now_s(self):
        """Seconds since start for sessions and the slow-down. ticks_ms wraps (every
        12 days on the boards, and a difference means something only within 6), so
        the elapsed time is summed here, at least hourly (_keep_time)."""
        now = self.ticks_ms()
        self._ms += ticks_diff(now, self._last)
        self._last = now
        return self._ms // 1000

    async def _keep_time(self):
        while True:
            await asyncio.sleep(3600)
            self.now_s()

    async def start_server(self, host="0.0.0.0", port=80):
        asyncio.create_task(self._keep_time())
        server = await asyncio.start_server(self.serve, host, port)
        if hasattr(server, "serve_forever"):  # CPython
            await server.serve_forever()
        else:
            await server.wait_closed()

    async def serve(self, reader, writer):
        """One connection: at most max_connections at once, one request each."""
        if not hasattr(writer, "awrite"):  # CPython's StreamWriter
            writer = _Writer(writer)
        if self.active >= self.max_connections:
            await _refuse(writer, b"503 Busy")
            return
        self.active += 1
        self._idle += 1
        try:
            try:
                app = self.app()
            except MemoryError:
                self.unload()
                await _refuse(writer, b"503 Low on memory")
                return
            await app.handle_request(reader, writer)
        finally:
            self.active -= 1
            if not self.active:
                if not self.keep_loaded_s:
                    self.unload()
                elif not self._unloading:  # one waiting task, however many requests
                    self._unloading = True
                    asyncio.create_task(self._unload_when_idle())

    async def _unload_when_idle(self):
        try:
            while self._app is not None:
                idle = self._idle
                await asyncio.sleep(self.keep_loaded_s)
                if not self.active and idle == self._idle:
                    self.unload()
        finally:
            self._unloading = False


class _Writer:
    """CPython's StreamWriter with the awrite/aclose MicroPython's has."""

    def __init__(self, writer):
        self.w = writer

    def get_extra_info(self, name):
        return self.w.get_extra_info(name)

    async def awrite(self, data):
        self.w.write(data)
        await self.w.drain()

    async def aclose(self):
        self.w.close()
        await self.w.wait_closed()


async def _refuse(writer, status):
    try:
        await writer.awrite(b"HTTP/1.0 " + status + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.aclose()
    except Exception:
        pass


def make_app(ctx):
    return Web(ctx)

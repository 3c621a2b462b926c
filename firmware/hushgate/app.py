# Wires the tasks together: SIP loop, web page, panel (LED and button), provider
# resolution, counters' persistence, and a supervisor that restarts a crashed task
# and feeds the watchdog only while every task is alive.
import asyncio
import gc
import sys

from hushgate import calllog, config, gate, panel, proxy, udp, web
from hushgate.compat import const, sleep_ms, ticks_diff, ticks_ms

_RESOLVE_EVERY_S = const(300)
_RESOLVE_RETRY_S = const(15)
_COUNTERS_CHECK_S = const(60)
_SUPERVISE_MS = const(1000)  # the supervisor's tick; the two above count in ticks
_RESTART_BACKOFF_MS = const(2000)
_WATCHDOG_MS = const(8000)
_HELD_LINES = const(8)  # call lines held back while a datagram is forwarded


def log(text):
    sys.stderr.write(text + "\n")


def _host_port(text, default_port=5060):
    host, _, port = text.rpartition(":")
    if not host:
        return text, default_port
    return host, int(port)


class _ConsoleCallLog(calllog.CallLog):
    """The call log, with a line on the console per call attempt.

    While `held` is a list (the SIP loop's, while it handles a datagram) the lines
    wait there until the datagram's answers are sent: formatting a line (local time)
    and writing it cost some 50 us on a PC, which a forwarded INVITE should not wait
    for. At most `_HELD_LINES` wait; more are written at once.
    """

    tz = None  # set by the app: local time for the line
    held = None

    def record(self, utc, number, name, source_ip, verdict):
        entry = super().record(utc, number, name, source_ip, verdict)
        line = (utc, number, name, source_ip, entry["kind"], verdict.reason)
        held = self.held
        if held is not None and len(held) < _HELD_LINES:
            held.append(line)
        else:
            self._write(line)
        return entry

    def flush(self, lines):
        """Write the lines held back in `lines` (one that cannot be written is dropped)."""
        while lines:
            self._write(lines.pop(0))

    def _write(self, line):
        utc, number, name, source_ip, kind, reason = line
        when = "clock unset"
        if utc is not None and self.tz is not None:
            t = self.tz.localtime(utc)
            when = "%04d-%02d-%02d %02d:%02d:%02d" % t[:6]
        log(
            "call: %s from %s %r at %s: %s (%s)"
            % (when, number or "anonymous", name or "", source_ip, kind, reason)
        )


class App:
    # Tasks restarted more often than this are reported as failing on the web page.
    max_restarts = 20
    # How the collector is paced. In calm, a collection follows each pause of
    # pause_ms (ms) in the datagrams that sent something (a call's INVITE, 180, 200
    # and ACK come close together): the next call starts with the heap's garbage
    # gone, and no collection falls in the middle of its set-up. Left to
    # gc.threshold, one did at nearly every call, as a call makes some 27 KB of
    # short-lived blocks (its frames and reads included) on the unix port.
    #
    # A flood brings no pause. While more than flood_per_s datagrams a second are
    # refused, the collector runs every collect_every bytes allocated (gc.threshold;
    # None: never). A flood's datagrams, refused on a peek, leave some 128 bytes of
    # garbage each: left to fill the whole heap, they push what outlives a datagram
    # (a call's entries, a logged INVITE) into the big free blocks at its top, which
    # end in pieces too small for a datagram let in (1.5 KB). 8 KB, not 16: a flood
    # from many addresses leaves some 19 KB free at 110 KB of heap, and at 16 KB the
    # heap went to pieces in 2 runs of 19 of the end-to-end flood test (every
    # datagram then dropped for want of a 1.5 KB block, a wanted call's too).
    pause_ms = 5
    busy_collect_ms = 100  # traffic that never pauses still sees a collection this often
    flood_per_s = 20
    collect_every = 8192

    def __init__(self, board, opts, loaded):
        self.board = board
        self.opts = opts
        self._uptime_at = ticks_ms()
        self._uptime_ms = 0
        self.store, self.config, self.config_problems = loaded
        self.clock = board.clock  # utc() -> int, or None until NTP answered
        last_reset = getattr(board, "last_reset", None)
        self.last_reset = last_reset() if last_reset else None  # readable once
        self.log = _ConsoleCallLog(self.store)
        self.gate = gate.Gate(self.config, self.log, self.clock)
        me = opts["listen"]
        self.proxy = proxy.Proxy(me, self.gate)
        self.endpoint = None
        self.busy = False  # a datagram sent something since the collector last looked
        self._collecting = False  # a collect_after_pause task is waiting
        self.flooded = False  # gc.threshold on (pace_collector)
        self._refused = 0  # datagrams refused up to the last tick
        self.restarts = {}
        self.tasks = {}
        self.finished = set()
        self.last_error = None
        self.tz = self.log.tz = self.gate.tz
        self.state_dir = opts["state"]

    # -- what the web page and the panel see -------------------------------------

    def uptime_s(self):
        # ticks wrap (after ~6 days on a board): accumulate them instead.
        now = ticks_ms()
        self._uptime_ms += ticks_diff(now, self._uptime_at)
        self._uptime_at = now
        return self._uptime_ms // 1000

    def mem(self):
        gc.collect()
        # heap_reserved: what the board says is not the firmware's (on the PC, the
        # ROMFS image tools/romboot.py read onto the heap in place of flash).
        reserved = getattr(self.board, "heap_reserved", 0)
        return {"alloc": gc.mem_alloc() - reserved, "free": gc.mem_free()}

    def log_mem(self):
        # The receive path's spare block taken back first if it was lent (as the tick
        # does): readings with and without it differ by its 4 KB, which is no leak.
        ep = self.endpoint
        spare = ep is not None and ep.rearm()
        m = self.mem()
        log(
            "mem: alloc=%d free=%d low_memory_drops=%d spare=%d"
            % (m["alloc"], m["free"], ep.low_memory if ep else 0, spare)
        )

    def free_spare(self):
        """The receive path's spare block, freed for a web page that ran out of heap
        (the one-second tick takes it back): True if there was one to free."""
        return self.endpoint is not None and self.endpoint.lend_spare()

    def apply(self, cfg):
        """A config becomes live once saved; raises ValueError listing its mistakes."""
        try:
            cfg = self.store.save(cfg)
        finally:
            config.release()
        # What lives from now on (the gate's tables) is laid out after a collection,
        # in the lowest holes the heap has: allocated among the save's garbage, each
        # piece would pin a hole of its own once that is collected (a heap is never
        # compacted), and the next page might find no block it needs.
        gc.collect()
        self.config = cfg
        self._make_live()

    def _make_live(self):
        # The gate's tables for self.config. A save that runs out of heap building
        # them leaves the config saved but not in use (gate.config is set last):
        # catch_up(), on the one-second tick, tries again until it is.
        self.gate.configure(self.config)
        self.tz = self.log.tz = self.gate.tz
        self._resolve()

    def catch_up(self):
        """Puts the saved config in use if a save could not (see _make_live)."""
        if self.gate.config is not self.config:
            self._make_live()

    # -- addresses ---------------------------------------------------------------

    def _resolve(self):
        """The ATA's and the provider's addresses from the config (DNS names looked
        up again); True when the provider's is known."""
        ata = self.config.get("ata")
        self.proxy.ata = None
        if ata:
            try:
                self.proxy.ata = udp.resolve(*_host_port(ata))
            except (OSError, ValueError) as e:
                log("ata: cannot resolve %r: %s" % (ata, e))
        # The proxy never rate-limits the ATA: nor does the endpoint's door.
        if self.endpoint is not None:
            self.endpoint.always = (self.proxy.ata[0],) if self.proxy.ata else ()
        provider = self.config.get("provider")
        if not provider:
            self.proxy.provider = None
            return False
        try:
            address = udp.resolve(*_host_port(provider))
        except (OSError, ValueError) as e:
            log("provider: cannot resolve %r: %s" % (provider, e))
            return False
        if address != self.proxy.provider:
            log("provider: %s is %s:%d" % (provider, address[0], address[1]))
        self.proxy.provider = address
        self.gate.set_provider_addresses([address[0]])
        return True

    # -- tasks ---------------------------------------------------------------------

    async def sip_loop(self):
        endpoint = self.endpoint
        read = endpoint.read
        handle = self.proxy.handle
        send = endpoint.send
        queued = endpoint.queued
        calls = self.log
        held = []  # the lines of the datagram being handled, written once it is sent
        try:
            while True:
                # Park on the socket, then drain up to a burst: waking through the event
                # loop costs more than a read, and the other tasks still get a turn.
                await endpoint.readable()
                for i in range(endpoint.burst):
                    # The wake-up's first read finds a datagram; before the next, ask
                    # whether one is queued (a lone datagram, a call's usual case,
                    # then costs no read that finds none), after that read on.
                    if i == 1 and not queued():
                        break
                    data = read()
                    if data is None:
                        break  # none queued
                    if data is False:
                        continue  # dropped by the endpoint (counted there)
                    # Only this datagram's lines wait: one the supervisor's tick logs
                    # (Gate.log_scan) meanwhile is written at once.
                    calls.held = held
                    try:
                        out = handle(data, endpoint.source, ticks_ms())
                    except MemoryError:
                        # No block for this datagram's work: dropped and counted as the
                        # proxy counts its own. No line: formatting one needs the heap
                        # that is missing (a failure there would end the task), and a
                        # flood would write one a datagram.
                        self.proxy.stats["dropped_memory"] += 1
                        out = ()
                    except Exception as e:  # the proxy must not raise; one datagram never stops us
                        self.proxy.stats["errors"] = self.proxy.stats.get("errors", 0) + 1
                        self.last_error = repr(e)
                        source = endpoint.source
                        log("sip: datagram from %s:%d raised %r" % (source[0], source[1], e))
                        out = ()
                    if out:
                        for datagram, destination in out:
                            send(datagram, destination)
                        self.busy = True
                        if not self._collecting:
                            self._collect_soon()
                    calls.held = None
                    if held:
                        try:
                            calls.flush(held)
                        except Exception as e:  # a console that fails is no reason to stop
                            self.last_error = "call log: %r" % e
                else:
                    # A whole burst was queued: a flood's start, most likely. The
                    # threshold goes on now, not at the next tick: a second of a
                    # flood's garbage is enough to leave the heap in pieces.
                    if not self.flooded:
                        self.set_flooded(True)
        finally:
            calls.held = None
            try:
                calls.flush(held)
            except Exception:
                pass  # the task ends (or restarts) all the same

    def _collect_soon(self):
        # One task at a time, started by the first datagram that sends something and
        # gone after its collection: a task kept waiting on an asyncio.Event would
        # cost that module (1.3 KB of heap on the unix port) and a task for good.
        try:
            asyncio.create_task(self.collect_after_pause())
            self._collecting = True
        except MemoryError:
            pass  # the next datagram that sends something tries again

    async def collect_after_pause(self):
        # The collection waits until no datagram sent anything for pause_ms, or for
        # busy_collect_ms at most: wanted traffic too fast to pause (and too slow to
        # fill a burst or to be refused) must not leave its garbage to fill the heap.
        try:
            waited = 0
            while self.busy and waited < self.busy_collect_ms:
                self.busy = False
                await sleep_ms(self.pause_ms)
                waited += self.pause_ms
            gc.collect()
        finally:
            self._collecting = False

    def pace_collector(self):
        """Called every second: gc.threshold on while a flood is refused, else off."""
        ep = self.endpoint
        stats = self.proxy.stats
        refused = stats["dropped_admit"] + stats["dropped_gate"]
        if ep is not None:
            refused += ep.refused + ep.low_memory
        flooded = refused - self._refused > self.flood_per_s
        self._refused = refused
        if flooded != self.flooded:
            self.set_flooded(flooded)

    def set_flooded(self, flooded):
        self.flooded = flooded
        threshold = getattr(gc, "threshold", None)  # MicroPython's
        if threshold is not None and self.collect_every:
            threshold(self.collect_every if flooded else -1)

    async def serve_web(self):
        host, port = self.opts["web"]
        server = web.make_app(self)
        log("web: open http://%s:%d/ in a browser" % (host, port))
        await server.start_server(host=host, port=port)

    async def run_panel(self):
        await panel.run(self)

    # -- supervision ---------------------------------------------------------------

    async def _supervised(self, name, factory):
        while True:
            try:
                await factory()
                self.finished.add(name)  # ended by design (e.g. stdin closed)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                count = self.restarts.get(name, 0) + 1
                self.restarts[name] = count
                self.last_error = "%s: %r" % (name, e)
                log("task %s crashed (%d): %r; restarting" % (name, count, e))
                sys.print_exception(e)
                await sleep_ms(_RESTART_BACKOFF_MS)

    def start(self, name, factory):
        self.tasks[name] = asyncio.create_task(self._supervised(name, factory))

    async def main(self):
        board = self.board
        await board.network_up(self.config)
        # On a board network_up puts the interface's address into opts["listen"].
        self.endpoint = udp.Endpoint(self.opts["listen"])
        self.endpoint.door = self.gate.limiter  # strangers refused before their address is built
        self.proxy.me = self.opts["listen"]
        resolved = self._resolve()
        listen = self.opts["listen"]
        log(
            "hushgate on %s: SIP %s:%d (the ATA's outbound proxy), ATA %s, provider %s"
            % (
                getattr(board, "NAME", "?"),
                listen[0],
                listen[1],
                self.config.get("ata") or "(not set)",
                self.config.get("provider") or "(not set)",
            )
        )
        self.start("sip", self.sip_loop)
        self.start("web", self.serve_web)
        self.start("panel", self.run_panel)
        commands = getattr(board, "commands", None)  # the host board's console
        if commands is not None:
            commands[b"m"] = self.log_mem
        self.log_mem()
        for name, factory in board.tasks():
            self.start(name, factory)
        wdt = board.watchdog(_WATCHDOG_MS)
        # The DNS names and the counters' file are looked after on this one-second
        # tick rather than by tasks of their own: a task and its coroutine stay on
        # the heap for good. resolve_in: seconds until the names are looked up again.
        resolve_in = _RESOLVE_EVERY_S if resolved else _RESOLVE_RETRY_S
        counters_in = _COUNTERS_CHECK_S
        while True:
            try:
                # A stranger's INVITE the gate kept: its call-log line, written here
                # so that a scan's datagrams cost no parse (Gate.refuse_stranger).
                self.gate.log_scan()
                self.endpoint.rearm()  # the receive path's spare block, if it was used
                self.pace_collector()
                self.catch_up()
                resolve_in -= 1
                if resolve_in <= 0:
                    resolve_in = _RESOLVE_EVERY_S if self._resolve() else _RESOLVE_RETRY_S
                counters_in -= 1
                if counters_in <= 0:
                    counters_in = _COUNTERS_CHECK_S
                    self.log.tick(ticks_ms())  # the call log decides when a write is due
            except Exception as e:  # counted like a crashed task; the tick goes on
                self.restarts["chores"] = self.restarts.get("chores", 0) + 1
                self.last_error = "chores: %r" % e
                log("chores: %r" % e)
            await sleep_ms(_SUPERVISE_MS)
            self.uptime_s()  # often enough that ticks never wrap between two readings
            trouble = self.trouble()
            if trouble is None:
                if wdt is not None:
                    wdt.feed()
            elif hasattr(board, "restart"):
                # The watchdog would reset us soon anyway; this way the reason is
                # written down and shown on the page after the boot.
                board.restart(trouble)

    def trouble(self):
        """None while every task runs (or ended by design) and none keeps crashing."""
        for name, task in self.tasks.items():
            if task.done() and name not in self.finished:
                return "task %s ended" % name
            if self.restarts.get(name, 0) > self.max_restarts:
                return "task %s crashed %d times: %s" % (
                    name,
                    self.restarts[name],
                    self.last_error,
                )
        return None

    def stop(self):
        try:
            self.gate.log_scan()
        except Exception as e:  # the counters are saved whatever happens here
            log("stop: %r" % e)
        self.log.save()
        if self.endpoint is not None:
            self.endpoint.sock.close()
        log("hushgate: stopped")


def run(board, opts, loaded):
    """Serve until Ctrl-C; loaded is hushgate.state.load(opts)."""
    app = App(board, opts, loaded)
    try:
        asyncio.run(app.main())
    except KeyboardInterrupt:
        pass
    finally:
        app.stop()

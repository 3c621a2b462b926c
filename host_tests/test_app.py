# The app's SIP loop over a stand-in endpoint and proxy: what a wake-up reads, in
# which order a call is forwarded and written to the console, and that a datagram the
# proxy chokes on stops nothing.
import asyncio

import pytest

from hushgate import app as app_module
from hushgate.gate import Verdict


class _OutOfWakeupsError(Exception):
    pass


class _Endpoint:
    """Wake-ups, each a list of datagrams queued at once; records what the loop does."""

    burst = 32

    def __init__(self, events, wakeups, on_wait=None):
        self.events = events
        self.wakeups = list(wakeups)
        self.on_wait = on_wait  # what another task does while the loop waits
        self.queue = []
        self.source = None

    async def readable(self):
        if self.on_wait is not None:
            self.on_wait()
        if not self.wakeups:
            raise _OutOfWakeupsError()
        self.queue = list(self.wakeups.pop(0))

    def queued(self):
        self.events.append("queued?")
        return bool(self.queue)

    def read(self):
        if not self.queue:
            self.events.append("read: none")
            return None
        data = self.queue.pop(0)
        self.events.append("read " + data.decode())
        self.source = ("127.0.0.2", 5060)
        return data

    def send(self, data, address):
        self.events.append("send " + data.decode())


class _Proxy:
    """Logs a call for an INVITE (as the gate does) and forwards every datagram."""

    def __init__(self, calls):
        self.calls = calls
        self.stats = {"dropped_memory": 0}

    def handle(self, data, source, now):
        if data == b"bad":
            raise ValueError("choked")
        if data == b"big":
            raise MemoryError()
        if data.startswith(b"INVITE"):
            self.calls.record(None, "0033147310370", "Caller", source[0], Verdict(0, 0, "rang"))
        return [(b"fwd " + data, ("127.0.0.4", 5060))]


class _Collector:
    """Stands in for the gc module: records collections and the threshold set."""

    def __init__(self, events):
        self.events = events

    def collect(self):
        self.events.append("collect")

    def threshold(self, amount):
        self.events.append("threshold %d" % amount)


def _run(wakeups, monkeypatch, on_wait=None):
    events = []
    monkeypatch.setattr(app_module, "log", lambda text: events.append(text))
    monkeypatch.setattr(app_module, "gc", _Collector(events))
    app = object.__new__(app_module.App)
    app.log = app_module._ConsoleCallLog()
    app.proxy = _Proxy(app.log)
    app.endpoint = _Endpoint(events, wakeups, on_wait and (lambda: on_wait(app, events)))
    app.last_error = None
    app.busy = app._collecting = False
    app.flooded = False
    with pytest.raises(_OutOfWakeupsError):
        asyncio.run(app.sip_loop())
    return app, events


def test_a_call_line_is_written_after_its_invite_is_forwarded(monkeypatch):
    app, events = _run([[b"INVITE 1"]], monkeypatch)
    assert events[:2] == ["read INVITE 1", "send fwd INVITE 1"]
    assert events[2].startswith("call: clock unset from 0033147310370 'Caller' at 127.0.0.2")
    assert app.log.held is None  # written at once again when the loop ends


def test_a_line_logged_between_datagrams_is_written_at_once(monkeypatch):
    # The supervisor's tick logs a kept stranger's INVITE (Gate.log_scan) while the
    # SIP loop waits: that line must not wait for the next datagram.
    def tick(app, events):
        app.log.record(None, "4000", "John Doe", "203.0.113.9", Verdict(1, 0, "scanner"))
        assert events[-1].startswith("call: clock unset from 4000 'John Doe'")

    _app, events = _run([[b"INVITE 1"], [b"INVITE 2"]], monkeypatch, on_wait=tick)
    assert sum(e.startswith("call: ") for e in events) == 2 + 3


def test_a_lone_datagram_costs_no_read_that_finds_none(monkeypatch):
    _app, events = _run([[b"INVITE 1"], [b"SIP/2.0 180"]], monkeypatch)
    assert "read: none" not in events
    assert events.count("queued?") == 2  # once per wake-up, after its first datagram


def test_a_burst_is_read_until_none_is_left(monkeypatch):
    _app, events = _run([[b"OPTIONS %d" % i for i in range(5)]], monkeypatch)
    reads = [e for e in events if e.startswith("read")]
    assert reads == ["read OPTIONS %d" % i for i in range(5)] + ["read: none"]
    assert events.count("queued?") == 1


def test_a_datagram_that_raises_stops_neither_the_loop_nor_the_line(monkeypatch):
    app, events = _run([[b"bad", b"INVITE 2"]], monkeypatch)
    assert app.proxy.stats["errors"] == 1 and "choked" in app.last_error
    assert "send fwd INVITE 2" in events
    assert any(e.startswith("call: ") for e in events)


def test_a_datagram_the_heap_has_no_room_for_is_counted_without_a_line(monkeypatch):
    app, events = _run([[b"big", b"big", b"INVITE 2"]], monkeypatch)
    assert app.proxy.stats == {"dropped_memory": 2} and app.last_error is None
    assert not any(e.startswith("sip: ") for e in events)
    assert "send fwd INVITE 2" in events


def test_lines_wait_for_the_loop_only_while_it_holds_them(monkeypatch):
    lines = []
    monkeypatch.setattr(app_module, "log", lines.append)
    calls = app_module._ConsoleCallLog()
    verdict = Verdict(0, 0, "rang")
    calls.record(None, "1", "", "127.0.0.2", verdict)
    assert len(lines) == 1  # outside the SIP loop: at once
    calls.held = []
    for n in range(app_module._HELD_LINES + 2):
        calls.record(None, str(n), "", "127.0.0.2", verdict)
    assert len(lines) == 1 + 2 and len(calls.held) == app_module._HELD_LINES  # bounded
    calls.flush(calls.held)
    assert len(lines) == 1 + app_module._HELD_LINES + 2 and not calls.held


def test_the_heap_reported_leaves_out_what_the_board_reserves(monkeypatch):
    # On the PC, tools/romboot.py reads the ROMFS image onto the heap in place of
    # flash and says so in board.heap_reserved: the figures shown are the firmware's.
    monkeypatch.setattr(app_module.gc, "mem_alloc", lambda: 150000, raising=False)
    monkeypatch.setattr(app_module.gc, "mem_free", lambda: 20000, raising=False)

    class Board:
        heap_reserved = 90000

    class Plain:
        pass

    shell = type("Shell", (), {"mem": app_module.App.mem})
    reserved, plain = shell(), shell()
    reserved.board, plain.board = Board, Plain
    assert reserved.mem() == {"alloc": 60000, "free": 20000}
    assert plain.mem() == {"alloc": 150000, "free": 20000}


def test_the_console_heap_figure_is_taken_with_the_spare_block_back(monkeypatch):
    # A flood's read may have lent the receive path's spare block (4 KB) a moment
    # ago: the figure is read with it back, so two readings compare (a leak test
    # compares floors).
    events = []
    monkeypatch.setattr(app_module, "log", events.append)
    held = []

    class Endpoint:
        low_memory = 3

        def rearm(self):
            held.append(True)
            return True

    app = object.__new__(app_module.App)
    app.endpoint = Endpoint()
    app.mem = lambda: (
        events.append("mem, spare back: %d" % len(held))
        or {
            "alloc": 90000,
            "free": 20000,
        }
    )
    app.log_mem()
    assert events == [
        "mem, spare back: 1",  # taken back before the figure was read
        "mem: alloc=90000 free=20000 low_memory_drops=3 spare=1",
    ]
    app.endpoint = None  # before the SIP side started
    app.log_mem()
    assert events[-1] == "mem: alloc=90000 free=20000 low_memory_drops=0 spare=0"


def test_a_saved_config_the_heap_had_no_room_to_build_is_put_in_use_later(monkeypatch):
    monkeypatch.setattr(app_module.config, "release", lambda: None)

    class Store:
        def save(self, cfg):
            return dict(cfg)  # validated: a new dict

    class Gate:
        config = {"old": True}
        tz = "tz"
        out_of_heap = 1

        def configure(self, cfg):
            if self.out_of_heap:
                self.out_of_heap -= 1
                raise MemoryError()
            self.config = cfg

    app = object.__new__(app_module.App)
    app.store, app.gate, app.log = Store(), Gate(), app_module._ConsoleCallLog()
    resolved = []
    app._resolve = lambda: resolved.append(1)
    with pytest.raises(MemoryError):  # the page's second try, or its 503, follows
        app.apply({"vip": ["0611"]})
    assert app.config == {"vip": ["0611"]} and app.gate.config == {"old": True}
    app.catch_up()  # the one-second tick
    assert app.gate.config is app.config and app.tz == "tz" and resolved == [1]
    app.catch_up()  # in use: nothing done again
    assert resolved == [1]


# The collector's pace: in the pauses between calls, by threshold during floods ------------


def test_a_datagram_that_sent_something_starts_one_collector(monkeypatch):
    app, events = _run([[b"bad"]], monkeypatch)  # nothing sent
    assert not app.busy and not app._collecting
    started = []
    monkeypatch.setattr(app_module.App, "collect_after_pause", lambda self: started.append(1))
    monkeypatch.setattr(app_module.asyncio, "create_task", lambda coro: None)
    app, events = _run([[b"INVITE 1"], [b"SIP/2.0 180"]], monkeypatch)
    assert app.busy and app._collecting
    assert started == [1]  # one at a time: the 180 finds it waiting


def _collector(monkeypatch, during):
    # An app whose collector meets a datagram that sent something during each of its
    # pauses for which `during` says True.
    events = []
    monkeypatch.setattr(app_module, "gc", _Collector(events))
    app = object.__new__(app_module.App)

    async def sleep_ms(ms):
        events.append("sleep %d" % ms)
        if during(len(events)):
            app.busy = True
        await asyncio.sleep(0)

    monkeypatch.setattr(app_module, "sleep_ms", sleep_ms)
    app.busy = app._collecting = True  # as the SIP loop leaves them when it starts one
    asyncio.run(app.collect_after_pause())
    return app, events


def test_the_collection_waits_for_a_pause_in_the_datagrams(monkeypatch):
    app, events = _collector(monkeypatch, lambda n: n <= 2)
    pause = "sleep %d" % app_module.App.pause_ms
    assert events == [pause, pause, pause, "collect"]
    assert not app.busy and not app._collecting  # the next datagram starts another


def test_traffic_that_never_pauses_is_collected_all_the_same(monkeypatch):
    app, events = _collector(monkeypatch, lambda n: True)
    pauses = app_module.App.busy_collect_ms // app_module.App.pause_ms
    assert events == ["sleep %d" % app_module.App.pause_ms] * pauses + ["collect"]
    assert not app._collecting


def test_a_collector_the_heap_has_no_room_for_is_tried_again(monkeypatch):
    def no_room(coro):
        coro.close()
        raise MemoryError()

    monkeypatch.setattr(app_module.asyncio, "create_task", no_room)
    app, events = _run([[b"INVITE 1"]], monkeypatch)
    assert app.busy and not app._collecting
    assert "send fwd INVITE 1" in events


def _paced(monkeypatch):
    events = []
    monkeypatch.setattr(app_module, "gc", _Collector(events))
    app = object.__new__(app_module.App)
    app.flooded = False
    app._refused = 0
    app.proxy = _Proxy(None)
    app.proxy.stats.update(dropped_admit=0, dropped_gate=0)
    app.endpoint = type("Endpoint", (), {"refused": 0, "low_memory": 0})()
    return app, events


def test_the_threshold_collects_only_while_a_flood_is_refused(monkeypatch):
    app, events = _paced(monkeypatch)
    per_s = app_module.App.flood_per_s
    every = app_module.App.collect_every
    app.endpoint.refused += per_s  # a few scanners' probes: not a flood
    app.pace_collector()
    assert events == [] and not app.flooded
    app.endpoint.refused += per_s
    app.proxy.stats["dropped_gate"] += 1  # what the gate refused counts too
    app.pace_collector()
    assert events == ["threshold %d" % every] and app.flooded
    app.endpoint.low_memory += per_s + 1
    app.pace_collector()  # still a flood: nothing to change
    assert events == ["threshold %d" % every]
    app.proxy.stats["dropped_admit"] += per_s
    app.pace_collector()
    assert events == ["threshold %d" % every, "threshold -1"] and not app.flooded


def test_a_whole_burst_queued_starts_the_threshold_at_once(monkeypatch):
    burst = _Endpoint.burst
    app, events = _run([[b"OPTIONS %d" % i for i in range(burst - 1)]], monkeypatch)
    assert not app.flooded and not any(e.startswith("threshold") for e in events)
    app, events = _run([[b"OPTIONS %d" % i for i in range(burst + 3)]] * 2, monkeypatch)
    assert app.flooded
    assert [e for e in events if e.startswith("threshold")] == [
        "threshold %d" % app_module.App.collect_every
    ]

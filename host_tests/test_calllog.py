# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
import json

from hushgate.calllog import CallLog
from hushgate.compat import ticks_add
from hushgate.config import validate
from hushgate.store import Store


class Verdict:
    def __init__(self, action, code, reason, kind):
        self.action = action
        self.code = code
        self.reason = reason
        self.kind = kind


RANG = Verdict(0, 0, "rang", "rang")
QUIET = Verdict(1, 480, "quiet hours", "quiet")
BLOCKED = Verdict(2, 0, "blocked caller 0899123", "blocked")
SCANNER = Verdict(2, 0, "scanner: friendly-scanner", "scanner")


class MemoryStorage:
    def __init__(self):
        self.files = {}
        self.writes = 0
        self.fail = False

    def read(self, name):
        return self.files.get(name)

    def write(self, name, data):
        if not isinstance(data, bytes):  # pieces of str, as Store.write takes them
            data = "".join(data).encode()
        if self.fail:
            raise OSError(28)
        self.writes += 1
        self.files[name] = bytes(data)

    def rename(self, old, new):
        self.files[new] = self.files.pop(old)

    def remove(self, name):
        self.files.pop(name, None)


def test_ring_keeps_the_newest_and_is_bounded():
    log = CallLog(size=5)
    for i in range(12):
        log.record(1000 + i, "06%08d" % i, "Caller %d" % i, "192.0.2.1", RANG)
    entries = log.entries()
    assert len(entries) == 5
    assert [e["utc"] for e in entries] == [1011, 1010, 1009, 1008, 1007]
    assert entries[0]["id"] == 12 and entries[0]["number"] == "0600000011"
    assert entries[0]["action"] == "forward" and entries[0]["reason"] == "rang"
    assert log.counters["calls"] == 12 and log.counters["rang"] == 12


def test_default_size_is_fifty():
    log = CallLog()
    for i in range(60):
        log.record(i, str(i), "", "192.0.2.1", QUIET)
    assert len(log.entries()) == 50


def test_entry_fields_and_truncation():
    log = CallLog()
    entry = log.record(5, "0612345678", "A" * 100, "192.0.2.9", QUIET)
    assert entry["name"] == "A" * 37 + "…"  # max_name is in UTF-8 bytes; "…" takes 3
    assert entry["source"] == "192.0.2.9"
    assert entry["action"] == "answer" and entry["code"] == 480
    assert entry["kind"] == "quiet"
    assert log.find(entry["id"]) == entry
    assert log.find(999) is None
    json.dumps(log.entries())


def test_text_is_cut_between_characters():
    log = CallLog()
    # 2-byte characters: 40 bytes hold 18 of them and "…", never half of one.
    name = log.record(5, "1", "é" * 30, "192.0.2.9", QUIET)["name"]
    assert name == "é" * 18 + "…" and len(name.encode()) <= log.max_name
    # 4-byte characters; a name that fits is kept whole.
    assert log.record(5, "1", "😀" * 20, "192.0.2.9", QUIET)["name"] == "😀" * 9 + "…"
    assert log.record(5, "1", "Zoë 😀", "192.0.2.9", QUIET)["name"] == "Zoë 😀"
    entries = log.entries()
    assert [e["name"] for e in entries] == ["Zoë 😀", "😀" * 9 + "…", "é" * 18 + "…"]


def test_number_and_reason_first_when_the_record_is_full():
    # A record holds 77 bytes of text: the number whole, then the reason, the name last.
    log = CallLog()
    number = "0" * 32
    reason = "r" * 60
    e = log.record(5, number, "N" * 40, "192.0.2.9", Verdict(1, 603, reason, "blocked"))
    assert e["number"] == number
    assert e["reason"] == "r" * 42 + "…"
    assert e["name"] == ""
    e = log.record(5, number, "N" * 40, "192.0.2.9", Verdict(1, 603, "blocked caller", "blocked"))
    assert e["reason"] == "blocked caller" and e["name"] == "N" * 28 + "…"
    assert log.find(e["id"]) == e


def test_source_that_is_not_ipv4_is_logged_as_zeros():
    log = CallLog()
    assert log.record(1, "1", "", "::1", RANG)["source"] == "0.0.0.0"
    assert log.record(1, "1", "", None, RANG)["source"] == "0.0.0.0"
    assert log.record(1, "1", "", "10.0.0.255", RANG)["source"] == "10.0.0.255"


def test_a_full_log_holds_one_preallocated_buffer():
    import gc

    log = CallLog()
    for i in range(60):
        log.record(1764000000 + i, "0612%06d" % i, "Caller %d" % i, "192.0.2.1", QUIET)
    held = len(log._ring)
    assert held == log.size * 96, held
    try:
        import micropython  # noqa: F401
    except ImportError:
        return
    # Logging a call leaves nothing behind on the heap once its entry dict is dropped.
    gc.collect()
    before = gc.mem_alloc()
    log.record(1764000100, "0612999999", "Someone", "192.0.2.1", QUIET)
    gc.collect()
    assert gc.mem_alloc() - before <= 0, gc.mem_alloc() - before


def test_unknown_clock_entry_has_no_time():
    log = CallLog()
    assert log.record(None, "1", "", "192.0.2.1", RANG)["utc"] is None
    assert log.record(0, "1", "", "192.0.2.1", RANG)["utc"] == 0


def test_unseen_counts_calls_that_did_not_ring_until_acknowledged():
    log = CallLog()
    log.record(1, "1", "", "192.0.2.1", RANG)
    assert log.unseen_silenced() == 0
    log.record(2, "0899123", "", "192.0.2.1", BLOCKED)
    log.record(3, "2", "", "192.0.2.1", QUIET)
    log.record(4, "", "", "192.0.2.1", SCANNER)
    assert log.unseen_silenced() == 3
    log.acknowledge()
    assert log.unseen_silenced() == 0
    assert log.counters["blocked"] == 1 and log.counters["calls"] == 4


def test_last_caller_is_the_last_that_rang():
    log = CallLog()
    assert log.last_caller() is None
    log.record(1, "0611111111", "", "192.0.2.1", RANG)
    log.record(2, "0899123", "", "192.0.2.1", BLOCKED)
    assert log.last_caller() == "0611111111"
    log.record(3, "", "", "192.0.2.1", RANG)
    assert log.last_caller() == ""


def test_kind_derived_from_action_when_verdict_has_none():
    class Plain:
        action, code, reason = 2, 0, "dropped"

    log = CallLog()
    assert log.record(1, "1", "", "192.0.2.1", Plain())["kind"] == "blocked"


def test_block_and_allow_an_entry_return_the_new_config():
    # What the web page does with an entry: find it, then config's block/allow.
    from hushgate.config import allow_number, block_number

    cfg = validate({"vip": ["0611111111"]})[0]
    log = CallLog()
    rang = log.record(1, "0611111111", "", "192.0.2.1", RANG)
    anon = log.record(2, "", "", "192.0.2.1", RANG)
    new = block_number(cfg, log.find(rang["id"])["number"])
    assert new["block"] == ["0611111111"] and new["vip"] == []
    assert validate(new)[1] == []
    assert allow_number(new, log.find(rang["id"])["number"])["vip"] == ["0611111111"]
    assert block_number(cfg, log.find(anon["id"])["number"])["block_anonymous"] is True
    assert log.find(12345) is None


def test_resize_keeps_newest():
    log = CallLog(size=10)
    for i in range(8):
        log.record(i, str(i), "", "192.0.2.1", RANG)
    log.resize(3)
    assert [e["utc"] for e in log.entries()] == [7, 6, 5]
    log.record(8, "8", "", "192.0.2.1", RANG)
    assert [e["utc"] for e in log.entries()] == [8, 7, 6]
    log.resize(6)
    log.record(9, "9", "", "192.0.2.1", RANG)
    assert [e["utc"] for e in log.entries()] == [9, 8, 7, 6]


def test_count_other_events():
    mem = MemoryStorage()
    log = CallLog(Store(mem))
    log.count("unknown_source")
    log.count("unknown_source", 4)
    assert log.counters["unknown_source"] == 5
    assert log.totals["unknown_source"] == 5
    # Scanner noise alone never wears the flash ...
    log.tick(1000)
    assert not log.tick(ticks_add(1000, 3600000)) and mem.writes == 0
    # ... it is written with the next call.
    log.record(1, "1", "", "192.0.2.1", RANG)
    assert log.tick(ticks_add(1000, 7200000))
    assert json.loads(mem.files["counters.json"])["totals"]["unknown_source"] == 5


def test_counters_survive_a_reboot_written_rarely():
    mem = MemoryStorage()
    store = Store(mem)
    log = CallLog(store)
    assert log.problem == ""
    t0 = 1000
    assert not log.tick(t0)
    log.record(1, "0899123", "", "192.0.2.1", BLOCKED)
    log.record(2, "1", "", "192.0.2.1", RANG)
    for minute in range(1, 10):
        assert not log.tick(ticks_add(t0, minute * 60000))
    assert mem.writes == 0
    assert log.tick(ticks_add(t0, 10 * 60000))
    assert mem.writes == 1
    assert not log.tick(ticks_add(t0, 25 * 60000))  # nothing new: no write
    again = CallLog(Store(mem))
    assert again.totals["calls"] == 2 and again.totals["blocked"] == 1
    assert again.unseen_silenced() == 1
    assert again.counters["calls"] == 0  # since boot
    again.acknowledge()  # the user looked: written at once
    assert CallLog(Store(mem)).unseen_silenced() == 0


def test_clean_stop_saves_now():
    mem = MemoryStorage()
    log = CallLog(Store(mem))
    assert not log.save()  # nothing to write
    log.record(1, "1", "", "192.0.2.1", QUIET)
    assert log.save()
    assert json.loads(mem.files["counters.json"])["totals"]["quiet"] == 1


def test_corrupt_counters_file_is_reported_not_fatal():
    mem = MemoryStorage()
    mem.files["counters.json"] = b'{"totals": {"calls": '
    log = CallLog(Store(mem))
    assert "not valid JSON" in log.problem
    assert log.totals["calls"] == 0
    mem.files["counters.json"] = b'{"totals": {"calls": "many", "rang": 3}, "unseen": [1]}'
    log = CallLog(Store(mem))
    assert log.totals["calls"] == 0 and log.totals["rang"] == 3


def test_full_flash_is_reported_not_fatal():
    mem = MemoryStorage()
    log = CallLog(Store(mem))
    log.record(1, "1", "", "192.0.2.1", QUIET)
    mem.fail = True
    assert not log.save()
    assert "could not write counters.json" in log.problem
    mem.fail = False
    assert log.save() and log.problem == ""


def test_file_code_is_loaded_only_while_it_runs():
    # Reading and writing the counters and resize live in hushgate.calllogfile:
    # loaded for the call, never left resident.
    import sys

    import hushgate

    log = CallLog(Store(MemoryStorage()))
    log.record(1, "1", "", "192.0.2.1", RANG)
    assert log.save()
    log.resize(3)
    assert len(log.entries()) == 1
    assert "hushgate.calllogfile" not in sys.modules
    assert not hasattr(hushgate, "calllogfile")


def test_counting_a_known_kind_takes_nothing_from_the_heap():
    # A stranger's refused datagram is counted here; under a scan that is every
    # datagram, so counting a kind already seen must not allocate (mem_total counts
    # every byte ever allocated, frames included).
    try:
        from micropython import mem_total
    except ImportError:
        return  # CPython, or a port without the statistics
    log = CallLog()
    log.count("unknown_source")
    before = mem_total()
    for _ in range(50):
        log.count("unknown_source")
    after = mem_total()
    assert after == before, after - before
    assert log.counters["unknown_source"] == 51 and log.totals["unknown_source"] == 51

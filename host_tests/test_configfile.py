# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
import json

from hushgate import configfile as config
from hushgate.configfile import Store, validate


class PowerCutError(Exception):
    pass


class MemoryStorage:
    """The storage interface in RAM; the power goes off after `budget` steps.

    A write cut short leaves the first half of the data, as a flash page might.
    """

    def __init__(self, files=None):
        self.files = dict(files or {})
        self.budget = -1  # negative: unlimited
        self.steps = 0

    def _step(self):
        if self.budget == 0:
            raise PowerCutError()
        if self.budget > 0:
            self.budget -= 1
        self.steps += 1

    def read(self, name):
        return self.files.get(name)

    def write(self, name, data):
        if self.budget == 0:
            self.files[name] = bytes(data[: len(data) // 2])
            raise PowerCutError()
        self._step()
        self.files[name] = bytes(data)

    def rename(self, old, new):
        self._step()
        if new in self.files:
            raise OSError("exists")
        self.files[new] = self.files.pop(old)

    def remove(self, name):
        self._step()
        self.files.pop(name, None)


def test_defaults_are_valid():
    cfg, errors = validate({})
    assert errors == []
    assert cfg["quiet_answer"] == 480
    assert cfg["block_answer"] == 603
    assert cfg["repeat_call_minutes"] == 3
    assert cfg["international_prefix"] == "00"
    assert cfg["timezone"] == "UTC0"
    assert cfg["ata"] is None and cfg["provider"] is None
    assert "friendly-scanner" in cfg["scanner_user_agents"]
    assert cfg["version"] == config.VERSION


def test_a_full_valid_config():
    data = {
        "ata": "192.168.1.60:5060",
        "provider": "sip.example.net",
        "trusted": ["10.0.0.0/8", "192.0.2.7"],
        "timezone": "CET-1CEST,M3.5.0,M10.5.0/3",
        "quiet_hours": [
            {"days": "Mon-Fri", "start": "22:00", "end": "07:00"},
            {"days": "Sat,Sun", "start": "23:30", "end": "09:00"},
        ],
        "quiet_answer": "drop",
        "vip": ["+33 6 12 34 56 78", "0800*"],
        "block": ["(0899) 12-34.56"],
        "block_anonymous": True,
        "block_answer": 486,
        "repeat_call_minutes": 0,
        "international_prefix": "011",
    }
    cfg, errors = validate(data)
    assert errors == [], errors
    assert cfg["provider"] == "sip.example.net:5060"
    assert cfg["ata"] == "192.168.1.60:5060"
    assert cfg["quiet_answer"] == "drop"
    assert cfg["vip"] == ["+33 6 12 34 56 78", "0800*"]


def test_every_mistake_at_once_naming_key_and_value():
    data = {
        "ata": "192.168.1.60:99999",
        "trusted": ["10.0.0.0/33", "fred"],
        "timezone": "Mars/Olympus",
        "quiet_hours": [
            {"days": "Mon-Fri", "start": "22:00", "end": "07:00"},
            {"days": "Funday", "start": "25:00", "end": "7"},
        ],
        "quiet_answer": 404,
        "vip": ["12a4"],
        "block_anonymous": "yes",
        "repeat_call_minutes": -1,
        "international_prefix": "+",
        "colour": "red",
    }
    before = json.dumps(data)
    cfg, errors = validate(data)
    assert cfg is None
    text = "\n".join(errors)
    assert 'ata: "192.168.1.60:99999" is not a host:port' in text
    assert 'trusted[0]: "10.0.0.0/33" is not' in text
    assert 'trusted[1]: "fred" is not' in text
    assert 'timezone: "Mars/Olympus" is not a POSIX TZ string' in text
    assert 'quiet_hours[1].days: "Funday"' in text
    assert 'quiet_hours[1].start: "25:00" is not a time' in text
    assert 'quiet_hours[1].end: "7" is not a time' in text
    assert "quiet_answer: 404 is not one of 480, 486, 603" in text
    assert 'vip[0]: "12a4" is not a number' in text
    assert 'block_anonymous: "yes" is not true or false' in text
    assert "repeat_call_minutes: -1 is not a whole number" in text
    assert 'international_prefix: "+"' in text
    assert "colour: unknown key" in text
    assert len(errors) == 13, errors
    assert json.dumps(data) == before  # nothing changed


def test_missing_keys_come_from_base():
    base, _ = validate({"vip": ["123"], "block_answer": 403})
    cfg, errors = validate({"block_answer": 486}, base)
    assert errors == []
    assert cfg["vip"] == ["123"] and cfg["block_answer"] == 486
    assert base["block_answer"] == 403


def test_not_an_object():
    cfg, errors = validate([1, 2])
    assert cfg is None and "not a JSON object" in errors[0]


def test_quiet_window_shapes():
    ok = [
        {"days": "Daily", "start": "00:00", "end": "24:00"},
        {"days": "Fri-Mon", "start": "9:00", "end": "10:00"},
        {"days": "weekends", "start": "23:00", "end": "01:00"},
        {"days": "Monday, Wed", "start": "12:00", "end": "13:00"},
    ]
    assert validate({"quiet_hours": ok})[1] == []
    bad = [{"days": "Mon", "start": "22:00", "end": "22:00"}]
    errors = validate({"quiet_hours": bad})[1]
    assert errors == ['quiet_hours[0]: start and end are both "22:00"'], errors
    assert validate({"quiet_hours": [{"days": "Mon", "start": "24:00", "end": "01:00"}]})[1]
    assert validate({"quiet_hours": ["22:00-07:00"]})[1]


def test_version_newer_than_firmware():
    cfg, errors = validate({"version": config.VERSION + 1})
    assert cfg is None and "newer than this firmware" in errors[0]


def test_migration_path():
    def one_to_two(data):
        data["quiet_answer"] = int(data.pop("answer_while_quiet"))
        return data

    old = {"version": 1, "answer_while_quiet": "486"}
    new = config.migrate(old, {1: one_to_two}, 2)
    assert new == {"version": 2, "quiet_answer": 486}
    assert old == {"version": 1, "answer_while_quiet": "486"}
    assert config.migrate({"vip": []}) == {"vip": []}  # no version: version 1, as is


def test_register_a_setting_for_another_module():
    def check(key, value, errors):
        if not isinstance(value, str):
            errors.append("%s: not text" % key)
        return value

    config.register("test_setting", "x", check)
    try:
        assert validate({})[0]["test_setting"] == "x"
        assert validate({"test_setting": 3})[1] == ["test_setting: not text"]
    finally:
        config.KEYS.remove("test_setting")
        del config.DEFAULTS["test_setting"]
        del config._CHECKS["test_setting"]


def test_store_first_boot_uses_defaults_and_says_so():
    store = Store(MemoryStorage())
    cfg, problems = store.load()
    assert cfg == validate({})[0]
    assert problems == ["no config.json yet: using the defaults"]
    assert store.source == "defaults"


def test_store_save_then_load():
    mem = MemoryStorage()
    store = Store(mem)
    store.save(validate({"vip": ["123"]})[0])
    text = mem.files["config.json"].decode()
    assert '\n  "vip": ["123"],\n' in text  # one key per line for people
    cfg, problems = Store(mem).load()
    assert problems == [] and cfg["vip"] == ["123"]
    store.save(validate({"vip": ["456"]})[0])
    assert json.loads(mem.files["config.json.bak"])["vip"] == ["123"]
    assert "config.json.tmp" not in mem.files


def test_store_refuses_a_bad_config_and_writes_nothing():
    mem = MemoryStorage()
    try:
        Store(mem).save({"quiet_answer": 200})
        raise AssertionError("saved a bad config")
    except ValueError as e:
        assert "quiet_answer: 200" in str(e)
    assert mem.files == {}


def test_corrupt_file_falls_back_to_last_good():
    good = validate({"vip": ["123"]})[0]
    mem = MemoryStorage({"config.json": b'{"vip": [', "config.json.bak": json.dumps(good)})
    store = Store(mem)
    cfg, problems = store.load()
    assert cfg["vip"] == ["123"]
    assert store.source == "config.json.bak"
    assert problems == [
        "config.json is not valid JSON",
        "using the previous good file config.json.bak",
    ]


def test_invalid_file_falls_back_and_names_the_mistake():
    mem = MemoryStorage({"config.json": b'{"quiet_answer": 999}'})
    cfg, problems = Store(mem).load()
    assert cfg == validate({})[0]
    assert "config.json: quiet_answer: 999" in problems[0]
    assert problems[-1] == "using the defaults"


def test_saving_over_a_corrupt_file_keeps_the_good_backup():
    good = validate({"vip": ["123"]})[0]
    mem = MemoryStorage({"config.json": b"\xff\xfe", "config.json.bak": json.dumps(good)})
    Store(mem).save(validate({"vip": ["789"]})[0])
    assert json.loads(mem.files["config.json.bak"])["vip"] == ["123"]
    assert json.loads(mem.files["config.json"])["vip"] == ["789"]


def test_power_cut_at_every_step_leaves_old_or_new():
    old = validate({"vip": ["111"]})[0]
    new = validate({"vip": ["222"]})[0]
    # Count the steps of one uninterrupted save over an existing good file.
    probe = MemoryStorage()
    Store(probe).save(old)
    probe.steps = 0
    Store(probe).save(new)
    total = probe.steps
    assert total >= 3
    for cut in range(total + 1):
        for start in ({}, {"config.json": dumps_of(old)}):
            mem = MemoryStorage(start)
            if start:
                Store(mem).save(old)  # so a .bak exists too
            mem.budget = cut
            try:
                Store(mem).save(new)
            except PowerCutError:
                pass
            mem.budget = -1
            cfg, problems = Store(mem).load()
            if start:
                assert cfg["vip"] in (["111"], ["222"]), (cut, mem.files)
            else:
                assert cfg["vip"] in ([], ["222"]), (cut, mem.files)
            # The next save after the power comes back works and is read back.
            Store(mem).save(new)
            assert Store(mem).load() == (new, [])


def dumps_of(cfg):
    return config.dumps(cfg).encode()


def test_json_helpers_round_trip_with_backup():
    mem = MemoryStorage()
    store = Store(mem)
    assert store.read_json("counters.json") == (None, "counters.json is missing")
    store.write_json("counters.json", {"calls": 1})
    store.write_json("counters.json", {"calls": 2})
    assert store.read_json("counters.json") == ({"calls": 2}, "")
    mem.files["counters.json"] = b"{"
    value, problem = store.read_json("counters.json")
    assert value == {"calls": 1} and problem == "counters.json is not valid JSON"


def test_file_storage_on_the_real_file_system():
    import os

    folder = "host_tests/tmp_config_state"
    store = Store(folder)
    try:
        store.save(validate({"block": ["0899*"]})[0])
        store.save(validate({"block": ["0123"]})[0])
        cfg, problems = Store(folder).load()
        assert problems == [] and cfg["block"] == ["0123"]
        with open(folder + "/config.json.bak") as f:
            assert json.loads(f.read())["block"] == ["0899*"]
    finally:
        for name in os.listdir(folder):
            os.remove(folder + "/" + name)
        os.rmdir(folder)

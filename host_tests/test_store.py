# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
import json

from hushgate.configfile import dumps, pieces, validate
from hushgate.store import Store


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
        if not isinstance(data, bytes):  # pieces of str, as Store.write takes them
            data = "".join(data).encode()
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


def test_a_file_this_store_loaded_or_saved_is_not_read_back_before_the_next_save():
    # Reading and validating it again took two more copies of the config on the
    # heap while saving; a file changed behind the store's back is re-checked.
    good = validate({"vip": ["123"]})[0]
    mem = MemoryStorage({"config.json": dumps_of(good)})
    store = Store(mem)
    store.load()
    reads = []
    mem.read = lambda name: reads.append(name) or mem.files.get(name)
    store.save(validate({"vip": ["456"]})[0])
    store.save(validate({"vip": ["789"]})[0])
    assert reads == []
    assert json.loads(mem.files["config.json.bak"])["vip"] == ["456"]
    mem.files["config.json"] = b"\xff\xfe"
    fresh = Store(mem)  # knows nothing of the file: checks it, keeps the good .bak
    fresh.save(validate({"vip": ["999"]})[0])
    assert json.loads(mem.files["config.json.bak"])["vip"] == ["456"]


def test_a_failed_save_leaves_the_next_one_checking_the_file_again():
    mem = MemoryStorage()
    store = Store(mem)
    store.save(validate({"vip": ["111"]})[0])
    store.save(validate({"vip": ["222"]})[0])
    rename = mem.rename

    def failing_rename(old, new):
        if old.endswith(".tmp"):
            raise OSError("flash full")
        rename(old, new)

    mem.rename = failing_rename
    try:
        store.save(validate({"vip": ["333"]})[0])
    except OSError:
        pass
    mem.rename = rename
    assert "config.json" not in mem.files  # moved to .bak before the failed step
    store.save(validate({"vip": ["444"]})[0])
    assert json.loads(mem.files["config.json.bak"])["vip"] == ["222"]
    assert json.loads(mem.files["config.json"])["vip"] == ["444"]


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
    return dumps(cfg).encode()


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


def test_config_file_layout_and_its_pieces():
    numbers = ["06%08d" % i for i in range(100)]
    cfg = validate({"vip": numbers, "block": ["0899*"]})[0]
    text = dumps(cfg)
    assert json.loads(text) == cfg
    lines = text.split("\n")
    assert lines[0] == "{" and lines[-2:] == ["}", ""]
    assert len(lines) == len(cfg) + 3  # a key a line
    assert '  "block": ["0899*"],' in lines
    assert '  "vip": [%s],' % ", ".join('"%s"' % n for n in numbers) in lines
    # written and downloaded in short pieces: no block the file's size is needed
    assert max(len(p) for p in pieces(cfg)) < 64
    assert dumps({}) == "{\n}\n" and json.loads(dumps({})) == {}


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

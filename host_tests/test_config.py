# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
from hushgate import config


def test_defaults_copy_is_fresh():
    a = config.defaults()
    a["vip"].append("123")
    assert config.DEFAULTS["vip"] == [] and config.defaults()["vip"] == []
    assert a["quiet_answer"] == 480 and a["version"] == config.VERSION


def test_validation_and_store_load_on_first_use():
    import sys

    from hushgate import configfile, store

    assert config.validate is configfile.validate
    assert config.Store is store.Store
    assert configfile.Store is store.Store  # where it was before store.py
    assert "hushgate.configfile" in sys.modules
    try:
        config.nonsense  # noqa: B018
        raise AssertionError("config.nonsense exists")
    except AttributeError:
        pass


def test_parse_days():
    assert config.parse_days("Mon-Fri") == 0x1F
    assert config.parse_days("Sat,Sun") == 0x60
    assert config.parse_days("Daily") == 0x7F
    assert config.parse_days("Fri-Mon") == 0x71
    assert config.parse_days("sunday") == 0x40
    assert config.parse_days("Mo") is None
    assert config.parse_days("Mon-Frx") is None
    assert config.parse_days("") is None


def test_parse_time():
    assert config.parse_time("07:30") == 450
    assert config.parse_time("7:05") == 425
    assert config.parse_time("24:00") is None
    assert config.parse_time("24:00", True) == 1440
    assert config.parse_time("12:60") is None
    assert config.parse_time("1200") is None
    assert config.parse_time(700) is None


def test_networks():
    nets = [config.network("10.0.0.0/8"), config.network("192.0.2.7")]
    assert config.in_networks("10.200.1.1", nets)
    assert config.in_networks("192.0.2.7", nets)
    assert not config.in_networks("192.0.2.8", nets)
    assert not config.in_networks("11.0.0.1", nets)
    assert not config.in_networks("nonsense", nets)
    assert config.network("0.0.0.0/0") == (0, 0)
    assert config.network("1.2.3.4/24") == (0x01020300, 0xFFFFFF00)
    assert config.network("1.2.3/24") is None
    assert config.network("1.2.3.256") is None


def test_host_port():
    assert config.host_port("sip.example.net") == ("sip.example.net", 5060)
    assert config.host_port("127.0.0.2:5070") == ("127.0.0.2", 5070)
    assert config.host_port("a b:5060") is None
    assert config.host_port(":5060") is None
    assert config.host_port("x:0") is None


def test_number_patterns():
    assert config.number_matches("0033147310370", "+33 1 47 31 03 70", "00")
    assert config.number_matches("+33147310370", "0033147310370", "00")
    assert config.number_matches("+33147310370", "+33*", "00")
    assert not config.number_matches("+33147310370", "0033*", "011")
    assert config.number_matches("01133147310370", "+33*", "011")
    assert config.number_matches("08991234", "(0899) *", "00")
    assert not config.number_matches("0899", "08991*", "00")
    assert not config.number_matches("", "0*", "00")
    assert config.parse_pattern("*", "00") is None
    assert config.parse_pattern("+", "00") is None
    assert config.parse_pattern("1*2", "00") is None


def test_block_and_allow_number():
    cfg = config.defaults()
    cfg["vip"] = ["0612345678"]
    cfg["block"] = ["0899*"]
    blocked = config.block_number(cfg, "06 12 34 56 78")
    assert blocked["vip"] == [] and "06 12 34 56 78" in blocked["block"]
    assert cfg["vip"] == ["0612345678"]  # the original is untouched
    again = config.block_number(blocked, "0899111")
    assert again["block"] == blocked["block"]  # already caught by the prefix
    allowed = config.allow_number(blocked, "0612345678")
    assert allowed["block"] == ["0899*"] and allowed["vip"] == ["0612345678"]
    try:
        config.allow_number(cfg, "0899111")
        raise AssertionError("allowed a number a prefix blocks")
    except ValueError as e:
        assert "0899*" in str(e)
    assert config.block_number(cfg, "")["block_anonymous"] is True
    assert config.allow_number(config.block_number(cfg, ""), "")["block_anonymous"] is False
    assert config.validate(blocked)[1] == []


def test_register_a_setting_for_another_module():
    def check(key, value, errors):
        if not isinstance(value, str):
            errors.append("%s: not text" % key)
        return value

    config.register("test_setting", "x", check)
    try:
        assert config.validate({})[0]["test_setting"] == "x"
        assert config.validate({"test_setting": 3})[1] == ["test_setting: not text"]
    finally:
        config.KEYS.remove("test_setting")
        del config.DEFAULTS["test_setting"]
        del config.EXTRA_CHECKS["test_setting"]


def test_release_drops_validation_until_needed_again():
    import gc
    import sys

    assert config.validate({})[1] == []
    assert "hushgate.configfile" in sys.modules
    gc.collect()
    loaded = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    config.release()
    gc.collect()
    released = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    assert "hushgate.configfile" not in sys.modules
    # On MicroPython the module's code goes back to the heap (its names stay interned).
    assert loaded - released >= (4000 if hasattr(gc, "mem_alloc") else 0), loaded - released
    assert config.validate({"quiet_answer": 7})[0] is None  # loaded again
    assert "hushgate.configfile" in sys.modules

# Runs on CPython and MicroPython (tools/mptest.py): plain functions, plain asserts.
import json

from hushgate import configfile as config
from hushgate.configfile import validate


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

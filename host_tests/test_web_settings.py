# The settings page through Web.serve (CPython; MicroPython with a 180k heap, see
# docs/web.md: saving the form needs the validation code, the page and the
# test harness at once): every config key a field, errors by field with what was
# typed kept and nothing saved, download/upload, password change, 16 KB pages.
import json

from support import registry, restore
from test_web import (
    PAGE_LIMIT,
    PASSWORD,
    file_config,
    form,
    get,
    logged_in,
    page_module,
    post_form,
    record,
)

from hushgate import config


def settings_form(token, **changes):
    fields = {
        "csrf": token,
        "ata": "192.168.1.60:5060",
        "provider": "sip.example.net:5060",
        "timezone": "CET-1CEST,M3.5.0,M10.5.0/3",
        "tzpick": "",
        "quiet_answer": "480",
        "vip": "0612345678\r\n+33 6 99 99 99 99\r\n",
        "repeat_call_minutes": "5",
        "block": "0900*",
        "block_answer": "603",
        "international_prefix": "00",
        "trusted": "",
        "scanner_user_agents": "friendly-scanner\nsipvicious",
        "rate_burst": "30",
        "rate_per_second": "5",
        "ban_minutes": "10",
        "sources_tracked": "64",
        "call_log_size": "50",
        "qn": "3",
        # a ticked day's box: q<window><day> (an empty list leaves it out)
        "q0Mon": "on",
        "q0Tue": "on",
        "q0Wed": "on",
        "q0Thu": "on",
        "q0Fri": "on",
        "q0s": "22:00",
        "q0e": "07:00",
        "q1Sat": "on",
        "q1Sun": "on",
        "q1s": "23:00",
        "q1e": "09:00",
    }
    fields.update(changes)
    return form(**fields)


def test_settings_form_has_every_config_key():
    ctx, app, client, token = logged_in()
    text = get(client, "/settings").text
    for key in config.KEYS:
        if key == "version":
            continue
        if key == "quiet_hours":
            assert "name=q0Mon>Mon</label>" in text and "name=q1s" in text
        else:
            assert "name=%s " % key in text or "name=%s>" % key in text, key
    assert "id=tzpick" in text and "CET-1CEST,M3.5.0,M10.5.0/3" in text
    assert 'action="/upload"' in text and 'href="/config.json"' in text


def test_settings_saved_when_valid():
    ctx, app, client, token = logged_in()
    ctx.config_problems = ["config.json is not valid JSON"]
    assert "not valid JSON" in get(client, "/").text
    res = post_form(client, "/settings", settings_form(token, block_anonymous="1"))
    assert res.status_code == 303, res.text
    assert "not valid JSON" not in get(client, "/").text
    cfg = ctx.config
    assert cfg["ata"] == "192.168.1.60:5060" and cfg["repeat_call_minutes"] == 5
    assert cfg["vip"] == ["0612345678", "+33 6 99 99 99 99"] and cfg["block"] == ["0900*"]
    assert cfg["quiet_hours"] == [
        {"days": "Mon-Fri", "start": "22:00", "end": "07:00"},
        {"days": "Sat-Sun", "start": "23:00", "end": "09:00"},
    ]
    assert cfg["block_anonymous"] is True and cfg["scanner_user_agents"] == [
        "friendly-scanner",
        "sipvicious",
    ]
    assert file_config(ctx) == cfg
    text = get(client, "/settings").text
    assert "name=q0Fri checked>" in text and "name=q0Sat>" in text
    assert "name=q1Sun checked>" in text and "value=23:00>" in text
    # ticking nothing for a window removes it; an empty ata means "not set"
    res = post_form(
        client,
        "/settings",
        settings_form(token, q1Sat=[], q1Sun=[], q1s="", q1e="", ata="", tzpick="UTC0"),
    )
    assert res.status_code == 303
    assert len(ctx.config["quiet_hours"]) == 1 and ctx.config["ata"] is None
    assert ctx.config["timezone"] == "UTC0"  # the zone picked in the list wins
    assert ctx.config["block_anonymous"] is False


def test_settings_errors_shown_by_the_field_with_input_kept_and_nothing_saved():
    ctx, app, client, token = logged_in()
    before_file = ctx.store.storage.read("config.json")
    before = json.dumps(ctx.config)
    res = post_form(
        client,
        "/settings",
        settings_form(token, q0s="25:00", repeat_call_minutes="abc", vip="06123\nnot a number"),
    )
    assert res.status_code == 400
    text = res.text
    assert "Nothing was saved" in text
    assert "value=25:00>" in text and "value=abc>" in text and "not a number</textarea>" in text
    assert "quiet_hours[0].start" in text and "repeat_call_minutes" in text and "vip[1]" in text
    # each message sits after its own field
    assert text.index("repeat_call_minutes:") > text.index("name=repeat_call_minutes ")
    assert text.index("repeat_call_minutes:") < text.index("name=block>")
    assert text.index("vip[1]") > text.index("name=vip>") and text.index("vip[1]") < text.index(
        "name=repeat_call_minutes "
    )
    assert json.dumps(ctx.config) == before and ctx.applied == []
    assert ctx.store.storage.read("config.json") == before_file


def test_settings_form_that_does_not_parse_is_refused():
    ctx, app, client, token = logged_in()
    res = post_form(client, "/settings", settings_form(token) + "&ata=%zz")
    assert res.status_code in (400, 403) and ctx.applied == []
    res = post_form(client, "/settings", b"csrf=" + token.encode() + b"&ata=%ff%fe")
    assert res.status_code == 400 and ctx.applied == []


def test_download_and_upload_config():
    ctx, app, client, token = logged_in()
    res = get(client, "/config.json")
    assert "attachment" in res.headers["Content-Disposition"]
    saved = json.loads(res.text)
    assert saved == ctx.config
    saved["block"] = ["0033147310370"]
    boundary = "----hgtest"
    body = (
        '--%s\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n%s\r\n'
        '--%s\r\nContent-Disposition: form-data; name="file"; filename="c.json"\r\n'
        "Content-Type: application/json\r\n\r\n%s\r\n--%s--\r\n"
    )
    mp = {"Content-Type": "multipart/form-data; boundary=" + boundary}
    ok = body % (boundary, token, boundary, json.dumps(saved), boundary)
    res = client.post("/upload", headers=dict(mp), body=ok)
    assert res.status_code == 303 and ctx.config["block"] == ["0033147310370"]
    saved["repeat_call_minutes"] = 999
    bad = body % (boundary, token, boundary, json.dumps(saved), boundary)
    res = client.post("/upload", headers=dict(mp), body=bad)
    assert res.status_code == 400 and "Nothing was loaded" in res.text
    assert ctx.config["repeat_call_minutes"] == 3 and len(ctx.applied) == 1
    junk = body % (boundary, token, boundary, "{not json", boundary)
    res = client.post("/upload", headers=dict(mp), body=junk)
    assert res.status_code == 400 and "Not a config file" in res.text
    forged = body % (boundary, "f" * 32, boundary, json.dumps(saved), boundary)
    assert (client.post("/upload", headers=dict(mp), body=forged)).status_code == 403
    assert len(ctx.applied) == 1


def test_change_password():
    ctx, app, client, token = logged_in()
    new = "a new long password"
    res = post_form(
        client, "/password", form(csrf=token, old="wrong!!", password=new, confirm=new)
    )
    assert res.status_code == 400 and "current password is wrong" in res.text
    res = post_form(client, "/password", form(csrf=token, old=PASSWORD, password=new, confirm="x"))
    assert res.status_code == 400 and "differ" in res.text
    res = post_form(client, "/password", form(csrf=token, old=PASSWORD, password=new, confirm=new))
    assert res.status_code == 303
    assert app.auth.check_password(new) and len(app.auth.sessions) == 1
    assert get(client, "/").status_code == 200


# The longest values a board's own settings (net.Board.options()) may hold, as
# net._check_setting allows them: '"' is what escaping lengthens most (&quot;).
BOARD_WORST = {
    "net_address": "255.255.255.255/32",
    "net_gateway": "255.255.255.255",
    "net_dns": "255.255.255.255",
    "hostname": '"' * 32,
    "ntp_server": '"' * 64,
    "wifi_ssid": '"' * 32,
    "wifi_password": '"' * 64,
    "wifi_country": "FR",
}


def worst_sizes(ctx, client, token, board=None):
    """Every page's size with its CSS and script, in the worst case: a full call log
    of the longest escaped numbers and names, ten quiet windows, 100 VIP and 100
    blocked numbers, and `board` (the board's settings) at their longest."""
    worst = '"' * ctx.log.max_name
    for _ in range(ctx.log.size):
        record(ctx, "<" * ctx.log.max_number, worst, "blocked", 1, 603, "&" * 80)
    css = len(get(client, "/s.css").body) + len(get(client, "/s.js").body)
    cfg = dict(ctx.config)
    cfg["quiet_hours"] = [{"days": "Mon-Sun", "start": "22:00", "end": "07:00"}] * 10
    cfg["vip"] = ["0612345678"] * 100
    cfg["block"] = ["0033147310370*"] * 100
    cfg.update(board or {})
    ctx.config, errors = config.validate(cfg)
    config.release()  # as the app does: the validation code only while it validates
    assert not errors, errors
    for key, value in (board or {}).items():
        assert ctx.config[key] == value, key
    sizes = {}
    for path in ("/", "/calls", "/calls?page=1", "/settings"):
        sizes[path] = len(get(client, path).body) + css
    # the settings page full of errors, all input kept
    changes = dict(board or {})
    changes.update(q0s="99:99", vip="x\n" * 100)
    res = post_form(client, "/settings", settings_form(token, **changes))
    assert res.status_code == 400 and "Nothing was saved" in res.text
    sizes["/settings (errors)"] = len(res.body) + css
    client.cookies = {}
    sizes["/login"] = len(get(client, "/login").body) + css
    return sizes


def test_every_page_with_its_css_fits_16_kb():
    ctx, app, client, token = logged_in()
    sizes = worst_sizes(ctx, client, token)
    for path, size in sizes.items():
        assert size <= PAGE_LIMIT, (path, size)
    assert sizes["/calls"] > 8 * 1024  # the worst case really was rendered


def test_settings_page_of_a_board_fits_16_kb():
    # A real board registers its own keys (net.Board.options(): address, host name,
    # NTP, Wi-Fi) and the form shows them too: the worst case has them at their longest.
    from hushgate import net

    saved = registry()
    try:
        ctx, app, client, token = logged_in()
        net.Board("x", None, led_pin=2, button_pin=0, state_dir=ctx.state_dir).options()
        sizes = worst_sizes(ctx, client, token, BOARD_WORST)
        for path in ("/settings", "/settings (errors)"):
            assert sizes[path] <= PAGE_LIMIT, (path, sizes[path])
    finally:
        restore(saved)


def test_multipart_parser():
    multipart = page_module("pagebackup").multipart
    body = (
        b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\n{\r\n}\r\n--b--\r\n'
    )
    assert multipart(body, "multipart/form-data; boundary=b") == {"a": b"1", "f": b"{\r\n}"}
    assert multipart(b"junk", "multipart/form-data; boundary=b") == {}
    swapped = b'--b\r\nContent-Disposition: form-data; filename="x"; name="f"\r\n\r\n1\r\n--b--'
    assert multipart(swapped, "multipart/form-data; boundary=b") == {"f": b"1"}
    try:
        multipart(body, "multipart/form-data")
        raise AssertionError("no boundary accepted")
    except ValueError:
        pass


def test_day_pickers_round_trip():
    day_set = page_module("pagesettings").day_set
    day_text = page_module("pagesave").day_text
    for text, days in (
        ("Mon-Fri", {0, 1, 2, 3, 4}),
        ("Sat,Sun", {5, 6}),
        ("Fri-Mon", {4, 5, 6, 0}),
        ("Mon,Wed-Thu", {0, 2, 3}),
        ("nonsense", set()),
    ):
        assert day_set(text) == days, text
    assert day_text({0, 1, 2, 3, 4}) == "Mon-Fri"
    assert day_text({4, 5, 6, 0}) == "Mon,Fri-Sun"
    assert day_text({0, 2, 3}) == "Mon,Wed-Thu"
    for mask in range(1, 128):
        days = {i for i in range(7) if mask >> i & 1}
        assert day_set(day_text(days)) == days
        assert config.parse_days(day_text(days)) == mask


def test_keys_other_modules_register_get_fields():
    def check(key, value, errors):
        if not isinstance(value, str):
            errors.append("%s: not text" % key)
        return value

    saved = registry()
    try:
        config.register("wifi_password", "", check)
        config.register("mystery_setting", "abc", check)
        ctx, app, client, token = logged_in()
        ctx.config = config.validate({})[0]
        text = get(client, "/settings").text
        secret = '<input type=password name=wifi_password value="" autocomplete=new-password>'
        assert secret in text
        assert "<input name=mystery_setting value=abc></label>" in text
        body = settings_form(token, wifi_password=" secret with spaces ", mystery_setting="")
        res = post_form(client, "/settings", body)
        assert res.status_code == 303, res.text
        assert ctx.config["wifi_password"] == " secret with spaces "
        assert ctx.config["mystery_setting"] == ""
        # A saved password is never written into the page; left empty, it is kept.
        text = get(client, "/settings").text
        assert "secret with spaces" not in text and secret in text
        assert "saved; leave empty to keep it" in text
        res = post_form(client, "/settings", settings_form(token, mystery_setting="x"))
        assert res.status_code == 303, res.text
        assert ctx.config["wifi_password"] == " secret with spaces "
        # A refused save shows back what was typed (this request's own), not the saved one.
        body = settings_form(token, wifi_password="new one", repeat_call_minutes="-1")
        res = post_form(client, "/settings", body)
        assert res.status_code == 400
        assert 'name=wifi_password value="new one" autocomplete' in res.text
        assert "secret with spaces" not in res.text
        assert ctx.config["wifi_password"] == " secret with spaces "
    finally:
        restore(saved)


def test_settings_save_on_a_board_whose_settings_joined_the_config():
    # A board's net.Board.options() registers its own keys (address, host name, NTP,
    # Wi-Fi) before the config is read: the form shows them and must still save.
    from hushgate import net

    saved = registry()
    try:
        ctx, app, client, token = logged_in()
        net.Board("x", None, led_pin=2, button_pin=0, state_dir=ctx.state_dir).options()
        ctx.config = config.validate(ctx.config)[0]  # as the app loads config.json
        text = get(client, "/settings").text
        assert "name=hostname value=hushgate>" in text
        assert "name=ntp_server value=pool.ntp.org>" in text
        board = {"net_address": "dhcp", "hostname": "hushgate", "ntp_server": "pool.ntp.org"}
        res = post_form(client, "/settings", settings_form(token, **board))
        assert res.status_code == 303, res.text
        assert ctx.config["hostname"] == "hushgate" and ctx.config["repeat_call_minutes"] == 5
        # an empty field means the setting's default
        board = {"net_address": "", "hostname": "", "ntp_server": "", "wifi_ssid": "home"}
        res = post_form(client, "/settings", settings_form(token, **board))
        assert res.status_code == 303, res.text
        cfg = ctx.config
        assert (cfg["net_address"], cfg["hostname"], cfg["ntp_server"]) == (
            "dhcp",
            "hushgate",
            "pool.ntp.org",
        )
        assert cfg["wifi_ssid"] == "home" and file_config(ctx) == cfg
        # a mistake in one of them is shown by its field, and nothing is saved
        before = ctx.store.storage.read("config.json")
        res = post_form(client, "/settings", settings_form(token, wifi_country="DEU"))
        assert res.status_code == 400
        assert "wifi_country: &#39;DEU&#39; is not a two-letter country code" in res.text
        assert ctx.store.storage.read("config.json") == before
    finally:
        restore(saved)

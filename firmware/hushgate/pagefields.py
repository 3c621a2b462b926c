# The settings form's fields, shared by the page that draws the form
# (hushgate.pagesettings) and the one that reads it back (hushgate.pagesave), so
# saving need not load the drawing code next to the validation code. Tables are
# text, a row a line, read a row at a time (as tuples they cost the heap several
# times their size).


def settings_fields(config):
    """The form's fields (key, label, kind, help), one at a time: the known keys
    with their labels, then any other key of the config by the type of its value."""
    for row in table_rows(FIELDS):
        if row[0] in config:
            yield row
    for key in sorted(config):
        if key == "version" or FIELDS.find("\n" + key + "|") >= 0:
            continue
        value = config[key]
        if isinstance(value, bool):
            kind = "bool"
        elif isinstance(value, int):
            kind = "int"
        elif value is None:
            kind = "opt"
        elif isinstance(value, str):
            kind = "text"
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            kind = "lines"
        else:
            kind = "json"
        yield key, key.replace("_", " "), kind, ""


# "key|label|kind|help". Keys in the config but not here get a field by type.
FIELDS = """
ata|ATA address|opt|host:port of the phone adapter
provider|Provider's SIP server|opt|host:port, a name or an address
timezone|Time zone|tz|
quiet_hours|Quiet hours|windows|A window may cross midnight (22:00 to 07:00), \
on the days it starts. To remove one, untick all and clear the times.
quiet_answer|While quiet, callers hear|choice|
vip|Always ring (VIP numbers)|lines|One per line; end with * for a prefix.
repeat_call_minutes|Repeat call rings through within (minutes)|int|0: off
block|Never ring (blocked numbers)|lines|One per line; end with * for a prefix.
block_anonymous|Block callers without a number|bool|
block_answer|Blocked callers hear|choice|
international_prefix|International dialling prefix|text|00, 011, 0011
trusted|Other trusted sources|lines|Addresses or networks, one per line.
scanner_user_agents|Scanner User-Agents|lines|Dropped silently.
rate_burst|Datagrams a source may send in a burst|int|
rate_per_second|Then per second|int|
ban_minutes|Ban a source that floods for (minutes)|int|
sources_tracked|Sources tracked by the rate limit|int|
call_log_size|Calls kept in the log|int|
net_address|This box's address|text|"dhcp" or a.b.c.d/24
net_gateway|Gateway|text|with a fixed address
net_dns|DNS server|text|with a fixed address
hostname|Host name|text|
ntp_server|Time server (NTP)|text|
wifi_ssid|Wi-Fi network|text|
wifi_password|Wi-Fi password|secret|
wifi_country|Wi-Fi country|text|two letters, e.g. FR
"""


def table_rows(table):
    """The rows of a table above, each a list of its columns, one at a time."""
    i = 1
    while i < len(table):
        j = table.find("\n", i)
        yield table[i:j].split("|")
        i = j + 1

# The host board's command line (tools/run's options), read once at boot:
# board.options() loads this module and drops it again.
import sys

USAGE = """usage: tools/run [options]
  --listen HOST:PORT    SIP address hushgate binds (default 127.0.0.1:5060)
  --ata HOST:PORT       the ATA behind hushgate (overrides config.json "ata")
  --provider HOST:PORT  the SIP provider (overrides config.json "provider")
  --web HOST:PORT       the web page (default 127.0.0.1:8080)
  --state DIR           folder for config.json and counters (default ./state)
  --clock unset         behave as a board before NTP answered (schedules off)
stdin: "b" + Enter = short button press, "l" + Enter = long press (2.5 s),
       "m" + Enter = print the heap in use (after a collection)"""


def _address(text, default_port):
    host, _, port = text.rpartition(":")
    if not host:
        host, port = port, default_port
    return host, int(port)


def parse(argv):
    """board.options(): the command line as a dict; exits with the usage on a mistake."""
    opts = {
        "listen": ("127.0.0.1", 5060),
        "ata": None,
        "provider": None,
        "web": ("127.0.0.1", 8080),
        "state": "state",
        "clock": True,
    }
    i = 0
    try:
        while i < len(argv):
            flag = argv[i]
            if flag in ("-h", "--help"):
                print(USAGE)
                sys.exit(0)
            value = argv[i + 1]
            if flag in ("--listen", "--web"):
                opts[flag[2:]] = _address(value, 5060 if flag == "--listen" else 80)
            elif flag in ("--ata", "--provider"):
                _address(value, 5060)  # validated here, kept as text for config.json
                opts[flag[2:]] = value
            elif flag == "--state":
                opts["state"] = value
            elif flag == "--clock" and value == "unset":
                opts["clock"] = False
            else:
                raise ValueError(flag)
            i += 2
    except (IndexError, ValueError):
        print("hushgate: bad option near %r\n%s" % (" ".join(argv[i : i + 2]), USAGE))
        sys.exit(2)
    return opts

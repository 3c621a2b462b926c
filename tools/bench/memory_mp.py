# Runs inside MicroPython (tools/bench_memory.py starts it): the firmware's heap
# under an ESP32-sized heap. Prints "key value" lines for the CPython side.
import gc
import sys

import micropython

PHASE_MODULES = (
    # What the app imports at start, in the order it does.
    "hushgate.compat",
    "hushgate.sip",
    "hushgate.proxy",
    "hushgate.limiter",
    "hushgate.config",
    "hushgate.store",
    "hushgate.state",
    "hushgate.tz",
    "hushgate.calllog",
    "hushgate.gate",
    "hushgate.udp",
    "hushgate.app",
    "hushgate.panel",
    "hushgate.auth",
    "hushgate.web",
    "board",
)
WEB_MODULES = ("hushgate.http", "hushgate.pagesend", "hushgate.pages", "hushgate.pagestatus")


def used():
    gc.collect()
    return gc.mem_alloc()


def say(key, value):
    print(key, value)


class Peak:
    """The heap's high-water mark, sampled with the collector kept close behind.

    gc.threshold makes the collector run after every few KB allocated, so a sample
    of mem_alloc() is live data plus at most that much garbage: an upper bound of
    what the firmware needs at that moment.
    """

    def __init__(self, slack):
        self.top = 0
        gc.threshold(slack)

    def sample(self):
        n = gc.mem_alloc()
        if n > self.top:
            self.top = n


def mount_rom(path):
    """The firmware's ROMFS image at /rom, its .mpy files run in place, mounted as
    tools/romboot.py boots the firmware. The unix port has no ROM partition: the image
    is read onto the heap, before the baseline, so that it counts in no figure
    (tools/bench_memory.py enlarges the heap by the image's size). On a board it is
    flash."""
    from romboot import mount

    say("rom_on_heap", mount(path))
    del sys.modules["romboot"]


def main(argv):
    if len(argv) > 5:
        mount_rom(argv[5])
    import workload  # the bench's own code, before the baseline: not the firmware's

    datagrams = int(argv[1]) if len(argv) > 1 else 10000
    pages = int(argv[2]) if len(argv) > 2 else 100
    state = argv[3] if len(argv) > 3 else "/tmp/hushgate-bench-state"
    saves = int(argv[4]) if len(argv) > 4 else 5
    base = used()
    say("baseline", base)
    before = base
    for name in PHASE_MODULES:
        __import__(name)
        now = used()
        say("import " + name, now - before)
        before = now
    own = used() - base
    say("after_import_own", own)
    for name in WEB_MODULES:
        __import__(name)
        now = used()
        say("import " + name, now - before)
        before = now
    say("after_import_all", used() - base)
    # The web page loads these per request and drops them again; so does the bench.
    for name in list(sys.modules):
        if name.split(".")[0] == "microdot" or name in WEB_MODULES:
            sys.modules.pop(name)
    import hushgate

    for name in WEB_MODULES:
        if name.startswith("hushgate.") and hasattr(hushgate, name[9:]):
            delattr(hushgate, name[9:])
    peak = Peak(4096)
    app = workload.start(state)
    say("after_start", used() - base)
    marks = workload.push(app, datagrams, peak)
    for i, mark in enumerate(marks):
        say("datagrams_%d" % ((i + 1) * 1000), mark - base)
    web = workload.serve(app, pages, peak)
    say("web_requests", web["requests"])
    say("web_errors", web["errors"])
    say("after_run", used() - base)
    say("peak", peak.top - base)
    if saves:
        # Saving the settings loads the validation code on top of everything: its own peak.
        peak = Peak(4096)
        saved = workload.settings(app, saves, peak)
        say("settings_requests", saved["requests"])
        say("settings_errors", saved["errors"])
        say("peak_settings", peak.top - base)
        say("after_settings", used() - base)
    say("heap_free", gc.mem_free())
    micropython.mem_info()


try:
    main(sys.argv)
except MemoryError as e:
    print("MemoryError", e, gc.mem_alloc(), gc.mem_free())
    sys.exit(3)

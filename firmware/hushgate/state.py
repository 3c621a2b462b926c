# The state folder at boot: config.json loaded (or created, on a first boot), before
# anything else is imported. The config's validation code and the SIP machinery do
# not fit a 110 KB heap side by side, so main.py runs this first and the validation
# code is released before hushgate.app is imported.
import sys

from hushgate import config, store


def load(opts):
    """(store, config, problems) for the folder opts["state"].

    opts["ata"] / opts["provider"], when given, override the file's values; on a
    first boot they are written into the new config.json.
    """
    folder = opts["state"]
    kept = store.Store(folder)
    first_boot = kept.storage.read(store.FILE) is None
    first_boot = first_boot and kept.storage.read(store.FILE + ".bak") is None
    cfg, problems = kept.load()
    for key in ("ata", "provider"):
        if opts.get(key):
            cfg[key] = opts[key]
    if first_boot:
        # A new state folder gets a config.json to edit; that is a start, not a
        # problem to show on the LED.
        sys.stderr.write("config: new %s/config.json with the defaults\n" % folder)
        cfg = kept.save(cfg)
        problems = []
    config.release()  # needed again only to save
    for problem in problems:
        sys.stderr.write("config: %s\n" % problem)
    return kept, cfg, problems

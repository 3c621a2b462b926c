# The state folder: config.json and small JSON files, replaced atomically.
#
# Everything goes through a storage object with four calls (read, write, rename,
# remove), so tests can cut the power between any two steps and check that the old
# or the new file survives; Store(folder) is its own, on the file system. Reading
# and writing config.json itself (validation, the fallback to the last good file,
# the layout) is in hushgate/configfile.py, loaded only while a config file is read
# or written.
import json
import os

FILE = "config.json"


class Store:
    """The state folder: config.json and small JSON files, written atomically.

    Store(folder) is also its own storage (read, write, rename, remove on the files
    in folder: the only place that touches the file system); Store(storage) uses
    another, such as the tests' power-cutting one. One class, not two: each costs
    heap for as long as the firmware runs.
    """

    # Which file the config in use came from: the one the last load() used, or
    # "defaults"; config.json after a save (known good: not read back before the next).
    source = None

    def __init__(self, folder):
        if not isinstance(folder, str):
            self.storage = folder
            return
        self.storage = self
        self.folder = folder.rstrip("/") + "/"  # a file's name is appended to this
        try:
            os.mkdir(self.folder[:-1] or "/")
        except OSError:
            pass

    # -- the storage interface, on the file system --

    def read(self, name):
        try:
            with open(self.folder + name, "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, name, data):
        """data: bytes, or an iterable of str written a piece at a time."""
        with open(self.folder + name, "wb") as f:
            if isinstance(data, bytes):
                f.write(data)
            else:
                for piece in data:
                    f.write(piece.encode())
            f.flush()
            try:
                os.fsync(f.fileno())
            except (AttributeError, OSError):
                pass

    def rename(self, old, new):
        os.rename(self.folder + old, self.folder + new)

    def remove(self, name):
        try:
            os.remove(self.folder + name)
        except OSError:
            pass

    # -- JSON files, replaced atomically --

    def read_json(self, name):
        """(value, problem): the file's JSON, else its .bak's; problem is "" when fine."""
        problems = []
        for candidate in (name, name + ".bak"):
            raw = self.storage.read(candidate)
            if raw is None:
                if candidate == name:
                    problems.append("%s is missing" % name)
                continue
            try:
                return json.loads(raw), "; ".join(problems)
            except (ValueError, UnicodeError):
                problems.append("%s is not valid JSON" % candidate)
        return None, "; ".join(problems)

    def write_json(self, name, obj, text=None):
        """Replace name so that a power cut at any point leaves the old or the new file.

        text: obj's JSON if not json.dumps(obj), as a str or an iterable of str pieces.
        """
        if text is None:
            text = json.dumps(obj)
        self.storage.write(name + ".tmp", text.encode() if isinstance(text, str) else text)
        kept = self._worth_keeping(name)
        if name == FILE:
            self.source = None  # until this save is through: a failed one is re-checked
        if kept:
            self.storage.remove(name + ".bak")
            self.storage.rename(name, name + ".bak")
        elif kept is not None:
            self.storage.remove(name)
        self.storage.rename(name + ".tmp", name)
        if name == FILE:
            self.source = FILE

    def _worth_keeping(self, name):
        # Is the file being replaced good enough to become the .bak? (A broken one
        # must not push the last good one out.) None: there is none.
        if name == FILE and self.source == FILE:
            return True  # as load() or the last save left it: not read back and checked
        old = self.storage.read(name)
        if old is None:
            return None
        try:
            good = json.loads(old)
            if name == FILE:
                from hushgate.configfile import migrate, validate

                good = validate(migrate(good))[0]
            return good is not None
        except (ValueError, UnicodeError):
            return False

    def load(self):
        """(config, problems): always a usable config; problems say what went wrong."""
        from hushgate.configfile import load_config

        return load_config(self)

    def save(self, config):
        """Validate, then write atomically. Raises ValueError listing every mistake."""
        from hushgate.configfile import save_config

        return save_config(self, config)


# The file-system storage alone (as before it was Store's own): Store(folder).
FileStorage = Store

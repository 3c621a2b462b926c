# The state folder: config.json and small JSON files, replaced atomically.
#
# Everything goes through a storage object with four calls (read, write, rename,
# remove), so tests can cut the power between any two steps and check that the old
# or the new file survives. FileStorage is the real one. Validation is loaded only
# while a config file is read or written (hushgate/configfile.py).
import json

from hushgate.config import KEYS

FILE = "config.json"


class FileStorage:
    """Files in one folder; the only place that touches the file system."""

    def __init__(self, folder):
        self.folder = folder.rstrip("/") or "/"
        try:
            import os

            os.mkdir(self.folder)
        except OSError:
            pass

    def _path(self, name):
        return self.folder + "/" + name

    def read(self, name):
        try:
            with open(self._path(name), "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, name, data):
        with open(self._path(name), "wb") as f:
            f.write(data)
            f.flush()
            try:
                import os

                os.fsync(f.fileno())
            except (AttributeError, OSError):
                pass

    def rename(self, old, new):
        import os

        os.rename(self._path(old), self._path(new))

    def remove(self, name):
        import os

        try:
            os.remove(self._path(name))
        except OSError:
            pass


def dumps(obj):
    """JSON with one top-level key per line, so people can edit the file."""
    if not isinstance(obj, dict):
        return json.dumps(obj)
    lines = []
    order = [k for k in KEYS if k in obj] + [k for k in obj if k not in KEYS]
    for key in order:
        lines.append("  %s: %s" % (json.dumps(key), json.dumps(obj[key])))
    return "{\n" + ",\n".join(lines) + "\n}\n"


class Store:
    """The state folder: config.json and small JSON files, written atomically."""

    def __init__(self, folder):
        self.storage = FileStorage(folder) if isinstance(folder, str) else folder
        self.source = None  # which file the last load() used, or "defaults"

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
        """Replace name so that a power cut at any point leaves the old or the new file."""
        data = (text if text is not None else json.dumps(obj)).encode()
        tmp, bak = name + ".tmp", name + ".bak"
        self.storage.write(tmp, data)
        old = self.storage.read(name)
        if old is not None:
            if self._good(name, old):
                self.storage.remove(bak)
                self.storage.rename(name, bak)
            else:
                # A broken current file must not push the last good one out.
                self.storage.remove(name)
        self.storage.rename(tmp, name)

    def _good(self, name, raw):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeError):
            return False
        if name == FILE:
            from hushgate.configfile import migrate, validate

            return validate(migrate(data))[0] is not None
        return True

    def load(self):
        """(config, problems): always a usable config; problems say what went wrong."""
        from hushgate.configfile import migrate, validate

        problems = []
        for candidate in (FILE, FILE + ".bak"):
            raw = self.storage.read(candidate)
            if raw is None:
                if candidate == FILE:
                    problems.append("%s is missing" % FILE)
                continue
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeError):
                problems.append("%s is not valid JSON" % candidate)
                continue
            config, errors = validate(migrate(data))
            if config is None:
                problems.append("%s: %s" % (candidate, "; ".join(errors)))
                continue
            if problems:
                problems.append("using the previous good file %s" % candidate)
            self.source = candidate
            return config, problems
        self.source = "defaults"
        if problems != ["%s is missing" % FILE]:
            problems.append("using the defaults")
        else:
            problems = ["no %s yet: using the defaults" % FILE]
        return validate({})[0], problems

    def save(self, config):
        """Validate, then write atomically. Raises ValueError listing every mistake."""
        from hushgate.configfile import validate

        checked, errors = validate(config)
        if checked is None:
            raise ValueError("; ".join(errors))
        self.write_json(FILE, checked, dumps(checked))
        return checked

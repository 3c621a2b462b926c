"""tools/apicheck.py: CPython-only APIs in firmware make it fail (CPython only).

Each test writes a small firmware tree into a temporary folder and runs the tool
on it as `python tools/apicheck.py --root TREE`, the way tools/test runs it on
the repository. The stub packages are shared with the repository's own cache
(build/stubs/), so only the first run installs them.
"""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "apicheck.py")
STUBS = os.path.join(ROOT, "build", "stubs")

CLEAN = """
try:
    from micropython import const
except ImportError:
    def const(value):
        return value

try:
    import typing  # feature detection: allowed to be missing
except ImportError:
    typing = None

import json
import os
import time

_LIMIT = const(4)


def normalise(text):
    parts = text.strip().lower().split(" ", 1)
    return "-".join(parts).startswith("a") and text.encode().decode()


def first(data):
    d = {"a": 1}
    return d.get("a", 0), data.split(b",")[0].hex(), sorted([2, 1], key=None)


class Page:
    # a method of ours may share a name with a CPython-only one
    def title(self):
        return "x"


def heading(page):
    return page.title()


def save(path, value):
    try:
        os.stat(path)
    except OSError as e:
        return e.args[0], e.errno
    return json.dumps(value), time.ticks_ms(), range(3).stop, bytes(memoryview(b"ab")[1:])
"""


def make_tree(tmp_path, files):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return tmp_path


def run(tree):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(
        [sys.executable, TOOL, "--root", str(tree), "--stubs-cache", STUBS],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr


def firmware(tmp_path, text, name="mod.py"):
    return make_tree(
        tmp_path,
        {
            "firmware/hushgate/__init__.py": "",
            "firmware/hushgate/clean.py": CLEAN,
            "firmware/hushgate/" + name: text,
        },
    )


def test_clean_tree_passes(tmp_path):
    code, out = run(firmware(tmp_path, "from hushgate.clean import normalise\n"))
    assert code == 0, out
    assert "apicheck: OK" in out


def test_str_casefold_fails(tmp_path):
    code, out = run(firmware(tmp_path, 'def f(name):\n    return "x".casefold() + name\n'))
    assert code == 1, out
    assert "firmware/hushgate/mod.py:2:" in out and "casefold" in out
    assert "esp32" in out and "rp2" in out
    assert "apicheck: FAIL" in out


def test_casefold_on_an_untyped_value_fails(tmp_path):
    # mypy cannot know `name` is a str; the method's name alone gives it away
    code, out = run(firmware(tmp_path, "def f(name):\n    return name.casefold()\n"))
    assert code == 1, out
    assert "firmware/hushgate/mod.py:2: `.casefold()` is CPython's (str)" in out


def test_import_dataclasses_fails(tmp_path):
    code, out = run(firmware(tmp_path, "import dataclasses\n\nX = dataclasses.field\n"))
    assert code == 1, out
    assert "firmware/hushgate/mod.py:1: module `dataclasses` does not exist on esp32" in out


def test_more_cpython_only_uses_fail(tmp_path):
    bad = """
    import os
    from typing import List
    from time import monotonic


    def f(number, table):
        a = str(number).split(maxsplit=1)
        b = {"k": table}.get("k", default=0)
        c = format(3, "x")
        d = (5).bit_length()
        e = os.getcwdb(), os.getenv("HOME")
        try:
            open("x")
        except FileNotFoundError:
            pass
        return a, b, c, d, e, List, monotonic
    """
    code, out = run(firmware(tmp_path, bad))
    assert code == 1, out
    for line, word in (
        (2, "typing"),
        (3, "monotonic"),
        (7, "str.split() takes no keyword"),
        (8, "dict.get() takes no keyword"),
        (9, "format"),
        (10, "bit_length"),
        (11, "getcwdb"),
        (11, "getenv"),  # the unix port has it, the boards do not
        (14, "FileNotFoundError"),
    ):
        hits = [x for x in out.splitlines() if x.startswith("firmware/hushgate/mod.py:%d:" % line)]
        assert hits and word in " ".join(hits), (line, word, out)


def test_board_files_are_checked_against_their_port(tmp_path):
    tree = firmware(tmp_path, "from hushgate.clean import first\n")
    make_tree(
        tree,
        {
            "boards/pico_w/board.py": "import rp2\nimport threading\n\nPIN = rp2.PIO\n",
            # boards have os.sync (the unix port does not)
            "boards/some_esp32/board.py": "import esp32\nimport os\n\nX = esp32.NVS\nos.sync()\n",
            "boards/host/board.py": "import sys\nimport termios\nimport subprocess\n",
        },
    )
    code, out = run(tree)
    assert code == 1, out
    assert "boards/pico_w/board.py:2: module `threading` does not exist on rp2" in out
    assert "boards/host/board.py:3: module `subprocess` does not exist on unix" in out
    assert "some_esp32" not in out  # esp32 has esp32.NVS and os.sync
    assert "termios" not in out  # the unix port has termios
    assert "pico_w/board.py:1" not in out


def test_this_repository_passes():
    code, out = run(ROOT)
    assert code == 0, out

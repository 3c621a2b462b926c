# The memory budget's check (issue 6): the whole firmware under real MicroPython,
# 10,000 mixed datagrams and 100 status pages. tools/bench_memory.py exits non-zero
# on a MemoryError, on heap growth between the first and the last thousand
# datagrams, or on a failed web request; its figures go to the README.
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench(*args):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "bench_memory.py")] + list(args),
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("call:"))
    assert proc.returncode == 0, report
    assert "growth" in report and "after_run" in report, report
    return report


def test_firmware_in_rom_carries_the_traffic_and_pages_in_an_esp32_heap():
    # The modules in a ROMFS image, run in place (as tools/run and the end-to-end
    # tests run them), the firmware given 110 KB. The settings saves need more on this
    # 64-bit port (README, Figures): they are the next test's.
    report = bench("--rom", "--heap", "110k", "--saves", "0")
    assert "modules in a ROMFS image" in report, report


def test_firmware_loaded_onto_the_heap_runs_everything_without_growth():
    # As a stock board image runs it (the .mpy files loaded onto the heap), the
    # settings loads and saves included, with the heap that takes on this port.
    bench("--heap", os.environ.get("HUSHGATE_MPY_HEAP", "224k"))

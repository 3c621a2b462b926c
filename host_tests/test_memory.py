# The memory budget's check (issue 6): the whole firmware under real MicroPython,
# 10,000 mixed datagrams and 100 status pages. tools/bench_memory.py exits non-zero
# on a MemoryError, on heap growth between the first and the last thousand
# datagrams, or on a failed web request; its figures go to the README.
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The heap tools/run uses on this 64-bit port (see the README's Figures).
HEAP = os.environ.get("HUSHGATE_HEAP", "224k")


def test_firmware_runs_mixed_traffic_and_pages_without_growth():
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "bench_memory.py"), "--heap", HEAP],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("call:"))
    assert proc.returncode == 0, report
    assert "growth" in report and "after_run" in report, report

# ruff: noqa: F821  (package, module come from MicroPython's manifest tool)
# Freeze manifest for the firmware: the hushgate package, web server included.
# Each boards/<name>/manifest.py includes this one; see docs/boards.md.
# MicroPython's build runs this file with the current directory set to firmware/.
import os

# hushgate/httpcpython.py is CPython's (the host tests, the browser test's runner):
# never loaded on a board, so never frozen (tools/deploy.py skips it too).
CPYTHON_ONLY = ("httpcpython.py",)

package(
    "hushgate",
    files=sorted(n for n in os.listdir("hushgate") if n.endswith(".py") and n not in CPYTHON_ONLY),
)

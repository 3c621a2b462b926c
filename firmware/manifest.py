# ruff: noqa: F821  (include, require, package, module come from MicroPython's manifest tool)
# Freeze manifest for the firmware: the hushgate package and the parts of Microdot
# it uses. Each boards/<name>/manifest.py includes this one; see docs/boards.md.
# MicroPython's build runs this file with the current directory set to firmware/.
import glob
import os

package("hushgate")

# Microdot comes from the pip-installed package (never copied into this repository):
# HUSHGATE_MICRODOT names its folder, else the one in the repository's .venv.
_found = sorted(glob.glob("../.venv/lib/python3*/site-packages/microdot"))
_microdot = os.environ.get("HUSHGATE_MICRODOT") or (_found[-1] if _found else "")
if not os.path.isfile(os.path.join(_microdot, "microdot.py")):
    raise ValueError("microdot not found: pip install microdot or set HUSHGATE_MICRODOT")
package(
    "microdot",
    files=["__init__.py", "microdot.py", "helpers.py"],
    base_path=os.path.dirname(os.path.abspath(_microdot)),
)

#!/usr/bin/env python3
"""Check that the firmware uses only what the boards have.

    python tools/apicheck.py [--root DIR] [--stubs-cache DIR] [-v]

Checks firmware/ and boards/*/ for three targets: esp32 and rp2 (against the pinned
PyPI stub packages micropython-esp32-stubs / micropython-rp2-stubs) and unix (the
host board, against the MicroPython unix port itself). It fails when code

* imports a module the target lacks (dataclasses, typing, threading, pathlib, ...);
* uses a name a module lacks (`os.getcwdb`, `from time import monotonic`);
* calls a method the built-in types lack (`str.casefold`, `int.bit_length`), a
  built-in function or exception MicroPython lacks (`format`, `FileNotFoundError`),
  or passes a keyword argument to a built-in method that takes none
  (`s.split(maxsplit=1)`, `d.get(k, default=0)`).

How: the stdlib stubs (micropython-stdlib-stubs) still describe CPython's builtins,
so a copy of them is narrowed to what the real MicroPython VM reports (`dir()` of
each built-in type and module, asked from the `micropython` command) and mypy
type-checks the code against that copy plus the board's stubs. Only mypy's
"does it exist" findings count (attr-defined, name-defined, call-arg, and
call-overload for calls with keywords); types are not the point. Imports, module
attributes and calls of CPython-only method names (`value.casefold()` on an
untyped value) are checked from the syntax tree. Code guarded for feature
detection (a `try:` with `except ImportError`, `AttributeError` or `NameError`)
may use what a target lacks. docs/apicheck.md has the details and the limits.

Stub packages are installed with pip into build/stubs/<package>-<version>/ the
first time (versions pinned in requirements-test.txt) and reused after that.
"""

import argparse
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUB_PACKAGES = {"esp32": "micropython-esp32-stubs", "rp2": "micropython-rp2-stubs"}
STDLIB_STUBS = "micropython-stdlib-stubs"
# Used when requirements-test.txt does not pin them (the stdlib stubs come as a
# dependency of the board stubs: micropython-stdlib-stubs~=1.29.0).
DEFAULT_VERSIONS = {
    "micropython-esp32-stubs": "1.29.0.post1",
    "micropython-rp2-stubs": "1.29.0.post1",
    STDLIB_STUBS: "1.29.0.post2",
}
# mypy findings that mean "this does not exist on the target".
COUNTED_CODES = ("attr-defined", "name-defined", "call-arg", "call-overload")
# Built-in types whose methods are narrowed to what the VM has, each with a sample
# value: an attribute counts when the type or a value of it has it (`e.args`).
NARROWED_TYPES = {
    "object": "object()",
    "int": "1",
    "float": "1.0",
    "complex": "1j",
    "bool": "True",
    "str": "''",
    "bytes": "b''",
    "bytearray": "bytearray()",
    "memoryview": "memoryview(b'')",
    "list": "[]",
    "tuple": "()",
    "dict": "{}",
    "set": "set()",
    "frozenset": "frozenset()",
    "range": "range(1)",
    "slice": "slice(1)",
    "type": "int",
    "BaseException": "BaseException('x')",
}
# MicroPython's built-in methods take positional arguments only, except these.
POSITIONAL_ONLY_TYPES = ("str", "bytes", "bytearray", "memoryview", "int", "dict", "set")
KEYWORDS_ALLOWED = {("str", "splitlines"), ("bytes", "splitlines"), ("bytearray", "splitlines")}
# Where a board's module differs from the unix port's (whose dir() the check
# asks): what the boards add (MicroPython's os docs) and what only unix has.
BOARD_DIFFERENCES = {
    "os": (
        ("sync", "uname", "dupterm", "dupterm_notify"),
        ("system", "getenv", "putenv", "unsetenv", "errno", "VfsPosix"),
    ),
}

# Runs inside MicroPython: prints what the VM has, one JSON document.
PROBE = """
import json
import builtins
out = {"builtins": dir(builtins), "types": {}, "modules": {}}
for name, (sample, members) in %r.items():
    t = getattr(builtins, name, None)
    if t is None:
        continue
    try:
        value = eval(sample)
    except Exception:
        value = t
    have = []
    for m in members:
        try:
            if hasattr(t, m) or hasattr(value, m):
                have.append(m)
        except Exception:
            pass
    out["types"][name] = have
for name in %r:
    try:
        m = __import__(name)
        for part in name.split(".")[1:]:
            m = getattr(m, part)
        names = dir(m)
        # names a package loads on first use (asyncio's lazy `_attrs`)
        lazy = getattr(m, "_attrs", None)
        if isinstance(lazy, dict):
            names = names + list(lazy.keys())
        out["modules"][name] = names
    except Exception:
        out["modules"][name] = None
print(json.dumps(out))
"""


class CheckError(Exception):
    """The check could not run (missing tool, pip failure)."""


def say(verbose, *args):
    if verbose:
        print("apicheck:", *args)


# ---------------------------------------------------------------- stub packages


def pinned_versions(root):
    versions = dict(DEFAULT_VERSIONS)
    path = os.path.join(root, "requirements-test.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                name, sep, version = line.partition("==")
                if sep and name.strip().lower() in versions:
                    versions[name.strip().lower()] = version.strip()
    return versions


def installed_stubs(package, version, cache):
    """Folder holding `package==version`, installed there on first use."""
    folder = os.path.join(cache, "%s-%s" % (package, version))
    marker = os.path.join(folder, ".complete")
    if os.path.exists(marker):
        return folder
    os.makedirs(cache, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".install-", dir=cache)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile"]
    cmd += ["--target", work, "%s==%s" % (package, version)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        shutil.rmtree(work, ignore_errors=True)
        raise CheckError("pip did not install %s==%s within 600 s" % (package, version))
    if proc.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise CheckError(
            "pip could not install %s==%s:\n%s" % (package, version, proc.stderr.strip())
        )
    with open(os.path.join(work, ".complete"), "w") as f:
        f.write("%s==%s\n" % (package, version))
    _settle(work, folder)
    return folder


def _settle(work, final):
    """Move a finished folder into place; if a concurrent run got there first, keep theirs."""
    try:
        os.rename(work, final)
    except OSError:
        if not os.path.exists(os.path.join(final, ".complete")):
            shutil.rmtree(final, ignore_errors=True)
            os.rename(work, final)
        else:
            shutil.rmtree(work, ignore_errors=True)


def stub_modules(folder):
    """Top-level module names a stub folder provides."""
    names = set()
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        if entry.endswith(".pyi"):
            names.add(entry[:-4])
        elif os.path.isdir(path) and os.path.exists(os.path.join(path, "__init__.pyi")):
            names.add(entry)
    names.discard("__builtins__")
    return names


# ---------------------------------------------------------------- the real VM


def find_tool(name):
    path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    exe = shutil.which(name, path=path)
    if not exe:
        raise CheckError("no `%s` command (tools/setup installs it)" % name)
    return exe


def probe_vm(modules, members):
    """What the MicroPython unix port has.

    modules: names to import; members: {type name: stub member names} to look up.
    Returns {"builtins": names, "types": {type: members it has}, "modules":
    {module: names, or None when it does not import}}.
    """
    micropython = find_tool("micropython")
    asked = {t: (NARROWED_TYPES[t], sorted(members.get(t, ()))) for t in NARROWED_TYPES}
    script = PROBE % (asked, sorted(modules))
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen"
    with tempfile.TemporaryDirectory() as tmp:
        # asyncio and friends are frozen into the VM; run away from any source tree
        # so that nothing local shadows the VM's own modules.
        try:
            proc = subprocess.run(
                [micropython, "-c", script],
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp,
                timeout=60,
            )
        except subprocess.TimeoutExpired:
            raise CheckError("micropython probe did not finish in 60 s")
    if proc.returncode != 0:
        raise CheckError("micropython probe failed:\n" + proc.stderr + proc.stdout)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- stub narrowing


def _is_dunder(name):
    return name.startswith("__") and name.endswith("__")


def _exception_name(name):
    return name.endswith(("Error", "Exception", "Warning", "Exit", "Interrupt", "Iteration"))


def _defined_name(node):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        if isinstance(node.targets[0], ast.Name):
            return node.targets[0].id
    return None


def _filter_body(body, keep):
    """Drop definitions `keep(name, node)` rejects, looking into if/else blocks."""
    out = []
    for node in body:
        if isinstance(node, ast.If):
            node.body = _filter_body(node.body, keep)
            node.orelse = _filter_body(node.orelse, keep) if node.orelse else []
            out.append(node)
            continue
        name = _defined_name(node)
        if name is None or keep(name, node):
            out.append(node)
    return out or [ast.Expr(ast.Constant(...))]


def _positional_only(func):
    args = func.args
    args.posonlyargs = args.posonlyargs + args.args
    args.args = []


def stub_members(source):
    """{class name: public member names} of the narrowed types in builtins.pyi."""
    members = {}

    def collect(body, into):
        for node in body:
            if isinstance(node, ast.If):
                collect(node.body, into)
                collect(node.orelse, into)
                continue
            name = _defined_name(node)
            if name and not name.startswith("_"):
                into.add(name)

    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name in NARROWED_TYPES:
            collect(node.body, members.setdefault(node.name, set()))
    return members


def narrow_builtins(source, vm):
    """builtins.pyi without what the VM's builtins lack."""
    tree = ast.parse(source)
    have = set(vm["builtins"])

    def keep_top(name, node):
        if name.startswith("_") or name in have:
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
        return not (isinstance(node, ast.ClassDef) and _exception_name(name))

    tree.body = _filter_body(tree.body, keep_top)
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and node.name in vm["types"]):
            continue
        methods = set(vm["types"][node.name])
        cls = node.name

        def keep_method(name, member, methods=methods, cls=cls):
            if _is_dunder(name) or name.startswith("_"):
                return True
            if name not in methods:
                return False
            if (
                cls in POSITIONAL_ONLY_TYPES
                and isinstance(member, ast.FunctionDef)
                and (cls, name) not in KEYWORDS_ALLOWED
            ):
                _positional_only(member)
            return True

        node.body = _filter_body(node.body, keep_method)
    return ast.unparse(tree)


def narrowed_typeshed(stdlib_pkg, vm, cache):
    """A copy of the stdlib stubs (mypy's custom typeshed) narrowed to the VM.

    Kept in the cache under a name that changes with the stubs, the VM's answers
    and this file, so mypy's own cache of it stays valid from run to run.
    """
    with open(os.path.abspath(__file__), "rb") as f:
        key = hashlib.sha256(f.read())
    key.update(stdlib_pkg.encode())
    key.update(json.dumps([vm["builtins"], vm["types"]], sort_keys=True).encode())
    out = os.path.join(cache, "typeshed-" + key.hexdigest()[:16])
    if os.path.exists(os.path.join(out, ".complete")):
        return out
    final, out = out, tempfile.mkdtemp(prefix=".typeshed-", dir=cache)
    shutil.copytree(os.path.join(stdlib_pkg, "stdlib"), os.path.join(out, "stdlib"))
    if os.path.isdir(os.path.join(stdlib_pkg, "stubs")):  # mypy-extensions, which mypy needs
        shutil.copytree(os.path.join(stdlib_pkg, "stubs"), os.path.join(out, "stubs"))
    path = os.path.join(out, "stdlib", "builtins.pyi")
    with open(path) as f:
        source = f.read()
    with open(path, "w") as f:
        f.write(narrow_builtins(source, vm))
    with open(os.path.join(out, ".complete"), "w") as f:
        f.write(stdlib_pkg + "\n")
    _settle(out, final)
    for entry in os.listdir(cache):  # earlier narrowings, no longer asked for
        if entry.startswith("typeshed-") and os.path.join(cache, entry) != final:
            shutil.rmtree(os.path.join(cache, entry), ignore_errors=True)
    return final


# ---------------------------------------------------------------- syntax-tree checks


class Module:
    """One Python file of the firmware or a board, parsed once."""

    def __init__(self, path, shown):
        self.path = path
        self.shown = shown  # path as printed, relative to the repository
        with open(path) as f:
            self.source = f.read()
        self.tree = ast.parse(self.source, path)
        self.guarded = self._guarded_lines()

    def _guarded_lines(self):
        # Lines inside `try: ... except ImportError/AttributeError: ...`: feature
        # detection, free to use what one interpreter lacks.
        lines = set()
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Try):
                continue
            names = set()
            for handler in node.handlers:
                for n in ast.walk(handler.type) if handler.type else ():
                    if isinstance(n, ast.Name):
                        names.add(n.id)
            if names & {"ImportError", "AttributeError", "NameError"}:
                end = node.end_lineno or node.lineno
                lines.update(range(node.lineno, end + 1))
        return lines

    def keyword_calls(self):
        """(line, method) of every `x.method(..., name=...)` call."""
        found = set()
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and any(k.arg for k in node.keywords)
            ):
                found.add((node.lineno, node.func.attr))
        return found

    def imports(self):
        """(line, module, names) for every import; names is None for `import x`."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name, None, alias.asname
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield node.lineno, node.module, [a.name for a in node.names], None

    def module_attributes(self):
        """(line, module, attribute) for `module.attribute` on an imported module."""
        aliases = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    elif "." not in alias.name:
                        aliases[alias.name] = alias.name
        rebound = set()
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
                    rebound.add(a.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                rebound.add(node.id)
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.value.id not in rebound
            ):
                yield node.lineno, aliases[node.value.id], node.attr

    def method_calls(self):
        """(line, name) of every `value.name(...)` call whose value is not a module."""
        modules = {module for _line, module, _attr in self.module_attributes()}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                value = node.func.value
                if isinstance(value, ast.Name) and value.id in modules:
                    continue
                yield node.lineno, node.func.attr

    def defined_names(self):
        """Every name this file defines: functions, classes, attributes it assigns."""
        names = set()
        for node in ast.walk(self.tree):
            name = _defined_name(node)
            if name:
                names.add(name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
        return names


def cpython_only_methods(members, vm, defined):
    """{method: [types]}: what CPython's built-in types have and MicroPython's don't.

    mypy finds `"x".casefold()`; this finds `value.casefold()` on an untyped value,
    for the names no MicroPython built-in type and nothing of ours (`defined`) has.
    """
    everywhere = set()
    for names in vm["types"].values():
        everywhere.update(names)
    found = {}
    for type_name, names in sorted(members.items()):
        for name in names:
            if name not in everywhere and name not in defined:
                found.setdefault(name, []).append(type_name)
    return found


def stub_names(folder):
    """Every name defined in the .pyi files of a stub folder."""
    names = set()
    for base, _dirs, files in os.walk(folder):
        for entry in files:
            if entry.endswith(".pyi"):
                try:
                    with open(os.path.join(base, entry)) as f:
                        tree = ast.parse(f.read())
                except (OSError, SyntaxError, ValueError):
                    continue
                names.update(_defined_name(n) for n in ast.walk(tree))
    names.discard(None)
    return names


def local_modules(roots):
    """Top-level module names the checked trees provide themselves."""
    names = {"board"}
    for folder in roots:
        for entry in os.listdir(folder):
            path = os.path.join(folder, entry)
            if entry.endswith(".py"):
                names.add(entry[:-3])
            elif os.path.isdir(path) and os.path.exists(os.path.join(path, "__init__.py")):
                names.add(entry)
    return names


def check_syntax_tree(modules, target, local, board_modules, stdlib_modules, vm, cpython_only):
    """Imports, module attributes, CPython-only method names.

    Returns a list of (file, line, message, target).
    """
    problems = []

    def exists(module):
        top = module.split(".")[0]
        if top in local:
            return True
        if target == "unix":
            return vm["modules"].get(module) is not None
        if top in board_modules or "u" + top in board_modules:
            return True
        return top in stdlib_modules and vm["modules"].get(module) is not None

    def checked_names(module):
        # Names of a module whose contents come from the VM-probed stdlib stubs;
        # None when the board's own stubs (checked by mypy) or our code define it.
        top = module.split(".")[0]
        if top in local:
            return None
        if target != "unix" and top in board_modules:
            return None
        names = vm["modules"].get(module)
        if target != "unix" and names is not None and module in BOARD_DIFFERENCES:
            added, unix_only = BOARD_DIFFERENCES[module]
            names = (set(names) | set(added)) - set(unix_only)
        return names

    for m in modules:
        for line, module, names, _asname in m.imports():
            if line in m.guarded:
                continue
            if not exists(module):
                problems.append((m.shown, line, "module `%s` does not exist" % module, target))
                continue
            have = checked_names(module)
            for name in names or ():
                if have is not None and name not in have and name != "*":
                    if vm["modules"].get(module + "." + name) is not None:
                        continue  # a submodule
                    problems.append(
                        (m.shown, line, "`%s.%s` does not exist" % (module, name), target)
                    )
        for line, module, attr in m.module_attributes():
            if line in m.guarded or _is_dunder(attr):
                continue
            have = checked_names(module)
            if have is not None and attr not in have:
                problems.append((m.shown, line, "`%s.%s` does not exist" % (module, attr), target))
        for line, name in m.method_calls():
            if line in m.guarded or name not in cpython_only:
                continue
            message = "`.%s()` is CPython's (%s): no MicroPython built-in type has it" % (
                name,
                ", ".join(cpython_only[name]),
            )
            problems.append((m.shown, line, message, target))
    return problems


# ---------------------------------------------------------------- mypy

MYPY_LINE = re.compile(
    r"^(?P<path>[^:]+):(?P<line>\d+): error: (?P<msg>.*?)\s+\[(?P<code>[a-z-]+)\]$"
)


# `"CallLog" has no attribute ...`: the quoted type the finding is about.
SUBJECT = re.compile(r'^"(?:type\[)?([A-Za-z_][A-Za-z0-9_]*)\]?" has no attribute')
# An overloaded built-in method called with arguments none of its forms takes:
# counted only when the call passes keywords (MicroPython's built-in methods take none).
OVERLOAD = re.compile(r'^No overload variant of "([A-Za-z_0-9]+)" of "([A-Za-z_0-9]+)"')


def run_mypy(
    target, files, shown, typeshed, mypy_path, work, cache, guarded, own_classes, keyword_calls
):
    """mypy's findings that mean "does not exist": a list of (file, line, message, target)."""
    config = os.path.join(work, "mypy.ini")
    with open(config, "w") as f:
        f.write(
            "[mypy]\n"
            "python_version = 3.11\n"
            "custom_typeshed_dir = %s\n"
            "mypy_path = %s\n"
            "no_site_packages = True\n"
            "check_untyped_defs = True\n"
            "ignore_missing_imports = False\n"
            "follow_imports = normal\n"
            "cache_dir = %s\n"
            "show_error_context = False\n"
            "no_error_summary = True\n"
            % (typeshed, os.pathsep.join(mypy_path), os.path.join(cache, "mypy-" + target))
        )
    cmd = [sys.executable, "-m", "mypy", "--config-file", config, "--show-error-codes"]
    cmd += ["--no-pretty", "--no-color-output", "--explicit-package-bases"]
    proc = subprocess.run(cmd + files, capture_output=True, text=True, cwd=work)
    if proc.returncode not in (0, 1):
        raise CheckError("mypy failed (%d):\n%s%s" % (proc.returncode, proc.stdout, proc.stderr))
    problems = []
    for raw in proc.stdout.splitlines():
        found = MYPY_LINE.match(raw)
        if not found or found["code"] not in COUNTED_CODES:
            continue
        path = os.path.realpath(os.path.join(work, found["path"]))
        if path not in shown:
            continue  # a stub or the stand-in board module
        line = int(found["line"])
        if line in guarded.get(path, ()):
            continue
        subject = SUBJECT.match(found["msg"])
        if subject and subject.group(1) in own_classes:
            continue
        message = found["msg"]
        if found["code"] == "call-overload":
            overload = OVERLOAD.match(message)
            if not overload or (line, overload.group(1)) not in keyword_calls.get(path, ()):
                continue
            message = "%s.%s() takes no keyword arguments" % (overload.group(2), overload.group(1))
        problems.append((shown[path], line, "%s [%s]" % (message, found["code"]), target))
    return problems


# ---------------------------------------------------------------- the check


def board_target(name, folder):
    """Which stubs a board folder is checked against."""
    text = name.lower()
    manifest = os.path.join(folder, "manifest.py")
    if os.path.exists(manifest):
        with open(manifest) as f:
            text += " " + f.read().lower()
    if name == "host" or "unix" in name:
        return "unix"
    if "rp2" in text or "pico" in text:
        return "rp2"
    return "esp32"


def python_files(folder):
    """The .py files that go on a board (a freeze manifest runs at build time)."""
    found = []
    for base, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
        for name in sorted(files):
            if name.endswith(".py") and name != "manifest.py":
                found.append(os.path.join(base, name))
    return found


def class_names(paths):
    """Classes our own code defines: mypy's view of their attributes is not checked.

    Assigning a new attribute to an object is plain Python, and whether the
    firmware's modules fit each other is for their tests to show.
    """
    names = set()
    for path in paths:
        try:
            with open(path) as f:
                tree = ast.parse(f.read(), path)
        except (OSError, SyntaxError, ValueError):
            continue
        names.update(n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef))
    return names


def check(root, verbose=False, stubs_cache=None):
    """Every problem found, as printable lines (none: the firmware passes).

    One line per place and finding, naming the targets that lack it.
    """
    # A private folder per run: two checks of one tree may run at once.
    runs = os.path.join(os.path.abspath(root), "build", "apicheck")
    os.makedirs(runs, exist_ok=True)
    work_root = tempfile.mkdtemp(prefix="run-", dir=runs)
    try:
        return _check(root, verbose, stubs_cache, work_root)
    finally:
        shutil.rmtree(work_root, ignore_errors=True)


def _check(root, verbose, stubs_cache, work_root):
    root = os.path.abspath(root)
    build = os.path.join(root, "build")
    stubs_cache = os.path.abspath(stubs_cache or os.path.join(build, "stubs"))
    versions = pinned_versions(ROOT)  # this repository's pins, whatever tree is checked
    firmware = os.path.join(root, "firmware")
    boards_dir = os.path.join(root, "boards")
    boards = {}
    if os.path.isdir(boards_dir):
        for name in sorted(os.listdir(boards_dir)):
            folder = os.path.join(boards_dir, name)
            if os.path.isdir(folder) and python_files(folder):
                boards[name] = (folder, board_target(name, folder))

    def load(path):
        try:
            return Module(path, os.path.relpath(path, root))
        except (SyntaxError, ValueError) as e:
            where = os.path.relpath(path, root)
            raise CheckError("%s:%s: not Python: %s" % (where, getattr(e, "lineno", "?"), e))

    firmware_modules = [load(p) for p in python_files(firmware)] if os.path.isdir(firmware) else []
    board_modules = {n: [load(p) for p in python_files(f)] for n, (f, _) in boards.items()}
    every = firmware_modules + [m for ms in board_modules.values() for m in ms]

    stdlib_pkg = installed_stubs(STDLIB_STUBS, versions[STDLIB_STUBS], stubs_cache)
    stdlib_modules = stub_modules(os.path.join(stdlib_pkg, "stdlib"))
    wanted = set(stdlib_modules)
    for m in every:
        for _line, module, names, _ in m.imports():
            parts = module.split(".")
            for i in range(1, len(parts) + 1):
                wanted.add(".".join(parts[:i]))
            for name in names or ():
                wanted.add(module + "." + name)
    with open(os.path.join(stdlib_pkg, "stdlib", "builtins.pyi")) as f:
        members = stub_members(f.read())
    vm = probe_vm(wanted, members)
    say(
        verbose,
        "VM has %d of %d modules asked"
        % (sum(1 for v in vm["modules"].values() if v), len(wanted)),
    )

    local = local_modules([firmware] + [f for f, _ in boards.values()])
    own_classes = class_names([m.path for m in every])
    defined = set()
    for m in every:
        defined |= m.defined_names()
    for package in STUB_PACKAGES.values():
        defined |= stub_names(installed_stubs(package, versions[package], stubs_cache))
    cpython_only = cpython_only_methods(members, vm, defined)

    problems = []
    for target in ("esp32", "rp2", "unix"):
        chosen = [n for n, (_, t) in boards.items() if t == target]
        # The firmware is checked against the boards' stubs; the unix port runs
        # it too, but code for real hardware (network, machine.Pin) is never
        # reached there, so for unix only the host board's own files count.
        reported = [] if target == "unix" else list(firmware_modules)
        for name in chosen:
            reported += board_modules[name]
        if not reported:
            continue
        if target == "unix":
            stub_dir, board_names = None, set()
        else:
            package = STUB_PACKAGES[target]
            stub_dir = installed_stubs(package, versions[package], stubs_cache)
            board_names = stub_modules(stub_dir)
        say(
            verbose,
            "%s: %d files (boards: %s)" % (target, len(reported), ", ".join(chosen) or "-"),
        )
        problems += check_syntax_tree(
            reported, target, local, board_names, stdlib_modules, vm, cpython_only
        )

        work = os.path.join(work_root, target)
        os.makedirs(work, exist_ok=True)
        typeshed = narrowed_typeshed(stdlib_pkg, vm, stubs_cache)
        # Every board has a board.py: mypy reads each under its own name, and the
        # first board of the target as the `board` that main.py imports.
        renamed = os.path.join(work, "boards")
        shutil.rmtree(renamed, ignore_errors=True)
        os.makedirs(renamed)
        board_path = os.path.join(work, "board")
        shutil.rmtree(board_path, ignore_errors=True)
        os.makedirs(board_path)
        if chosen:
            shutil.copy(os.path.join(boards[chosen[0]][0], "board.py"), board_path)
        files, shown, guarded, keyword_calls = [], {}, {}, {}
        for m in reported:
            path = m.path
            if not m.path.startswith(firmware + os.sep):
                board = os.path.basename(os.path.dirname(m.path))
                path = os.path.join(renamed, "%s_%s" % (board, os.path.basename(m.path)))
                shutil.copy(m.path, path)
            files.append(path)
            shown[os.path.realpath(path)] = m.shown
            guarded[os.path.realpath(path)] = m.guarded
            keyword_calls[os.path.realpath(path)] = m.keyword_calls()
        mypy_path = [firmware, board_path, stdlib_pkg]  # stdlib_pkg: its _mpy_shed
        if stub_dir:
            mypy_path.insert(0, stub_dir)
        problems += run_mypy(
            target,
            files,
            shown,
            typeshed,
            mypy_path,
            work,
            stubs_cache,
            guarded,
            own_classes,
            keyword_calls,
        )
    # The method-name finding is only for what mypy could not see.
    seen_by_mypy = {(p, line, msg) for p, line, msg, _t in problems if msg.endswith("]")}
    kept = []
    for shown_path, line, message, target in problems:
        if message.startswith("`.") and "()` is CPython's" in message:
            name = message[2 : message.index("(")]
            if any(
                (shown_path, line) == (p, n) and ('"%s"' % name) in msg
                for p, n, msg in seen_by_mypy
            ):
                continue
        kept.append((shown_path, line, message, target))
    targets = {}
    for shown_path, line, message, target in kept:
        key = (shown_path, line, message)
        if target not in targets.setdefault(key, []):
            targets[key].append(target)
    return [
        "%s:%d: %s on %s (MicroPython)"
        % (path, line, message, ", ".join(targets[path, line, message]))
        for path, line, message in sorted(targets)
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=ROOT, help="repository to check (default: this one)")
    ap.add_argument(
        "--stubs-cache", help="folder for the installed stub packages (default ROOT/build/stubs)"
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="say what is checked")
    args = ap.parse_args(argv)
    try:
        problems = check(args.root, args.verbose, args.stubs_cache)
    except CheckError as e:
        print("apicheck: cannot check: %s" % e)
        return 2
    for line in problems:
        print(line)
    if problems:
        print(
            "apicheck: FAIL, %d %s of APIs the boards do not have (MicroPython is not "
            "CPython: see docs/apicheck.md)"
            % (len(problems), "use" if len(problems) == 1 else "uses")
        )
        return 1
    print("apicheck: OK, firmware/ and boards/ use only APIs the boards have (esp32, rp2, unix)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

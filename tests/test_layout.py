"""Meta tests: the folders keep their rule, imports point inward, tests mirror the packages.

The rule (``harness/__init__.py``, ``docs/architecture.md``): a folder named
``core`` is sans-I/O; everything else may do I/O. Nothing here is a hand-kept
list: every module under every ``core/`` folder is read from the tree and
checked by AST, so a new module is checked the day it lands, and the checker is
itself tested on modules written to break it.

What a core module may not do:

- import an I/O module (:data:`BANNED_IMPORTS`: event loops, sockets, TLS,
  clocks, processes, threads, files, HTTP clients, the shells' frameworks).
  ``os`` is banned whole, ``os.path`` included: a core module builds no file
  names, the edges do. ``pathlib`` is allowed (a ``Path`` is a value, fine in
  a signature or a parsed flag); what touches the disk through it is a banned
  call below;
- call what reads a clock or touches a file (:data:`BANNED_CALLS`, e.g.
  ``open()``, ``datetime.now()``, ``.read_text()``, ``print()``).
  Random numbers are allowed: a seeded ``random.Random`` is data, and an
  unseeded one (``uuid4``) reads no clock and touches no file.

Arrows: core imports only core (``harness.core``; a shell's ``core/`` may also
import its own ``core/``); ``harness.io`` imports core and io; a shell
(:data:`SHELLS`) imports core, io and itself, never another shell.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO


PACKAGES = ("harness", "receivers", "reports", "scenarios")
SHELLS = (
    "harness.run",
    "harness.conform",
    "harness.platform",
    "receivers",
    "reports",
    "scenarios",
)
BANNED_IMPORTS = (
    "aiofastnet",
    "aiohttp",
    "asyncio",
    "ctypes",
    "fcntl",
    "gevent",
    "glob",
    "http.client",
    "http.server",
    "importlib.resources",
    "locust",
    "logging",
    "matplotlib",
    "mmap",
    "multiprocessing",
    "os",
    "pandas",
    "picows",
    "pyarrow",
    "select",
    "selectors",
    "shutil",
    "signal",
    "socket",
    "socketserver",
    "ssl",
    "subprocess",
    "sys",
    "tempfile",
    "threading",
    "time",
    "trustme",
    "urllib.request",
    "uvloop",
    "websockets",
)
BANNED_CALLS = (
    # builtins
    "open",
    "print",
    "input",
    "__import__",
    # clocks (``time`` is banned as an import already)
    "datetime.now",
    "datetime.utcnow",
    "datetime.today",
    "date.today",
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.today",
    "datetime.date.today",
    "uuid.uuid1",
    "importlib.import_module",
    # files, through a Path (or anything) handed in
    ".read_text",
    ".read_bytes",
    ".write_text",
    ".write_bytes",
    ".mkdir",
    ".unlink",
    ".iterdir",
    ".exists",
    ".is_file",
    ".is_dir",
    ".stat",
    ".glob",
    ".rglob",
    ".touch",
    ".cwd",
    ".home",
    ".resolve",
)
EXCEPTIONS: dict[tuple[str, str], str] = {
    # (module, problem) -> why it is allowed. Keep it empty.
}


# -- the checker (the tests below run it on the tree and on modules made to fail)


def modules(root: Path) -> dict[str, Path]:
    """Every module of the four packages under ``root``, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def is_core(name: str) -> bool:
    return "core" in name.split(".")


def core_home(name: str) -> str:
    """``harness.platform.core.state`` -> ``harness.platform.core``."""
    parts = name.split(".")
    return ".".join(parts[: parts.index("core") + 1])


def shell_of(name: str) -> str | None:
    for shell in SHELLS:
        if name == shell or name.startswith(shell + "."):
            return shell
    return None


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def imports(tree: ast.AST, name: str, known: set[str]) -> Iterator[tuple[int, str]]:
    """Every module a module imports.

    ``from p import m`` counts as ``p.m`` if that is a module of ``known``, else
    as ``p``; with no ``known``, always as ``p.m`` (``from importlib import
    resources`` is ``importlib.resources``).
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".")
                anchor = ".".join(package[: len(package) - node.level])
                base = f"{anchor}.{base}".strip(".")
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield node.lineno, full if full in known or not known else base


def call_name(func: ast.expr) -> str:
    """``datetime.datetime.now`` for that call, ``.read_text`` for a method."""
    if isinstance(func, ast.Name):
        return func.id
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
        return ".".join(reversed(parts))
    return "." + ".".join(reversed(parts))


def io_problems(source: str, name: str) -> list[str]:
    """What makes ``source`` (the module ``name``) not sans-I/O."""
    tree = ast.parse(source)
    problems = []
    for line, module in imports(tree, name, set()):
        for banned in BANNED_IMPORTS:
            if within(module, banned):
                problems.append(f"{name}:{line} imports {module}")
                break
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = call_name(node.func)
            for banned in BANNED_CALLS:
                hit = (
                    called.endswith(banned)
                    if banned.startswith(".")
                    else called == banned
                )
                if hit:
                    problems.append(f"{name}:{node.lineno} calls {called}()")
    return problems


def arrow_problems(source: str, name: str, known: set[str]) -> list[str]:
    """Imports of ``name`` that point outward (core -> non-core, shell -> shell)."""
    tree = ast.parse(source)
    problems = []
    for line, module in imports(tree, name, known):
        if shell_of(module) is None and not within(module, "harness"):
            continue  # stdlib or third party: io_problems judges core's
        if is_core(name):
            home = core_home(name)
            ok = within(module, "harness.core") or within(module, home)
        elif within(name, "harness.io"):
            ok = within(module, "harness.core") or within(module, "harness.io")
        elif name == "harness":
            ok = False
        else:
            own = shell_of(name)
            ok = (
                within(module, "harness.core")
                or within(module, "harness.io")
                or (own is not None and within(module, own))
            )
        if not ok:
            problems.append(f"{name}:{line} imports {module}")
    return problems


def excepted(problem: str) -> bool:
    return any(problem.startswith(f"{m}:") and w in problem for m, w in EXCEPTIONS)


def check_tree(root: Path) -> list[str]:
    """Every problem in the tree under ``root``: I/O in a core, outward arrows."""
    found = modules(root)
    known = set(found)
    problems = []
    for name, path in found.items():
        source = path.read_text(encoding="utf-8")
        if is_core(name):
            problems += io_problems(source, name)
        problems += arrow_problems(source, name, known)
    return [p for p in problems if not excepted(p)]


# -- the tree keeps the rule


def test_the_core_folders_are_found() -> None:
    """The check is not vacuous: both core folders and their modules are seen."""
    core = [name for name in modules(REPO) if is_core(name)]
    assert "harness.core.session" in core
    assert "harness.core.profiles.reader" in core
    assert "harness.platform.core.state" in core
    assert len(core) > 30


def test_every_core_module_is_sans_io_and_every_import_points_inward() -> None:
    assert check_tree(REPO) == []


def test_the_exceptions_are_still_needed() -> None:
    """A listed exception the tree no longer needs is dropped from the list."""
    found = modules(REPO)
    for module, what in EXCEPTIONS:
        source = found[module].read_text(encoding="utf-8")
        problems = io_problems(source, module) + arrow_problems(
            source, module, set(found)
        )
        assert any(what in p for p in problems), (module, what)


# -- a test of the test: modules written to break the rule are caught


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("import time\n", "imports time"),
        ("from time import monotonic_ns\n", "imports time"),
        ("import socket\n", "imports socket"),
        ("import asyncio\n", "imports asyncio"),
        ("import os.path\n", "imports os.path"),
        ("from http.client import HTTPConnection\n", "imports http.client"),
        ("from importlib import resources\n", "imports importlib.resources"),
        ("def f():\n    import ssl\n", "imports ssl"),
        ("def f():\n    return open('x').read()\n", "calls open()"),
        (
            "import datetime\nx = datetime.datetime.now()\n",
            "calls datetime.datetime.now()",
        ),
        (
            "from datetime import datetime\nx = datetime.utcnow()\n",
            "calls datetime.utcnow()",
        ),
        ("def f(p):\n    return p.read_text()\n", "calls p.read_text()"),
        ("def f(p):\n    p.parent.mkdir()\n", "calls p.parent.mkdir()"),
        ("from pathlib import Path\nx = Path.cwd()\n", "calls Path.cwd()"),
        ("print('x')\n", "calls print()"),
    ],
)
def test_the_checker_fails_io_in_a_core_module(code: str, problem: str) -> None:
    problems = io_problems(code, "harness.core.bad")
    assert any(problem in p for p in problems), problems


def test_the_checker_passes_pure_code() -> None:
    code = (
        "import datetime, math, random, uuid\n"
        "import msgspec\n"
        "x = datetime.datetime.fromtimestamp(0, datetime.UTC)\n"
        "r = random.Random(1)\n"
        "s = uuid.uuid4()\n"
        "y = math.floor(r.random())\n"
    )
    assert io_problems(code, "harness.core.good") == []


def test_the_checker_fails_a_new_core_module_in_a_copy_of_the_tree(
    tmp_path: Path,
) -> None:
    """``import time`` / ``import socket`` in a new core module fail the tree's check."""
    for package in PACKAGES:
        shutil.copytree(
            REPO / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    before = set(check_tree(tmp_path))
    (tmp_path / "harness/core/clock.py").write_text("import time\n")
    (tmp_path / "harness/platform/core/net.py").write_text("import socket\n")
    assert sorted(set(check_tree(tmp_path)) - before) == [
        "harness.core.clock:1 imports time",
        "harness.platform.core.net:1 imports socket",
    ]


@pytest.mark.parametrize(
    ("name", "code", "bad"),
    [
        ("harness.core.x", "from receivers.sink import BatchSink\n", True),
        ("harness.core.x", "from harness.io import sink\n", True),
        ("harness.core.x", "from harness.platform.core.state import Stream\n", True),
        ("harness.core.x", "from harness.core.session import Session\n", False),
        ("harness.platform.core.x", "from harness.platform.core import state\n", False),
        ("harness.platform.core.x", "from harness.platform import server\n", True),
        ("harness.io.x", "from harness.run.cli import main\n", True),
        ("harness.io.x", "from harness.core.records import RowSink\n", False),
        ("receivers.x", "from harness.platform.health import Health\n", True),
        ("receivers.x", "from reports.stats import x\n", True),
        ("reports.x", "from harness.io.sink import RecordSink\n", False),
        ("harness.platform.x", "from harness.platform.core import faults\n", False),
        ("harness.run.x", "from harness.conform import suite\n", True),
    ],
)
def test_the_checker_fails_an_outward_arrow(name: str, code: str, bad: bool) -> None:
    known = set(modules(REPO))
    assert bool(arrow_problems(code, name, known)) is bad


# -- the older rules


def test_locust_is_imported_only_by_scenarios() -> None:
    for package in ("harness", "receivers", "reports"):
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text()
            assert "import locust" not in text and "from locust" not in text, path


def test_every_module_has_a_test_module() -> None:
    missing = []
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if path.name in ("__init__.py", "__main__.py", "locustfile.py"):
                continue
            rel = path.relative_to(REPO)
            test = REPO / "tests" / rel.parent / f"test_{path.name}"
            if not test.exists():
                missing.append(str(rel))
    assert missing == []

"""Meta tests: the sans-I/O core stays pure, and tests mirror the packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).parents[1]
CORE = [
    "harness.core.api",
    "harness.core.audio",
    "harness.core.codecs",
    "harness.core.config",
    "harness.core.correlation",
    "harness.core.errors",
    "harness.core.exits",
    "harness.core.health",
    "harness.core.histogram",
    "harness.core.lines",
    "harness.core.messages",
    "harness.core.metrics",
    "harness.core.records",
    "harness.core.rules",
    "harness.core.secret",
    "harness.core.session",
    "harness.core.sender",
    "harness.core.transitions",
    "harness.core.checks_io",
    "harness.core.profiles.profile",
    "harness.core.profiles.spec",
    "harness.core.profiles.reader",
    "harness.core.profiles.thresholds",
    "harness.core.target",
    "harness.core.negative",
    "harness.core.callbacks",
    "harness.io.deploy",
]
# (socket is not listed: the stdlib email.utils imports it without doing I/O)
BANNED = [
    "asyncio",
    "websockets",
    "gevent",
    "locust",
    "pandas",
    "pyarrow",
    "aiohttp",
    "uvloop",
]


def test_the_core_imports_no_io_framework() -> None:
    code = (
        f"import sys\nimport {', '.join(CORE)}\n"
        f"print(','.join(m for m in {BANNED!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_locust_is_imported_only_by_scenarios() -> None:
    for package in ("harness", "receivers", "reports"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            assert "import locust" not in text and "from locust" not in text, path


def test_every_module_has_a_test_module() -> None:
    missing = []
    for package in ("harness", "receivers", "scenarios", "reports"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name in ("__init__.py", "__main__.py", "locustfile.py"):
                continue
            rel = path.relative_to(ROOT)
            test = ROOT / "tests" / rel.parent / f"test_{path.name}"
            if not test.exists():
                missing.append(str(rel))
    assert missing == []

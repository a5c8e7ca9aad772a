"""harness.io.provenance: the version and the commit of streamload's own source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.io.provenance import SOURCE_ROOT, git_commit, version


GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def _git(root: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
    )  # fmt: skip
    done = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True, text=True, env=env, timeout=30, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_version_is_the_installed_distributions() -> None:
    assert version() == __import__("importlib.metadata").metadata.version("streamload")


@needs_git
def test_the_commit_of_this_checkout_or_none() -> None:
    try:
        expected: str | None = _git(SOURCE_ROOT, "rev-parse", "HEAD")
        if Path(_git(SOURCE_ROOT, "rev-parse", "--show-toplevel")) != SOURCE_ROOT:
            expected = None
    except subprocess.CalledProcessError:
        expected = None  # not a checkout (an sdist, a copied tree)
    assert git_commit() == expected


@needs_git
def test_only_a_checkout_whose_top_is_the_source_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "other-project"
    (repo / "site").mkdir(parents=True)
    _git(repo, "init", "-q")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "x")
    head = _git(repo, "rev-parse", "HEAD")
    assert git_commit(repo) == head
    # installed inside some other project's checkout: its HEAD is not ours
    assert git_commit(repo / "site") is None
    assert git_commit(tmp_path) is None  # no checkout at all
    assert git_commit(tmp_path / "missing") is None
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))  # the caller's git is ignored
    assert git_commit(tmp_path) is None


def test_no_git_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert git_commit() is None

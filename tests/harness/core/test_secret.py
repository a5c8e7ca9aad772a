from __future__ import annotations

from harness.core.secret import Secret, redact


def test_secret_never_prints() -> None:
    s = Secret("hunter2")
    assert "hunter2" not in f"{s} {s!r} {[s]} {s:>10}"
    assert s.reveal() == "hunter2"


def test_constant_time_match() -> None:
    s = Secret("token")
    assert s.matches("token") and not s.matches("tokem") and not s.matches(None)


def test_redact() -> None:
    assert (
        redact("Bearer abc and abc", Secret("abc"), None, "")
        == "Bearer [secure] and [secure]"
    )

"""A string that refuses to print itself, for tokens and passwords."""

from __future__ import annotations

import hmac


__all__ = ["REDACTED", "Secret", "redact"]

REDACTED = "[secure]"


class Secret:
    """Wrap a credential so ``repr``/``str``/f-strings show ``[secure]``.

    Use :meth:`reveal` at the one place the raw value must go on the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the raw value; call only where it is sent, never where it is shown."""
        return self._value

    def matches(self, candidate: str | None) -> bool:
        """Compare in constant time, so a timing probe learns nothing."""
        if candidate is None:
            return False
        return hmac.compare_digest(self._value.encode(), candidate.encode())

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and self.matches(other._value)

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED


def redact(text: str, *secrets: Secret | str | None) -> str:
    """Replace every occurrence of each secret in ``text`` with ``[secure]``."""
    for secret in secrets:
        raw = secret.reveal() if isinstance(secret, Secret) else secret
        if raw:
            text = text.replace(raw, REDACTED)
    return text

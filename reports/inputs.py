"""Read the JSON files a user hands the reports, and check the fields they use.

``summary.json`` (``streamload compare``), ``run.json``, ``capacity-live.json``
and ``shape.json`` are plain files anyone can edit, truncate or replace. Each
reader names the fields it walks and the JSON type each must have (:func:`need`);
a file of the wrong shape is a usage error that names the file and the field
(:class:`harness.core.errors.ConfigError`, exit 2), never a traceback, and never a
verdict on the platform.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from harness.core.errors import ConfigError


__all__ = ["JSON_TYPES", "need", "read_json"]

JSON_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
}
"""The JSON type names :func:`need` takes, and the Python types ``json`` makes of them."""


def read_json(path: Path, fix: str) -> Any:
    """The JSON value in ``path``.

    Raises:
        ConfigError: the file cannot be read, is not JSON, or is nested too
            deep for any reader (the message names the file; ``fix`` says
            what to do).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot be read ({exc})", fix) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise ConfigError(
            str(path), "is nested too deep to be a report file", fix
        ) from None
    except ValueError as exc:
        raise ConfigError(str(path), f"is not valid JSON ({exc})", fix) from None


def need(
    doc: Any, field: str, kind: str, source: Path | str, fix: str, *, each: str = ""
) -> None:
    """Check that ``field`` (dotted, from ``doc``) is absent, null or of JSON type ``kind``.

    With ``each`` (a JSON type), every element of the array (or every value of
    the object) must have that type too. Absent and null fields are allowed:
    readers treat them as "not recorded".

    Raises:
        ConfigError: naming ``source``, the field (``thresholds[2]`` for an
            element) and the type found.
    """
    node: Any = doc
    walked: list[str] = []
    for part in field.split("."):
        if not isinstance(node, Mapping):
            raise ConfigError(
                f"{source}: {'.'.join(walked) or 'top level'}",
                f"is {_name(node)}, not an object",
                fix,
            )
        walked.append(part)
        node = node.get(part)
        if node is None:
            return
    if not isinstance(node, JSON_TYPES[kind]) or _is_bool_number(node, kind):
        raise ConfigError(
            f"{source}: {field}", f"is {_name(node)}, not {_a(kind)}", fix
        )
    if not each:
        return
    items: Sequence[tuple[str, Any]]
    if isinstance(node, list):
        items = [(f"{field}[{i}]", v) for i, v in enumerate(node)]
    else:
        assert isinstance(node, dict)
        items = [(f"{field}.{k}", v) for k, v in node.items()]
    for name, value in items:
        if not isinstance(value, JSON_TYPES[each]) or _is_bool_number(value, each):
            raise ConfigError(
                f"{source}: {name}", f"is {_name(value)}, not {_a(each)}", fix
            )


def _is_bool_number(value: Any, kind: str) -> bool:
    return kind == "number" and isinstance(value, bool)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _name(value: Any) -> str:
    """The JSON type of ``value`` in words, with a short excerpt of a scalar."""
    for kind, types in JSON_TYPES.items():
        if isinstance(value, types) and not (
            kind == "number" and isinstance(value, bool)
        ):
            if kind in ("object", "array"):
                return _a(kind)
            return f"{_a(kind)} ({json.dumps(value)[:40]})"
    return "null"

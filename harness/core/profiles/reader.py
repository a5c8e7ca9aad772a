"""Read a profile document (TOML, or a run's ``profile.json``) and check every value.

tomllib keeps no positions, so :class:`Reader` finds the line of each key in
the text itself (best effort: a table's header when the key is inherited or
inline) to report every mistake as ``file:line: key: problem; fix`` before any
process starts. A document ``extends`` a built-in (``default`` unless it says
``"none"``), merged underneath it table by table and key by key; the built-ins'
texts are handed in (:func:`harness.io.profile_file.builtin_texts` reads them),
so reading stays sans-I/O.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any, Final

from harness.core.codecs import CODEC_NAMES
from harness.core.config import parse_duration
from harness.core.errors import ConfigError
from harness.core.knee import CONFIRMS, SEARCHES, STOPS
from harness.core.profiles.spec import (
    BUILTIN,
    DIMENSIONS,
    MAX_DURATION_S,
    MAX_PROCESSES,
    MAX_RATE,
    MAX_USERS,
    MAX_WEIGHT,
    BudgetSpec,
    CapacitySpec,
    ConformanceSpec,
    Load,
    MatrixSpec,
    PlatformSpec,
    Profile,
    ProfileError,
    ReportSpec,
    ShapeSpec,
)
from harness.core.profiles.thresholds import parse_threshold
from harness.core.rules import RULES


__all__ = ["Reader", "builtin_doc", "check_consistency"]

Json = dict[str, Any]


def builtin_doc(name: str, texts: Mapping[str, str], depth: int = 0) -> Json:
    """A built-in's document with what it extends merged underneath.

    ``texts`` maps each built-in's name to its TOML text.
    """
    doc = tomllib.loads(texts[name])
    parent = doc.get("extends", "default")
    if parent == "none" or parent == name or depth > len(BUILTIN):
        return doc
    return _merge(builtin_doc(str(parent), texts, depth + 1), doc)


_TOP: Final = (
    "name",
    "description",
    "extends",
    "sources",
    "load",
    "shape",
    "matrix",
    "thresholds",
    "conformance",
    "capacity",
    "report",
    "platform",
    "budget",
)
_SECTIONS: Final[dict[str, tuple[str, ...]]] = {
    "load": (
        "model",
        "users",
        "rate",
        "spawn_rate",
        "duration",
        "hold",
        "wait",
        "conferences",
        "processes",
        "receivers",
    ),
    "shape": (
        "kind",
        "start",
        "step",
        "every",
        "ramp",
        "base",
        "at",
        "length",
    ),
    "matrix": (*DIMENSIONS, "weights"),
    "conformance": ("gate", "allow", "negative", "require"),
    "capacity": ("enabled", "require", "stop", "confirm", "search", "factor", "settle"),
    "report": ("codec_compare", "baseline", "band"),
    "platform": ("faults", "defects", "seed", "processes"),
    "budget": ("max_streams", "max_stream_minutes"),
}


class Reader:
    """Check a parsed document section by section, locating each key in the text."""

    def __init__(
        self, text: str, source: str, builtins: Mapping[str, str] | None = None
    ) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.builtins = builtins
        """The built-ins' TOML texts by name, for ``extends``; ``None``: none given."""

    # -- errors

    def line_of(self, section: str, key: str = "") -> int:
        """Best-effort line of ``key`` in ``[section]`` (tomllib keeps no positions)."""
        current = ""
        header = 0
        key_re = (
            re.compile(r'^\s*(?:"' + re.escape(key) + r'"|' + re.escape(key) + r")\s*=")
            if key
            else None
        )
        dotted = (
            re.compile(r"^\s*" + re.escape(f"{section}.{key}") + r"\s*=")
            if section and key
            else None
        )
        for number, line in enumerate(self.lines, start=1):
            m = re.match(r"^\s*\[\s*([^\[\]]+?)\s*\]", line)
            if m:
                current = m.group(1).replace('"', "")
                if current == section:
                    header = number
                continue
            if key_re is None:
                continue
            if current == section and key_re.match(line):
                return number
            if current == "" and dotted is not None and dotted.match(line):
                return number
            if current == "" and section == "" and key_re.match(line):
                return number
        if header:
            return header
        if key and section:  # an inline table: the line naming the key anywhere
            for number, line in enumerate(self.lines, start=1):
                if re.search(r"\b" + re.escape(key) + r"\s*=", line):
                    return number
        return 0

    def fail(self, section: str, key: str, problem: str, fix: str) -> ProfileError:
        bare = re.fullmatch(r"[A-Za-z0-9_-]+", key) is not None
        shown = key if bare or not key else f'"{key}"'
        shown = f"{section}.{shown}" if section and key else section or shown
        return ProfileError(
            self.source, self.line_of(section, key), shown, problem, fix
        )

    def known(
        self, section: str, table: Mapping[str, Any], keys: Sequence[str]
    ) -> None:
        for key in table:
            if key not in keys:
                close = difflib.get_close_matches(key, list(keys), n=1)
                fix = (
                    f"did you mean {close[0]!r}?" if close else f"use {', '.join(keys)}"
                )
                raise self.fail(section, key, "is not a known key", fix)

    # -- typed getters

    def table(self, doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
        value = doc.get(name, {})
        if not isinstance(value, Mapping):
            raise self.fail("", name, "must be a table", f"write [{name}]")
        return value

    def integer(
        self,
        section: str,
        table: Mapping[str, Any],
        key: str,
        default: int,
        low: int,
        high: int,
    ) -> int:
        value = table.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not value.is_integer())
        ):
            raise self.fail(
                section, key, f"{value!r} is not a whole number", "write e.g. 10"
            )
        if not low <= value <= high:
            raise self.fail(
                section, key, f"{int(value)} is out of range", f"use {low} to {high}"
            )
        return int(value)

    def number(
        self,
        section: str,
        table: Mapping[str, Any],
        key: str,
        default: float,
        low: float,
        high: float,
    ) -> float:
        value = table.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.fail(
                section, key, f"{value!r} is not a number", "write e.g. 2.5"
            )
        if not low <= value <= high:
            raise self.fail(
                section, key, f"{value:g} is out of range", f"use {low:g} to {high:g}"
            )
        return float(value)

    def seconds(
        self,
        section: str,
        table: Mapping[str, Any],
        key: str,
        default: float,
        *,
        zero: bool = False,
    ) -> float:
        value = table.get(key, default)
        if isinstance(value, bool):
            value = "bad"
        if isinstance(value, int | float):
            seconds = float(value)
            ok = math.isfinite(seconds) and (seconds >= 0 if zero else seconds > 0)
            if not ok:
                raise self.fail(
                    section, key, f"{value!r} is not a duration", 'write e.g. "30s"'
                )
        else:
            try:
                seconds = parse_duration(key, str(value))
            except ConfigError:
                if zero and str(value).strip() in ("0", "0s"):
                    return 0.0
                raise self.fail(
                    section,
                    key,
                    f"{value!r} is not a duration",
                    'write e.g. "30s", "2m" or "250ms"',
                ) from None
        if seconds > MAX_DURATION_S:
            raise self.fail(
                section, key, f"{value!r} is too long", "keep it under 7 days"
            )
        return seconds

    def span(
        self,
        section: str,
        table: Mapping[str, Any],
        key: str,
        default: tuple[float, float],
    ) -> tuple[float, float]:
        value = table.get(key, list(default))
        parts: list[Any]
        if isinstance(value, str):
            parts = value.split("-") if value.count("-") == 1 else [value]
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parts = [value]
        elif isinstance(value, list):
            parts = value
        else:
            parts = []
        out: list[float] = []
        for part in parts:
            try:
                out.append(float(part))
            except (TypeError, ValueError):
                out = []
                break
        if (
            len(out) not in (1, 2)
            or min(out) < 0
            or max(out) > 3600
            or out[0] > out[-1]
        ):
            raise self.fail(
                section,
                key,
                f"{value!r} is not a time span",
                'write seconds like 2, "1-3" or [1, 3]',
            )
        return (out[0], out[-1])

    def boolean(
        self, section: str, table: Mapping[str, Any], key: str, default: bool
    ) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(
                section, key, f"{value!r} is not true or false", "write true or false"
            )
        return value

    def strings(
        self, section: str, table: Mapping[str, Any], key: str
    ) -> tuple[str, ...]:
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(
                section, key, "must be a list of strings", 'write e.g. ["a", "b"]'
            )
        return tuple(value)

    # -- sections

    def profile(self, doc: Mapping[str, Any], name: str) -> Profile:
        self.known("", doc, _TOP)
        base = self._base(doc)
        for section, keys in _SECTIONS.items():
            if section in doc:
                self.known(section, self.table(doc, section), keys)
        merged = _merge(base, doc) if base is not None else dict(doc)
        description = merged.get("description", "")
        if not isinstance(description, str):
            raise self.fail(
                "", "description", "must be a string", 'write description = "..."'
            )
        profile = Profile(
            name=str(doc.get("name") or name),
            source=self.source,
            description=description,
            load=self.load(merged),
            matrix=self.matrix(self.table(merged, "matrix")),
            thresholds=self.thresholds(self.table(merged, "thresholds")),
            conformance=self.conformance(self.table(merged, "conformance")),
            capacity=self.capacity(self.table(merged, "capacity")),
            report=self.report(self.table(merged, "report")),
            platform=self.platform(self.table(merged, "platform")),
            threshold_sources=self.sources(doc, merged),
            budget=self.budget(self.table(merged, "budget")),
        )
        check_consistency(profile, self)
        return profile

    def sources(
        self, doc: Mapping[str, Any], merged: Mapping[str, Any]
    ) -> dict[str, str]:
        """Where each threshold was declared: this text, a built-in, or a run's record."""
        own = self.table(doc, "thresholds")
        recorded = doc.get("sources", {})
        if not isinstance(recorded, Mapping):
            raise self.fail("", "sources", "must be a table", "remove it")
        base = f"{doc.get('extends', 'default')} (built-in)"
        out: dict[str, str] = {}
        for key, value in self.table(merged, "thresholds").items():
            if value == "off" or value == []:
                continue
            line = self.line_of("thresholds", key) if key in own else 0
            if line:
                out[key] = f"{self.source}:{line}"
            elif isinstance(recorded.get(key), str):
                out[key] = str(recorded[key])
            elif key in own:
                out[key] = self.source
            else:
                out[key] = self.inherited(doc.get("extends", "default"), key) or base
        return out

    def inherited(self, extends: object, key: str) -> str:
        """``default (built-in):31``: the built-in, up the ``extends`` chain, whose
        ``[thresholds]`` declares ``key``, with the line; ``""`` if none does."""
        name = extends
        for _ in range(len(BUILTIN)):  # a chain is never longer than the built-ins
            if not isinstance(name, str) or name not in (self.builtins or {}):
                return ""
            text = (self.builtins or {})[name]
            try:
                table = tomllib.loads(text)
            except tomllib.TOMLDecodeError:
                return ""
            thresholds = table.get("thresholds")
            if isinstance(thresholds, Mapping) and key in thresholds:
                line = Reader(text, "").line_of("thresholds", key)
                return f"{name} (built-in)" + (f":{line}" if line else "")
            name = table.get("extends", "default" if name != "default" else "none")
        return ""

    def _base(self, doc: Mapping[str, Any]) -> Json | None:
        """The built-in a document ``extends``: ``default`` unless it says ``"none"``."""
        extends = doc.get("extends", "default")
        if extends == "none":
            return None
        if not isinstance(extends, str) or extends not in BUILTIN:
            raise self.fail(
                "",
                "extends",
                f"{extends!r} is not a built-in profile",
                f'use one of {", ".join(BUILTIN)}, or "none"',
            )
        if self.builtins is None:
            raise self.fail(
                "",
                "extends",
                f"extends {extends!r} but no built-in profiles were given",
                "load it with harness.io.profile_file.load_profile, or pass builtins",
            )
        return builtin_doc(extends, self.builtins)

    def load(self, doc: Mapping[str, Any]) -> Load:
        t = self.table(doc, "load")
        s = "load"
        model = t.get("model", "closed")
        if model not in ("closed", "open"):
            raise self.fail(
                s, "model", f"{model!r} is not a load model", 'use "closed" or "open"'
            )
        users = self.integer(s, t, "users", 10, 1, MAX_USERS)
        rate = self.number(s, t, "rate", 0.0, 0.0, MAX_RATE)
        if model == "open" and rate <= 0:
            raise self.fail(
                s,
                "rate",
                "the open model needs an arrival rate",
                "set rate = 10 (starts per second)",
            )
        return Load(
            model="open" if model == "open" else "closed",
            users=users,
            rate=rate,
            spawn_rate=self.number(s, t, "spawn_rate", 0.0, 0.0, MAX_USERS),
            duration_s=self.seconds(s, t, "duration", 30.0),
            hold_s=self.span(s, t, "hold", (1.0, 3.0)),
            wait_s=self.span(s, t, "wait", (0.05, 0.25)),
            conferences=self.integer(s, t, "conferences", 3, 1, 1000),
            processes=self.integer(s, t, "processes", 1, 1, MAX_PROCESSES),
            receivers=self.integer(s, t, "receivers", 1, 1, MAX_PROCESSES),
            shape=self.shape(self.table(doc, "shape")),
        )

    def shape(self, t: Mapping[str, Any]) -> ShapeSpec:
        s = "shape"
        kind = t.get("kind", "constant")
        kinds = ("constant", "ramp", "step", "spike", "soak")
        if kind not in kinds:
            raise self.fail(
                s, "kind", f"{kind!r} is not a shape", f"use one of {', '.join(kinds)}"
            )
        return ShapeSpec(
            kind=kind,
            start=self.integer(s, t, "start", 1, 0, MAX_USERS),
            step=self.integer(s, t, "step", 1, 1, MAX_USERS),
            every_s=self.seconds(s, t, "every", 10.0),
            ramp_s=self.seconds(s, t, "ramp", 0.0, zero=True),
            base=self.integer(s, t, "base", 1, 0, MAX_USERS),
            at_s=self.seconds(s, t, "at", 0.0, zero=True),
            length_s=self.seconds(s, t, "length", 0.0, zero=True),
        )

    def matrix(self, t: Mapping[str, Any]) -> MatrixSpec:
        values: dict[str, tuple[str, ...]] = {}
        defaults = {
            "codecs": ["PCMU", "L16@16000h"],
            "tracks": list(DIMENSIONS["tracks"]),
            "params": [0, 1, 10],
            "param_size": ["short"],
            "real_time": ["omit"],
            "bearer_token": ["on"],
            "status_callback": ["off"],
            "stop_by": ["sid", "name"],
        }
        for dim, allowed in DIMENSIONS.items():
            raw = t.get(dim, defaults[dim])
            values[dim] = self.dimension(dim, raw, allowed)
        weights_doc = t.get("weights", {})
        if not isinstance(weights_doc, Mapping):
            raise self.fail(
                "matrix", "weights", "must be a table", "write [matrix.weights]"
            )
        self.known("matrix.weights", weights_doc, list(DIMENSIONS))
        weights: dict[str, dict[str, int]] = {}
        for dim, table in weights_doc.items():
            if not isinstance(table, Mapping):
                raise self.fail(
                    "matrix.weights",
                    dim,
                    "must be a table",
                    f"write {dim} = {{ {values[dim][0]} = 2 }}",
                )
            for raw_value, weight in table.items():
                value = _normal(dim, raw_value)
                if value not in DIMENSIONS[dim]:
                    raise self.fail(
                        "matrix.weights",
                        dim,
                        f"{raw_value!r} is not a value of matrix.{dim}",
                        f"weigh one of {', '.join(values[dim])}",
                    )
                if (
                    isinstance(weight, bool)
                    or not isinstance(weight, int)
                    or not 1 <= weight <= MAX_WEIGHT
                ):
                    raise self.fail(
                        "matrix.weights",
                        dim,
                        f"weight {weight!r} of {raw_value!r} is not a whole number from 1 to {MAX_WEIGHT}",
                        "remove a value from the matrix instead of weighing it 0",
                    )
                if value in values[dim]:  # a weight for an unselected value is moot
                    weights.setdefault(dim, {})[value] = weight
        return MatrixSpec(values=values, weights=weights)

    def dimension(
        self, dim: str, raw: Any, allowed: tuple[str, ...]
    ) -> tuple[str, ...]:
        items = raw if isinstance(raw, list) else [raw]
        out: list[str] = []
        for item in items:
            value = _normal(dim, item)
            if value not in allowed:
                shown = "0 to 98" if dim == "params" else ", ".join(allowed)
                raise self.fail(
                    "matrix", dim, f"{item!r} is not allowed", f"use {shown}"
                )
            if value in out:
                raise self.fail(
                    "matrix", dim, f"{item!r} is listed twice", "list each value once"
                )
            out.append(value)
        if not out:
            raise self.fail("matrix", dim, "is empty", "list at least one value")
        return tuple(out)

    def thresholds(self, t: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
        """Key -> conditions; ``"off"`` drops a key the base profile declared."""
        out: dict[str, tuple[str, ...]] = {}
        for key, value in t.items():
            if value == "off" or value == []:
                continue
            exprs = value if isinstance(value, list) else [value]
            if not all(isinstance(e, str) for e in exprs):
                raise self.fail(
                    "thresholds",
                    key,
                    f"{value!r} is not a condition",
                    'write it as a string, e.g. "< 5"',
                )
            for expr in exprs:
                try:
                    parse_threshold(key, expr)
                except ConfigError as exc:
                    raise self.fail("thresholds", key, exc.problem, exc.fix) from None
            out[key] = tuple(exprs)
        return out

    def conformance(self, t: Mapping[str, Any]) -> ConformanceSpec:
        s = "conformance"
        allow = self.rule_ids(s, t, "allow")
        return ConformanceSpec(
            gate=self.boolean(s, t, "gate", True),
            allow=allow,
            negative=self.boolean(s, t, "negative", False),
            require=self.require(t),
        )

    def rule_ids(self, s: str, t: Mapping[str, Any], key: str) -> tuple[str, ...]:
        """A list of rule ids of the catalog; a typo names the closest id."""
        ids = self.strings(s, t, key)
        for rule in ids:
            if rule not in RULES:
                close = difflib.get_close_matches(rule, list(RULES), n=1)
                raise self.fail(
                    s,
                    key,
                    f"{rule!r} is not a rule id",
                    f"did you mean {close[0]}?"
                    if close
                    else "see harness/core/rules.py for the ids",
                )
        return ids

    def require(self, t: Mapping[str, Any]) -> str | tuple[str, ...]:
        """``[conformance] require``: "all", "none" or a list of rule ids."""
        value = t.get("require", "none")
        if isinstance(value, str) and value in ("all", "none"):
            return value
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return self.rule_ids("conformance", t, "require")
        raise self.fail(
            "conformance",
            "require",
            f'{value!r} is not "all", "none" or a list of rule ids',
            'write require = "all", "none" or ["REST-REJECT-001", ...]',
        )

    def capacity(self, t: Mapping[str, Any]) -> CapacitySpec:
        return CapacitySpec(
            enabled=self.boolean("capacity", t, "enabled", False),
            require=self.integer("capacity", t, "require", 1, 0, MAX_USERS),
            stop=self.choice("capacity", t, "stop", STOPS),  # type: ignore[arg-type]
            confirm=self.choice("capacity", t, "confirm", CONFIRMS),  # type: ignore[arg-type]
            search=self.choice("capacity", t, "search", SEARCHES),  # type: ignore[arg-type]
            factor=self.number("capacity", t, "factor", 2.0, 1.1, 10.0),
            settle_s=self.seconds("capacity", t, "settle", 2.0),
        )

    def choice(
        self, section: str, table: Mapping[str, Any], key: str, allowed: tuple[str, ...]
    ) -> str:
        """One of ``allowed`` (the first is the default)."""
        value = table.get(key, allowed[0])
        if value not in allowed:
            raise self.fail(
                section,
                key,
                f"{value!r} is not one of {', '.join(allowed)}",
                f'write {key} = "{allowed[0]}"',
            )
        return str(value)

    def budget(self, t: Mapping[str, Any]) -> BudgetSpec:
        return BudgetSpec(
            max_streams=self.integer("budget", t, "max_streams", 0, 0, 10_000_000),
            max_stream_minutes=self.number(
                "budget", t, "max_stream_minutes", 0.0, 0.0, 10_000_000.0
            ),
        )

    def report(self, t: Mapping[str, Any]) -> ReportSpec:
        baseline = t.get("baseline", "PCMU")
        if baseline not in CODEC_NAMES:
            raise self.fail(
                "report",
                "baseline",
                f"{baseline!r} is not a codec",
                f"use one of {', '.join(CODEC_NAMES)}",
            )
        return ReportSpec(
            codec_compare=self.boolean("report", t, "codec_compare", False),
            baseline=baseline,
            band=self.number("report", t, "band", 0.2, 0.0, 10.0),
        )

    def platform(self, t: Mapping[str, Any]) -> PlatformSpec:
        faults_doc = t.get("faults", {})
        faults: list[str] = []
        if isinstance(faults_doc, Mapping):
            faults = [f"{k}={v}" for k, v in faults_doc.items()]
        elif isinstance(faults_doc, list) and all(
            isinstance(f, str) for f in faults_doc
        ):
            faults = list(faults_doc)
        else:
            raise self.fail(
                "platform",
                "faults",
                "must be a table",
                'write faults = { delay = "5ms" }',
            )
        for fault in faults:
            if not re.fullmatch(r"[a-z][a-z0-9-]*=\S+", fault):
                raise self.fail(
                    "platform",
                    "faults",
                    f"{fault!r} is not NAME=VALUE",
                    'write e.g. { delay = "5ms" }',
                )
        seed = t.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise self.fail(
                "platform",
                "seed",
                f"{seed!r} is not a whole number",
                "write e.g. seed = 1",
            )
        return PlatformSpec(
            faults=tuple(faults),
            defects=self.strings("platform", t, "defects"),
            seed=seed,
            processes=self.integer("platform", t, "processes", 1, 1, MAX_PROCESSES),
        )


def _normal(dim: str, item: Any) -> str:
    """A matrix value as its canonical string (booleans, numbers, on/off)."""
    if dim in ("bearer_token", "status_callback") and isinstance(item, bool):
        return "on" if item else "off"
    if dim == "real_time" and isinstance(item, bool):
        return "true" if item else "false"
    if dim == "params" and isinstance(item, int) and not isinstance(item, bool):
        return str(item)
    return str(item)


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> Json:
    """``over`` on top of ``base``, table by table and key by key."""
    out: Json = dict(base)
    for key, value in over.items():
        if key in ("extends", "name"):
            continue
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def check_consistency(profile: Profile, reader: Reader | None = None) -> None:
    """Checks that span sections; raise a :class:`ProfileError`."""

    def fail(section: str, key: str, problem: str, fix: str) -> ProfileError:
        if reader is not None:
            return reader.fail(section, key, problem, fix)
        return ProfileError(profile.source, 0, f"{section}.{key}", problem, fix)

    load = profile.load
    shape = load.shape
    if load.model == "open" and shape.kind != "constant":
        raise fail(
            "shape",
            "kind",
            "shapes drive users of the closed model",
            'remove [shape] or use model = "closed"',
        )
    if shape.kind == "step" and shape.start > load.users:
        raise fail(
            "shape",
            "start",
            f"{shape.start} is above load.users ({load.users})",
            "start lower or raise load.users",
        )
    if shape.kind == "spike" and shape.at_s + shape.length_s > load.duration_s:
        raise fail(
            "shape",
            "length",
            "the spike ends after the run",
            "shorten it or lengthen load.duration",
        )
    if shape.kind == "spike" and shape.length_s <= 0:
        raise fail("shape", "length", "a spike needs a length", 'write length = "10s"')
    if profile.capacity.enabled and shape.kind != "step":
        raise fail(
            "capacity",
            "enabled",
            "capacity search steps the load",
            'add [shape] kind = "step"',
        )
    if profile.capacity.enabled and profile.capacity.require > load.users:
        raise fail(
            "capacity",
            "require",
            f"{profile.capacity.require} is above load.users ({load.users})",
            "require at most load.users",
        )

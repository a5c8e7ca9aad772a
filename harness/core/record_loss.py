"""What a record producer failed to keep: rows whose write failed, rows it dropped.

Every producer (receiver, callback sink, reference platform, Locust's record
writer) keeps one :class:`RecordLoss`. Its counts go out in the producer's
``stats`` lines and in its manifest (``RUN_DIR/producers/<producer>.json``),
so the report can say which producer lost what and when, and judge nothing
from records it knows are incomplete: the harness's own loss is never the
platform's. Pure: the caller passes the clocks.
"""

from __future__ import annotations

import dataclasses
from typing import Any


__all__ = ["RecordLoss"]


@dataclasses.dataclass
class RecordLoss:
    """Rows a producer could not record, per table, with when it happened.

    ``failed``: rows in writes that raised (disk full, I/O error); gone.
    ``dropped``: rows the producer chose not to keep because its writer was
    behind (:mod:`harness.io.recorder`'s bound); counted exactly, never written.
    Times are ``time.monotonic_ns()`` (the same clock as the records and the
    run's events) and ``time.time_ns()`` of the first and last loss.
    """

    producer: str
    kind: str
    failed: dict[str, int] = dataclasses.field(default_factory=dict)
    dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    write_errors: int = 0
    """Writes (Parquet parts) that failed."""
    last_error: str = ""
    first_mono_ns: int = 0
    last_mono_ns: int = 0
    first_wall_ns: int = 0
    last_wall_ns: int = 0

    def fail(
        self, table: str, rows: int, error: str, mono_ns: int, wall_ns: int
    ) -> None:
        """Count one failed write of ``rows`` rows of ``table``."""
        self.write_errors += 1
        self.failed[table] = self.failed.get(table, 0) + rows
        self.last_error = error[:200]
        self._at(mono_ns, wall_ns)

    def drop(self, table: str, rows: int, mono_ns: int, wall_ns: int) -> None:
        """Count ``rows`` rows of ``table`` left out of the records on purpose."""
        self.dropped[table] = self.dropped.get(table, 0) + rows
        self._at(mono_ns, wall_ns)

    def _at(self, mono_ns: int, wall_ns: int) -> None:
        if not self.first_mono_ns:
            self.first_mono_ns, self.first_wall_ns = mono_ns, wall_ns
        self.last_mono_ns, self.last_wall_ns = mono_ns, wall_ns

    @property
    def rows_failed(self) -> int:
        return sum(self.failed.values())

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def complete(self) -> bool:
        """No row lost: the producer's records are whole (as far as it knows)."""
        return not (self.write_errors or self.rows_failed or self.rows_dropped)

    def stats(self) -> dict[str, int]:
        """The counts for a ``stats`` line (summed across workers by a supervisor)."""
        return {
            "records_failed": self.rows_failed,
            "records_dropped": self.rows_dropped,
            "record_write_errors": self.write_errors,
        }

    def as_json(self) -> dict[str, Any]:
        """The producer's manifest (``RUN_DIR/producers/<producer>.json``)."""
        return {
            "producer": self.producer,
            "kind": self.kind,
            "complete": self.complete,
            "rows_failed": dict(sorted(self.failed.items())),
            "rows_dropped": dict(sorted(self.dropped.items())),
            "write_errors": self.write_errors,
            "last_error": self.last_error,
            "first_mono_ns": self.first_mono_ns or None,
            "last_mono_ns": self.last_mono_ns or None,
            "first_wall_ns": self.first_wall_ns or None,
            "last_wall_ns": self.last_wall_ns or None,
        }

"""Parameters of a reconciliation, checked before anything touches the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from statsfirst.errors import UsageError


@dataclass(frozen=True)
class ReconcileOptions:
    """``since`` inclusive, ``until`` exclusive, on the legacy ``c3d_metadata.created_at`` (as ``migrate``)."""

    since: datetime | None = None
    until: datetime | None = None
    segment_size: int = 1000  # legacy ids per checksum segment
    listed: int = 10  # mismatches listed per kind (all are counted)

    def __post_init__(self) -> None:
        if self.since and self.until and self.since >= self.until:
            raise UsageError(
                f"--since {self.since.date()} is not before --until {self.until.date()}",
                "swap them or widen the range (--until is exclusive)",
            )
        if self.segment_size < 1:
            raise UsageError("the checksum segment size must be at least 1", "e.g. 1000")
        if self.listed < 0:
            raise UsageError("the number of listed mismatches cannot be negative", "e.g. 10")

    def range_params(self) -> dict[str, object]:
        return {"since": self.since, "until": self.until}

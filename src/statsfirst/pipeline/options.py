"""Parameters of a migration run, checked before anything touches the database."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from statsfirst.errors import UsageError
from statsfirst.transform.scoring import PerformanceWeights


def parse_day(text: str | None, option: str, *, days_only: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` (the start of that day, 00:00 UTC) or, unless ``days_only`` (the command line, whose help
    promises days), an ISO timestamp; naive values are UTC (as the legacy data is)."""
    if text is None:
        return None
    remedy = f"use {option} YYYY-MM-DD (e.g. 2024-01-31; days start at 00:00 UTC)"
    is_timestamp = "T" in text or " " in text.strip()
    if days_only and is_timestamp:
        raise UsageError(f"{option} {text!r} is not a day (a time of day is not accepted)", remedy)
    try:
        value = (
            datetime.fromisoformat(text)
            if is_timestamp
            else datetime.combine(date.fromisoformat(text.strip()), datetime.min.time())
        )
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date", remedy) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class MigrateOptions:
    since: datetime | None = None
    until: datetime | None = None
    batch_size: int = 5000
    workers: int = 2
    dry_run: bool = False
    # None: the target's recorded configuration (pipeline/configuration.py); given: must equal it, or --reweigh
    weights: PerformanceWeights | None = None
    # rewrite every score with ``weights`` and record them as the target's configuration
    reweigh: bool = False
    # only the legacy sessions changed since the target's watermark (the nightly deployment)
    incremental: bool = False
    # a keyset partition of c3d_metadata.id (inclusive bounds): set by a partitioned backfill for each partition
    first_id: str | None = None
    last_id: str | None = None

    @classmethod
    def from_text(cls, *, since: str | None = None, until: str | None = None, weights: str | None = None,
                  days_only: bool = False, names: tuple[str, str] = ("since", "until"), **rest: Any) -> MigrateOptions:
        """The options as a person or a flow gives them (days and weights as text), parsed in this one place;
        ``names`` are the option names the errors use (``--since`` on the command line)."""
        return cls(
            since=parse_day(since, names[0], days_only=days_only),
            until=parse_day(until, names[1], days_only=days_only),
            weights=PerformanceWeights.parse(weights) if weights else None,
            **rest,
        )

    def __post_init__(self) -> None:
        if self.since and self.until and self.since >= self.until:
            raise UsageError(
                f"--since {self.since.date()} is not before --until {self.until.date()}",
                "swap them or widen the range (--until is exclusive)",
            )
        if self.batch_size < 1:
            raise UsageError("--batch-size must be at least 1", "e.g. --batch-size 2000")
        if self.workers < 1:
            raise UsageError("--workers must be at least 1", "e.g. --workers 2")
        if self.incremental and (self.since or self.until):
            raise UsageError(
                "--incremental takes no --since/--until (it follows the target's watermark)",
                "drop --since/--until, or run a backfill over the range without --incremental",
            )
        if self.reweigh and self.weights is None:
            raise UsageError("--reweigh needs the new weights", "add --weights compliance=W,symmetry=W,effort=W,game=W")
        if self.reweigh and (self.incremental or self.since or self.until or self.first_id):
            raise UsageError(
                "--reweigh rewrites every score, so it runs over every session",
                "drop --incremental/--since/--until when re-weighing",
            )
        if (self.first_id is None) != (self.last_id is None):
            raise UsageError("a partition needs both id bounds", "give first_id and last_id")

    def parameters(self, target_schema: str) -> dict[str, object]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "batch_size": self.batch_size,
            "weights": self.weights.as_text() if self.weights else None,
            "target_schema": target_schema,
            # present only when set, so the command keys of plain runs stay what they were
            **({"incremental": True} if self.incremental else {}),
            **({"reweigh": True} if self.reweigh else {}),
            **({"first_id": self.first_id, "last_id": self.last_id} if self.first_id else {}),
        }

    def command_key(self, target_schema: str, extra: dict[str, object] | None = None) -> str:
        """Same work → same key, so a killed run is resumed by re-running the same command.

        ``extra`` adds what defines the work beyond the options (an incremental run's starting watermark).
        """
        canonical = json.dumps({**self.parameters(target_schema), **(extra or {})}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

"""The closing summary of a migration run (also stored on the run's ledger row)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from statsfirst.target_tables import TARGET_TABLES


@dataclass
class MigrationSummary:
    run_id: str | None
    dry_run: bool
    resumed: bool
    sessions_in_range: int = 0
    migrated: int = 0
    # of ``migrated``: still pending/processing in legacy, so therapy_sessions only (completed by a later run)
    migrated_pending: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    wall_seconds: float = 0.0
    sessions_this_invocation: int = 0
    # incremental runs: changed-looking sessions whose sources hash as before (nothing written)
    unchanged: int = 0
    # full runs rewrite every session: of the migrated ones, those whose legacy sources had not changed
    rewritten_unchanged: int = 0
    # migrated legacy rows gone from the legacy tables: reported, never deleted from the target
    deleted_in_legacy: dict[str, Any] = field(default_factory=dict)
    # runs over the whole history: how the legacy session_settings rows link (extract/settings_links.py)
    settings_links: dict[str, int] | None = None

    def add(self, outcome: dict[str, Any]) -> None:
        self.migrated += int(outcome.get("migrated", 0))
        self.migrated_pending += int(outcome.get("migrated_pending", 0))
        self.quarantined.update(outcome.get("quarantined", {}))
        self.skipped.update(outcome.get("skipped", {}))
        self.rows.update(outcome.get("rows", {}))
        self.unchanged += int(outcome.get("unchanged", 0))
        self.rewritten_unchanged += int(outcome.get("rewritten_unchanged", 0))

    @property
    def accounted(self) -> int:
        return self.migrated + sum(self.quarantined.values()) + sum(self.skipped.values()) + self.unchanged

    @property
    def rate(self) -> float:
        return self.sessions_this_invocation / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "resumed": self.resumed,
            "sessions": {
                "in_range": self.sessions_in_range,
                "migrated": self.migrated,
                "migrated_pending": self.migrated_pending,
                "quarantined": sum(self.quarantined.values()),
                "skipped": sum(self.skipped.values()),
            },
            "quarantined_by_reason": dict(sorted(self.quarantined.items())),
            "skipped_by_reason": dict(sorted(self.skipped.items())),
            "unchanged": self.unchanged,
            "rewritten_unchanged": self.rewritten_unchanged,
            "deleted_in_legacy": self.deleted_in_legacy,
            "settings_links": self.settings_links,
            "rows": {table: self.rows.get(table, 0) for table in TARGET_TABLES},
            "wall_seconds": round(self.wall_seconds, 3),
            "sessions_per_second": round(self.rate, 1),
        }

    def render(self) -> Table:
        verb = "would be " if self.dry_run else ""
        title = f"statsfirst migrate{' (dry run: nothing written)' if self.dry_run else ''}"
        table = Table(title=title, show_header=True)
        table.add_column("what")
        table.add_column("count", justify="right")
        table.add_row("legacy sessions in range", f"{self.sessions_in_range:,}")
        if self.unchanged:
            # the sessions written (new or changed) and those already up to date are told apart
            table.add_row(f"{verb}migrated: new or changed (written)", f"{self.migrated:,}")
            table.add_row("migrated: unchanged (already up to date, nothing written)", f"{self.unchanged:,}")
        else:
            table.add_row(f"{verb}migrated", f"{self.migrated:,}")
        if self.migrated_pending:
            table.add_row(f"  of the {verb}migrated, still pending/processing in legacy (no child rows yet)",
                          f"{self.migrated_pending:,}")
        if self.rewritten_unchanged:
            table.add_row(f"  of these, unchanged in legacy since last migrated ({verb}rewritten as before)",
                          f"{self.rewritten_unchanged:,}")
        for reason, count in sorted(self.quarantined.items()):
            table.add_row(f"{verb}quarantined: {reason}", f"{count:,}")
        for reason, count in sorted(self.skipped.items()):
            table.add_row(f"{verb}skipped: {reason}", f"{count:,}")
        if self.sessions_this_invocation == 0 and not self.resumed:
            table.add_row("nothing to do (no session to process)", "")
        if self.deleted_in_legacy.get("sessions") or self.deleted_in_legacy.get("analyses"):
            table.add_row("deleted_in_legacy (kept in target): sessions", f"{self.deleted_in_legacy['sessions']:,}")
            table.add_row("deleted_in_legacy (kept in target): analyses", f"{self.deleted_in_legacy['analyses']:,}")
        if self.settings_links:
            links = self.settings_links
            table.add_row("legacy settings rows linked to no session (nothing to migrate)", f"{links['unlinked']:,}")
            table.add_row("sessions with several legacy settings rows (the newest used)",
                          f"{links['ambiguous_sessions']:,}")
        for name in TARGET_TABLES:
            note = " (no legacy source; stays empty)" if name == "export_history" else ""
            table.add_row(f"rows → {name}{note}", f"{self.rows.get(name, 0):,}")
        table.add_row("wall time", f"{self.wall_seconds:.1f} s")
        table.add_row("sessions/s (this invocation)", f"{self.rate:,.0f}")
        return table

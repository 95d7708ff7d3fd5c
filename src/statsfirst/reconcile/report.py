"""The reconciliation report: one plain data model that every renderer (json, csv, html, text, markdown) reads.

It holds legacy ids and patient codes only. Names (patients, therapists, players) are never selected, and
free-text legacy values that could hold one (file paths, error messages, session folders) are withheld from
mismatch details.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from statsfirst.extract.settings_links import SettingsLinks
from statsfirst.target_tables import TARGET_TABLES

# Every state a legacy session (or a migrated session whose legacy row is gone) can be in without being a mismatch.
# deleted_in_legacy: migrated, then deleted from the legacy tables (kept in the target, mapping.md).
# arrived_since_last_run: created or changed in legacy after the point of history the last completed run covered;
# the next run picks it up, so it is listed and accounted, not compared.
ACCOUNTED_STATES = ("migrated", "quarantined", "skipped", "deleted_in_legacy", "arrived_since_last_run")
LISTED_STATES = ("deleted_in_legacy", "arrived_since_last_run")


@dataclass
class SessionCounts:
    legacy: int = 0
    migrated: int = 0
    # of ``migrated``: still pending/processing in legacy, so a therapy_sessions row without child rows yet
    migrated_pending: int = 0
    quarantined: int = 0
    # no rule skips a session any more (pending/processing ones are migrated); kept for the JSON shape
    skipped: int = 0
    mismatched: int = 0
    # migrated sessions whose legacy row is gone (not part of ``legacy``: the legacy tables no longer hold them)
    deleted_in_legacy: int = 0
    # legacy sessions created or changed after the last completed run (part of ``legacy``)
    arrived_since_last_run: int = 0


@dataclass
class ListedSession:
    """A session named in an accounted state the reader should know about (ids and codes only, never names)."""

    legacy_id: str
    patient_code: str | None
    uploaded_at: str | None


@dataclass
class LastRun:
    """The completed migration run whose point of legacy history the reconciliation measured arrivals against."""

    run_id: str
    finished_at: str | None
    legacy_snapshot: str


@dataclass
class TableCount:
    """Rows a target table should hold (from the legacy side) and holds, for the sessions in scope."""

    name: str
    expected: int
    actual: int
    compared: bool = True  # export_history has no legacy source: its rows are counted, never a mismatch

    @property
    def delta(self) -> int:
        return self.actual - self.expected

    @property
    def delta_pct(self) -> float | None:
        return round(100.0 * self.delta / self.expected, 3) if self.expected else None

    @property
    def matches(self) -> bool:
        return not self.compared or self.delta == 0


@dataclass
class Mismatch:
    """One thing that does not reconcile, named by legacy id (and patient code) where it concerns a session."""

    kind: str  # accounting | row_count | missing_row | unexpected_row | value | pipeline_counters
    legacy_id: str | None = None
    patient_code: str | None = None
    table: str | None = None
    row_key: str | None = None
    column: str | None = None
    expected: str | None = None
    actual: str | None = None
    detail: str = ""


@dataclass
class ValueCheck:
    segment_size: int = 0
    segments: int = 0
    segments_differing: int = 0
    sessions_compared: int = 0
    rows_compared: dict[str, int] = field(default_factory=dict)
    sessions_with_differences: int = 0
    differences_by_table: dict[str, int] = field(default_factory=dict)


@dataclass
class PatientRow:
    """Per patient: sessions in the old system and what became of them (codes only, never names)."""

    patient_code: str | None  # the code, or None when the session names no patient
    registered: bool
    legacy: int
    migrated: int
    # of ``migrated``: still pending/processing in legacy (their results follow once the old system finishes)
    migrated_pending: int
    quarantined: int
    mismatched: int
    overall_score_computable: int

    @property
    def migrated_done(self) -> int:
        return self.migrated - self.migrated_pending

    @property
    def label(self) -> str:
        if self.patient_code is None:
            return "(no identifiable patient)"
        return self.patient_code if self.registered else f"{self.patient_code} (not registered)"


@dataclass
class Completeness:
    migrated: int = 0
    overall_score_computable: int = 0
    not_computable_reasons: dict[str, int] = field(default_factory=dict)
    bfr_gate_not_applied: int = 0
    no_identifiable_patient: dict[str, int] = field(default_factory=dict)
    point_rate_33hz: dict[str, int] = field(default_factory=dict)


@dataclass
class PipelineCounters:
    """The latest completed migration run over the same range, as the pipeline counted it (a cross-check only)."""

    run_id: str
    migrated: int
    quarantined: int
    skipped: int
    agrees: bool
    migrated_pending: int = 0


@dataclass
class ReconciliationReport:
    generated_at: str
    target_schema: str
    since: str | None
    until: str | None
    weights: str
    legacy_session_settings: bool
    sessions: SessionCounts
    states: dict[str, int]
    quarantine_reasons: dict[str, int]
    skipped_reasons: dict[str, int]
    tables: list[TableCount]
    values: ValueCheck
    completeness: Completeness
    patients: list[PatientRow]
    pipeline_counters: PipelineCounters | None
    mismatch_counts: dict[str, int]
    mismatches: list[Mismatch]
    wall_seconds: float = 0.0
    # per state of LISTED_STATES: the sessions in it (at most ReconcileOptions.listed each; the count is complete)
    listed: dict[str, list[ListedSession]] = field(default_factory=dict)
    last_run: LastRun | None = None
    # the target's recorded configuration as (what, value) rows (pipeline/configuration.py)
    configuration: list[tuple[str, str]] = field(default_factory=list)
    # how the legacy session_settings rows link to sessions (whole table; None without that table)
    settings_links: SettingsLinks | None = None

    @property
    def found_legacy_sessions(self) -> bool:
        """False when no legacy session is in scope: a wrong DSN or range must not look healthy."""
        return self.sessions.legacy > 0 or self.sessions.deleted_in_legacy > 0

    @property
    def reconciled(self) -> bool:
        return self.found_legacy_sessions and not any(self.mismatch_counts.values())

    def tables_in_order(self) -> list[TableCount]:
        """The per-table counts in target-schema.md's order (every format lists them so)."""
        return sorted(self.tables, key=lambda t: TARGET_TABLES.index(t.name))

    def table(self, name: str) -> TableCount:
        return next(t for t in self.tables if t.name == name)

    def as_json(self) -> dict[str, Any]:
        """The documented JSON shape (README: statsfirst reconcile --format json)."""
        return {
            "reconciled": self.reconciled,
            "generated_at": self.generated_at,
            "scope": {
                "since": self.since,
                "until": self.until,
                "target_schema": self.target_schema,
                "weights": self.weights,
                "legacy_session_settings": self.legacy_session_settings,
                "configuration": dict(self.configuration),
                "last_run": asdict(self.last_run) if self.last_run else None,
            },
            "sessions": asdict(self.sessions),
            "states": dict(self.states),
            "quarantine_reasons": dict(self.quarantine_reasons),
            "skipped_reasons": dict(self.skipped_reasons),
            "tables": {
                t.name: {
                    "expected": t.expected,
                    "actual": t.actual,
                    "delta": t.delta,
                    "delta_pct": t.delta_pct,
                    "compared": t.compared,
                }
                for t in self.tables_in_order()
            },
            "values": asdict(self.values),
            "completeness": asdict(self.completeness),
            "patients": [{"label": p.label, **asdict(p)} for p in self.patients],
            "pipeline_counters": asdict(self.pipeline_counters) if self.pipeline_counters else None,
            "mismatch_counts": dict(self.mismatch_counts),
            "mismatches": [asdict(m) for m in self.mismatches],
            "listed": {state: [asdict(s) for s in sessions] for state, sessions in self.listed.items()},
            "settings_links": self.settings_links.as_json() if self.settings_links else None,
            "wall_seconds": round(self.wall_seconds, 3),
        }

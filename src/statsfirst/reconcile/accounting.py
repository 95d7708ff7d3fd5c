"""Accounting: every legacy session in scope is exactly one of migrated, quarantined (by reason) or skipped (by
rule, recomputed from the legacy row), and the three add up to the legacy count.

A session in none of them, or in two, is a mismatch named by its legacy id; so are target sessions and open
quarantine entries whose legacy row is gone. The pipeline's own counters (the latest completed run over the same
range) are only cross-checked, never trusted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import psycopg

from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.queries import query
from statsfirst.reconcile.report import ACCOUNTED_STATES, Mismatch, PipelineCounters, SessionCounts

SKIP_REASON = "not_yet_processed"
ORPHAN_STATES = ("target_without_legacy_row", "quarantine_without_legacy_row")
STATE_DETAILS = {
    "unaccounted": "in neither the target nor the quarantine, and not skipped by rule",
    "migrated_and_quarantined": "in the target and in an open quarantine entry",
    "skipped_but_migrated": "still pending/processing in the legacy system, yet in the target",
    "skipped_but_quarantined": "still pending/processing in the legacy system, yet in an open quarantine entry",
    "skipped_but_migrated_and_quarantined": "still pending/processing, yet in the target and in the quarantine",
    "target_without_legacy_row": "in the target, but no legacy c3d_metadata row has this id",
    "quarantine_without_legacy_row": "in an open quarantine entry, but no legacy c3d_metadata row has this id",
}


@dataclass
class Accounting:
    sessions: SessionCounts
    states: dict[str, int]
    quarantine_reasons: dict[str, int]
    skipped_reasons: dict[str, int]
    mismatches: list[Mismatch] = field(default_factory=list)
    mismatch_count: int = 0


def build_accounting(conn: psycopg.Connection, options: ReconcileOptions) -> Accounting:
    """Creates rc_scope and rc_accounting (used by every later step) and counts the states."""
    conn.execute(query("scope", "scope"), options.range_params())
    conn.execute(query("scope", "accounting"))
    states: dict[str, int] = dict(
        conn.execute("SELECT state, count(*) FROM rc_accounting GROUP BY state ORDER BY state").fetchall()
    )
    reasons: dict[str, int] = dict(
        conn.execute(
            "SELECT coalesce(quarantine_reason, 'unknown'), count(*) FROM rc_accounting WHERE state = 'quarantined' "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    )
    unaccounted = conn.execute(
        "SELECT session_id::text, state, patient_code FROM rc_accounting "
        "WHERE state <> ALL(%s) ORDER BY session_id LIMIT %s",
        (list(ACCOUNTED_STATES), options.listed),
    ).fetchall()
    orphans = conn.execute(query("scope", "orphans"), options.range_params()).fetchall()
    for state, _, _ in orphans:
        states[state] = states.get(state, 0) + 1
    listed = sorted(unaccounted + orphans[: options.listed], key=lambda r: r[0])[: options.listed]
    mismatches = [
        Mismatch(kind="accounting", legacy_id=sid, patient_code=code, detail=f"{state}: {STATE_DETAILS[state]}")
        for sid, state, code in listed
    ]
    mismatched = sum(n for s, n in states.items() if s not in ACCOUNTED_STATES)
    sessions = SessionCounts(
        legacy=sum(n for s, n in states.items() if s not in ORPHAN_STATES),
        migrated=states.get("migrated", 0),
        quarantined=states.get("quarantined", 0),
        skipped=states.get("skipped", 0),
        mismatched=mismatched,
    )
    skipped = {SKIP_REASON: sessions.skipped} if sessions.skipped else {}
    return Accounting(sessions, states, reasons, skipped, mismatches, mismatched)


def pipeline_counters(
    conn: psycopg.Connection, options: ReconcileOptions, target_schema: str, sessions: SessionCounts
) -> PipelineCounters | None:
    """The latest completed run's totals, when that run covered exactly this range and target schema."""
    row = conn.execute(
        "SELECT run_id::text, parameters, totals FROM statsfirst.migration_runs WHERE status = 'completed' "
        # incremental runs and the partitions of a backfill count only part of the range: not comparable
        "AND NOT (parameters ? 'incremental' OR parameters ? 'first_id') "
        "ORDER BY finished_at DESC NULLS LAST, started_at DESC LIMIT 1"
    ).fetchone()
    if row is None or row[2] is None:
        return None
    run_id, parameters, totals = row
    parameters = parameters if isinstance(parameters, dict) else json.loads(parameters)
    totals = totals if isinstance(totals, dict) else json.loads(totals)
    same_range = (
        parameters.get("since") == (options.since.isoformat() if options.since else None)
        and parameters.get("until") == (options.until.isoformat() if options.until else None)
        and parameters.get("target_schema") == target_schema
    )
    if not same_range:
        return None
    claimed = totals.get("sessions", {})
    migrated, quarantined, skipped = (int(claimed.get(k, 0)) for k in ("migrated", "quarantined", "skipped"))
    agrees = (migrated, quarantined, skipped) == (sessions.migrated, sessions.quarantined, sessions.skipped)
    return PipelineCounters(run_id, migrated, quarantined, skipped, agrees)


def latest_weights(conn: psycopg.Connection) -> str | None:
    """The performance weights of the latest completed migration run (a run parameter, stored on its ledger row)."""
    row = conn.execute(
        "SELECT parameters ->> 'weights' FROM statsfirst.migration_runs WHERE status = 'completed' "
        "ORDER BY finished_at DESC NULLS LAST, started_at DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None

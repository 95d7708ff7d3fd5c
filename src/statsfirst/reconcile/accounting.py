"""Accounting: every legacy session in scope is exactly one of migrated or quarantined (by reason), and the two add
up to the legacy count. A session still pending/processing in legacy is migrated too (mapping.md "Every legacy row
has a home"): it is counted in ``migrated`` and, of those, in ``migrated_pending``; missing from the target it is
``unaccounted``, a mismatch like any other. No rule skips a session any more (``skipped`` stays 0).

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
from statsfirst.reconcile.report import (
    ACCOUNTED_STATES,
    LastRun,
    ListedSession,
    Mismatch,
    PipelineCounters,
    SessionCounts,
)

STATE_DETAILS = {
    "unaccounted": "in neither the target nor the quarantine",
    "migrated_and_quarantined": "in the target and in an open quarantine entry",
}


@dataclass
class Accounting:
    sessions: SessionCounts
    states: dict[str, int]
    quarantine_reasons: dict[str, int]
    skipped_reasons: dict[str, int]
    mismatches: list[Mismatch] = field(default_factory=list)
    mismatch_count: int = 0
    listed: dict[str, list[ListedSession]] = field(default_factory=dict)
    last_run: LastRun | None = None


def last_completed_point(conn: psycopg.Connection, target_schema: str) -> LastRun | None:
    """The point of legacy history the target is known to cover: the watermark (the last run over the whole
    history), else the newest completed run that recorded one (a backfill of a range)."""
    row = conn.execute(
        """
        SELECT r.run_id::text, r.finished_at::text, w.legacy_snapshot::text
        FROM statsfirst.watermarks w LEFT JOIN statsfirst.migration_runs r ON r.run_id = w.run_id
        WHERE w.target_schema = %(target)s
        UNION ALL
        (SELECT r.run_id::text, r.finished_at::text, r.legacy_snapshot::text FROM statsfirst.migration_runs r
         WHERE r.status = 'completed' AND r.target_schema = %(target)s AND r.legacy_snapshot IS NOT NULL
         ORDER BY r.finished_at DESC LIMIT 1)
        LIMIT 1
        """,
        {"target": target_schema},
    ).fetchone()
    return LastRun(row[0] or "", row[1], row[2]) if row else None


def build_accounting(
    conn: psycopg.Connection, options: ReconcileOptions, target_schema: str, with_settings: bool
) -> Accounting:
    """Creates rc_scope and rc_accounting (used by every later step) and counts the states."""
    last_run = last_completed_point(conn, target_schema)
    params = {**options.range_params(), "mark": last_run.legacy_snapshot if last_run else None}
    conn.execute(query("scope", "scope"), params)
    if with_settings:
        conn.execute(query("scope", "arrived_settings"), params)
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
    arrived = conn.execute(
        "SELECT session_id::text, patient_code, created_at::text FROM rc_accounting "
        "WHERE state = 'arrived_since_last_run' ORDER BY created_at, session_id LIMIT %s",
        (options.listed,),
    ).fetchall()
    deleted = conn.execute(query("scope", "orphans"), options.range_params()).fetchall()
    mismatches = [
        Mismatch(kind="accounting", legacy_id=sid, patient_code=code, detail=f"{state}: {STATE_DETAILS[state]}")
        for sid, state, code in unaccounted
    ]
    if deleted:
        states["deleted_in_legacy"] = len(deleted)
    mismatched = sum(n for s, n in states.items() if s not in ACCOUNTED_STATES)
    sessions = SessionCounts(
        legacy=sum(n for s, n in states.items() if s != "deleted_in_legacy"),
        migrated=states.get("migrated", 0),
        migrated_pending=_migrated_pending(conn),
        quarantined=states.get("quarantined", 0),
        skipped=states.get("skipped", 0),
        mismatched=mismatched,
        deleted_in_legacy=len(deleted),
        arrived_since_last_run=states.get("arrived_since_last_run", 0),
    )
    skipped: dict[str, int] = {}
    listed = {
        "deleted_in_legacy": [
            ListedSession(sid, code, at) for sid, code, at, _ in deleted[: options.listed]
        ],
        "arrived_since_last_run": [ListedSession(sid, code, at) for sid, code, at in arrived],
    }
    return Accounting(sessions, states, reasons, skipped, mismatches, mismatched, listed, last_run)


def _migrated_pending(conn: psycopg.Connection) -> int:
    """Migrated sessions still pending/processing in legacy: the run summary's ``migrated_pending``, recounted."""
    row = conn.execute("SELECT count(*) FROM rc_accounting WHERE state = 'migrated' AND waiting").fetchone()
    return int(row[0]) if row else 0


def pipeline_counters(
    conn: psycopg.Connection, options: ReconcileOptions, target_schema: str, sessions: SessionCounts
) -> PipelineCounters | None:
    """The latest completed run's totals, when that run covered exactly this range and target schema and the legacy
    side has not moved since (nothing arrived or was deleted after it); otherwise its counts are not comparable."""
    if sessions.arrived_since_last_run or sessions.deleted_in_legacy:
        return None
    row = conn.execute(
        "SELECT run_id::text, parameters, totals FROM statsfirst.migration_runs WHERE status = 'completed' "
        "AND target_schema = %s ORDER BY finished_at DESC NULLS LAST, started_at DESC LIMIT 1",
        (target_schema,),
    ).fetchone()
    if row is None or row[2] is None:
        return None
    run_id, parameters, totals = row
    parameters = parameters if isinstance(parameters, dict) else json.loads(parameters)
    # incremental runs and the partitions of a backfill count only part of the range: not comparable
    if "incremental" in parameters or "first_id" in parameters:
        return None
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
    keys = ("migrated", "quarantined", "skipped", "migrated_pending")
    migrated, quarantined, skipped, pending = (int(claimed.get(k, 0)) for k in keys)
    recounted = (sessions.migrated, sessions.quarantined, sessions.skipped, sessions.migrated_pending)
    agrees = (migrated, quarantined, skipped, pending) == recounted
    return PipelineCounters(run_id, migrated, quarantined, skipped, agrees, pending)

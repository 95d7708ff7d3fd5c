"""What the clinicians' report lists beyond the counts, read inside the reconciliation's snapshot.

- ``listed["quarantined"]``: every session held back for review in scope, per patient, with its legacy id, upload
  time and first reason code (ids, registered patient codes and codes only, never names; from ``rc_accounting``,
  which joins ``statsfirst.quarantine``'s open entries).
- ``listed["first_and_last_upload"]``: the earliest and the latest legacy session in scope (the period the sessions
  cover).
- ``completeness.bfr_gate_not_applied``: migrated sessions without a BFR record, counted over every migrated session
  (the score query counts only the sessions that have a score row).

``attach`` runs after ``_reconcile`` in ``reconcile/run.py``, on the same connection and snapshot (it reads the
``rc_*`` temporary tables the reconciliation built).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from statsfirst.reconcile.report import ListedSession, ReconciliationReport

HELD_BACK = "quarantined"
PERIOD = "first_and_last_upload"
# a report for clinicians lists at most this many held-back sessions (the counts stay complete)
MAX_HELD_BACK = 2000


@dataclass
class HeldBackSession(ListedSession):
    """A session held back for review: the listed session plus its first reason code."""

    reason: str | None = None


def held_back_sessions(conn: psycopg.Connection, limit: int = MAX_HELD_BACK) -> list[HeldBackSession]:
    rows = conn.execute(
        """
        SELECT a.session_id::text,
               CASE WHEN a.patient_code IS NOT NULL THEN a.patient_code
                    WHEN a.patient_candidate ~ '^P[0-9]{1,6}$' THEN a.patient_candidate END,
               to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               a.quarantine_reason
        FROM rc_accounting a
        WHERE a.state = 'quarantined'
        ORDER BY 2 NULLS LAST, a.created_at, a.session_id
        LIMIT %s
        """,
        (limit,),
    ).fetchall()
    return [HeldBackSession(sid, code, uploaded, reason) for sid, code, uploaded, reason in rows]


def upload_period(conn: psycopg.Connection) -> list[ListedSession]:
    """The earliest and the latest session in scope (empty when none is)."""
    rows = conn.execute(
        """
        (SELECT session_id::text, patient_code, created_at::text FROM rc_scope WHERE isfinite(created_at)
         ORDER BY created_at, session_id LIMIT 1)
        UNION ALL
        (SELECT session_id::text, patient_code, created_at::text FROM rc_scope WHERE isfinite(created_at)
         ORDER BY created_at DESC, session_id DESC LIMIT 1)
        """
    ).fetchall()
    return [ListedSession(sid, code, at) for sid, code, at in rows]


def migrated_without_bfr(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM rc_accounting a WHERE a.state = 'migrated' "
        "AND NOT EXISTS (SELECT 1 FROM rc_exp_bfr_monitoring b WHERE b.session_id = a.session_id)"
    ).fetchone()
    return int(row[0]) if row else 0


def attach(conn: psycopg.Connection, report: ReconciliationReport) -> None:
    """Add the lists above to ``report`` (inside the reconciliation's snapshot)."""
    report.listed[HELD_BACK] = list(held_back_sessions(conn))
    report.listed[PERIOD] = upload_period(conn)
    report.completeness.bfr_gate_not_applied = migrated_without_bfr(conn)

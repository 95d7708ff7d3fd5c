"""Clinical completeness of the migrated sessions: how many have a computable overall score and why the others
do not; sessions with no identifiable patient; sessions carrying the 33 Hz C3D point rate; the per-patient table."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from statsfirst.reconcile.queries import query
from statsfirst.reconcile.report import Completeness, PatientRow

SCORE_REASONS = (
    "no_emg_analysis",
    "one_channel",
    "contraction_counts_missing",
    "no_contractions",
    "rpe_not_recorded",
    "game_points_not_recorded",
)


def build_completeness(conn: psycopg.Connection) -> Completeness:
    with conn.cursor(row_factory=dict_row) as cur:
        scores = cur.execute(query("completeness", "score_reasons")).fetchone() or {}
        identity = cur.execute(query("completeness", "identity_and_rate")).fetchone() or {}
    return Completeness(
        migrated=int(scores.get("migrated", 0)),
        overall_score_computable=int(scores.get("computable", 0)),
        not_computable_reasons={r: int(scores.get(r, 0)) for r in SCORE_REASONS if scores.get(r)},
        bfr_gate_not_applied=int(scores.get("bfr_gate_not_applied", 0)),
        no_identifiable_patient={
            "unknown_sentinel": int(identity.get("unknown_sentinel", 0)),
            "unregistered_code": int(identity.get("unregistered_code", 0)),
        },
        point_rate_33hz={
            "legacy": int(identity.get("point_rate_legacy", 0)),
            "migrated": int(identity.get("point_rate_migrated", 0)),
        },
    )


def build_patients(conn: psycopg.Connection) -> list[PatientRow]:
    rows = conn.execute(query("completeness", "patients")).fetchall()
    return [
        PatientRow(
            patient_code=code,
            registered=bool(registered),
            legacy=int(legacy),
            migrated=int(migrated),
            quarantined=int(quarantined),
            migrated_pending=int(pending),
            mismatched=int(mismatched),
            overall_score_computable=int(computable),
        )
        for code, registered, legacy, migrated, pending, quarantined, mismatched, computable in rows
    ]

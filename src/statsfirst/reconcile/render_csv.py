"""CSV: one row per patient, then one row per target table, then one row per listed session (held back for review,
arrived since the last run, deleted in the old system), then how the legacy settings rows link (``settings_links``
rows: rows, unlinked, ambiguous_sessions, not_used, in ``count``); a ``row_type`` column tells them apart."""

from __future__ import annotations

import csv
import io

from statsfirst.reconcile.report import ReconciliationReport

COLUMNS = (
    "row_type",
    "name",
    "legacy_sessions",
    "migrated",
    "migrated_pending",
    "held_back_for_review",
    "needs_attention",
    "overall_score_computable",
    "expected_rows",
    "actual_rows",
    "delta",
    "delta_pct",
    "state",
    "patient_code",
    "uploaded_at",
    "reason",
    "count",
)
# listed sessions in the CSV, by state (the period bounds are not sessions a reader acts on)
SESSION_STATES = ("quarantined", "arrived_since_last_run", "deleted_in_legacy")


def render_csv(report: ReconciliationReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for p in report.patients:
        writer.writerow(
            {
                "row_type": "patient",
                "name": p.label,
                "legacy_sessions": p.legacy,
                "migrated": p.migrated,
                "migrated_pending": p.migrated_pending,
                "held_back_for_review": p.quarantined,
                "needs_attention": p.mismatched,
                "overall_score_computable": p.overall_score_computable,
            }
        )
    for t in report.tables_in_order():
        writer.writerow(
            {
                "row_type": "table",
                "name": t.name,
                "expected_rows": t.expected,
                "actual_rows": t.actual,
                "delta": t.delta,
                "delta_pct": "" if t.delta_pct is None else t.delta_pct,
            }
        )
    for state in SESSION_STATES:
        for session in report.listed.get(state) or []:
            writer.writerow(
                {
                    "row_type": "session",
                    "name": session.legacy_id,
                    "state": state,
                    "patient_code": session.patient_code or "",
                    "uploaded_at": session.uploaded_at or "",
                    "reason": getattr(session, "reason", None) or "",
                }
            )
    if report.settings_links:
        for name, count in report.settings_links.as_json().items():
            writer.writerow({"row_type": "settings_links", "name": name, "count": count})
    return out.getvalue()

"""CSV: one row per patient, then one row per target table (a ``row_type`` column tells them apart)."""

from __future__ import annotations

import csv
import io

from statsfirst.reconcile.report import ReconciliationReport
from statsfirst.transform.normalize import TARGET_TABLES

COLUMNS = (
    "row_type",
    "name",
    "legacy_sessions",
    "migrated",
    "held_back_for_review",
    "not_yet_processed",
    "needs_attention",
    "overall_score_computable",
    "expected_rows",
    "actual_rows",
    "delta",
    "delta_pct",
)


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
                "held_back_for_review": p.quarantined,
                "not_yet_processed": p.skipped,
                "needs_attention": p.mismatched,
                "overall_score_computable": p.overall_score_computable,
            }
        )
    for t in sorted(report.tables, key=lambda t: TARGET_TABLES.index(t.name)):
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
    return out.getvalue()

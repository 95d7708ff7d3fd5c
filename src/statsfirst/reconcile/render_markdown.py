"""Markdown for the Prefect artifact ``statsfirst-reconciliation-summary``."""

from __future__ import annotations

from statsfirst.reconcile.report import ReconciliationReport
from statsfirst.reconcile.wording import ACCOUNTING, QUARANTINE, SKIPPED, explain, headline


def render_markdown(report: ReconciliationReport) -> str:
    s = report.sessions
    verdict = "reconciled" if report.reconciled else "NOT reconciled"
    lines = [
        f"## statsfirst reconciliation: {verdict}",
        "",
        headline(report),
        "",
        "| sessions | count |",
        "|---|---:|",
        f"| legacy (in scope) | {s.legacy:,} |",
        f"| migrated | {s.migrated:,} |",
        f"| of them still pending/processing in legacy (migrated_pending) | {s.migrated_pending:,} |",
        f"| quarantined | {s.quarantined:,} |",
        f"| skipped | {s.skipped:,} |",
        f"| need attention | {s.mismatched:,} |",
        *(
            [f"| legacy settings rows linked to no session | {links.unlinked:,} of {links.rows:,} |",
             f"| sessions with several legacy settings rows (newest used) | {links.ambiguous_sessions:,} |"]
            if (links := report.settings_links) else []
        ),
        "",
        "| table | expected | actual | delta |",
        "|---|---:|---:|---:|",
    ]
    for t in report.tables_in_order():
        lines.append(f"| {t.name} | {t.expected:,} | {t.actual:,} | {t.delta:+,} |")
    reasons = [(c, n, explain(QUARANTINE, c)) for c, n in sorted(report.quarantine_reasons.items())]
    reasons += [(c, n, explain(SKIPPED, c)) for c, n in sorted(report.skipped_reasons.items())]
    if s.migrated_pending:
        reasons.append(("migrated_pending", s.migrated_pending, explain(ACCOUNTING, "migrated_pending")))
    if reasons:
        lines += ["", "| reason | sessions | what to do |", "|---|---:|---|"]
        lines += [f"| {e.meaning} (`{c}`) | {n:,} | {e.action} |" for c, n, e in reasons]
    c = report.completeness
    lines += ["", f"Overall score computable for {c.overall_score_computable:,} of {c.migrated:,} migrated sessions."]
    if report.mismatches:
        lines += ["", "| kind | legacy id | patient | detail |", "|---|---|---|---|"]
        lines += [
            f"| {m.kind} | {m.legacy_id or ''} | {m.patient_code or ''} | {m.detail.replace('|', '/')} |"
            for m in report.mismatches
        ]
    return "\n".join(lines) + "\n"


def table_rows(report: ReconciliationReport) -> list[dict[str, object]]:
    """Rows of the Prefect table artifact ``statsfirst-reconciliation-tables``."""
    return [
        {"table": t.name, "expected": t.expected, "actual": t.actual, "delta": t.delta, "delta_pct": t.delta_pct}
        for t in report.tables_in_order()
    ]

"""A compact terminal summary (rich tables)."""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from statsfirst.reconcile.report import ReconciliationReport
from statsfirst.reconcile.wording import headline
from statsfirst.transform.normalize import TARGET_TABLES


def summary_renderable(report: ReconciliationReport) -> Group:
    s = report.sessions
    sessions = Table(title="statsfirst reconcile", show_header=True)
    sessions.add_column("sessions")
    sessions.add_column("count", justify="right")
    sessions.add_row("in the legacy tables (scope)", f"{s.legacy:,}")
    sessions.add_row("migrated", f"{s.migrated:,}")
    for reason, n in sorted(report.quarantine_reasons.items()):
        sessions.add_row(f"quarantined: {reason}", f"{n:,}")
    for reason, n in sorted(report.skipped_reasons.items()):
        sessions.add_row(f"skipped: {reason}", f"{n:,}")
    for state, n in sorted(report.states.items()):
        if state not in ("migrated", "quarantined", "skipped"):
            sessions.add_row(Text(f"MISMATCH: {state}", style="bold red"), f"{n:,}")
    c = report.completeness
    sessions.add_row("overall score computable", f"{c.overall_score_computable:,} of {c.migrated:,}")
    sessions.add_row("values: sessions differing", f"{report.values.sessions_with_differences:,}")

    tables = Table(show_header=True)
    for name, justify in (("table", "left"), ("expected", "right"), ("actual", "right"), ("delta", "right"),
                          ("%", "right")):
        tables.add_column(name, justify=justify)  # type: ignore[arg-type]
    for t in sorted(report.tables, key=lambda t: TARGET_TABLES.index(t.name)):
        style = "" if t.matches else "bold red"
        pct = "" if t.delta_pct is None else f"{t.delta_pct:+.2f}"
        tables.add_row(t.name, f"{t.expected:,}", f"{t.actual:,}", f"{t.delta:+,}", pct, style=style)

    parts: list[object] = [sessions, tables]
    if report.mismatches:
        listed = Table(title="first mismatches", show_header=True)
        listed.add_column("kind")
        listed.add_column("legacy id")
        listed.add_column("patient")
        listed.add_column("detail", overflow="fold")
        for m in report.mismatches:
            listed.add_row(m.kind, m.legacy_id or "", m.patient_code or "", m.detail)
        parts.append(listed)
    verdict = Text(headline(report), style="bold green" if report.reconciled else "bold red")
    parts.append(verdict)
    return Group(*parts)  # type: ignore[arg-type]


def render_text(report: ReconciliationReport, width: int = 120) -> str:
    """Plain text (no colour codes), for ``--output`` files."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(summary_renderable(report))
    return buffer.getvalue()

"""A compact terminal summary (rich tables)."""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from statsfirst.reconcile.report import ACCOUNTED_STATES, ListedSession, ReconciliationReport
from statsfirst.reconcile.wording import headline

ID_WIDTH = 36  # a legacy id (uuid) is never cut or wrapped
LISTED_TITLES = (
    ("arrived_since_last_run", "arrived since the last run"),
    ("deleted_in_legacy", "deleted in the old system (kept in the target)"),
)


def _listed_count(report: ReconciliationReport, state: str) -> int:
    return int(getattr(report.sessions, state, 0))


def _sessions_table(title: str, sessions: list[ListedSession], count: int) -> Table:
    shown = f"{title}: {count:,}" + (f", the first {len(sessions):,} listed" if count > len(sessions) else "")
    table = Table(title=shown, show_header=True)
    table.add_column("legacy id", no_wrap=True, min_width=ID_WIDTH)
    table.add_column("patient", no_wrap=True)
    table.add_column("uploaded (UTC)", no_wrap=True)
    for session in sessions:
        table.add_row(session.legacy_id, session.patient_code or "", (session.uploaded_at or "")[:19])
    return table


def summary_renderable(report: ReconciliationReport) -> Group:
    s = report.sessions
    sessions = Table(title="statsfirst reconcile", show_header=True)
    sessions.add_column("sessions")
    sessions.add_column("count", justify="right")
    sessions.add_row("in the legacy tables (scope)", f"{s.legacy:,}")
    sessions.add_row("migrated", f"{s.migrated:,}")
    if s.migrated_pending:
        sessions.add_row("  of them still pending/processing in legacy (migrated_pending)", f"{s.migrated_pending:,}")
    for reason, n in sorted(report.quarantine_reasons.items()):
        sessions.add_row(f"quarantined: {reason}", f"{n:,}")
    for reason, n in sorted(report.skipped_reasons.items()):
        sessions.add_row(f"skipped: {reason}", f"{n:,}")
    if s.arrived_since_last_run:
        sessions.add_row("arrived since the last run (the next run picks them up)", f"{s.arrived_since_last_run:,}")
    if s.deleted_in_legacy:
        sessions.add_row("deleted in the old system (kept in the target)", f"{s.deleted_in_legacy:,}")
    for state, n in sorted(report.states.items()):
        if state not in ACCOUNTED_STATES:
            sessions.add_row(Text(f"MISMATCH: {state}", style="bold red"), f"{n:,}")
    c = report.completeness
    if report.settings_links:
        links = report.settings_links
        sessions.add_row("legacy settings rows linked to no session", f"{links.unlinked:,} of {links.rows:,}")
        sessions.add_row("sessions with several legacy settings rows (newest used)", f"{links.ambiguous_sessions:,}")
    sessions.add_row("overall score computable", f"{c.overall_score_computable:,} of {c.migrated:,}")
    sessions.add_row("values: sessions differing", f"{report.values.sessions_with_differences:,}")

    tables = Table(show_header=True)
    for name, justify in (("table", "left"), ("expected", "right"), ("actual", "right"), ("delta", "right"),
                          ("%", "right")):
        tables.add_column(name, justify=justify)  # type: ignore[arg-type]
    for t in report.tables_in_order():
        style = "" if t.matches else "bold red"
        pct = "" if t.delta_pct is None else f"{t.delta_pct:+.2f}"
        tables.add_row(t.name, f"{t.expected:,}", f"{t.actual:,}", f"{t.delta:+,}", pct, style=style)

    parts: list[object] = [sessions, tables]
    for state, title in LISTED_TITLES:
        listed_sessions = report.listed.get(state) or []
        if listed_sessions:
            parts.append(_sessions_table(title, listed_sessions, _listed_count(report, state)))
    if report.mismatches:
        listed = Table(title="first mismatches", show_header=True)
        listed.add_column("kind", no_wrap=True)
        listed.add_column("legacy id", no_wrap=True, min_width=ID_WIDTH)
        listed.add_column("patient", no_wrap=True)
        listed.add_column("detail", overflow="fold")
        for m in report.mismatches:
            listed.add_row(m.kind, m.legacy_id or "", m.patient_code or "", m.detail)
        parts.append(listed)
    verdict = Text(headline(report), style="bold green" if report.reconciled else "bold red")
    parts.append(verdict)
    return Group(*parts)  # type: ignore[arg-type]


def render_text(report: ReconciliationReport, width: int = 240) -> str:
    """Plain text (no colour codes), for ``--output`` files (wide enough that no id is cut)."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(summary_renderable(report))
    return buffer.getvalue()

"""Prefect flow ``reconcile``: the runbook's check after a migration (also run at the end of ``migrate_legacy`` and
``backfill``, over their range).

Thin: one task calls the library (retried on transient failures), three keyed artifacts are published (a markdown
summary, the per-table counts and the sessions by state, both tables), and the flow fails when the target does not
reconcile, so a bad migration cannot look green; its failed state says what is wrong and what to do. The DSN comes
from ``DATABASE_URL`` or a named Prefect Secret block, never from parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import State

from statsfirst.errors import NotReconciled
from statsfirst.flow_support import flows_package, resolve_flow_dsn
from statsfirst.pipeline.options import parse_day
from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.render_markdown import render_markdown, table_rows
from statsfirst.reconcile.report import ReconciliationReport
from statsfirst.reconcile.run import reconcile as reconcile_legacy
from statsfirst.reconcile.wording import headline

flows_package(Path(__file__).parent)

from flows.common import DB_TASK, failed  # noqa: E402

SUMMARY_KEY = "statsfirst-reconciliation-summary"
TABLES_KEY = "statsfirst-reconciliation-tables"
SESSIONS_KEY = "statsfirst-reconciliation-sessions"

__all__ = ["NotReconciled", "reconcile"]


@task(name="reconcile-legacy-and-target", cache_policy=NO_CACHE, **DB_TASK)
def recount(since: str | None, until: str | None, dsn_secret_block: str | None) -> ReconciliationReport:
    options = ReconcileOptions(since=parse_day(since, "since"), until=parse_day(until, "until"))
    return reconcile_legacy(resolve_flow_dsn(dsn_secret_block), options)


def session_rows(report: ReconciliationReport) -> list[dict[str, object]]:
    """Sessions by state (and by reason), the rows of the table artifact ``statsfirst-reconciliation-sessions``."""
    s = report.sessions
    out: list[dict[str, object]] = [
        {"state": "legacy (in scope)", "reason": "", "sessions": s.legacy},
        {"state": "migrated", "reason": "", "sessions": s.migrated},
        {"state": "migrated", "reason": "still pending/processing in legacy", "sessions": s.migrated_pending},
        {"state": "quarantined", "reason": "", "sessions": s.quarantined},
        *([{"state": "skipped", "reason": "", "sessions": s.skipped}] if s.skipped else []),
        {"state": "need attention (mismatched)", "reason": "", "sessions": s.mismatched},
    ]
    out += [{"state": "quarantined", "reason": r, "sessions": n} for r, n in sorted(report.quarantine_reasons.items())]
    out += [{"state": "skipped", "reason": r, "sessions": n} for r, n in sorted(report.skipped_reasons.items())]
    return out


@task(name="publish-reconciliation-artifacts", cache_policy=NO_CACHE)
def publish(report: ReconciliationReport) -> None:
    create_markdown_artifact(key=SUMMARY_KEY, markdown=render_markdown(report), description=headline(report))
    create_table_artifact(key=TABLES_KEY, table=table_rows(report), description="expected vs actual rows per table")
    create_table_artifact(key=SESSIONS_KEY, table=session_rows(report), description="legacy sessions by state")


@flow(name="reconcile")
def reconcile(
    since: str | None = None,
    until: str | None = None,
    dsn_secret_block: str | None = None,
    fail_on_mismatch: bool = True,
) -> dict[str, object] | State[Any]:
    """Recompute from the legacy tables what the target should hold and compare; artifacts carry the result."""
    dsn = None
    try:
        dsn = resolve_flow_dsn(dsn_secret_block)  # no database: one line before any task runs
        report = recount(since, until, dsn_secret_block)
    except Exception as exc:
        return failed(exc, dsn)
    publish(report)
    get_run_logger().info(headline(report))
    if fail_on_mismatch and not report.reconciled:
        return failed(
            NotReconciled(
                headline(report),
                f"see the artifacts {TABLES_KEY}, {SESSIONS_KEY} and {SUMMARY_KEY} for the tables and legacy ids "
                "that differ, fix the cause and run the migration of that range again",
            )
        )
    return report.as_json()


if __name__ == "__main__":
    reconcile()

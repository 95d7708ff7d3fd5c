"""Prefect flow ``reconcile``: the runbook's check after a migration (also run at the end of ``migrate_legacy``).

Thin: one task calls the library, two keyed artifacts (a markdown summary and the per-table counts) are published,
and the flow fails when the target does not reconcile, so a bad migration cannot look green. The DSN comes from
``DATABASE_URL`` or a named Prefect Secret block, never from parameters.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from statsfirst.flow_support import resolve_flow_dsn
from statsfirst.pipeline.options import parse_day
from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.render_markdown import render_markdown, table_rows
from statsfirst.reconcile.report import ReconciliationReport
from statsfirst.reconcile.run import reconcile as reconcile_legacy
from statsfirst.reconcile.wording import headline

SUMMARY_KEY = "statsfirst-reconciliation-summary"
TABLES_KEY = "statsfirst-reconciliation-tables"


class NotReconciled(Exception):
    """The target does not match the legacy recount; the artifacts say where."""


@task(name="reconcile-legacy-and-target", tags=["statsfirst-db"], cache_policy=NO_CACHE)
def recount(since: str | None, until: str | None, dsn_secret_block: str | None) -> ReconciliationReport:
    options = ReconcileOptions(since=parse_day(since, "since"), until=parse_day(until, "until"))
    return reconcile_legacy(resolve_flow_dsn(dsn_secret_block), options)


@task(name="publish-reconciliation-artifacts", cache_policy=NO_CACHE)
def publish(report: ReconciliationReport) -> None:
    create_markdown_artifact(key=SUMMARY_KEY, markdown=render_markdown(report), description=headline(report))
    create_table_artifact(key=TABLES_KEY, table=table_rows(report), description="expected vs actual rows per table")


@flow(name="reconcile")
def reconcile(
    since: str | None = None,
    until: str | None = None,
    dsn_secret_block: str | None = None,
    fail_on_mismatch: bool = True,
) -> dict[str, object]:
    """Recompute from the legacy tables what the target should hold and compare; artifacts carry the result."""
    report = recount(since, until, dsn_secret_block)
    publish(report)
    get_run_logger().info(headline(report))
    if fail_on_mismatch and not report.reconciled:
        raise NotReconciled(headline(report))
    return report.as_json()


if __name__ == "__main__":
    reconcile()

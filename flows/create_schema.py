"""Prefect flow ``create_schema``: apply the Statistics-First migrations (the runbook's first step).

The DSN is never a parameter: it comes from ``DATABASE_URL`` or, when ``dsn_secret_block`` names one, a Prefect
Secret block, so it never lands in a deployment's parameters or logs. Transient failures are retried (each migration
commits with its ledger row, so a retry applies what is still pending); a failed run says what to do in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import State

from statsfirst.db.migrations import apply_migrations
from statsfirst.flow_support import flows_package, resolve_flow_dsn

flows_package(Path(__file__).parent)

from flows.common import DB_TASK, failed  # noqa: E402


@task(name="apply-migrations", cache_policy=NO_CACHE, **DB_TASK)
def apply_schema_migrations(target_schema: str | None, dry_run: bool, dsn_secret_block: str | None) -> str:
    logger = get_run_logger()
    dsn = resolve_flow_dsn(dsn_secret_block)
    report = apply_migrations(dsn, target_schema=target_schema, dry_run=dry_run, log=logger.info)
    return report.summary()


@flow(name="create_schema", log_prints=False)
def create_schema(
    target_schema: str | None = None, dry_run: bool = False, dsn_secret_block: str | None = None
) -> str | State[Any]:
    """Apply every pending migration to the target schema (default: the recorded one, else public)."""
    dsn = None
    try:
        dsn = resolve_flow_dsn(dsn_secret_block)  # no database: one line before any task runs
        summary = apply_schema_migrations(target_schema, dry_run, dsn_secret_block)
    except Exception as exc:
        return failed(exc, dsn)
    get_run_logger().info(summary)
    return summary


if __name__ == "__main__":
    create_schema()

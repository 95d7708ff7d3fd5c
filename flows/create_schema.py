"""Prefect flow ``create_schema``: apply the Statistics-First migrations (the runbook's first step).

The DSN is never a parameter: it comes from ``DATABASE_URL`` or, when ``dsn_secret_block`` names one, a Prefect
Secret block, so it never lands in a deployment's parameters or logs.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from statsfirst.db.migrations import apply_migrations
from statsfirst.flow_support import resolve_flow_dsn


@task(name="apply-migrations", tags=["statsfirst-db"])
def apply_schema_migrations(target_schema: str | None, dry_run: bool, dsn_secret_block: str | None) -> str:
    logger = get_run_logger()
    dsn = resolve_flow_dsn(dsn_secret_block)
    report = apply_migrations(dsn, target_schema=target_schema, dry_run=dry_run, log=logger.info)
    return report.summary()


@flow(name="create_schema", log_prints=False)
def create_schema(target_schema: str | None = None, dry_run: bool = False, dsn_secret_block: str | None = None) -> str:
    """Apply every pending migration to the target schema (default: the recorded one, else public)."""
    summary = apply_schema_migrations(target_schema, dry_run, dsn_secret_block)
    get_run_logger().info(summary)
    return summary


if __name__ == "__main__":
    create_schema()

"""Prefect flow ``migrate_legacy``: the runbook's second step (legacy → Statistics-First).

Thin: parameters in, one task that calls the library, a summary artifact out, then the ``reconcile`` flow
(its artifacts are published too; it fails the run when the target does not reconcile). The DSN comes from
``DATABASE_URL`` or a named Prefect Secret block, never from parameters.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from pydantic import Field

from reconcile import reconcile
from statsfirst.flow_support import resolve_flow_dsn
from statsfirst.pipeline.options import MigrateOptions, parse_day
from statsfirst.pipeline.run import migrate
from statsfirst.transform.scoring import PerformanceWeights


@task(name="migrate-batches", tags=["statsfirst-db"])
def migrate_batches(
    since: str | None,
    until: str | None,
    batch_size: int,
    workers: int,
    dry_run: bool,
    weights: str | None,
    dsn_secret_block: str | None,
    incremental: bool = False,
) -> dict[str, object]:
    logger = get_run_logger()
    options = MigrateOptions(
        since=parse_day(since, "since"),
        until=parse_day(until, "until"),
        batch_size=batch_size,
        workers=workers,
        dry_run=dry_run,
        weights=PerformanceWeights.parse(weights) if weights else PerformanceWeights(),
        incremental=incremental,
    )
    summary = migrate(resolve_flow_dsn(dsn_secret_block), options, log=logger.info)
    return summary.as_json()


@flow(name="migrate_legacy")
def migrate_legacy(
    since: date | None = None,
    until: date | None = None,
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000,
    workers: Annotated[int, Field(ge=1, le=64)] = 2,
    dry_run: bool = False,
    weights: str | None = None,
    dsn_secret_block: str | None = None,
    reconcile_after: bool = True,
    incremental: bool = False,
) -> dict[str, object]:
    """Migrate legacy sessions created in [since, until) into the recorded target schema, then reconcile them.

    ``incremental``: only the sessions changed since the last incremental run (the nightly deployment).
    """
    since_text, until_text = (day.isoformat() if day else None for day in (since, until))
    totals = migrate_batches(since_text, until_text, batch_size, workers, dry_run, weights, dsn_secret_block,
                             incremental)
    sessions = totals["sessions"]
    create_markdown_artifact(
        key="statsfirst-migration-summary",
        markdown=f"## statsfirst migration\n\n```json\n{json.dumps(totals, indent=2)}\n```\n",
        description=f"sessions: {sessions}",
    )
    if reconcile_after and not dry_run:
        report = reconcile(since=since_text, until=until_text, dsn_secret_block=dsn_secret_block)
        totals["reconciled"] = report["reconciled"]
    return totals


if __name__ == "__main__":
    migrate_legacy()

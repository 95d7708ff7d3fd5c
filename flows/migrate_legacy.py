"""Prefect flow ``migrate_legacy``: the runbook's second step (legacy → Statistics-First).

Thin: parameters in, one task that calls the library, a summary table artifact out, then the ``reconcile`` flow
(its artifacts are published too; it fails the run when the target does not reconcile). The task retries transient
failures (lost connection, server restart, terminated backend): a retry re-runs the same command, which resumes from
the run ledger. Per-batch progress goes to the run's log. A failed run's state message is one line saying what is
wrong and what to do. The DSN comes from ``DATABASE_URL`` or a named Prefect Secret block, never from parameters.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import State
from pydantic import Field

from statsfirst.flow_support import BatchProgress, flows_package, resolve_flow_dsn
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.partitions import sessions_in_range
from statsfirst.pipeline.run import migrate

flows_package(Path(__file__).parent)

from flows.common import DB_TASK, failed, failed_from, publish_summary  # noqa: E402
from flows.reconcile import reconcile  # noqa: E402

SUMMARY_KEY = "statsfirst-migration-summary"


@task(name="migrate-batches", cache_policy=NO_CACHE, **DB_TASK)
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
    options = MigrateOptions.from_text(
        since=since, until=until, weights=weights,
        batch_size=batch_size, workers=workers, dry_run=dry_run, incremental=incremental,
    )
    dsn = resolve_flow_dsn(dsn_secret_block)
    # an incremental run's size is known only once the changes are read
    progress = BatchProgress(logger.info, None if incremental else sessions_in_range(dsn, options))
    summary = migrate(dsn, options, on_start=progress.on_start, on_progress=progress.on_progress, log=logger.info)
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
) -> dict[str, object] | State[Any]:
    """Migrate legacy sessions created in [since, until) into the recorded target schema, then reconcile them.

    ``incremental``: only the sessions changed since the last incremental run (the nightly deployment).
    """
    since_text, until_text = (day.isoformat() if day else None for day in (since, until))
    dsn = None
    try:
        dsn = resolve_flow_dsn(dsn_secret_block)  # no database: one line before any task runs
        totals = migrate_batches(
            since_text, until_text, batch_size, workers, dry_run, weights, dsn_secret_block, incremental
        )
    except Exception as exc:
        return failed(exc, dsn)
    publish_summary(SUMMARY_KEY, totals, "dry run" if dry_run else "migration")
    if reconcile_after and not dry_run:
        state = reconcile(since=since_text, until=until_text, dsn_secret_block=dsn_secret_block, return_state=True)
        if not state.is_completed():
            return failed_from(state)
        totals["reconciled"] = state.result()["reconciled"]  # type: ignore[index]
    return totals


if __name__ == "__main__":
    migrate_legacy()

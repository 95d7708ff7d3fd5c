"""Prefect flow ``backfill``: a one-off range migrated as concurrent partitions (threads here, or a Dask cluster).

Thin: typed parameters (Prefect validates them), then the library plans or resumes the partitions, which run as
``migrate-partition`` tasks (tag ``statsfirst-db``, transient failures retried: a retry resumes the partition from
its last committed batch) at most ``workers`` at a time; the run is closed, its summary published as a table
artifact, and the range reconciled (the ``reconcile`` flow over [since, until): the backfill fails when it does not
reconcile). Re-running the same backfill after a kill resumes it partition by partition. The DSN comes from
``DATABASE_URL`` or the Prefect Secret block named by ``dsn_secret_block``, resolved by the flow and again by each
task where it runs (a task refuses a worker whose DSN points at another database); the Dask scheduler from
``dask_address`` or the worker's ``STATSFIRST_DASK_ADDRESS`` (a deployment job variable).
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, replace
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import cloudpickle
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, wait
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from statsfirst.flow_support import flows_package, resolve_flow_dsn
from statsfirst.pipeline import partitions as parts
from statsfirst.pipeline.dask_backfill import check_scheduler
from statsfirst.pipeline.options import MigrateOptions

flows_package(Path(__file__).parent)

from flows.common import DB_TASK, failed, failed_from, publish_summary  # noqa: E402
from flows.reconcile import reconcile  # noqa: E402

DASK_ADDRESS_ENV = "STATSFIRST_DASK_ADDRESS"
SUMMARY_KEY = "statsfirst-backfill-summary"

# Dask workers have statsfirst installed but not this checkout: ship this module's task functions by value (what
# they call is in the statsfirst package, imported there by reference)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task(name="plan-backfill", cache_policy=NO_CACHE, **DB_TASK)
def plan_backfill(
    options: dict[str, Any], workers: int, partitions_wanted: int | None, dsn_secret_block: str | None
) -> tuple[str, list[dict[str, Any]]]:
    run_id, pending = parts.start_backfill(
        resolve_flow_dsn(dsn_secret_block), options_of(options, workers), partitions_wanted, workers,
        get_run_logger().info,
    )
    return run_id, [asdict(p) for p in pending]


@task(name="migrate-partition", cache_policy=NO_CACHE, **DB_TASK)
def migrate_partition_task(
    identity: dict[str, str],
    backfill_run_id: str,
    partition: dict[str, Any],
    options: dict[str, Any],
    dsn_secret_block: str | None,
) -> dict[str, object]:
    dsn = resolve_flow_dsn(dsn_secret_block)  # where the task runs: this worker's DATABASE_URL or the Secret block
    return parts.run_partition(dsn, identity, backfill_run_id, partition, options, get_run_logger().info)


@task(name="finish-backfill", cache_policy=NO_CACHE, **DB_TASK)
def finish_backfill(
    backfill_run_id: str, started: datetime, processed: int, dsn_secret_block: str | None
) -> dict[str, object]:
    return parts.finish_backfill(resolve_flow_dsn(dsn_secret_block), backfill_run_id, started, processed)


@flow(name="migrate-partitions")
def run_partitions(
    identity: dict[str, str],
    backfill_run_id: str,
    pending: list[dict[str, Any]],
    options: dict[str, Any],
    workers: int,
    dsn_secret_block: str | None = None,
) -> list[dict[str, object]]:
    """Submit the partitions with at most ``workers`` in flight (also on a shared Dask cluster)."""
    logger = get_run_logger()
    in_flight: list[PrefectFuture[dict[str, object]]] = []
    results: list[dict[str, object]] = []

    def collect(done: set[PrefectFuture[dict[str, object]]]) -> None:
        for future in done:
            results.append(future.result())
            logger.info(f"partitions done: {len(results)} of {len(pending)}")

    for partition in pending:
        while len(in_flight) >= workers:
            done = wait(in_flight, timeout=1).done
            collect(done)
            in_flight = [f for f in in_flight if f not in done]
        in_flight.append(
            migrate_partition_task.submit(identity, backfill_run_id, partition, options, dsn_secret_block)
        )
    collect(wait(in_flight).done)
    return results


def task_runner(dask_address: str | None, workers: int) -> Any:
    """Dask when an address is given (prefect-dask), else threads in this process."""
    if dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=dask_address)
    return ThreadPoolTaskRunner(max_workers=workers)


def options_of(options: dict[str, Any], workers: int) -> MigrateOptions:
    return replace(parts.options_from_json(options), workers=workers)


@flow(name="backfill")
def backfill(
    since: date | None = None,
    until: date | None = None,
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000,
    workers: Annotated[int, Field(ge=1, le=64)] = 2,
    partitions: Annotated[int | None, Field(ge=1)] = None,
    weights: str | None = None,
    dask_address: str | None = None,
    dsn_secret_block: str | None = None,
) -> dict[str, object] | State[Any]:
    """Migrate legacy sessions created in [since, until) as partitions, ``workers`` at a time, then reconcile the
    range."""
    since_text, until_text = (day.isoformat() if day else None for day in (since, until))
    dsn = None
    try:
        options = MigrateOptions.from_text(
            since=since_text, until=until_text, weights=weights, batch_size=batch_size, workers=workers
        )
        dsn = resolve_flow_dsn(dsn_secret_block)  # no database: one line before any task runs
        address = dask_address or os.environ.get(DASK_ADDRESS_ENV) or None
        if address:
            check_scheduler(address)  # unreachable: one line within seconds, not a hanging runner
        started = datetime.now().astimezone()
        as_json = parts.options_json(options)
        run_id, pending = plan_backfill(as_json, workers, partitions, dsn_secret_block)
        results = run_partitions.with_options(task_runner=task_runner(address, workers))(
            parts.target_identity(dsn), run_id, pending, as_json, workers, dsn_secret_block
        )
        processed = sum(int(str(r["processed"])) for r in results)
        totals = finish_backfill(run_id, started, processed, dsn_secret_block)
    except Exception as exc:
        return failed(exc, dsn)
    publish_summary(SUMMARY_KEY, totals, "backfill")
    state = reconcile(since=since_text, until=until_text, dsn_secret_block=dsn_secret_block, return_state=True)
    if not state.is_completed():
        return failed_from(state)
    totals["reconciled"] = state.result()["reconciled"]  # type: ignore[index]
    return totals


if __name__ == "__main__":
    backfill()

"""Partitioned backfills: a range cut into keyset partitions that run as concurrent Prefect tasks.

The backfill itself is a run in the ledger whose batches are the partitions; each partition is a run of its own
(``migrate`` over the partition's id bounds) whose batches commit with their data. A killed backfill is resumed
by running the same backfill again: finished partitions are skipped, an interrupted one resumes its batches.
Each partition holds a PostgreSQL advisory lock keyed on the target schema and its bounds while it runs, so two
backfills never process one partition at once. Tasks receive ids, bounds and options, never frames or the DSN
(it is resolved inside the task, from ``DATABASE_URL`` or a Prefect Secret block).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import date, datetime
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, wait
from prefect.task_runners import ThreadPoolTaskRunner

from statsfirst.db.connection import connect, connection
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import target_schema_for
from statsfirst.errors import UsageError
from statsfirst.extract.copy_reader import copy_frame
from statsfirst.extract.legacy_reader import KeyRange
from statsfirst.flow_support import resolve_flow_dsn
from statsfirst.pipeline import run_ledger
from statsfirst.pipeline.options import MigrateOptions, parse_day
from statsfirst.pipeline.run import migrate
from statsfirst.pipeline.summary import MigrationSummary
from statsfirst.transform.scoring import PerformanceWeights

# Tag of every task that works the legacy/target database; a Prefect concurrency limit on it bounds the load.
DB_TAG = "statsfirst-db"
# A partition holds at most this many batches by default: small enough to resume finely, large enough that the
# per-partition overhead (one run, one lock, one reference-data read) stays small.
BATCHES_PER_PARTITION = 4
DASK_ADDRESS_ENV = "STATSFIRST_DASK_ADDRESS"


def check_partitionable(options: MigrateOptions) -> None:
    if options.incremental:
        raise UsageError("--incremental runs on one machine", "drop --dask-address (or --incremental for a backfill)")
    if options.dry_run:
        raise UsageError("--dry-run does not run partitions", "drop --dask-address for a dry run")


def plan_partitions(
    conn: Any, options: MigrateOptions, partitions: int | None, workers: int
) -> list[run_ledger.PlannedBatch]:
    """Keyset partitions of the range, of near-equal session counts (a multiple of the batch size)."""
    key_range = KeyRange(
        "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", options.since, options.until
    )
    ids = copy_frame(conn, run_ledger.PLAN_QUERY, key_range.params(), {"id": pl.String})["id"]
    count = partitions or max(workers, math.ceil(len(ids) / (options.batch_size * BATCHES_PER_PARTITION)))
    size = max(1, math.ceil(len(ids) / max(1, count)))
    return run_ledger.batches_of(ids, size)


def lock_key(target_schema: str, options: MigrateOptions) -> int:
    """A signed 64-bit advisory-lock key for one partition of one target (whatever the batch size or weights)."""
    text = f"statsfirst-partition|{target_schema}|{options.first_id}|{options.last_id}|{options.since}|{options.until}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


@contextmanager
def partition_lock(dsn: ResolvedDsn, key: int, log: Callable[[str], object]) -> Iterator[None]:
    """Hold the partition's session advisory lock on a connection of its own (released if the process dies)."""
    conn = connect(dsn)
    conn.autocommit = True
    try:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if not (row and row[0]):
            log("partition is being processed by another run: waiting for it")
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    finally:
        conn.close()


def backfill_key(options: MigrateOptions, target_schema: str) -> str:
    return options.command_key(target_schema, {"mode": "backfill"})


def start_backfill(
    dsn: ResolvedDsn, options: MigrateOptions, partitions: int | None, workers: int, log: Callable[[str], object]
) -> tuple[str, list[run_ledger.PlannedBatch]]:
    """The backfill's run and its pending partitions: a new plan, or what a killed backfill left."""
    target_schema = target_schema_for(dsn)
    key = backfill_key(options, target_schema)
    with connection(dsn) as conn:
        conn.autocommit = True
        run_id = run_ledger.resumable_run(conn, key)
        if run_id:
            pending = run_ledger.pending_batches(conn, run_id)
            log(f"resuming backfill {run_id}: {len(pending)} partition(s) left")
            return run_id, pending
        planned = plan_partitions(conn, options, partitions, workers)
        parameters = {**options.parameters(target_schema), "mode": "backfill", "partitions": len(planned)}
        run_id = run_ledger.create_run(conn, key, parameters, target_schema, planned)
    log(f"backfill {run_id}: {len(planned)} partition(s)")
    return run_id, planned


def migrate_partition(
    dsn: ResolvedDsn,
    options: MigrateOptions,
    backfill_run_id: str,
    partition: run_ledger.PlannedBatch,
    log: Callable[[str], object],
) -> dict[str, object]:
    """One partition under its advisory lock; skipped when another run completed it since the backfill began."""
    target_schema = target_schema_for(dsn)
    part = replace(options, first_id=partition.first_id, last_id=partition.last_id, workers=1)
    with partition_lock(dsn, lock_key(target_schema, part), log):
        with connection(dsn) as conn:
            conn.autocommit = True
            row = conn.execute(
                "SELECT started_at FROM statsfirst.migration_runs WHERE run_id = %s", (backfill_run_id,)
            ).fetchone()
            assert row is not None, f"backfill run {backfill_run_id} is not in the ledger"
            totals = run_ledger.completed_since(conn, part.command_key(target_schema), row[0])
        if totals is None:
            totals = migrate(dsn, part, log=log).as_json()
        with connection(dsn) as conn:
            conn.autocommit = True
            run_ledger.mark_committed(conn, backfill_run_id, partition.batch_no, _as_outcome(totals))
    return totals


def _as_outcome(totals: dict[str, Any]) -> dict[str, object]:
    """A partition's summary in the shape of a batch outcome, so the backfill's totals add up like a run's."""
    return {
        "migrated": totals["sessions"]["migrated"],
        "quarantined": totals["quarantined_by_reason"],
        "skipped": totals["skipped_by_reason"],
        "rows": totals["rows"],
        "sessions_in_range": totals["sessions"]["in_range"],
    }


def finish_backfill(dsn: ResolvedDsn, backfill_run_id: str, started: datetime) -> dict[str, object]:
    with connection(dsn) as conn:
        conn.autocommit = True
        summary = MigrationSummary(run_id=backfill_run_id, dry_run=False, resumed=False)
        for outcome in run_ledger.committed_outcomes(conn, backfill_run_id):
            summary.add(outcome)
            summary.sessions_in_range += int(str(outcome.get("sessions_in_range", 0)))
        summary.wall_seconds = (datetime.now(started.tzinfo) - started).total_seconds()
        run_ledger.finish_run(conn, backfill_run_id, summary.as_json())
    return summary.as_json()


# ------------------------------------------------------------------------------------------------ Prefect
def options_json(options: MigrateOptions) -> dict[str, object]:
    """What a partition task needs to rebuild the options: plain values (no frames, no DSN)."""
    return {
        "since": options.since.isoformat() if options.since else None,
        "until": options.until.isoformat() if options.until else None,
        "batch_size": options.batch_size,
        "weights": options.weights.as_text(),
    }


def options_from_json(data: dict[str, Any]) -> MigrateOptions:
    return MigrateOptions(
        since=parse_day(data["since"], "since"),
        until=parse_day(data["until"], "until"),
        batch_size=int(data["batch_size"]),
        workers=1,
        weights=PerformanceWeights.parse(data["weights"]),
    )


@task(name="migrate-partition", tags=[DB_TAG], cache_policy=NO_CACHE)
def migrate_partition_task(
    backfill_run_id: str, partition: dict[str, Any], options: dict[str, Any], dsn_secret_block: str | None
) -> dict[str, object]:
    logger = get_run_logger()
    planned = run_ledger.PlannedBatch(**partition)
    totals = migrate_partition(
        resolve_flow_dsn(dsn_secret_block), options_from_json(options), backfill_run_id, planned, logger.info
    )
    return {"partition": planned.batch_no, "sessions": totals["sessions"]}


@flow(name="migrate-partitions")
def run_partitions(
    backfill_run_id: str,
    partitions: list[dict[str, Any]],
    options: dict[str, Any],
    workers: int,
    dsn_secret_block: str | None = None,
) -> list[dict[str, object]]:
    """Submit the partitions with at most ``workers`` in flight (also on a shared Dask cluster)."""
    in_flight: list[PrefectFuture[dict[str, object]]] = []
    results: list[dict[str, object]] = []
    for partition in partitions:
        while len(in_flight) >= workers:
            done = wait(in_flight, timeout=1).done
            results.extend(f.result() for f in done)
            in_flight = [f for f in in_flight if f not in done]
        in_flight.append(migrate_partition_task.submit(backfill_run_id, partition, options, dsn_secret_block))
    results.extend(f.result() for f in in_flight)
    return results


def task_runner(dask_address: str | None, workers: int) -> Any:
    """Dask when an address is given (prefect-dask), else threads in this process."""
    if dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=dask_address)
    return ThreadPoolTaskRunner(max_workers=workers)


def backfill(
    since: date | None = None,
    until: date | None = None,
    batch_size: int = 5000,
    workers: int = 2,
    partitions: int | None = None,
    weights: str | None = None,
    dask_address: str | None = None,
    dsn_secret_block: str | None = None,
) -> dict[str, object]:
    """The backfill flow's body: plan (or resume) the partitions, run them concurrently, close the run."""
    logger = get_run_logger()
    options = MigrateOptions(
        since=parse_day(since.isoformat(), "since") if since else None,
        until=parse_day(until.isoformat(), "until") if until else None,
        batch_size=batch_size,
        workers=workers,
        weights=PerformanceWeights.parse(weights) if weights else PerformanceWeights(),
    )
    dsn = resolve_flow_dsn(dsn_secret_block)
    started = datetime.now().astimezone()
    run_id, pending = start_backfill(dsn, options, partitions, workers, logger.info)
    address = dask_address or os.environ.get(DASK_ADDRESS_ENV) or None
    run_partitions.with_options(task_runner=task_runner(address, workers))(
        run_id, [asdict(p) for p in pending], options_json(options), workers, dsn_secret_block
    )
    return finish_backfill(dsn, run_id, started)


def run_partitioned_flow(dsn: ResolvedDsn, options: MigrateOptions, *, dask_address: str) -> dict[str, object]:
    """``statsfirst migrate --dask-address``: the backfill flow on a Dask cluster, from the command line.

    The partition tasks resolve the DSN where they run: the Dask workers need ``DATABASE_URL`` in their
    environment (this process exports the one it resolved, for workers it starts itself).
    """
    os.environ.setdefault("DATABASE_URL", dsn.conninfo)
    body = flow(name="backfill")(backfill)
    result: dict[str, object] = body(
        since=options.since.date() if options.since else None,
        until=options.until.date() if options.until else None,
        batch_size=options.batch_size,
        workers=options.workers,
        weights=options.weights.as_text(),
        dask_address=dask_address,
    )
    return result

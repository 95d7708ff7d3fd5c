"""Partitioned backfills: a range cut into keyset partitions that run concurrently (Prefect tasks, Dask tasks).

The backfill itself is a run in the ledger whose batches are the partitions; each partition is a run of its own
(``migrate`` over the partition's id bounds) whose batches commit with their data. A killed backfill is resumed
by running the same backfill again: finished partitions are skipped, an interrupted one resumes its batches.
Each partition holds a PostgreSQL advisory lock keyed on the target schema and its bounds while it runs, so two
backfills never process one partition at once. Tasks receive ids, bounds, options and the target's non-secret
identity, never frames or the DSN: a task resolves its own DSN where it runs (``DATABASE_URL`` or a Prefect Secret
block) and refuses to run when that points at another database than the coordinator's.

Plain functions taking a ``log`` callable: the Prefect flows live in ``flows/``, the Dask driver of
``statsfirst migrate --dask-address`` in ``pipeline/dask_backfill.py``.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import polars as pl
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from statsfirst.db.catalog import relation_exists
from statsfirst.db.connection import connect, connection
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import LEGACY_SCHEMA, target_schema_for
from statsfirst.db.pooler import refuse_transaction_pooler
from statsfirst.errors import UsageError
from statsfirst.extract.changes import current_legacy_point
from statsfirst.extract.copy_reader import copy_frame
from statsfirst.extract.legacy_reader import KeyRange
from statsfirst.flow_support import BatchProgress
from statsfirst.pipeline import run_ledger
from statsfirst.pipeline.configuration import record_configuration, settle_configuration
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate
from statsfirst.pipeline.summary import MigrationSummary

# A partition holds at most this many batches by default: small enough to resume finely, large enough that the
# per-partition overhead (one run, one lock, one reference-data read) stays small.
BATCHES_PER_PARTITION = 4


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
    refuse_transaction_pooler(dsn, "statsfirst backfill")  # before the backfill's run is written
    target_schema = target_schema_for(dsn)
    key = backfill_key(options, target_schema)
    with connection(dsn) as conn:
        conn.autocommit = True
        run_id = run_ledger.resumable_run(conn, key)
        if run_id:
            pending = run_ledger.pending_batches(conn, run_id)
            log(f"resuming backfill {run_id}: {len(pending)} partition(s) left")
            return run_id, pending
        # refuse other weights before any partition starts; the first backfill of a target records them
        config, to_record = settle_configuration(conn, target_schema, options.weights, options.reweigh)
        legacy_point = current_legacy_point(conn)
        planned = plan_partitions(conn, options, partitions, workers)
        parameters = {**options.parameters(target_schema), "mode": "backfill", "partitions": len(planned)}
        run_id = run_ledger.create_run(conn, key, parameters, target_schema, planned, legacy_point.snapshot)
        if to_record:
            record_configuration(conn, target_schema, config, run_id, replace=options.reweigh)
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
            progress = BatchProgress(log, partition.session_count, label=f"partition {partition.batch_no}: batch done")
            totals = migrate(dsn, part, on_start=progress.on_start, on_progress=progress.on_progress, log=log).as_json()
        with connection(dsn) as conn:
            conn.autocommit = True
            run_ledger.mark_committed(conn, backfill_run_id, partition.batch_no, _as_outcome(totals))
    return totals


def _as_outcome(totals: dict[str, Any]) -> dict[str, object]:
    """A partition's summary in the shape of a batch outcome, so the backfill's totals add up like a run's."""
    return {
        "migrated": totals["sessions"]["migrated"],
        "migrated_pending": totals["sessions"].get("migrated_pending", 0),
        "quarantined": totals["quarantined_by_reason"],
        "skipped": totals["skipped_by_reason"],
        "rows": totals["rows"],
        "sessions_in_range": totals["sessions"]["in_range"],
    }


def finish_backfill(
    dsn: ResolvedDsn, backfill_run_id: str, started: datetime, processed: int | None = None
) -> dict[str, object]:
    """Close the backfill's run with its totals. ``processed``: the sessions this invocation's partitions worked
    (default: every session of the backfill), over the wall time since ``started``, give ``sessions_per_second``."""
    with connection(dsn) as conn:
        conn.autocommit = True
        summary = MigrationSummary(run_id=backfill_run_id, dry_run=False, resumed=False)
        partitions = 0
        for outcome in run_ledger.committed_outcomes(conn, backfill_run_id):
            summary.add(outcome)
            summary.sessions_in_range += int(str(outcome.get("sessions_in_range", 0)))
            partitions += 1
        summary.wall_seconds = (datetime.now(started.tzinfo) - started).total_seconds()
        summary.sessions_this_invocation = summary.sessions_in_range if processed is None else processed
        totals = {**summary.as_json(), "partitions": partitions}
        run_ledger.finish_run(conn, backfill_run_id, totals)
    return totals


# ------------------------------------------------------------------------------------------- task side
def options_json(options: MigrateOptions) -> dict[str, object]:
    """What a partition task needs to rebuild the options: plain values (no frames, no DSN)."""
    return {
        "since": options.since.isoformat() if options.since else None,
        "until": options.until.isoformat() if options.until else None,
        "batch_size": options.batch_size,
        "weights": options.weights.as_text() if options.weights else None,
    }


def options_from_json(data: dict[str, Any]) -> MigrateOptions:
    return MigrateOptions.from_text(
        since=data["since"], until=data["until"], weights=data.get("weights"), batch_size=int(data["batch_size"]),
        workers=1,
    )


IDENTITY_KEYS = ("host", "port", "dbname", "user")


def target_identity(dsn: ResolvedDsn) -> dict[str, str]:
    """Which database a DSN points at, without its password: host, port, dbname, user (libpq's defaults filled)."""
    params = {k: str(v) for k, v in conninfo_to_dict(dsn.conninfo).items() if v is not None}
    return {
        "host": params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST", "localhost"),
        "port": params.get("port") or os.environ.get("PGPORT", "5432"),
        "dbname": params.get("dbname") or params.get("user") or os.environ.get("PGDATABASE", ""),
        "user": params.get("user") or os.environ.get("PGUSER", ""),
    }


def describe_identity(identity: dict[str, str]) -> str:
    get = identity.get
    return f"{get('user', '')}@{get('host', '')}:{get('port', '')}/{get('dbname', '')}"


def check_same_target(dsn: ResolvedDsn, expected: dict[str, str]) -> None:
    """Refuse, in one line, a worker whose own DSN points at another database than the backfill's."""
    mine = target_identity(dsn)
    if any(mine[k] != str(expected.get(k, "")) for k in IDENTITY_KEYS):
        raise UsageError(
            f"this worker's database ({describe_identity(mine)}, from {dsn.source}) is not the backfill's target "
            f"({describe_identity(expected)})",
            "set DATABASE_URL in the Dask/Prefect worker's environment to the target database (or pass the "
            "dsn_secret_block that holds it) and run the same backfill again",
        )


def run_partition(
    dsn: ResolvedDsn,
    identity: dict[str, str],
    backfill_run_id: str,
    partition: dict[str, Any],
    options: dict[str, Any],
    log: Callable[[str], object],
) -> dict[str, object]:
    """One partition task, where it runs: check the worker's DSN is the target, migrate the partition, report."""
    check_same_target(dsn, identity)
    planned = run_ledger.PlannedBatch(**partition)
    started = time.perf_counter()
    totals = migrate_partition(dsn, options_from_json(options), backfill_run_id, planned, log)
    sessions = totals["sessions"]
    in_range = int(sessions["in_range"])  # type: ignore[index]
    log(f"partition {planned.batch_no} done: {in_range:,} sessions in {time.perf_counter() - started:,.1f} s")
    return {"partition": planned.batch_no, "sessions": sessions, "processed": in_range}


def sessions_in_range(dsn: ResolvedDsn, options: MigrateOptions) -> int | None:
    """How many legacy sessions a (non-incremental) run of ``options`` covers: the total of its progress lines (None
    without the legacy table: the run itself then says what is wrong)."""
    key_range = KeyRange(
        options.first_id or "00000000-0000-0000-0000-000000000000",
        options.last_id or "ffffffff-ffff-ffff-ffff-ffffffffffff",
        options.since,
        options.until,
    )
    query = sql.SQL("SELECT count(*) FROM ({}) planned").format(run_ledger.PLAN_QUERY)
    with connection(dsn) as conn:
        if not relation_exists(conn, LEGACY_SCHEMA, "c3d_metadata"):
            return None
        row = conn.execute(query, key_range.params()).fetchone()
    return int(row[0]) if row else 0

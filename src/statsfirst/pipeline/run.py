"""``statsfirst migrate``: plan → (extract → normalize → validate → load) per batch, resumable, in parallel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg

from statsfirst.db.connection import connect, connection
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import LEGACY_SCHEMA, target_schema_for
from statsfirst.errors import SchemaStateError
from statsfirst.extract.legacy_reader import KeyRange, has_legacy_session_settings, read_batch
from statsfirst.load.batch_loader import BatchOutcome, load_batch
from statsfirst.pipeline import run_ledger
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.summary import MigrationSummary
from statsfirst.transform.normalize import NormalizeOptions, normalize_batch
from statsfirst.transform.references import ReferenceData
from statsfirst.validate.run_checks import validate_tables

Progress = Callable[[int], None]
REQUIRED_LEGACY = ("c3d_metadata", "analysis_results", "patients", "therapists")


def check_legacy_tables(conn: psycopg.Connection) -> None:
    missing = []
    for table in REQUIRED_LEGACY:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{LEGACY_SCHEMA}.{table}",)).fetchone()
        if not (row and row[0]):
            missing.append(table)
    if missing:
        raise SchemaStateError(
            f"the legacy table(s) {', '.join(missing)} are missing from schema {LEGACY_SCHEMA}",
            "point --dsn/DATABASE_URL at the legacy database",
        )


def migrate(
    dsn: ResolvedDsn,
    options: MigrateOptions,
    *,
    on_start: Callable[[int], None] | None = None,
    on_progress: Progress | None = None,
    log: Callable[[str], object] = print,
) -> MigrationSummary:
    started = time.perf_counter()
    target_schema = target_schema_for(dsn)
    run_time = datetime.now(UTC)
    key_range_all = KeyRange(
        "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", options.since, options.until
    )
    with connection(dsn) as conn:
        conn.autocommit = True
        check_legacy_tables(conn)
        refs = ReferenceData.load(conn)
        with_settings = has_legacy_session_settings(conn)
        command_key = options.command_key(target_schema)
        run_id = None if options.dry_run else run_ledger.resumable_run(conn, command_key)
        resumed = run_id is not None
        planned = run_ledger.plan_batches(conn, key_range_all, options.batch_size)
        if options.dry_run:
            pending = planned
        elif run_id is None:
            run_id = run_ledger.create_run(conn, command_key, options.parameters(target_schema), target_schema, planned)
            pending = planned
        else:
            pending = run_ledger.pending_batches(conn, run_id)
            log(f"resuming run {run_id}: {len(pending)} of {len(planned)} batches left")
        summary = MigrationSummary(run_id=run_id, dry_run=options.dry_run, resumed=resumed)
        if run_id and resumed:
            for outcome in run_ledger.committed_outcomes(conn, run_id):
                summary.add(outcome)
    summary.sessions_in_range = sum(b.session_count for b in planned)
    if on_start:
        on_start(summary.sessions_in_range - sum(b.session_count for b in pending))
    normalize_options = NormalizeOptions(weights=options.weights, run_time=run_time)
    lock = threading.Lock()
    local = threading.local()
    opened: list[psycopg.Connection] = []

    def worker_connection() -> psycopg.Connection:
        if getattr(local, "conn", None) is None:
            local.conn = connect(dsn)
            local.conn.autocommit = True
            # The batch queries are short and their estimates on never-ANALYZEd staging tables are huge, which
            # makes PostgreSQL JIT-compile them: ~0.4 s of compilation per query for a few ms of work.
            local.conn.execute("SET jit = off")
            with lock:
                opened.append(local.conn)
        return local.conn

    def process(batch: run_ledger.PlannedBatch) -> None:
        conn = worker_connection()
        key_range = KeyRange(batch.first_id, batch.last_id, options.since, options.until)
        legacy = read_batch(conn, key_range, with_settings=with_settings)
        normalized = normalize_batch(legacy, refs, normalize_options)
        normalized.problems = normalized.problems.vstack(validate_tables(normalized.tables))
        if options.dry_run:
            outcome = _dry_outcome(normalized)
        else:
            assert run_id is not None

            def commit(c: psycopg.Connection, result: BatchOutcome) -> None:
                run_ledger.mark_committed(c, run_id, batch.batch_no, result.as_json())

            outcome = load_batch(conn, target_schema, normalized, run_id, commit)
        with lock:
            summary.add(outcome.as_json())
            summary.sessions_this_invocation += len(normalized.session_ids)
        if on_progress:
            on_progress(len(normalized.session_ids))

    try:
        if options.workers == 1:
            for batch in pending:
                process(batch)
        else:
            with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="statsfirst-batch") as pool:
                for future in [pool.submit(process, b) for b in pending]:
                    future.result()
    finally:
        for conn in opened:
            conn.close()
    summary.wall_seconds = time.perf_counter() - started
    if run_id and not options.dry_run:
        with connection(dsn) as conn:
            run_ledger.finish_run(conn, run_id, summary.as_json())
    return summary


def _dry_outcome(normalized: object) -> BatchOutcome:
    import polars as pl

    from statsfirst.transform.normalize import NormalizedBatch

    assert isinstance(normalized, NormalizedBatch)
    held = set(normalized.problems["session_id"].to_list())
    skipped = set(normalized.skipped["session_id"].to_list())
    first_reason = (
        normalized.problems.filter(~pl.col("session_id").is_in(list(skipped)))
        .group_by("session_id")
        .agg(pl.col("reason").sort().first())
    )
    outcome = BatchOutcome(
        migrated=len(set(normalized.session_ids) - held - skipped),
        quarantined=dict(first_reason.group_by("reason").len().iter_rows()),
        skipped=dict(normalized.skipped.group_by("reason").len().iter_rows()),
    )
    for name, frame in normalized.tables.items():
        key = "session_id" if "session_id" in frame.columns else "id"
        outcome.rows[name] = frame.filter(~pl.col(key).is_in(list(held | skipped))).height
    return outcome

"""``statsfirst migrate``: plan → (extract → normalize → validate → load) per batch, resumable, in parallel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import polars as pl
import psycopg

from statsfirst.db.catalog import relation_exists
from statsfirst.db.connection import connect, connection
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import LEGACY_SCHEMA, target_schema_for
from statsfirst.errors import SchemaStateError
from statsfirst.extract.legacy_reader import KeyRange, has_legacy_session_settings, read_batch
from statsfirst.load.batch_loader import BatchOutcome, load_batch, split
from statsfirst.pipeline import incremental, run_ledger
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.summary import MigrationSummary
from statsfirst.transform.normalize import NormalizeOptions, normalize_batch
from statsfirst.transform.references import ReferenceData
from statsfirst.validate.run_checks import validate_tables

Progress = Callable[[int], None]
REQUIRED_LEGACY = ("c3d_metadata", "analysis_results", "patients", "therapists")


def check_legacy_tables(conn: psycopg.Connection) -> None:
    missing = [table for table in REQUIRED_LEGACY if not relation_exists(conn, LEGACY_SCHEMA, table)]
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
        options.first_id or "00000000-0000-0000-0000-000000000000",
        options.last_id or "ffffffff-ffff-ffff-ffff-ffffffffffff",
        options.since,
        options.until,
    )
    candidates: set[str] | None = None  # None: every session of a batch's span
    mark_to: incremental.Watermark | None = None
    with connection(dsn) as conn:
        conn.autocommit = True
        check_legacy_tables(conn)
        refs = ReferenceData.load(conn)
        with_settings = has_legacy_session_settings(conn)
        parameters = options.parameters(target_schema)
        extra: dict[str, object] = {}
        if options.incremental:
            mark_from = incremental.read_watermark(conn, target_schema)
            extra = {"watermark_from": mark_from.as_json()}
        command_key = options.command_key(target_schema, extra)
        run_id = None if options.dry_run else run_ledger.resumable_run(conn, command_key)
        resumed = run_id is not None
        if options.incremental:
            # the mark is taken before the changes are read, so whatever moves in between is seen next time
            mark_to = (
                incremental.Watermark.from_json(run_ledger.run_parameters(conn, run_id).get("watermark_to"))
                if run_id
                else incremental.next_watermark(conn, with_settings)
            )
            changed = incremental.changed_sessions(conn, mark_from, with_settings)
            planned = incremental.plan_changed(changed, options.batch_size)
            changed_ids = changed.filter(pl.col("changed"))["id"]
            candidates = None if len(changed_ids) == len(changed) else set(changed_ids.to_list())
            del changed, changed_ids
        else:
            planned = run_ledger.plan_batches(conn, key_range_all, options.batch_size)
        if options.dry_run:
            pending = planned
        elif run_id is None:
            recorded = {**parameters, **extra, **({"watermark_to": mark_to.as_json()} if mark_to else {})}
            run_id = run_ledger.create_run(conn, command_key, recorded, target_schema, planned)
            pending = planned
        committed: list[dict[str, object]] = []
        if resumed:
            assert run_id is not None
            pending, committed = run_ledger.resume_state(conn, run_id)
            log(f"resuming run {run_id}: {len(pending)} of {len(planned)} batches left")
        summary = MigrationSummary(run_id=run_id, dry_run=options.dry_run, resumed=resumed)
        for outcome in committed:
            summary.add(outcome)
        if options.first_id is None and not (options.since or options.until):
            summary.disappeared = incremental.disappeared(conn).as_json()
            if summary.disappeared["sessions"] or summary.disappeared["analyses"]:
                log(
                    f"{summary.disappeared['sessions']} migrated session(s) and {summary.disappeared['analyses']} "
                    "analysis row(s) are no longer in the legacy tables: reported, kept in the target"
                )
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
            # makes PostgreSQL JIT-compile them: ~0.4 s of compilation per query for a few ms of work. For the same
            # reason no parallel workers: starting them costs more than a batch query, and the batches already keep
            # the cores busy (--workers).
            local.conn.execute("SET jit = off")
            local.conn.execute("SET max_parallel_workers_per_gather = 0")
            with lock:
                opened.append(local.conn)
        return local.conn

    def process(batch: run_ledger.PlannedBatch) -> None:
        conn = worker_connection()
        key_range = KeyRange(batch.first_id, batch.last_id, options.since, options.until)
        legacy = read_batch(conn, key_range, with_settings=with_settings)
        if candidates is not None:
            legacy = incremental.only_sessions(legacy, candidates)
        normalized = normalize_batch(legacy, refs, normalize_options)
        normalized.problems = normalized.problems.vstack(validate_tables(normalized.tables))
        read_count = len(normalized.session_ids)
        unchanged = incremental.unchanged_sessions(conn, normalized.lineage) if options.incremental else set()
        if unchanged:
            normalized = split(normalized, set(normalized.session_ids) - unchanged)
        if options.dry_run:
            outcome = _dry_outcome(normalized)
        else:
            assert run_id is not None

            def commit(c: psycopg.Connection, result: BatchOutcome) -> None:
                run_ledger.mark_committed(c, run_id, batch.batch_no, {**result.as_json(), "unchanged": len(unchanged)})

            outcome = load_batch(conn, target_schema, normalized, run_id, commit)
        with lock:
            summary.add({**outcome.as_json(), "unchanged": len(unchanged)})
            summary.sessions_this_invocation += read_count
        if on_progress:
            on_progress(read_count)

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
        with connection(dsn) as conn, conn.transaction():
            run_ledger.finish_run(conn, run_id, summary.as_json())
            if mark_to is not None:
                incremental.store_watermark(conn, target_schema, mark_to, run_id)
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

"""``statsfirst migrate``: plan → (extract → normalize → validate → load) per batch, resumable, in parallel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import polars as pl
import psycopg

from statsfirst.db.connection import connect, connection
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import preflight, target_schema_for
from statsfirst.extract import changes
from statsfirst.extract.legacy_reader import KeyRange, check_legacy_tables, has_legacy_session_settings, read_batch
from statsfirst.extract.references import ReferenceData, read_references
from statsfirst.extract.settings_links import count_settings_links
from statsfirst.load.batch_loader import BatchOutcome, count_outcome, load_batch, loadable_sessions, split
from statsfirst.pipeline import incremental, run_ledger
from statsfirst.pipeline.configuration import TargetConfiguration, record_configuration, settle_configuration
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.summary import MigrationSummary
from statsfirst.transform.normalize import NormalizedBatch, NormalizeOptions, normalize_batch
from statsfirst.validate.run_checks import validate_tables

Progress = Callable[[int], None]
FIRST_UUID = "00000000-0000-0000-0000-000000000000"
LAST_UUID = "ffffffff-ffff-ffff-ffff-ffffffffffff"


@dataclass
class RunPlan:
    """What one invocation of ``migrate`` does: its run, the batches left, and what it must record at the end."""

    run_id: str | None
    resumed: bool
    planned: list[run_ledger.PlannedBatch]
    pending: list[run_ledger.PlannedBatch]
    committed: list[dict[str, object]]
    configuration: TargetConfiguration
    point: changes.LegacyPoint
    # incremental runs: only these sessions of a batch's span (None: every session of the span)
    candidates: set[str] | None = None
    # the run covers the whole legacy history up to ``point`` (incremental or unranged): it advances the mark
    advances_mark: bool = False


def migrate(
    dsn: ResolvedDsn,
    options: MigrateOptions,
    *,
    on_start: Callable[[int], None] | None = None,
    on_progress: Progress | None = None,
    log: Callable[[str], object] = print,
) -> MigrationSummary:
    """The runbook: plan (or resume) the run, process its batches in parallel, close the run."""
    started = time.perf_counter()
    target_schema = target_schema_for(dsn)
    with connection(dsn) as conn:
        conn.autocommit = True
        check_legacy_tables(conn)
        preflight(conn, dsn, target_schema, writes=not options.dry_run)  # pooler and privileges, before any write
        refs = read_references(conn)
        with_settings = has_legacy_session_settings(conn)
        plan = _plan_run(conn, options, target_schema, with_settings, log)
        summary = MigrationSummary(run_id=plan.run_id, dry_run=options.dry_run, resumed=plan.resumed)
        for outcome in plan.committed:
            summary.add(outcome)
        if options.first_id is None and not (options.since or options.until):
            summary.deleted_in_legacy = changes.deleted_in_legacy(conn).as_json()
            links = count_settings_links(conn)
            summary.settings_links = links.as_json() if links else None
            _log_deleted(summary.deleted_in_legacy, log)
    summary.sessions_in_range = sum(b.session_count for b in plan.planned)
    if on_start:
        on_start(summary.sessions_in_range - sum(b.session_count for b in plan.pending))
    normalize_options = NormalizeOptions(
        weights=plan.configuration.performance_weights,
        run_time=datetime.now(UTC),
        compliance_weights=plan.configuration.compliance_weights,
    )
    _process_batches(dsn, options, target_schema, plan, with_settings, refs, normalize_options, summary, on_progress)
    summary.wall_seconds = time.perf_counter() - started
    if plan.run_id and not options.dry_run:
        with connection(dsn) as conn, conn.transaction():
            run_ledger.finish_run(conn, plan.run_id, summary.as_json())
            if plan.advances_mark:
                incremental.store_watermark(conn, target_schema, plan.point, plan.run_id)
    return summary


def _plan_run(
    conn: psycopg.Connection,
    options: MigrateOptions,
    target_schema: str,
    with_settings: bool,
    log: Callable[[str], object],
) -> RunPlan:
    """Settle the configuration, take the point of history, select the work, and create or resume the run."""
    configuration, to_record = settle_configuration(conn, target_schema, options.weights, options.reweigh)
    options = replace(options, weights=configuration.performance_weights)
    # the point is taken before anything is read: whatever commits later is newer than it, so the next run sees it
    point = changes.current_legacy_point(conn)
    extra: dict[str, object] = {}
    mark: changes.LegacyPoint | None = None
    if options.incremental:
        mark = incremental.read_watermark(conn, target_schema)
        extra = {"watermark_from": mark.snapshot if mark else None}
    command_key = options.command_key(target_schema, extra)
    run_id = None if options.dry_run else run_ledger.resumable_run(conn, command_key)
    resumed = run_id is not None
    if run_id is not None:
        recorded_point = run_ledger.run_snapshot(conn, run_id)
        references = str(run_ledger.run_parameters(conn, run_id).get("references_hash") or "")
        if recorded_point:
            point = changes.LegacyPoint(recorded_point, references)
    candidates: set[str] | None = None
    if options.incremental:
        comparable = changes.comparable(conn, mark, point)
        changed = changes.changed_sessions(conn, mark if comparable else None, with_settings)
        planned = incremental.plan_changed(changed, options.batch_size)
        changed_ids = changed.filter(pl.col("changed"))["id"]
        candidates = None if len(changed_ids) == len(changed) else set(changed_ids.to_list())
        del changed, changed_ids
    else:
        key_range = KeyRange(
            options.first_id or FIRST_UUID, options.last_id or LAST_UUID, options.since, options.until
        )
        planned = run_ledger.plan_batches(conn, key_range, options.batch_size)
    pending: list[run_ledger.PlannedBatch] = planned
    committed: list[dict[str, object]] = []
    if run_id is None and not options.dry_run:
        recorded = {**options.parameters(target_schema), **extra, "references_hash": point.references_hash}
        run_id = run_ledger.create_run(conn, command_key, recorded, target_schema, planned, point.snapshot)
    elif run_id is not None:
        pending, committed = run_ledger.resume_state(conn, run_id)
        log(f"resuming run {run_id}: {len(pending)} of {len(planned)} batches left")
    if to_record and not options.dry_run:
        configuration = record_configuration(conn, target_schema, configuration, run_id, replace=options.reweigh)
        log(f"recorded the configuration of target {target_schema!r}: {configuration.performance_weights.as_text()}")
    covers_history = options.incremental or not (options.first_id or options.since or options.until)
    return RunPlan(
        run_id, resumed, planned, pending, committed, configuration, point, candidates, covers_history
    )


def _log_deleted(deleted: dict[str, object], log: Callable[[str], object]) -> None:
    if deleted.get("sessions") or deleted.get("analyses"):
        log(
            f"deleted in legacy: {deleted['sessions']} migrated session(s) and {deleted['analyses']} analysis "
            "row(s) are no longer in the legacy tables; reported, kept in the target"
        )


def _process_batches(
    dsn: ResolvedDsn,
    options: MigrateOptions,
    target_schema: str,
    plan: RunPlan,
    with_settings: bool,
    refs: ReferenceData,
    normalize_options: NormalizeOptions,
    summary: MigrationSummary,
    on_progress: Progress | None,
) -> None:
    """Extract → normalize → validate → load each pending batch, ``options.workers`` at a time."""
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
            # TimeZone: the lineage's source hash and legacy payload render timestamps as text, so a worker whose
            # PGTZ differs must not make every session look changed. One round trip for the three.
            local.conn.execute("SET jit = off; SET max_parallel_workers_per_gather = 0; SET TimeZone = 'UTC'")
            with lock:
                opened.append(local.conn)
        return local.conn

    def process(batch: run_ledger.PlannedBatch) -> None:
        conn = worker_connection()
        key_range = KeyRange(batch.first_id, batch.last_id, options.since, options.until)
        legacy = read_batch(conn, key_range, with_settings=with_settings)
        if plan.candidates is not None:
            legacy = incremental.only_sessions(legacy, plan.candidates)
        normalized = normalize_batch(legacy, refs, normalize_options)
        normalized.problems = normalized.problems.vstack(validate_tables(normalized.tables))
        read_count = len(normalized.session_ids)
        unchanged = incremental.unchanged_sessions(conn, normalized.lineage) if options.incremental else set()
        if unchanged:
            normalized = split(normalized, set(normalized.session_ids) - unchanged)
        counts = {"unchanged": len(unchanged), "rewritten_unchanged": _rewritten_unchanged(conn, normalized, options)}
        if options.dry_run:
            outcome = count_outcome(normalized)
        else:
            run_id = plan.run_id
            assert run_id is not None

            def commit(c: psycopg.Connection, result: BatchOutcome) -> None:
                run_ledger.mark_committed(c, run_id, batch.batch_no, {**result.as_json(), **counts})

            outcome = load_batch(conn, target_schema, normalized, run_id, commit)
        with lock:
            summary.add({**outcome.as_json(), **counts})
            summary.sessions_this_invocation += read_count
        if on_progress:
            on_progress(read_count)

    try:
        if options.workers == 1:
            for batch in plan.pending:
                process(batch)
        else:
            with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="statsfirst-batch") as pool:
                for future in [pool.submit(process, b) for b in plan.pending]:
                    future.result()
    finally:
        for conn in opened:
            conn.close()


def _rewritten_unchanged(conn: psycopg.Connection, normalized: NormalizedBatch, options: MigrateOptions) -> int:
    """A full run rewrites every session (a new statsfirst version may map differently); of the sessions it
    migrates, how many have legacy sources that hash as when they were last written, so a second run with nothing
    new says so instead of looking like a first migration."""
    if options.incremental:
        return 0
    migrating = normalized.lineage.filter(pl.col("session_id").is_in(list(loadable_sessions(normalized))))
    return len(incremental.unchanged_sessions(conn, migrating))



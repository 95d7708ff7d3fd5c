"""A partitioned backfill equals a plain single-worker run byte for byte (threads, then a 2-process Dask cluster)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg
import pytest
from migration_support import TARGET, TARGET_TABLES, rows, run, scalar, seeded_database

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.pipeline import partitions
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run_ledger import PlannedBatch

SESSIONS = 300
BATCH = 25
# Columns PostgreSQL stamps with now() when a row is written: they say when, not what, so two databases migrated
# at different moments differ there and nowhere else.
WRITE_STAMPS = {
    "emg_statistics": ["created_at"],
    "performance_scores": ["calculated_at", "created_at"],
    "bfr_monitoring": ["created_at"],
    "session_settings": ["created_at", "updated_at"],
    "signal_processing_cache": ["invalidated_at"],
    "processing_parameters": ["created_at"],
}


def table_digests(dsn: ResolvedDsn) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every target table's rows (all columns but the write stamps) and of the quarantine."""
    out: dict[str, tuple[int, str]] = {}
    queries = {
        name: f"SELECT to_jsonb(t) - %s::text[] AS r FROM {TARGET}.{name} t" for name in TARGET_TABLES
    }
    queries["quarantine"] = (
        "SELECT jsonb_build_array(legacy_session_id, legacy_analysis_ids, stage, reasons, failures, payload) || "
        "to_jsonb(%s::text[]) AS r FROM statsfirst.quarantine"
    )
    queries["session_lineage"] = "SELECT to_jsonb(l) - 'run_id' - 'migrated_at' - %s::text[] AS r FROM " \
        "statsfirst.session_lineage l"
    for name, query in queries.items():
        row = rows(dsn, f"SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) "
                        f"FROM ({query}) s", (WRITE_STAMPS.get(name, []),))[0]
        out[name] = (int(row[0]), str(row[1]))
    return out


@pytest.fixture(scope="module")
def reference_digests(make_database: Callable[[], ResolvedDsn]) -> dict[str, tuple[int, str]]:
    dsn = seeded_database(make_database, sessions=SESSIONS)
    run(dsn, batch_size=BATCH, workers=1)
    return table_digests(dsn)


def backfill_in_flow(dsn: ResolvedDsn, monkeypatch: pytest.MonkeyPatch, **parameters: object) -> dict[str, object]:
    from flows.backfill import backfill

    monkeypatch.setenv("DATABASE_URL", dsn.conninfo)  # tasks resolve the DSN where they run, never a parameter
    result = backfill(batch_size=BATCH, **parameters)
    assert isinstance(result, dict)
    return result


def test_three_workers_equal_one(
    make_database: Callable[[], ResolvedDsn], reference_digests: dict[str, tuple[int, str]],
    prefect_api: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    dsn = seeded_database(make_database, sessions=SESSIONS)
    from prefect.artifacts import Artifact

    totals = backfill_in_flow(dsn, monkeypatch, workers=3)
    assert table_digests(dsn) == reference_digests
    assert totals["sessions"]["in_range"] == SESSIONS  # type: ignore[index]
    # the backfill reconciled its own range, and its rate is sessions over wall time (it was always 0.0)
    assert totals["reconciled"] is True
    assert totals["sessions_per_second"] == pytest.approx(SESSIONS / float(str(totals["wall_seconds"])), rel=0.01)
    summary = Artifact.get("statsfirst-backfill-summary")
    assert summary is not None and summary.type == "table"
    measures = {row["measure"]: row["value"] for row in json.loads(str(summary.data))}
    assert measures["legacy sessions in range"] == SESSIONS and measures["sessions per second"] > 0
    backfills = rows(dsn, "SELECT run_id::text, status, parameters ->> 'partitions' FROM statsfirst.migration_runs"
                          " WHERE parameters ->> 'mode' = 'backfill'")
    assert len(backfills) == 1 and backfills[0][1] == "completed" and int(backfills[0][2]) >= 3
    # every partition ran as its own completed run, and the same backfill again does nothing new
    assert scalar(dsn, "SELECT count(*) FROM statsfirst.migration_runs WHERE parameters ? 'first_id'") == int(
        backfills[0][2])


def test_killed_backfill_resumes_partition_by_partition_under_locks(make_database: Callable[[], ResolvedDsn]) -> None:
    dsn = seeded_database(make_database, sessions=120)
    options = MigrateOptions(batch_size=BATCH, workers=2)
    run_id, planned = partitions.start_backfill(dsn, options, 3, 2, print)
    assert len(planned) == 3
    # the first partition finishes, then the backfill is killed
    partitions.migrate_partition(dsn, options, run_id, planned[0], print)
    again, pending = partitions.start_backfill(dsn, options, 3, 2, print)
    assert again == run_id and [p.batch_no for p in pending] == [1, 2]

    # a partition another run holds is not processed at once: its lock key is taken
    part = PlannedBatch(**{**planned[1].__dict__})
    key = partitions.lock_key("stats", MigrateOptions(batch_size=BATCH, first_id=part.first_id, last_id=part.last_id))
    with psycopg.connect(dsn.conninfo, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (key,))
        with psycopg.connect(dsn.conninfo, autocommit=True) as other:
            assert other.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (False,)
        holder.execute("SELECT pg_advisory_unlock(%s)", (key,))
    for partition in pending:
        partitions.migrate_partition(dsn, options, run_id, partition, print)
    started = datetime.now().astimezone() - timedelta(seconds=2)
    totals = partitions.finish_backfill(dsn, run_id, started, processed=80)
    assert totals["sessions"]["in_range"] == 120  # type: ignore[index]
    # this invocation worked 80 sessions (two partitions) in about 2 s
    assert 30 < float(str(totals["sessions_per_second"])) <= 40
    child_runs = scalar(dsn, "SELECT count(*) FROM statsfirst.migration_runs WHERE parameters ? 'first_id'")
    assert child_runs == 3  # the finished partition was not redone


def test_dask_two_processes_equal_one(
    make_database: Callable[[], ResolvedDsn], reference_digests: dict[str, tuple[int, str]],
    prefect_api: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from distributed import LocalCluster

    dsn = seeded_database(make_database, sessions=SESSIONS)
    # the workers resolve the DSN from their own environment, as a real cluster's would
    worker_env = {"DATABASE_URL": dsn.conninfo, "PREFECT_API_URL": prefect_api}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      env=worker_env) as cluster:
        totals = backfill_in_flow(dsn, monkeypatch, workers=2, dask_address=cluster.scheduler_address)
    assert totals["sessions"]["in_range"] == SESSIONS  # type: ignore[index]
    assert table_digests(dsn) == reference_digests

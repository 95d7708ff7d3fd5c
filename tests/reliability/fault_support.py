"""Helpers shared by the fault, concurrency and hostile-input tests (imported by the test modules; not a conftest).

The fault tests compare a faulted-then-re-run database with a clean run of the same seeded legacy data. Databases
are leased from a small pool and reset by TRUNCATE between uses (a DROP DATABASE costs seconds on some servers).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate
from statsfirst.pipeline.summary import MigrationSummary
from statsfirst.target_tables import TARGET_TABLES

SqlText = str | sql.SQL | sql.Composed  # what Connection.execute takes

TARGET = "stats"
SEED = 23
SESSIONS = 300
BATCH = 25  # 12 batches: many transactions, so faults land in different places
BAD_FRACTION = 0.05
CLI = Path(sys.executable).parent / "statsfirst"
BOOKKEEPING_WRITTEN = ("quarantine", "session_lineage", "analysis_lineage", "migration_runs", "migration_batches",
                       "watermarks")
# columns stamped with the wall-clock time of the run that wrote them (as in tests/migrate/test_resume.py)
RUN_TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "emg_statistics": ("created_at",),
    "performance_scores": ("created_at", "calculated_at"),
    "bfr_monitoring": ("created_at",),
    "session_settings": ("created_at", "updated_at"),
    "signal_processing_cache": ("invalidated_at",),
    "processing_parameters": ("created_at",),
}


def quiet(_: object) -> None:
    return None


def run_in_process(dsn: ResolvedDsn, **options: Any) -> MigrationSummary:
    return migrate(dsn, MigrateOptions(**{"batch_size": BATCH, **options}), log=quiet)


def cli_env(**extra: str) -> dict[str, str]:
    """The test process's environment without DATABASE_URL (every command gets --dsn), wide enough for one line."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(COLUMNS="250", **extra)
    return env


def migrate_command(dsn: ResolvedDsn | str, *extra: str, batch_size: int = BATCH) -> list[str]:
    conninfo = dsn.conninfo if isinstance(dsn, ResolvedDsn) else dsn
    return [str(CLI), "migrate", "--dsn", conninfo, "--batch-size", str(batch_size), "--json", *extra]


def run_cli(args: list[str], timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=cli_env(**env))


def scalar(dsn: ResolvedDsn, query: SqlText, params: tuple[Any, ...] | None = None) -> Any:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def rows(dsn: ResolvedDsn, query: SqlText, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def execute(dsn: ResolvedDsn, query: SqlText, params: tuple[Any, ...] | None = None) -> None:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        conn.execute(query, params)


def database_name(dsn: ResolvedDsn) -> str:
    return str(psycopg.conninfo.conninfo_to_dict(dsn.conninfo)["dbname"])


# ------------------------------------------------------------------------------------------------ comparisons
def stable_state(dsn: ResolvedDsn) -> dict[str, Any]:
    """Everything a migration leaves behind that must not depend on how (or how often) it was run: every target
    table without its run-time stamps, the open quarantine, the lineage without run ids, and the ledger's verdict."""
    state: dict[str, Any] = {}
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        for table in TARGET_TABLES:
            skip = list(RUN_TIME_COLUMNS.get(table, ()))
            columns = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
                " AND column_name <> ALL(%s) ORDER BY ordinal_position", (TARGET, table, skip)).fetchall()]
            state[table] = conn.execute(sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) "
                "FROM (SELECT {} FROM {}) r").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(TARGET, table))).fetchone()
        state["quarantine"] = conn.execute(
            "SELECT count(*), md5(coalesce(string_agg(q::text, E'\\n' ORDER BY q::text), '')) FROM ("
            " SELECT legacy_session_id, legacy_analysis_ids, stage, reasons, failures, md5(payload::text)"
            " FROM statsfirst.quarantine WHERE resolved_at IS NULL) q").fetchone()
        state["session_lineage"] = conn.execute(
            "SELECT count(*), md5(coalesce(string_agg(l::text, E'\\n' ORDER BY l::text), '')) FROM ("
            " SELECT legacy_session_id, raw_patient_id, raw_resolved_patient_id, raw_therapist_id,"
            " raw_resolved_therapist_id, raw_session_id, patient_resolution, linked_settings, legacy_c3d, source_hash"
            " FROM statsfirst.session_lineage) l").fetchone()
        state["analysis_lineage"] = conn.execute(
            "SELECT count(*), md5(coalesce(string_agg(l::text, E'\\n' ORDER BY l::text), '')) FROM ("
            " SELECT legacy_analysis_id, legacy_session_id, legacy_analysis FROM statsfirst.analysis_lineage) l"
        ).fetchone()
        state["unfinished_runs"] = conn.execute(
            "SELECT count(*) FROM statsfirst.migration_runs WHERE status <> 'completed'").fetchone()
        state["pending_batches_of_the_last_run"] = conn.execute(
            "SELECT count(*) FROM statsfirst.migration_batches WHERE status <> 'committed' AND run_id = "
            "(SELECT run_id FROM statsfirst.migration_runs ORDER BY started_at DESC LIMIT 1)").fetchone()
    return state


def batch_atomicity_violations(dsn: ResolvedDsn) -> list[str]:
    """After a fault on a freshly reset database: every committed batch is complete, no pending batch left a trace.

    A session of a committed batch is in the target or in the open quarantine (pending/processing sessions are
    migrated too); a session of a pending batch is in none of the target, quarantine or lineage.
    """
    query = sql.SQL("""
        SELECT b.batch_no, b.status, c.id,
               EXISTS (SELECT 1 FROM {sessions} t WHERE t.id = c.id) AS loaded,
               EXISTS (SELECT 1 FROM statsfirst.quarantine q WHERE q.legacy_session_id = c.id) AS quarantined,
               EXISTS (SELECT 1 FROM statsfirst.session_lineage l WHERE l.legacy_session_id = c.id) AS lineage
        FROM statsfirst.migration_batches b
        JOIN public.c3d_metadata c ON c.id BETWEEN b.first_id AND b.last_id
        WHERE b.run_id = (SELECT run_id FROM statsfirst.migration_runs ORDER BY started_at DESC LIMIT 1)
    """).format(sessions=sql.Identifier(TARGET, "therapy_sessions"))
    problems = []
    for batch_no, status, session, loaded, quarantined, lineage in rows(dsn, query):
        if status == "committed" and not (loaded or quarantined):
            problems.append(f"batch {batch_no} is committed but session {session} is nowhere")
        if status == "committed" and loaded and quarantined:
            problems.append(f"batch {batch_no}: session {session} is both loaded and quarantined")
        if status == "pending" and (loaded or quarantined or lineage):
            problems.append(f"batch {batch_no} is pending but session {session} was partly written")
    return problems


def wait_for_no_backends(dsn: ResolvedDsn, timeout: float = 30) -> None:
    """Wait until no other backend is connected to the database (a killed client's backend aborts on its own)."""
    name = database_name(dsn)
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                               (name,)).fetchone()
            if row and row[0] == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"backends still connected to {name} after {timeout} s")
            time.sleep(0.02)


# ------------------------------------------------------------------------------------------------ the pool
def seed_template(dsn: ResolvedDsn, sessions: int = SESSIONS) -> None:
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
        seed_legacy(conn, sessions=sessions, seed=SEED, bad_fraction=BAD_FRACTION)
    apply_migrations(dsn, target_schema=TARGET, log=quiet)
    execute(dsn, "ANALYZE")


def reset(dsn: ResolvedDsn) -> None:
    """Back to 'schema applied, nothing migrated': empty target tables and migration bookkeeping."""
    wait_for_no_backends(dsn)
    tables = [sql.Identifier(TARGET, t) for t in TARGET_TABLES]
    tables += [sql.Identifier("statsfirst", t) for t in BOOKKEEPING_WRITTEN]
    execute(dsn, sql.SQL("TRUNCATE {} CASCADE").format(sql.SQL(", ").join(tables)))


@dataclass
class FaultWorld:
    """A seeded template database, the state of one clean run of it, and a pool of resettable copies."""

    server: ResolvedDsn
    template: ResolvedDsn
    reference: dict[str, Any]
    reference_summary: dict[str, Any]
    batch_seconds: float
    free: list[ResolvedDsn] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def copy(self) -> ResolvedDsn:
        name = f"sf_fault_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.server.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(database_name(self.template))))
        self.created.append(name)
        return self.server.with_database(name)

    @contextmanager
    def lease(self) -> Iterator[ResolvedDsn]:
        """A database in the template's state (reset copy); returned to the pool afterwards."""
        dsn = self.free.pop() if self.free else self.copy()
        try:
            yield dsn
        finally:
            reset(dsn)
            self.free.append(dsn)

    def drop_all(self) -> None:
        if self.server.source != "DATABASE_URL":
            return  # an embedded server is deleted whole with its folder; a DROP per database costs a checkpoint
        with psycopg.connect(self.server.conninfo, autocommit=True) as conn:
            for name in self.created:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def build_world(server: ResolvedDsn, make_database: Callable[[], ResolvedDsn],
                reference_batch: int = BATCH) -> FaultWorld:
    """Seed a template, then migrate a copy cleanly (the reference; its state does not depend on the batch size)."""
    template = make_database()
    seed_template(template)
    world = FaultWorld(server, template, {}, {}, 0.0)
    with world.lease() as dsn:
        started = time.perf_counter()
        summary = run_in_process(dsn, batch_size=reference_batch)
        world.batch_seconds = (time.perf_counter() - started) / -(-SESSIONS // reference_batch)
        world.reference = stable_state(dsn)
        world.reference_summary = summary.as_json()
    return world

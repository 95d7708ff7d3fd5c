"""Supabase's poolers: a real PgBouncer in session mode (everything works) and in transaction mode (refuses).

Both PgBouncers sit on loopback ports in front of the test server (embedded or DATABASE_URL) and authenticate the
managed pipeline role with SCRAM, as Supabase's do. Through the session pooler the whole job runs; through the
transaction pooler (Supabase's port 6543) `schema apply` and `migrate` refuse in one line naming the fix before
writing anything, and `reconcile` (one REPEATABLE READ transaction, no session state) works and agrees with a
direct reconciliation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from field_support import SESSIONS, TARGET, ManagedDatabase, PgBouncer, cli, ok, one_line_error, query, schemas
from psycopg import sql

from statsfirst.db.pooler import backend_pids, transaction_pooled
from statsfirst.legacy.generator import seed_legacy


@dataclass(frozen=True)
class Poolers:
    fresh: ManagedDatabase  # legacy data only
    job: ManagedDatabase  # migrated through the session pooler
    session: PgBouncer
    transaction: PgBouncer


@pytest.fixture(scope="module")
def poolers(
    managed_database: Callable[..., ManagedDatabase], pgbouncer: Callable[[str, dict[str, str]], PgBouncer]
) -> Poolers:
    fresh, job = managed_database(), managed_database()
    for db in (fresh, job):
        with psycopg.connect(db.pipeline.conninfo) as conn:
            seed_legacy(conn, sessions=SESSIONS, seed=1)
    users = {fresh.role: fresh.password, job.role: job.password}
    return Poolers(fresh, job, pgbouncer("session", users), pgbouncer("transaction", users))


@pytest.fixture(scope="module")
def migrated(poolers: Poolers) -> dict[str, Any]:
    """The whole job through the session pooler; returns its reconciliation (JSON)."""
    through = poolers.session.dsn(poolers.job.pipeline)
    ok(cli(through, "schema", "apply", "--target-schema", TARGET))
    ok(cli(through, "migrate"))
    ok(cli(through, "migrate", "--incremental"))
    report: dict[str, Any] = json.loads(ok(cli(through, "reconcile", "--format", "json")).stdout)
    return report


def _state(db: ManagedDatabase) -> dict[str, object]:
    """Everything a refused command might have written."""
    state: dict[str, object] = {"schemas": sorted(schemas(db.admin) & {"statsfirst", TARGET, "auth"})}
    if "statsfirst" not in schemas(db.admin):
        return state
    digest = sql.SQL("SELECT md5(string_agg(t::text, ',' ORDER BY t::text)), count(*) FROM {} t")
    for schema, tables in (
        ("statsfirst", ("schema_migrations", "settings", "migration_runs", "migration_batches", "watermarks")),
        ("statsfirst", ("quarantine", "session_lineage", "configuration")),
        (TARGET, ("therapy_sessions", "emg_statistics", "signal_processing_cache")),
    ):
        for table in tables:
            state[f"{schema}.{table}"] = query(db.admin, digest.format(sql.Identifier(schema, table)))
    return state


def _assert_names_the_fix(message: str, db: ManagedDatabase) -> None:
    assert "transaction-mode pooler" in message and "nothing was changed" in message, message
    assert "connect through the session pooler (Supabase port 5432) or directly to the database" in message
    assert db.password not in message


def test_the_probe_tells_a_transaction_pooler_from_a_session_pooler_and_a_direct_connection(poolers: Poolers) -> None:
    direct = poolers.fresh.pipeline
    for dsn in (direct, poolers.session.dsn(direct)):
        first, second = backend_pids(dsn)
        assert len(set(first)) == 1 and len(set(second)) == 1 and first[0] != second[0]
        assert not transaction_pooled(dsn)
    first, second = backend_pids(poolers.transaction.dsn(direct))
    assert set(first) & set(second)  # two live clients were served by one server backend
    assert transaction_pooled(poolers.transaction.dsn(direct))


def test_through_a_transaction_pooler_schema_apply_refuses_in_one_line_and_writes_nothing(poolers: Poolers) -> None:
    db = poolers.fresh
    before = _state(db)
    assert before == {"schemas": []}
    message = one_line_error(cli(poolers.transaction.dsn(db.pipeline), "schema", "apply", "--target-schema", TARGET))
    _assert_names_the_fix(message, db)
    assert "`statsfirst schema apply`" in message
    assert _state(db) == before
    # the client really reached the server through that PgBouncer (its log names the database and the role)
    assert f"db={db.dbname} user={db.role}" in poolers.transaction.log()


def test_through_a_session_pooler_the_whole_job_works(poolers: Poolers, migrated: dict[str, Any]) -> None:
    assert migrated["reconciled"] is True
    assert migrated["sessions"]["legacy"] == SESSIONS and migrated["sessions"]["migrated"] > 0
    runs = query(
        poolers.job.admin, "SELECT count(*) FILTER (WHERE finished_at IS NOT NULL) FROM statsfirst.migration_runs"
    )
    assert runs == [(2,)]
    assert f"db={poolers.job.dbname} user={poolers.job.role}" in poolers.session.log()


def test_through_a_transaction_pooler_migrate_refuses_and_reconcile_agrees(
    poolers: Poolers, migrated: dict[str, Any]
) -> None:
    db = poolers.job
    through = poolers.transaction.dsn(db.pipeline)
    before = _state(db)
    for command in (("migrate",), ("migrate", "--incremental")):
        message = one_line_error(cli(through, *command))
        _assert_names_the_fix(message, db)
        assert _state(db) == before
    # reconcile runs in one REPEATABLE READ transaction without session state: it works and agrees with a direct one
    pooled = json.loads(ok(cli(through, "reconcile", "--format", "json")).stdout)
    direct = json.loads(ok(cli(db.pipeline, "reconcile", "--format", "json")).stdout)
    for report in (pooled, direct):
        report.pop("generated_at")
        report.pop("wall_seconds")
    assert pooled == direct and pooled["reconciled"] is True
    assert pooled["sessions"] == migrated["sessions"]
    ok(cli(through, "schema", "status"))
    assert _state(db) == before

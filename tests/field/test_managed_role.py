"""The whole job as a managed-database role (LOGIN CREATEROLE BYPASSRLS, no superuser), as on Supabase.

The legacy tables belong to the pipeline's role (it created them), every command runs through the real CLI with
``--dsn`` as that role, and a missing privilege stops a command in one line naming the GRANT that fixes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from field_support import SESSIONS, TARGET, ManagedDatabase, cli, ok, one_line_error, query, schemas
from psycopg import sql

from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.generator import seed_legacy


@dataclass(frozen=True)
class Job:
    db: ManagedDatabase
    reconciliation: dict[str, Any]


def seeded(managed_database: Callable[..., ManagedDatabase]) -> ManagedDatabase:
    db = managed_database()
    with psycopg.connect(db.pipeline.conninfo) as conn:
        seed_legacy(conn, sessions=SESSIONS, seed=1)
    return db


@pytest.fixture(scope="module")
def job(managed_database: Callable[..., ManagedDatabase]) -> Job:
    """Apply, migrate, migrate --incremental and reconcile, each as the pipeline role through the real CLI."""
    db = seeded(managed_database)
    ok(cli(db.pipeline, "schema", "apply", "--target-schema", TARGET))
    ok(cli(db.pipeline, "migrate"))
    ok(cli(db.pipeline, "migrate", "--incremental"))
    reconciliation = json.loads(ok(cli(db.pipeline, "reconcile", "--format", "json")).stdout)
    return Job(db, reconciliation)


def test_pipeline_role_is_not_superuser_and_owns_the_legacy_tables(
    managed_database: Callable[..., ManagedDatabase],
) -> None:
    db = managed_database()
    with psycopg.connect(db.pipeline.conninfo) as conn:
        who = conn.execute(
            "SELECT current_user, rolsuper, rolcreaterole, rolbypassrls, rolcanlogin, rolcreatedb"
            " FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert who == (db.role, False, True, True, True, False)
        owners: dict[str, str] = dict(
            conn.execute(
                "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r'"
            ).fetchall()
        )
        assert set(owners) >= {"c3d_metadata", "analysis_results", "patients", "therapists", "session_settings"}
        assert set(owners.values()) == {db.role}
        db_owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        assert db_owner == (db.role,)
        for client in ("anon", "authenticated", "service_role"):
            member = conn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (client,)).fetchone()
            assert member == (True,), client


def test_the_whole_job_runs_as_the_managed_role(job: Job) -> None:
    db, report = job.db, job.reconciliation
    assert report["reconciled"] is True
    sessions = report["sessions"]
    assert sessions["legacy"] == SESSIONS and sessions["migrated"] > 0
    assert sessions["migrated"] + sessions["quarantined"] + sessions["skipped"] == SESSIONS
    migrated = query(db.admin, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(TARGET, "therapy_sessions")))
    assert migrated == [(sessions["migrated"],)]
    # everything statsfirst created belongs to the pipeline role, and the ledger says it applied the schema
    owners = query(
        db.admin,
        "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname IN ('statsfirst', %s) OR (n.nspname = 'public' AND c.relname LIKE '%%_view')",
        (TARGET,),
    )
    assert owners == [(db.role,)]
    assert query(db.admin, "SELECT DISTINCT applied_by FROM statsfirst.schema_migrations") == [(db.role,)]
    runs = query(
        db.admin, "SELECT count(*), count(*) FILTER (WHERE finished_at IS NOT NULL) FROM statsfirst.migration_runs"
    )
    assert runs[0][0] == 2 and runs[0][0] == runs[0][1]


def _act_as(conn: psycopg.Connection, role: str, sub: object | None) -> None:
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    claims = {"role": role} if sub is None else {"sub": str(sub), "role": role}
    conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))


def _ids(conn: psycopg.Connection, view: str) -> set[object]:
    return {row[0] for row in conn.execute(sql.SQL("SELECT id FROM {}").format(sql.Identifier("public", view)))}


def test_the_compatibility_views_read_as_the_role_a_therapist_and_service_role(job: Job) -> None:
    with psycopg.connect(job.db.pipeline.conninfo) as conn:
        sessions, analyses = (
            {r[0] for r in conn.execute(sql.SQL("SELECT id FROM {}").format(sql.Identifier(TARGET, table)))}
            for table in ("therapy_sessions", "signal_processing_cache")
        )
        assert len(sessions) == job.reconciliation["sessions"]["migrated"] and analyses
        assert _ids(conn, "c3d_metadata_view") == sessions
        assert _ids(conn, "analysis_results_view") == analyses
        therapist, own_sessions = None, set()
        for user_id, ids in conn.execute(
            sql.SQL(
                "SELECT t.user_id, array_agg(s.id) FROM public.therapists t JOIN public.patients p"
                " ON p.therapist_id = t.id JOIN {} s ON s.patient_id = p.patient_code"
                " GROUP BY t.user_id ORDER BY count(*) DESC, t.user_id LIMIT 1"
            ).format(sql.Identifier(TARGET, "therapy_sessions"))
        ):
            therapist, own_sessions = user_id, set(ids)
        assert therapist is not None and 0 < len(own_sessions) < len(sessions)
        conn.commit()
        with conn.transaction():
            _act_as(conn, "service_role", None)
            assert _ids(conn, "c3d_metadata_view") == sessions
            assert _ids(conn, "analysis_results_view") == analyses
        with conn.transaction():
            _act_as(conn, "authenticated", therapist)
            assert conn.execute("SELECT current_user").fetchone() == ("authenticated",)
            assert _ids(conn, "c3d_metadata_view") == own_sessions
            seen_analyses = _ids(conn, "analysis_results_view")
            assert seen_analyses and seen_analyses < analyses
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            _act_as(conn, "anon", None)
            conn.execute("SELECT count(*) FROM public.c3d_metadata_view")


def _grant_from(message: str) -> str:
    """The statement the one-line error tells the user to run (it follows ``as a superuser or the owner: ``)."""
    match = re.search(r"as a superuser or the owner: (GRANT .+)$", message)
    assert match, message
    return match[1]


def _written(db: ManagedDatabase) -> dict[str, object]:
    """What a command could have written: schemas, ledger rows, runs, target rows."""
    present = schemas(db.admin)
    state: dict[str, object] = {"schemas": sorted(present & {"statsfirst", TARGET, "auth"})}
    if "statsfirst" in present:
        state["ledger"] = query(db.admin, "SELECT version, checksum FROM statsfirst.schema_migrations ORDER BY 1")
        state["runs"] = query(db.admin, "SELECT count(*) FROM statsfirst.migration_runs")
        state["sessions"] = query(
            db.admin, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(TARGET, "therapy_sessions"))
        )
    return state


def test_a_missing_privilege_stops_each_command_in_one_line_naming_the_grant(
    managed_database: Callable[..., ManagedDatabase],
) -> None:
    db = seeded(managed_database)
    admin_user = str(query(db.admin, "SELECT current_user")[0][0])
    role = db.role  # a plain identifier: messages show it unquoted
    # the role no longer owns the database: no CREATE on it (nor on public, owned by the database owner)
    query(db.admin, f"ALTER DATABASE {db.dbname} OWNER TO {admin_user}")
    before = _written(db)
    message = one_line_error(cli(db.pipeline, "schema", "apply", "--target-schema", TARGET))
    assert f"role {role} lacks CREATE on database" in message and "nothing was changed" in message
    assert _grant_from(message) == f"GRANT CREATE ON DATABASE {db.dbname} TO {role}"
    assert _written(db) == before == {"schemas": []}
    # the grant it names is what is missing; the next missing one is named the same way
    query(db.admin, _grant_from(message))
    message = one_line_error(cli(db.pipeline, "schema", "apply", "--target-schema", TARGET))
    assert _grant_from(message) == f"GRANT CREATE ON SCHEMA public TO {role}"
    assert _written(db) == before
    query(db.admin, _grant_from(message))
    ok(cli(db.pipeline, "schema", "apply", "--target-schema", TARGET))

    # a legacy table the role cannot read: migrate and reconcile refuse before reading or writing anything
    query(db.admin, f"ALTER TABLE public.analysis_results OWNER TO {admin_user}")
    before = _written(db)
    assert before["runs"] == [(0,)] and before["sessions"] == [(0,)]
    for command in (("migrate",), ("reconcile",)):
        message = one_line_error(cli(db.pipeline, *command))
        assert f"role {role} lacks SELECT on table public.analysis_results" in message, message
        assert _grant_from(message) == f"GRANT SELECT ON public.analysis_results TO {role}"
        assert _written(db) == before
    query(db.admin, _grant_from(message))
    ok(cli(db.pipeline, "migrate"))
    assert _written(db)["sessions"] != [(0,)]


def test_a_schema_applied_by_another_role_is_refused_with_the_grant(
    managed_database: Callable[..., ManagedDatabase],
) -> None:
    db = managed_database()
    apply_migrations(db.admin, target_schema=TARGET, log=lambda _: None)  # by the superuser: it owns statsfirst.*
    before = _written(db)
    for command in (("migrate",), ("reconcile",)):
        message = one_line_error(cli(db.pipeline, *command))
        # (it may use schema statsfirst: 007 grants that to authenticated and service_role, which it is a member of)
        what = "SELECT on table statsfirst.schema_migrations"
        assert f"role {db.role} lacks {what}, which statsfirst needs; nothing was changed" in message, message
        assert _grant_from(message) == f"GRANT SELECT ON statsfirst.schema_migrations TO {db.role}"
        assert _written(db) == before


def test_schema_apply_needs_no_membership_in_the_client_roles(managed_database: Callable[..., ManagedDatabase]) -> None:
    """PostgreSQL 16+ lets a CREATEROLE role grant only roles it administers: the compat script's self-grant of the
    existing client roles then fails, which it tolerates; on 15 CREATEROLE may grant them, so it does."""
    db = managed_database(client_role_membership=False)
    report = apply_migrations(db.pipeline, target_schema=TARGET, log=lambda _: None)
    assert [m.version for m, _ in report.applied] == [item.migration.version for item in report.plan]
    assert "000" in {m.version for m, _ in report.applied}
    version = int(str(query(db.admin, "SELECT current_setting('server_version_num')")[0][0]))
    member = query(db.admin, "SELECT pg_has_role(%s, 'authenticated', 'MEMBER')", (db.role,))
    assert member == [(version < 160000,)]
    # and the objects it made still serve the client roles (grants on objects need no membership)
    grants = query(
        db.admin,
        "SELECT has_table_privilege('authenticated', 'public.c3d_metadata_view', 'SELECT'),"
        " has_table_privilege('anon', 'public.c3d_metadata_view', 'SELECT')",
    )
    assert grants == [(True, False)]

"""The security tests' shared database: the whole job run by the CLI as a login role with a password.

Helpers live in security_support.py (test modules import that, never this file).
"""

from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from prefect_runs import prefect_flow_runs
from psycopg import sql
from psycopg.conninfo import make_conninfo
from security_support import SecuredRun, legacy_snapshot, rows, secret_dsns

from statsfirst.db.dsn import ResolvedDsn

SESSIONS = 200
PLANTED = "Zoë-Vandenbroucke"  # a patient name written where a hand-edited legacy row could hold one


def plant_names(run: SecuredRun) -> None:
    """Names in the legacy data: the seeded patients/therapists/researchers, plus a player name and an error message
    naming the patient in three sessions that end up quarantined (so their payload holds the name)."""
    spoiled = rows(run.admin, "SELECT m.c3d_metadata_id::text FROM legacy_seed.manifest m"
                              " JOIN public.c3d_metadata c ON c.id = m.c3d_metadata_id"
                              " WHERE m.spoiled_kind IS NOT NULL AND c.processing_status = 'completed'"
                              " ORDER BY m.ordinal LIMIT 3")
    assert len(spoiled) == 3
    run.quarantined_with_names = [r[0] for r in spoiled]
    with psycopg.connect(run.admin.conninfo, autocommit=True) as conn:
        conn.execute("UPDATE public.c3d_metadata SET game_metadata = jsonb_build_object('player_name', %s::text),"
                     " error_message = %s WHERE id = ANY(%s::uuid[])",
                     (PLANTED, f"crashed while {PLANTED} was playing", run.quarantined_with_names))
        names = {PLANTED}
        for query in ("SELECT first_name, last_name FROM public.patients",
                      "SELECT first_name, last_name FROM public.therapists",
                      "SELECT full_name, NULL FROM public.researcher_profiles"):
            for first, last in conn.execute(query).fetchall():
                names.update(n for n in (first, last) if n)
    run.planted_names = names


def malformed_dsn(run: SecuredRun) -> str:
    """A key=value DSN libpq cannot parse, with the password before the fault (libpq quotes the token it stops at)."""
    return f"host=127.0.0.1 password={run.password!r} port='oops"


def failing_and_reporting_commands(run: SecuredRun) -> list[tuple[str, tuple[str, ...], dict[str, str] | None]]:
    db_missing = secret_dsns(run.admin.with_database("sf_no_such_database"), run.role, run.password)[0]
    refused = f"postgresql://{run.role}:{urllib.parse.quote(run.password, safe='')}@127.0.0.1:1/none"
    malformed = malformed_dsn(run)
    timeout = make_conninfo(run.keywords, options="-c statement_timeout=1")
    return [
        ("schema apply dry run", ("schema", "apply", "--dry-run", "--dsn", run.uri), None),
        ("schema status", ("schema", "status", "--dsn", run.keywords), None),
        ("migrate dry run", ("migrate", "--dry-run", "--dsn", run.uri), None),
        ("reconcile text", ("reconcile", "--dsn", run.keywords), None),
        ("reconcile json", ("reconcile", "--dsn", run.uri, "--format", "json"), None),
        ("reconcile csv file", ("reconcile", "--format", "csv", "--output", "report.csv"),
         {"DATABASE_URL": run.uri}),
        ("reconcile html file", ("reconcile", "--dsn", run.keywords, "--format", "html", "--output", "report.html"),
         None),
        ("migrate timeout", ("migrate", "--dsn", timeout), None),
        ("migrate missing database", ("migrate", "--dsn", db_missing), None),
        ("reconcile refused", ("reconcile",), {"DATABASE_URL": refused}),
        ("schema status malformed", ("schema", "status", "--dsn", malformed), None),
        ("legacy init again", ("legacy", "init", "--dsn", run.uri), None),
        ("migrate help with DATABASE_URL", ("migrate", "--help"), {"DATABASE_URL": run.uri}),
    ]


@pytest.fixture(scope="session")
def secured_run(server_dsn: ResolvedDsn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredRun]:
    role = f"sf_secret_{secrets.token_hex(4)}"
    password = f"S3cr3t p@ss'{secrets.token_hex(6)}"
    database = f"sf_security_{secrets.token_hex(6)}"
    with psycopg.connect(server_dsn.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    admin = server_dsn.with_database(database)
    uri, keywords = secret_dsns(admin, role, password)
    run = SecuredRun(admin, uri, keywords, role, password, tmp_path_factory.mktemp("secured_run"))
    try:
        run.cli("legacy init", "legacy", "init", "--with-session-settings", "--dsn", uri)
        run.cli("legacy seed", "legacy", "seed", "--sessions", str(SESSIONS), "--seed", "7", "--bad-fraction", "0.08",
                "--dsn", keywords)
        plant_names(run)
        run.legacy_before = legacy_snapshot(admin)
        run.cli("schema apply", "schema", "apply", "--target-schema", "stats", "--dsn", uri)
        run.cli("migrate", "migrate", "--batch-size", "50", "--dsn", keywords)
        run.cli("migrate json from DATABASE_URL", "migrate", "--json", "--batch-size", "50",
                env={"DATABASE_URL": uri})
        with ThreadPoolExecutor(max_workers=3) as pool:
            for future in [pool.submit(run.cli, label, *args, env=env)
                           for label, args, env in failing_and_reporting_commands(run)]:
                future.result()
        prefect_output, run.flow_states = prefect_flow_runs(run, malformed_dsn(run))
        run.outputs.append(prefect_output)
        run.legacy_after = legacy_snapshot(admin)
        yield run
    finally:
        if server_dsn.source != "embedded":  # an embedded server is deleted whole (a DROP costs a checkpoint)
            with psycopg.connect(server_dsn.conninfo, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))

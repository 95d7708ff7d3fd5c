"""Target schema names reach SQL only through psycopg.sql: a name with a quote or a semicolon is refused before any
change, a name that works only when quoted (a reserved word) carries the whole job, and a recorded name edited by
hand into something hostile is refused by every later command instead of being acted on."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import psycopg
import pytest
from psycopg import sql
from security_support import CLI, TARGET_TABLES, VIEWS, cli_env, rows

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy

HOSTILE_NAMES = ['x"; DROP TABLE public.patients; --', "stats'; DROP SCHEMA public CASCADE; --", "a;b", 'Stats"']
RESERVED_WORD = "select"  # a valid lower-case identifier that is a syntax error wherever it is not quoted


def statsfirst(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=300, env=cli_env())


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (done.returncode, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    return lines[0]


def catalog(dsn: ResolvedDsn) -> list[tuple[str, str, str]]:
    """Every schema and relation outside the system catalogs: what any change would show up in."""
    return [tuple(r) for r in rows(dsn, """
        SELECT n.nspname, coalesce(c.relname, ''), coalesce(c.relkind::text, '')
        FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
        WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' ORDER BY 1, 2""")]


@pytest.fixture(scope="module")
def seeded(make_database: Callable[[], ResolvedDsn]) -> ResolvedDsn:
    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
        seed_legacy(conn, sessions=120, seed=5, bad_fraction=0.05)
    return dsn


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_target_schema_name_is_refused_before_any_change(seeded: ResolvedDsn, name: str) -> None:
    before = catalog(seeded)
    for extra in ((), ("--dry-run",)):
        line = one_error_line(statsfirst("schema", "apply", "--target-schema", name, "--dsn", seeded.conninfo, *extra))
        assert "is not allowed" in line and "lower-case identifier" in line, line
    assert catalog(seeded) == before


def test_the_whole_job_runs_in_a_schema_named_by_a_reserved_word(seeded: ResolvedDsn) -> None:
    """Any SQL statement that formats the schema name without quoting it fails on `select.therapy_sessions`."""
    applied = statsfirst("schema", "apply", "--target-schema", RESERVED_WORD, "--dsn", seeded.conninfo)
    assert applied.returncode == 0, applied.stderr
    tables = {r[0] for r in rows(seeded, "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace"
                                         " WHERE nspname = %s AND relkind = 'r'", (RESERVED_WORD,))}
    assert set(TARGET_TABLES) <= tables

    migrated = statsfirst("migrate", "--batch-size", "40", "--json", "--dsn", seeded.conninfo)
    assert migrated.returncode == 0, migrated.stderr
    summary = json.loads(migrated.stdout)
    assert summary["sessions"]["migrated"] > 50 and summary["sessions"]["quarantined"] > 0
    counted = rows(seeded, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(RESERVED_WORD, "therapy_sessions")))
    assert counted[0][0] == summary["sessions"]["migrated"]

    again = statsfirst("migrate", "--incremental", "--json", "--dsn", seeded.conninfo)
    assert again.returncode == 0, again.stderr

    reconciled = statsfirst("reconcile", "--format", "json", "--dsn", seeded.conninfo)
    assert reconciled.returncode == 0, reconciled.stdout[-2000:] + reconciled.stderr
    report = json.loads(reconciled.stdout)
    assert report["scope"]["target_schema"] == RESERVED_WORD and report["reconciled"] is True, report["mismatches"]

    for view in VIEWS:  # the compatibility views read the quoted schema's tables
        assert rows(seeded, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", view)))[0][0] > 0


def test_a_hostile_recorded_schema_name_is_refused_by_every_command(seeded: ResolvedDsn) -> None:
    """statsfirst.settings edited by hand: the commands that read the recorded name refuse it, touching nothing."""
    if not rows(seeded, "SELECT 1 FROM pg_namespace WHERE nspname = 'statsfirst'"):
        assert statsfirst("schema", "apply", "--target-schema", RESERVED_WORD, "--dsn", seeded.conninfo).returncode == 0
    (recorded,) = rows(seeded, "SELECT value FROM statsfirst.settings WHERE key = 'target_schema'")[0]
    hostile = 'stats"; DROP TABLE public.patients; --'
    with psycopg.connect(seeded.conninfo, autocommit=True) as conn:
        conn.execute("UPDATE statsfirst.settings SET value = %s WHERE key = 'target_schema'", (hostile,))
    try:
        before = catalog(seeded)
        runs = rows(seeded, "SELECT count(*) FROM statsfirst.migration_runs")[0][0]
        for command in (("migrate",), ("migrate", "--incremental"), ("reconcile",), ("schema", "apply"),
                        ("schema", "status")):
            line = one_error_line(statsfirst(*command, "--dsn", seeded.conninfo))
            assert "statsfirst.settings" in line and "not a valid schema name" in line, (command, line)
        assert catalog(seeded) == before
        assert rows(seeded, "SELECT count(*) FROM statsfirst.migration_runs")[0][0] == runs
    finally:
        with psycopg.connect(seeded.conninfo, autocommit=True) as conn:
            conn.execute("UPDATE statsfirst.settings SET value = %s WHERE key = 'target_schema'", (recorded,))

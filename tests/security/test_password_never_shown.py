"""The DSN's password never appears in CLI output (success or failure), report files, artifacts, or anything the
job stores in the database, whichever way the DSN was given (URI, key=value, DATABASE_URL)."""

from __future__ import annotations

import subprocess

import pytest
from prefect_runs import malformed_shapes
from psycopg import sql
from security_support import CLI, SecuredRun, cli_env, rows

EXPECTED_EXIT = {
    "migrate timeout": 1,
    "migrate missing database": 2,
    "reconcile refused": 2,
    "schema status malformed": 2,
    "legacy init again": 2,
}


def test_every_command_ran_as_expected(secured_run: SecuredRun) -> None:
    """The scan below means something only if the commands did what they were meant to (and errors were errors)."""
    by_label = {o.label: o for o in secured_run.outputs}
    for output in secured_run.outputs:
        expected = EXPECTED_EXIT.get(output.label, 0)
        # a reconciliation's verdict is the reconcile tests' business; here only that it ran
        expected_codes = {0, 1} if output.label.startswith("reconcile") and expected == 0 else {expected}
        assert output.returncode in expected_codes, (output.label, output.returncode, output.stderr[-2000:])
        if expected:
            lines = [line for line in output.stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: "), (output.label, output.stderr)
    # connection errors name the DSN, with the password masked
    assert "***" in by_label["migrate missing database"].stderr
    assert "***" in by_label["reconcile refused"].stderr
    assert sorted(secured_run.files()) == sorted(
        str(secured_run.folder / name) for name in ("report.csv", "report.html"))


def test_the_prefect_flows_ran_for_real(secured_run: SecuredRun) -> None:
    """The log scan covers real flow runs: two that did their work and one that failed on the malformed DSN."""
    shapes = {f"migrate_legacy malformed dsn: {shape}": "Failed" for shape in malformed_shapes(secured_run)}
    assert secured_run.flow_states == {"migrate_legacy": "Completed", "reconcile from a secret block": "Completed",
                                       "migrate_legacy malformed dsn": "Failed", **shapes}
    prefect = next(o for o in secured_run.outputs if o.label.startswith("prefect"))
    assert "All 200 sessions are accounted for" in prefect.stdout  # the artifacts were read back
    # each failure's message says what is wrong with the string, quoting none of it
    assert prefect.stdout.count("the connection string from DATABASE_URL ") >= len(shapes) + 1
    for says in ("not 'postgres://'", "neither a PostgreSQL URI", "not 'postgresql://'", "is a mysql URI",
                 "closing ' is missing", "unescaped '@' or '/'"):
        assert says in prefect.stdout, says
    assert "prefect.flow_runs" in prefect.stdout  # console-side log records were captured


@pytest.mark.parametrize("via", ["--dsn", "DATABASE_URL"])
def test_no_malformed_shape_is_echoed_by_the_cli(secured_run: SecuredRun, via: str) -> None:
    """Every malformed shape holding the password, given either way: exit 2, one line naming where it came from,
    and no part of the string (the password's pieces, the role, the host)."""
    for shape, dsn in malformed_shapes(secured_run).items():
        args, env = (("migrate", "--dsn", dsn), {}) if via == "--dsn" else (("reconcile",), {"DATABASE_URL": dsn})
        output = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120,
                                env={**cli_env(), **env}, check=False)
        lines = [line for line in output.stderr.splitlines() if line.strip()]
        assert output.returncode == 2 and len(lines) == 1, (shape, output.stderr)
        assert lines[0].startswith(f"error: the connection string from {via} "), (shape, lines)
        shown = output.stdout + output.stderr
        leaked = [piece for piece in (*secured_run.secrets, secured_run.role, "127.0.0.1") if piece in shown]
        assert leaked == [], (shape, leaked, lines)


def test_no_output_or_file_shows_the_password(secured_run: SecuredRun) -> None:
    leaks = [(o.label, stream) for o in secured_run.outputs for stream, text in (("stdout", o.stdout),
                                                                                  ("stderr", o.stderr))
             if any(secret in text for secret in secured_run.secrets)]
    leaks += [(path, "file") for path, text in secured_run.files().items()
              if any(secret in text for secret in secured_run.secrets)]
    assert leaks == []


def test_nothing_stored_in_the_database_holds_the_password(secured_run: SecuredRun) -> None:
    """Run ledger parameters, totals, quarantine, lineage, schema ledger, settings, target and seed bookkeeping."""
    relations = rows(secured_run.admin, "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n"
                                        " ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v', 'm')"
                                        " AND n.nspname IN ('statsfirst', 'stats', 'legacy_seed', 'public', 'auth')")
    assert len(relations) > 20
    found = []
    for schema, table in relations:
        for secret in secured_run.secrets:
            count = rows(secured_run.admin, sql.SQL("SELECT count(*) FROM {} t WHERE strpos(t::text, %s) > 0").format(
                sql.Identifier(schema, table)), (secret,))[0][0]
            if count:
                found.append((schema, table, count))
    assert found == []

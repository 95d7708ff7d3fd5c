"""Two `statsfirst migrate` processes on the same range at once: the result equals one clean run, nothing is duplicated,
and no deadlock, lock or connection is left behind."""

from __future__ import annotations

import json
import subprocess
import time

import psycopg
import pytest
from fault_support import (
    TARGET,
    FaultWorld,
    cli_env,
    database_name,
    migrate_command,
    rows,
    scalar,
    stable_state,
    wait_for_no_backends,
)
from psycopg import sql

from statsfirst.db.dsn import ResolvedDsn


def deadlocks(dsn: ResolvedDsn) -> int:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = %s",
                           (database_name(dsn),)).fetchone()
    assert row is not None
    return int(row[0])


def wait_for_commits(dsn: ResolvedDsn, proc: subprocess.Popen[str], batches: int) -> None:
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if scalar(dsn, "SELECT count(*) FROM statsfirst.migration_batches WHERE status = 'committed'") >= batches:
            return
        time.sleep(0.01)


@pytest.mark.parametrize("second_starts", ["together", "mid_run"])
def test_two_migrations_of_the_same_range(fault_world: FaultWorld, second_starts: str) -> None:
    """`together`: both plan at once; `mid_run`: the second finds the first's unfinished run and works on it too."""
    with fault_world.lease() as dsn:
        before = deadlocks(dsn)
        first = subprocess.Popen(migrate_command(dsn), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=cli_env())
        if second_starts == "mid_run":
            wait_for_commits(dsn, first, 2)
            assert first.poll() is None
        second = subprocess.Popen(migrate_command(dsn), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=cli_env())
        results = [proc.communicate(timeout=180) for proc in (first, second)]
        for proc, (stdout, stderr) in zip((first, second), results, strict=True):
            assert proc.returncode == 0, stderr
            assert json.loads(stdout)["sessions"] == fault_world.reference_summary["sessions"], stderr
        if second_starts == "mid_run":
            assert "resuming run" in results[1][1]

        assert stable_state(dsn) == fault_world.reference
        # no duplicates anywhere a session could be written twice
        for table, key in (("quarantine", "legacy_session_id"), ("session_lineage", "legacy_session_id"),
                           ("analysis_lineage", "legacy_analysis_id")):
            assert rows(dsn, sql.SQL("SELECT {key} FROM statsfirst.{table} WHERE {open} GROUP BY {key}"
                                     " HAVING count(*) > 1").format(
                key=sql.Identifier(key), table=sql.Identifier(table),
                open=sql.SQL("resolved_at IS NULL" if table == "quarantine" else "true"))) == []
        assert scalar(dsn, sql.SQL("SELECT count(*) - count(DISTINCT file_path) FROM {}").format(
            sql.Identifier(TARGET, "therapy_sessions"))) == 0
        # every run finished; nothing waits, nothing holds a lock
        assert rows(dsn, "SELECT DISTINCT status FROM statsfirst.migration_runs") == [("completed",)]
        assert scalar(dsn, "SELECT count(*) FROM statsfirst.migration_batches WHERE status <> 'committed'") == 0
        wait_for_no_backends(dsn)
        assert scalar(dsn, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                           " WHERE d.datname = current_database() AND l.pid <> pg_backend_pid()") == 0
        assert deadlocks(dsn) == before

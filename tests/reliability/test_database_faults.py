"""Database-side faults during a real `statsfirst migrate` (a subprocess): the pipeline's backend terminated
mid-batch, a statement timeout, and a value the database rejects for one session. Each gives one clear line (or a
quarantine entry), never a partial batch, and a re-run ends exactly where a clean run does."""

from __future__ import annotations

import json
import math
import subprocess
import time
from typing import Any

import psycopg
from fault_support import (
    BATCH,
    TARGET,
    FaultWorld,
    batch_atomicity_violations,
    cli_env,
    execute,
    migrate_command,
    rows,
    run_cli,
    run_in_process,
    scalar,
    stable_state,
    wait_for_no_backends,
)
from psycopg import sql
from psycopg.conninfo import make_conninfo

from statsfirst.db.dsn import ResolvedDsn


def one_clear_line(stderr: str, *fragments: str) -> str:
    """The CLI's contract for failures: exactly one line, `error: ...`, naming the cause; never a traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def middle_session(dsn: ResolvedDsn) -> str:
    """A session that migrates cleanly in a clean run and sits in the middle of the id range (a middle batch)."""
    return str(scalar(dsn, sql.SQL(
        "SELECT c.id::text FROM public.c3d_metadata c WHERE c.processing_status = 'completed'"
        " AND NOT EXISTS (SELECT 1 FROM legacy_seed.manifest m WHERE m.c3d_metadata_id = c.id"
        " AND m.spoiled_kind IS NOT NULL)"
        " ORDER BY c.id OFFSET (SELECT count(*) / 2 FROM public.c3d_metadata) LIMIT 1")))


def assert_like_a_clean_run(world: FaultWorld, dsn: ResolvedDsn, summary: dict[str, Any]) -> None:
    assert summary["sessions"] == world.reference_summary["sessions"]
    assert stable_state(dsn) == world.reference


def test_backend_terminated_mid_batch(fault_world: FaultWorld) -> None:
    """pg_terminate_backend on a worker's connection while its batch transaction has written rows."""
    with fault_world.lease() as dsn:
        proc = subprocess.Popen(migrate_command(dsn), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=cli_env())
        terminated: list[tuple[Any, ...]] = []
        with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
            deadline = time.monotonic() + 60
            while not terminated and proc.poll() is None and time.monotonic() < deadline:
                terminated = conn.execute(
                    "SELECT pid, left(query, 60), pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = 'statsfirst'"
                    " AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
                    " AND (SELECT count(*) FROM statsfirst.migration_batches WHERE status = 'committed') >= 2"
                    " LIMIT 1").fetchall()
                time.sleep(0.005)
        _, stderr = proc.communicate(timeout=120)
        assert terminated, "no batch transaction was caught in flight"
        assert proc.returncode == 1
        print(f"terminated {terminated[0][:2]}; CLI said: {stderr.strip()}")
        line = one_clear_line(stderr, "the connection to the database was lost", "re-run the same command")
        # the cause as the client saw it: the server's FATAL when it was read, else only the closed socket (the
        # termination can land while the client is still sending the batch's COPY data)
        assert ("terminating connection due to administrator command" in line
                or "server closed the connection unexpectedly" in line), line
        wait_for_no_backends(dsn)
        assert batch_atomicity_violations(dsn) == []
        assert scalar(dsn, "SELECT count(*) FROM statsfirst.migration_batches WHERE status = 'pending'") > 0

        again = run_cli(migrate_command(dsn))
        assert again.returncode == 0, again.stderr
        assert "resuming run" in again.stderr
        assert_like_a_clean_run(fault_world, dsn, json.loads(again.stdout))


def test_statement_timeout_mid_batch(fault_world: FaultWorld) -> None:
    """statement_timeout (from the DSN's options) fires inside one batch: a slow trigger stands in for a slow write."""
    with fault_world.lease() as dsn:
        slow = middle_session(dsn)
        execute(dsn, "CREATE FUNCTION public.sf_test_slow() RETURNS trigger LANGUAGE plpgsql AS"
                     " $$ BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$")
        execute(dsn, sql.SQL("CREATE TRIGGER sf_test_slow BEFORE INSERT ON {} FOR EACH ROW WHEN (NEW.id = {})"
                             " EXECUTE FUNCTION public.sf_test_slow()").format(
                                 sql.Identifier(TARGET, "therapy_sessions"), sql.Literal(slow)))
        try:
            limited = make_conninfo(dsn.conninfo, options="-c statement_timeout=1000")
            done = run_cli(migrate_command(limited))
            assert done.returncode == 1, done.stdout + done.stderr
            print(f"CLI said: {done.stderr.strip()}")
            one_clear_line(done.stderr, "canceling statement due to statement timeout", "re-run the same command")
            wait_for_no_backends(dsn)
            assert batch_atomicity_violations(dsn) == []
            pending = rows(dsn, "SELECT first_id::text, last_id::text FROM statsfirst.migration_batches"
                                " WHERE status = 'pending'")
            assert len(pending) == 1 and pending[0][0] <= slow <= pending[0][1], "only the slow batch is left"
            assert scalar(dsn, sql.SQL("SELECT count(*) FROM {} WHERE id = %s").format(
                sql.Identifier(TARGET, "therapy_sessions")), (slow,)) == 0
        finally:
            execute(dsn, sql.SQL("DROP TRIGGER sf_test_slow ON {}").format(sql.Identifier(TARGET, "therapy_sessions")))
            execute(dsn, "DROP FUNCTION public.sf_test_slow()")
        again = run_cli(migrate_command(dsn))  # without the timeout
        assert again.returncode == 0, again.stderr
        assert_like_a_clean_run(fault_world, dsn, json.loads(again.stdout))


def test_a_value_the_database_rejects_quarantines_only_its_session(fault_world: FaultWorld) -> None:
    """A session that passes validation but that the database refuses (a trigger raising for one id): the batch is
    retried in halves until only that session is held back, with stage `load` and the database's message."""
    with fault_world.lease() as dsn:
        victim = middle_session(dsn)
        execute(dsn, "CREATE SEQUENCE public.sf_test_attempts")
        execute(dsn, "CREATE FUNCTION public.sf_test_reject() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                     " PERFORM nextval('public.sf_test_attempts');"  # not rolled back: counts every attempt
                     " RAISE EXCEPTION 'sf-test: session % refused by the database', NEW.id"
                     " USING ERRCODE = 'check_violation', TABLE = TG_TABLE_NAME, CONSTRAINT = 'sf_test_reject'; END $$")
        execute(dsn, sql.SQL("CREATE TRIGGER sf_test_reject BEFORE INSERT OR UPDATE ON {} FOR EACH ROW"
                             " WHEN (NEW.id = {}) EXECUTE FUNCTION public.sf_test_reject()").format(
                                 sql.Identifier(TARGET, "therapy_sessions"), sql.Literal(victim)))
        try:
            done = run_cli(migrate_command(dsn))
            assert done.returncode == 0, done.stderr
            summary = json.loads(done.stdout)
            attempts = scalar(dsn, "SELECT last_value FROM public.sf_test_attempts")
        finally:
            execute(dsn, sql.SQL("DROP TRIGGER sf_test_reject ON {}").format(
                sql.Identifier(TARGET, "therapy_sessions")))
            execute(dsn, "DROP FUNCTION public.sf_test_reject(); DROP SEQUENCE public.sf_test_attempts")
        reference = fault_world.reference_summary
        assert summary["sessions"]["migrated"] == reference["sessions"]["migrated"] - 1
        assert summary["sessions"]["quarantined"] == reference["sessions"]["quarantined"] + 1
        assert summary["quarantined_by_reason"].get("rejected_by_database") == 1
        # the whole batch, then halves: one attempt per level of the bisection, not one per session
        assert 2 <= attempts <= 2 + math.ceil(math.log2(BATCH)), attempts
        entry = rows(dsn, "SELECT stage, reasons, failures FROM statsfirst.quarantine"
                          " WHERE legacy_session_id = %s AND resolved_at IS NULL", (victim,))
        assert len(entry) == 1
        stage, reasons, failures = entry[0]
        assert stage == "load" and reasons == ["rejected_by_database"]
        assert f"sf-test: session {victim} refused by the database" in failures[0]["value"]
        assert (failures[0]["table"], failures[0]["check"]) == ("therapy_sessions", "sf_test_reject")
        assert scalar(dsn, "SELECT count(*) FROM statsfirst.quarantine WHERE stage = 'load'") == 1
        assert scalar(dsn, sql.SQL("SELECT count(*) FROM {} WHERE id = %s").format(
            sql.Identifier(TARGET, "therapy_sessions")), (victim,)) == 0

        # the database accepts it again: the next run migrates it and resolves the entry
        again = run_in_process(dsn)
        assert again.as_json()["sessions"] == reference["sessions"]
        assert scalar(dsn, "SELECT resolved_at IS NOT NULL FROM statsfirst.quarantine WHERE legacy_session_id = %s",
                      (victim,))
        assert stable_state(dsn) == fault_world.reference

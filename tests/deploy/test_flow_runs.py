"""Prefect runs an on-call engineer can trust, on a real Prefect server and a real PostgreSQL: a terminated backend is
retried and the retry resumes; per-batch progress and the summary tables reach Prefect; a failed run says in one line
what is wrong and what to do (no database, a range that does not reconcile)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from migration_support import TARGET, rows, scalar, seeded_database

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.errors import UsageError
from statsfirst.flow_support import resolve_flow_dsn


def flow_run_logs(flow_run_id: Any) -> list[str]:
    """Every log line the Prefect API stored for one flow run (its tasks' included), up to its final state's line
    (the server stores what it receives in the background, so the newest lines can arrive a moment later)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        final = client.read_flow_run(flow_run_id).state
        last_line = f"Finished in state {final.name}(" if final else "Finished in state"
        log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        while True:
            found: list[str] = []
            while page := client.read_logs(log_filter=log_filter, limit=200, offset=len(found)):
                found += [log.message for log in page]
            if any(line.startswith(last_line) and final and (final.message or "") in line for line in found) or (
                    time.monotonic() > deadline):
                return found
            time.sleep(0.2)


def artifact_rows(key: str) -> list[dict[str, Any]]:
    from prefect.artifacts import Artifact

    artifact = Artifact.get(key)
    assert artifact is not None and artifact.type == "table", key
    data = json.loads(str(artifact.data))
    assert isinstance(data, list)
    return data


class TerminateOnce(threading.Thread):
    """Terminates the pipeline's active backend once, after ``after`` batches committed (then resumes are visible)."""

    def __init__(self, dsn: ResolvedDsn, after: int) -> None:
        super().__init__(daemon=True)
        self.dsn, self.after = dsn, after
        self.stop = threading.Event()
        self.terminated: list[int] = []

    def run(self) -> None:
        with psycopg.connect(self.dsn.conninfo, autocommit=True, application_name="sf-test-watcher") as conn:
            while not self.stop.is_set():
                committed = conn.execute(
                    "SELECT count(*) FROM statsfirst.migration_batches WHERE status = 'committed'"
                ).fetchone()
                if committed and committed[0] >= self.after:
                    active = [r[0] for r in conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = "
                        "'statsfirst' AND state = 'active' AND pid <> pg_backend_pid()"
                    ).fetchall()]
                    for pid in active:
                        done = conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
                        if done and done[0]:
                            self.terminated.append(pid)
                            return
                time.sleep(0.01)


def test_a_terminated_backend_is_retried_and_the_retry_resumes(
    make_database: Callable[[], ResolvedDsn], prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.migrate_legacy import migrate_legacy

    dsn = seeded_database(make_database, sessions=96)
    monkeypatch.setenv("DATABASE_URL", dsn.conninfo)
    watcher = TerminateOnce(dsn, after=2)
    watcher.start()
    try:
        state = migrate_legacy(batch_size=16, workers=1, return_state=True)
    finally:
        watcher.stop.set()
        watcher.join(10)
    assert watcher.terminated, "the watcher never saw an active pipeline backend"
    assert state.is_completed(), state.message
    totals = state.result()
    assert totals["reconciled"] is True  # the target equals what the legacy data says it should hold
    logs = flow_run_logs(state.state_details.flow_run_id)
    assert any("Retry 1/3" in line for line in logs), logs  # Prefect retried the task once ...
    assert not any("Retry 2/3" in line for line in logs), logs
    assert any(line.startswith("resuming run ") for line in logs), logs  # ... and the retry resumed the run
    # one run in the ledger, completed, every one of its 6 batches committed exactly once
    assert rows(dsn, "SELECT status, (SELECT count(*) FROM statsfirst.migration_batches b WHERE b.run_id = r.run_id"
                     " AND b.status = 'committed') FROM statsfirst.migration_runs r") == [("completed", 6)]
    # per-batch progress reached the Prefect log, with the run's total and a rate
    progress = [line for line in logs if line.startswith("batch done: ")]
    assert progress and progress[-1].startswith("batch done: 96 of 96 sessions (100%), ")
    assert progress[-1].endswith(" sessions/s")
    # the summary and the reconciliation are table artifacts
    summary = {row["measure"]: row["value"] for row in artifact_rows("statsfirst-migration-summary")}
    assert summary["legacy sessions in range"] == 96
    assert summary["migrated"] == scalar(dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions")
    tables = {row["table"]: row for row in artifact_rows("statsfirst-reconciliation-tables")}
    assert tables["therapy_sessions"]["delta"] == 0 and tables["therapy_sessions"]["expected"] == summary["migrated"]
    sessions = {(row["state"], row["reason"]): row["sessions"] for row in artifact_rows(
        "statsfirst-reconciliation-sessions")}
    assert sessions[("legacy (in scope)", "")] == 96 and sessions[("migrated", "")] == summary["migrated"]


def test_no_database_fails_every_flow_in_one_line_without_an_embedded_server(
    prefect_api: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_database: Callable[[], ResolvedDsn]
) -> None:
    from flows.backfill import backfill
    from flows.create_schema import create_schema
    from flows.migrate_legacy import migrate_legacy
    from flows.reconcile import reconcile

    untouched = make_database()  # a real database nobody names: the flows must not find their way to one
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("STATSFIRST_HOME", str(tmp_path))  # where an embedded server would keep its data
    with pytest.raises(UsageError) as raised:
        resolve_flow_dsn(None)
    expected = str(raised.value)
    assert expected.startswith("no database: DATABASE_URL is not set") and " — start the worker with " in expected
    for flow in (migrate_legacy, backfill, reconcile, create_schema):
        started = time.monotonic()
        state = flow(return_state=True)  # type: ignore[operator]
        assert state.is_failed() and state.message == expected, (flow.name, state.message)
        assert time.monotonic() - started < 20, flow.name
    # a Secret block name that does not exist: one line naming it, at once (not retried: a retry cannot help)
    state = reconcile(dsn_secret_block="sf-no-such-block", return_state=True)
    assert state.is_failed() and (state.message or "").startswith(
        "no Prefect Secret block named 'sf-no-such-block' on this Prefect server — create it"), state.message
    assert list(tmp_path.iterdir()) == []  # no embedded server was started
    assert scalar(untouched, "SELECT count(*) FROM pg_namespace WHERE nspname = 'statsfirst'") == 0


def test_a_backfill_that_does_not_reconcile_fails_saying_what_to_do(
    make_database: Callable[[], ResolvedDsn], prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.backfill import backfill

    dsn = seeded_database(make_database, sessions=60)
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:  # every written contraction count is off by 100
        conn.execute(
            f"CREATE FUNCTION {TARGET}.spoil() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN NEW.total_contractions := NEW.total_contractions + 100; RETURN NEW; END $$"
        )
        conn.execute(f"CREATE TRIGGER spoil BEFORE INSERT ON {TARGET}.emg_statistics FOR EACH ROW "
                     f"EXECUTE FUNCTION {TARGET}.spoil()")
    monkeypatch.setenv("DATABASE_URL", dsn.conninfo)
    state = backfill(since=None, until=None, batch_size=20, workers=2, return_state=True)
    assert state.is_failed()
    message = state.message or ""
    assert "\n" not in message and " — see the artifacts statsfirst-reconciliation-tables" in message, message
    assert "differ" in message
    # the backfill itself completed: the run is closed, the mismatch is what failed the flow
    assert rows(dsn, "SELECT status FROM statsfirst.migration_runs WHERE parameters ->> 'mode' = 'backfill'") == [
        ("completed",)]


def test_a_failure_a_retry_cannot_fix_is_not_retried(
    make_database: Callable[[], ResolvedDsn], prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.migrate_legacy import migrate_legacy

    dsn = make_database()  # reachable, but neither the legacy tables nor the schema are there
    monkeypatch.setenv("DATABASE_URL", dsn.conninfo)
    state = migrate_legacy(return_state=True)
    assert state.is_failed()
    message = state.message or ""
    assert "\n" not in message and " — " in message and "Flow run encountered" not in message, message
    logs = flow_run_logs(state.state_details.flow_run_id)
    assert "does not exist" not in message and "statsfirst schema apply" in message, message  # the library's line
    assert any(line.startswith("Finished in state Failed('Task run encountered") for line in logs), logs
    assert not any("Retry 1/" in line for line in logs), logs  # the task failed at once
    assert logs.count(message) == 1  # and the flow logged its one line
    assert scalar(dsn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'statsfirst'") == 0

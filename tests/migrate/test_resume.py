"""A real kill -9 in the middle of `statsfirst migrate`; re-running the same command finishes the job exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from migration_support import TARGET, rows, run, scalar, seeded_database, table_digests

from statsfirst.db.dsn import ResolvedDsn

SESSIONS = 1000
BATCH = 100
CLI = Path(sys.executable).parent / "statsfirst"
# columns stamped with the wall-clock time of the run that wrote them; they legitimately differ between databases
# (measured: two clean runs on identically seeded databases differ in exactly these columns)
RUN_TIME_COLUMNS = {
    "emg_statistics": ("created_at",),
    "performance_scores": ("created_at", "calculated_at"),
    "bfr_monitoring": ("created_at",),
    "session_settings": ("created_at", "updated_at"),
    "signal_processing_cache": ("invalidated_at",),
    "processing_parameters": ("created_at",),
}


def stable_digests(dsn: ResolvedDsn) -> dict[str, tuple[int, str]]:
    digests = table_digests(dsn)
    for table, columns in RUN_TIME_COLUMNS.items():
        cols = [r[0] for r in rows(dsn, "SELECT column_name FROM information_schema.columns WHERE table_schema = %s"
                                        " AND table_name = %s AND column_name <> ALL(%s) ORDER BY ordinal_position",
                                   (TARGET, table, list(columns)))]
        select = ", ".join(cols)
        digests[table] = tuple(rows(dsn, f"SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text),"
                                         f" '')) FROM (SELECT {select} FROM {TARGET}.{table}) r")[0])  # type: ignore[assignment]
    return digests


def command(dsn: ResolvedDsn) -> list[str]:
    return [str(CLI), "migrate", "--dsn", dsn.conninfo, "--batch-size", str(BATCH), "--json"]


def test_kill_9_then_resume(make_database: Callable[[], ResolvedDsn]) -> None:
    killed = seeded_database(make_database, sessions=SESSIONS)
    clean = seeded_database(make_database, sessions=SESSIONS)
    total_batches = -(-SESSIONS // BATCH)
    env = dict(os.environ, COLUMNS="200")

    proc = subprocess.Popen(command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    committed = 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            committed = scalar(killed, "SELECT count(*) FROM statsfirst.migration_batches WHERE status = 'committed'")
            if committed >= 2:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        if proc.poll() is None and committed < 2:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    committed = scalar(killed, "SELECT count(*) FROM statsfirst.migration_batches WHERE status = 'committed'")
    assert 2 <= committed < total_batches
    assert rows(killed, "SELECT status FROM statsfirst.migration_runs") == [("running",)]
    partial = scalar(killed, f"SELECT count(*) FROM {TARGET}.therapy_sessions")
    assert 0 < partial < SESSIONS

    done = subprocess.run(command(killed), capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["resumed"] is True
    sessions = summary["sessions"]
    assert sessions["migrated"] + sessions["quarantined"] + sessions["skipped"] == SESSIONS
    assert rows(killed, "SELECT status FROM statsfirst.migration_runs") == [("completed",)]
    assert scalar(killed, "SELECT count(*) FROM statsfirst.migration_batches WHERE status <> 'committed'") == 0

    reference = run(clean, batch_size=BATCH).as_json()
    assert reference["sessions"] == sessions
    assert reference["rows"] == summary["rows"]
    assert stable_digests(killed) == stable_digests(clean)
    quarantine = ("SELECT legacy_session_id::text, reasons, failures FROM statsfirst.quarantine"
                  " WHERE resolved_at IS NULL ORDER BY 1")
    assert rows(killed, quarantine) == rows(clean, quarantine)

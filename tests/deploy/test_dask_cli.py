"""``statsfirst migrate --dask-address``: the coordinator and its workers use the DSN given (``--dsn`` over
``DATABASE_URL``), a worker pointed elsewhere refuses in one line, and an unreachable scheduler is one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from migration_support import TARGET, rows, scalar, seeded_database

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.errors import UsageError
from statsfirst.pipeline.dask_backfill import partition_on_worker
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.partitions import options_json, target_identity

STATSFIRST = str(Path(sys.executable).with_name("statsfirst"))


def test_dsn_wins_over_database_url_and_a_worker_elsewhere_refuses(
    make_database: Callable[[], ResolvedDsn], monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import Client, LocalCluster
    from typer.testing import CliRunner

    from statsfirst.cli import app

    target = seeded_database(make_database, sessions=80)
    other = seeded_database(make_database, sessions=40)  # a complete legacy database: a mix-up would succeed silently
    monkeypatch.setenv("DATABASE_URL", other.conninfo)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                      protocol="tcp", host="127.0.0.1") as cluster:
        result = CliRunner().invoke(app, ["migrate", "--dsn", target.conninfo, "--batch-size", "20", "--workers", "2",
                                          "--dask-address", cluster.scheduler_address])
        assert result.exit_code == 0, result.output
        assert os.environ["DATABASE_URL"] == other.conninfo  # set for the in-process workers, then restored
        # these workers now resolve `other`: a partition of `target` is refused before it touches anything
        with Client(cluster.scheduler_address) as client:
            partition = {"batch_no": 0, "first_id": str(uuid.UUID(int=0)), "last_id": str(uuid.UUID(int=2**128 - 1)),
                         "session_count": 80}
            future = client.submit(partition_on_worker, target_identity(target), str(uuid.uuid4()), partition,
                                   options_json(MigrateOptions(batch_size=20)), pure=False)
            with pytest.raises(UsageError) as refused:
                future.result()
    message = str(refused.value)
    assert "\n" not in message and "is not the backfill's target" in message and " — set DATABASE_URL " in message
    # the backfill ran on --dsn and only there
    assert rows(target, "SELECT status, parameters ->> 'mode' FROM statsfirst.migration_runs"
                        " WHERE parameters ->> 'mode' = 'backfill'") == [("completed", "backfill")]
    migrated = scalar(target, f"SELECT count(*) FROM {TARGET}.therapy_sessions")
    assert migrated > 60
    assert scalar(target, "SELECT count(*) FROM statsfirst.session_lineage") == migrated
    assert scalar(other, "SELECT count(*) FROM statsfirst.migration_runs") == 0
    assert scalar(other, f"SELECT count(*) FROM {TARGET}.therapy_sessions") == 0


def test_an_unreachable_scheduler_is_one_line_and_exit_2(legacy_db: ResolvedDsn) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [STATSFIRST, "migrate", "--dsn", legacy_db.conninfo, "--since", "2024-01-01", "--until", "2025-01-01",
         "--dask-address", "tcp://127.0.0.1:9"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "80"},
    )
    elapsed = time.monotonic() - started
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("error: the Dask scheduler at tcp://127.0.0.1:9 is not reachable (")
    assert " — start it (dask scheduler) or fix --dask-address" in lines[0]
    assert "bug" not in lines[0] and done.stdout == ""
    assert elapsed < 30
    # nothing was planned or written
    assert scalar(legacy_db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'statsfirst'") == 0

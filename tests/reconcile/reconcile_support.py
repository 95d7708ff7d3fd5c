"""Helpers and fixtures for the reconciliation tests (a module of its own, not conftest.py, so test modules import
the right one): one seeded + migrated database, built once per test session, and cheap
copies of it (``CREATE DATABASE ... TEMPLATE``) for tests that damage the target on purpose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate
from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.report import ReconciliationReport
from statsfirst.reconcile.run import reconcile

TARGET = "stats"
SESSIONS = 1000
SEED = 11
BAD_FRACTION = 0.05
CLI = Path(sys.executable).parent / "statsfirst"


def quiet(_: object) -> None:
    return None


@dataclass(frozen=True)
class Migrated:
    """The shared database: seeded legacy tables, the schema in ``stats``, one completed migration."""

    dsn: ResolvedDsn
    report: ReconciliationReport


def seed(dsn: ResolvedDsn, *, sessions: int, with_settings: bool = True) -> None:
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=with_settings)
        seed_legacy(conn, sessions=sessions, seed=SEED, bad_fraction=BAD_FRACTION)


@pytest.fixture(scope="session")
def migrated(make_database: Callable[[], ResolvedDsn]) -> Migrated:
    dsn = make_database()
    seed(dsn, sessions=SESSIONS)
    apply_migrations(dsn, target_schema=TARGET, log=quiet)
    migrate(dsn, MigrateOptions(batch_size=500), log=quiet)
    return Migrated(dsn, reconcile(dsn, ReconcileOptions()))


@pytest.fixture(scope="session")
def copy_of(server_dsn: ResolvedDsn) -> Iterator[Callable[[ResolvedDsn], ResolvedDsn]]:
    """Factory: a copy of a database (no connection may be open to the original while it is copied)."""
    created: list[str] = []

    def factory(original: ResolvedDsn) -> ResolvedDsn:
        source = psycopg.conninfo.conninfo_to_dict(original.conninfo)["dbname"]
        name = f"sf_rc_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_dsn.conninfo, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(str(source)))
            )
        created.append(name)
        return server_dsn.with_database(name)

    yield factory
    if server_dsn.source == "embedded":
        return  # the embedded test server is deleted with all its databases; each DROP would force a checkpoint
    with psycopg.connect(server_dsn.conninfo, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def execute(dsn: ResolvedDsn, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn.conninfo) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def cli(*args: str, dsn: ResolvedDsn | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``statsfirst`` console script (the DSN is passed by environment, as a user would)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if dsn is not None:
        env["DATABASE_URL"] = dsn.conninfo
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env, timeout=300, check=False)


def cli_json(*args: str, dsn: ResolvedDsn) -> tuple[int, dict[str, Any]]:
    result = cli("reconcile", "--format", "json", *args, dsn=dsn)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)

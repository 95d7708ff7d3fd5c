"""The views have the legacy tables' shape, are security_invoker, and 007 is a repeatable migration in the ledger."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.errors import SchemaStateError
from statsfirst.legacy.baseline import init_legacy
from statsfirst.paths import sql_dir
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate

VIEW_FILE = "007_create_backward_compatibility_views.sql"
TARGET = "stats"
PAIRS = (("c3d_metadata", "c3d_metadata_view"), ("analysis_results", "analysis_results_view"))


def quiet(_: object) -> None:
    return None


def columns(conn: psycopg.Connection, relation: str) -> list[tuple[int, str, str, int]]:
    """(position, name, type, typmod) of every column, from the catalog."""
    return conn.execute(
        """
        SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.atttypmod
        FROM pg_attribute a
        WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (f"public.{relation}",),
    ).fetchall()


@pytest.mark.parametrize(("table", "view"), PAIRS)
def test_view_columns_names_order_and_types_equal_the_legacy_table(
    conn: psycopg.Connection, table: str, view: str
) -> None:
    legacy = columns(conn, table)
    assert len(legacy) > 10
    assert columns(conn, view) == legacy


@pytest.mark.parametrize("view", [v for _, v in PAIRS])
def test_views_are_security_invoker_in_the_legacy_schema(conn: psycopg.Connection, view: str) -> None:
    row = conn.execute(
        "SELECT n.nspname, c.relkind, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s",
        (view,),
    ).fetchone()
    assert row == ("public", "v", ["security_invoker=true"])


def test_007_is_recorded_as_repeatable_with_its_checksum(conn: psycopg.Connection) -> None:
    expected = hashlib.sha256((sql_dir() / VIEW_FILE).read_bytes()).hexdigest()
    row = conn.execute(
        "SELECT kind, checksum, target_schema FROM statsfirst.schema_migrations WHERE version = '007'"
    ).fetchone()
    assert row == ("repeatable", expected, TARGET)


def _copy_sql(tmp_path: Path, *, without: str | None = None) -> Path:
    root = tmp_path / "sql"
    shutil.copytree(sql_dir(), root)
    if without:
        (root / without).unlink()
    return root


def _fresh_legacy(make_database: Callable[[], ResolvedDsn]) -> ResolvedDsn:
    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
    return dsn


def test_changed_007_is_reapplied_and_unchanged_is_skipped(
    make_database: Callable[[], ResolvedDsn], tmp_path: Path
) -> None:
    dsn = _fresh_legacy(make_database)
    root = _copy_sql(tmp_path)
    apply_migrations(dsn, target_schema=TARGET, sql_root=root, log=quiet)
    assert apply_migrations(dsn, sql_root=root, log=quiet).applied == []

    view_file = root / VIEW_FILE
    view_file.write_text(view_file.read_text() + "\n-- a later edit\n")
    again = apply_migrations(dsn, sql_root=root, log=quiet)
    assert [(m.version, m.kind) for m, _ in again.applied] == [("007", "repeatable")]
    with psycopg.connect(dsn.conninfo) as conn:
        checksum = conn.execute("SELECT checksum FROM statsfirst.schema_migrations WHERE version = '007'").fetchone()
        assert checksum == (hashlib.sha256(view_file.read_bytes()).hexdigest(),)
        assert conn.execute("SELECT count(*) FROM public.analysis_results_view").fetchone() == (0,)
        # re-created views keep the legacy shape (CREATE OR REPLACE VIEW would refuse anything else)
        assert columns(conn, "c3d_metadata_view") == columns(conn, "c3d_metadata")


def test_migrate_refuses_a_schema_without_007(make_database: Callable[[], ResolvedDsn], tmp_path: Path) -> None:
    """A schema behind the code (here without 007) is refused with a clear message before anything runs."""
    dsn = _fresh_legacy(make_database)
    apply_migrations(dsn, target_schema=TARGET, sql_root=_copy_sql(tmp_path, without=VIEW_FILE), log=quiet)
    with pytest.raises(SchemaStateError, match=r"not up to date: 007_create_backward_compatibility_views\.sql"):
        migrate(dsn, MigrateOptions(), log=quiet)


def test_reapplying_007_touches_nothing_but_the_views(small_views_db: Any, tmp_path: Path) -> None:
    """007 is views only: re-applying it (repeatable, after an edit) leaves the bookkeeping's rows, columns and
    policies as they were, and the views answer as before."""
    state = ("SELECT (SELECT md5(string_agg(l::text, ',' ORDER BY legacy_analysis_id))"
             "  FROM statsfirst.analysis_lineage l),"
             " (SELECT md5(string_agg(l::text, ',' ORDER BY legacy_session_id)) FROM statsfirst.session_lineage l),"
             " (SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name,"
             "  ordinal_position) FROM information_schema.columns WHERE table_schema = 'statsfirst'),"
             " (SELECT string_agg(tablename || '.' || policyname, ',' ORDER BY tablename, policyname) FROM pg_policies"
             "  WHERE schemaname = 'statsfirst')")
    views = "SELECT id, analytics_data FROM public.analysis_results_view ORDER BY id"
    with psycopg.connect(small_views_db.dsn.conninfo) as conn:
        before, answers = conn.execute(state).fetchone(), conn.execute(views).fetchall()
    assert before is not None and "analysis_lineage.analysis_lineage_select" in before[3]
    assert any(data != {} for _, data in answers)

    root = _copy_sql(tmp_path)
    (root / VIEW_FILE).write_text((root / VIEW_FILE).read_text() + "\n-- edited\n")
    assert [m.version for m, _ in apply_migrations(small_views_db.dsn, sql_root=root, log=quiet).applied] == ["007"]
    with psycopg.connect(small_views_db.dsn.conninfo) as conn:
        assert conn.execute(state).fetchone() == before
        assert conn.execute(views).fetchall() == answers

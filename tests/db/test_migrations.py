"""The schema runner against a real PostgreSQL, with small crafted migration folders."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import psycopg
import pytest

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import (
    SCHEMA_LOCK_KEY,
    apply_migrations,
    migration_status,
    validate_schema_name,
)
from statsfirst.errors import SchemaStateError, UsageError
from statsfirst.paths import sql_dir


def make_root(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "sql"
    (root / "bookkeeping").mkdir(parents=True)
    shutil.copy(sql_dir() / "bookkeeping" / "ledger.sql", root / "bookkeeping" / "ledger.sql")
    (root / "supabase_compat.sql").write_text("SELECT 1;\n")
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def ledger(dsn: ResolvedDsn) -> list[tuple[str, str, str, int]]:
    with psycopg.connect(dsn.conninfo) as conn:
        return conn.execute(
            "SELECT version, kind, checksum, duration_ms FROM statsfirst.schema_migrations ORDER BY version"
        ).fetchall()


def relation_exists(dsn: ResolvedDsn, name: str) -> bool:
    with psycopg.connect(dsn.conninfo) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
        return bool(row and row[0])


BASIC = {
    "001_first.sql": "CREATE TABLE first_table (id int PRIMARY KEY);\n",
    "002_second.sql": "CREATE TABLE second_table (id int PRIMARY KEY);\n",
}


def test_apply_records_every_file_and_second_run_is_a_noop(empty_db: ResolvedDsn, tmp_path: Path) -> None:
    root = make_root(tmp_path, BASIC)
    first = apply_migrations(empty_db, sql_root=root, log=lambda _: None)
    assert [m.version for m, _ in first.applied] == ["000", "001", "002"]
    rows = ledger(empty_db)
    assert [r[0] for r in rows] == ["000", "001", "002"]
    assert all(len(r[2]) == 64 and r[3] >= 0 for r in rows)
    assert relation_exists(empty_db, "public.second_table")

    second = apply_migrations(empty_db, sql_root=root, log=lambda _: None)
    assert second.applied == []
    assert "up to date" in second.summary()
    assert ledger(empty_db) == rows


def test_edited_applied_migration_is_refused_before_any_change(empty_db: ResolvedDsn, tmp_path: Path) -> None:
    root = make_root(tmp_path, BASIC)
    apply_migrations(empty_db, sql_root=root, log=lambda _: None)
    (root / "001_first.sql").write_text("CREATE TABLE first_table (id bigint PRIMARY KEY);\n")
    (root / "003_third.sql").write_text("CREATE TABLE third_table (id int);\n")
    with pytest.raises(SchemaStateError, match=r"001_first\.sql.*drift"):
        apply_migrations(empty_db, sql_root=root, log=lambda _: None)
    assert not relation_exists(empty_db, "public.third_table")
    status = migration_status(empty_db, sql_root=root)
    assert status.drifted
    assert status.rows[-1][:3] == ("003_third.sql", "versioned", "pending")


def test_failing_migration_leaves_nothing_and_is_not_recorded(empty_db: ResolvedDsn, tmp_path: Path) -> None:
    root = make_root(tmp_path, {
        **BASIC,
        "003_broken.sql": "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n",
    })
    with pytest.raises(SchemaStateError, match=r"003_broken\.sql failed and was rolled back"):
        apply_migrations(empty_db, sql_root=root, log=lambda _: None)
    assert not relation_exists(empty_db, "public.half_done")
    assert [r[0] for r in ledger(empty_db)] == ["000", "001", "002"]


def test_dry_run_prints_the_plan_and_changes_nothing(empty_db: ResolvedDsn, tmp_path: Path) -> None:
    root = make_root(tmp_path, BASIC)
    lines: list[str] = []
    report = apply_migrations(empty_db, sql_root=root, dry_run=True, log=lines.append)
    assert report.applied == []
    assert any("would apply 002_second.sql" in line for line in lines)
    assert not relation_exists(empty_db, "public.first_table")
    with psycopg.connect(empty_db.conninfo) as conn:
        assert conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'statsfirst'").fetchone() is None


def test_repeatable_migration_is_reapplied_when_its_file_changes(empty_db: ResolvedDsn, tmp_path: Path) -> None:
    view = "-- statsfirst:repeatable\nCREATE OR REPLACE VIEW answer AS SELECT {} AS value;\n"
    root = make_root(tmp_path, {**BASIC, "007_views.sql": view.format(41)})
    apply_migrations(empty_db, sql_root=root, log=lambda _: None)
    assert apply_migrations(empty_db, sql_root=root, log=lambda _: None).applied == []
    (root / "007_views.sql").write_text(view.format(42))
    again = apply_migrations(empty_db, sql_root=root, log=lambda _: None)
    assert [(m.version, m.kind) for m, _ in again.applied] == [("007", "repeatable")]
    with psycopg.connect(empty_db.conninfo) as conn:
        assert conn.execute("SELECT value FROM answer").fetchone() == (42,)


def test_second_apply_times_out_while_the_lock_is_held(empty_db: ResolvedDsn, tmp_path: Path) -> None:
    root = make_root(tmp_path, BASIC)
    with psycopg.connect(empty_db.conninfo, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        started = time.monotonic()
        with pytest.raises(SchemaStateError, match=r"another `statsfirst schema apply` is running.*held by backend"):
            apply_migrations(empty_db, sql_root=root, lock_timeout_s=0.5, log=lambda _: None)
        assert time.monotonic() - started >= 0.5
    assert not relation_exists(empty_db, "public.first_table")


def test_two_concurrent_applies_do_not_both_run(empty_db: ResolvedDsn, tmp_path: Path) -> None:
    root = make_root(tmp_path, {
        "001_slow.sql": "CREATE TABLE runs (n int);\nSELECT pg_sleep(1);\nINSERT INTO runs VALUES (1);\n",
    })
    results: list[object] = []

    def run() -> None:
        try:
            results.append(apply_migrations(empty_db, sql_root=root, lock_timeout_s=30, log=lambda _: None))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    applied_counts = sorted(len(r.applied) for r in results)  # type: ignore[union-attr]
    assert applied_counts == [0, 2]
    with psycopg.connect(empty_db.conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)


@pytest.mark.parametrize("name", ['bad"name', "x; DROP TABLE patients", "Upper", "pg_temp", "statsfirst", ""])
def test_hostile_or_reserved_target_schema_names_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="not allowed"):
        validate_schema_name(name)


def test_target_schema_is_recorded_and_a_different_one_is_refused(empty_db: ResolvedDsn, tmp_path: Path) -> None:
    root = make_root(tmp_path, {"006_create_statistics_schema.sql": "CREATE TABLE therapy_sessions (id int);\n"})
    with psycopg.connect(empty_db.conninfo, autocommit=True) as conn:
        for table in ("patients", "therapists", "researcher_profiles"):
            conn.execute(f"CREATE TABLE public.{table} (id int)")
    apply_migrations(empty_db, sql_root=root, target_schema="stats", log=lambda _: None)
    assert relation_exists(empty_db, "stats.therapy_sessions")
    assert migration_status(empty_db, sql_root=root).target_schema == "stats"
    with pytest.raises(UsageError, match="already applied to schema 'stats'"):
        apply_migrations(empty_db, sql_root=root, target_schema="other", log=lambda _: None)

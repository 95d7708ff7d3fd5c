"""Bad arguments and bad database states fail early with one clear line; --dry-run writes nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from migration_support import TARGET, TARGET_TABLES, WORKED_PARAMS, HandBuilt, rows, run, scalar, seeded_database

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.errors import SchemaStateError, UsageError
from statsfirst.pipeline.options import MigrateOptions, parse_day
from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.run import reconcile
from statsfirst.transform.scoring import PerformanceWeights

CLI = Path(sys.executable).parent / "statsfirst"
BOGUS_DSN = "postgresql://nobody@127.0.0.1:1/none"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), "migrate", *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "300", "HOME": str(Path.home())})


def test_since_after_until_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="is not before"):
        MigrateOptions(since=parse_day("2024-02-01", "--since"), until=parse_day("2024-01-01", "--until"))
    with pytest.raises(UsageError):
        MigrateOptions(since=parse_day("2024-01-01", "--since"), until=parse_day("2024-01-01", "--until"))
    with pytest.raises(UsageError, match="not a date"):
        parse_day("2024-13-45", "--since")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(("--since", "2024-02-01", "--until", "2024-01-01"), "is not before"),
     (("--weights", "compliance=0.5,symmetry=0.25,effort=0.2,game=0.2"), "sum to 1"),
     (("--since", "yesterday"), "not a date"),
     (("--batch-size", "0"), "at least 1")],
)
def test_cli_usage_errors_exit_2_with_one_line(args: tuple[str, ...], fragment: str) -> None:
    done = cli("--dsn", BOGUS_DSN, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert fragment in lines[0]
    assert "Traceback" not in done.stderr + done.stdout


def test_unapplied_target_schema(legacy_db: ResolvedDsn) -> None:
    with pytest.raises(SchemaStateError, match="statsfirst schema apply"):
        run(legacy_db)


def test_empty_database(empty_db: ResolvedDsn) -> None:
    with pytest.raises(SchemaStateError) as info:
        run(empty_db)
    assert "statsfirst schema apply" in str(info.value)


def test_missing_legacy_tables_after_apply(make_database: Callable[[], ResolvedDsn]) -> None:
    dsn = seeded_database(make_database, sessions=20)
    with psycopg.connect(dsn.conninfo) as conn:
        conn.execute("ALTER TABLE public.analysis_results RENAME TO analysis_results_gone")
    with pytest.raises(SchemaStateError, match=r"analysis_results.*missing") as info:
        run(dsn)
    assert "\n" not in str(info.value)
    assert scalar(dsn, "SELECT count(*) FROM statsfirst.migration_runs") == 0
    with pytest.raises(SchemaStateError, match=r"analysis_results are missing from schema public"):
        reconcile(dsn, ReconcileOptions())


def test_weights_not_summing_to_one() -> None:
    with pytest.raises(UsageError, match="sum to 1"):
        PerformanceWeights.parse("compliance=0.40,symmetry=0.25,effort=0.20,game=0.05")
    with pytest.raises(UsageError, match="sum to 1"):
        PerformanceWeights(0.5, 0.5, 0.5, 0.0)


def test_dry_run_writes_nothing_and_counts_like_a_real_run(make_database: Callable[[], ResolvedDsn]) -> None:
    dsn = seeded_database(make_database, sessions=400)
    dry = run(dsn, batch_size=150, dry_run=True).as_json()
    assert dry["dry_run"] is True
    assert dry["run_id"] is None
    for name in TARGET_TABLES:
        assert scalar(dsn, f"SELECT count(*) FROM {TARGET}.{name}") == 0, name
    for name in ("migration_runs", "migration_batches", "quarantine", "session_lineage", "analysis_lineage"):
        assert scalar(dsn, f"SELECT count(*) FROM statsfirst.{name}") == 0, name

    real = run(dsn, batch_size=150).as_json()
    assert real["sessions"] == dry["sessions"]
    assert real["quarantined_by_reason"] == dry["quarantined_by_reason"]
    assert real["skipped_by_reason"] == dry["skipped_by_reason"]
    assert real["rows"] == dry["rows"]
    sessions = real["sessions"]
    assert isinstance(sessions, dict)
    assert sessions["migrated"] > 0 and sessions["quarantined"] > 0


def test_null_processing_status_is_held_back_not_lost(hand_built: HandBuilt) -> None:
    """The legacy CHECK lets a NULL status through; such a session must be accounted for, not silently dropped."""
    kept = hand_built.add_session(params=WORKED_PARAMS)
    cleared = hand_built.add_session(params=WORKED_PARAMS)
    with psycopg.connect(hand_built.dsn.conninfo) as conn:
        conn.execute("UPDATE public.c3d_metadata SET processing_status = NULL WHERE id = %s", (cleared,))
    summary = run(hand_built.dsn)
    assert summary.migrated == 1 and sum(summary.quarantined.values()) == 1, summary.as_json()
    assert summary.migrated + sum(summary.quarantined.values()) + sum(summary.skipped.values()) == 2
    held = rows(hand_built.dsn, "SELECT legacy_session_id::text, reasons FROM statsfirst.quarantine")
    assert len(held) == 1 and held[0][0] == cleared
    assert "unknown_processing_status" in held[0][1]
    assert scalar(hand_built.dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE id = %s", (kept,)) == 1


def test_a_4713_bc_timestamp_beside_a_failed_check_is_quarantined_not_a_crash() -> None:
    """pandera renders the first failing rows of a frame-level check as Python values; a legacy timestamp Python's
    datetime cannot hold (4713 BC, which PostgreSQL and polars can) must not reach that rendering."""
    from datetime import datetime

    import polars as pl

    from statsfirst.validate.run_checks import validate_tables
    from statsfirst.validate.schemas import SCHEMAS

    bc = pl.Series([datetime(2023, 3, 21)] * 2).dt.offset_by("-6735y")  # 2023 → 4713 BC (year -4712)
    assert bc.dt.year().to_list() == [-4712, -4712]
    frame = pl.DataFrame({"session_id": ["a", "b"], "filter_low_cutoff_hz": [20.0, 20.0],
                          "filter_high_cutoff_hz": [10.0, 450.0], "created_at": bc})
    tables = {name: pl.DataFrame() for name in SCHEMAS} | {"processing_parameters": frame}
    problems = validate_tables(tables)
    assert problems.select("session_id", "column", "reason").rows() == [
        ("a", "filter_low_cutoff_hz", "inconsistent_values")]

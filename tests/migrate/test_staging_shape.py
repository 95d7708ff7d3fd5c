"""A transform frame whose columns do not match its target table fails loudly at staging (a bug in statsfirst),
instead of loading a misnamed column as NULL or dropping an unknown one; the check follows a schema change."""

from __future__ import annotations

import polars as pl
import psycopg
import pytest
from migration_support import TARGET, quiet

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.load.staging import LoadShapeError, copy_to_staging, target_columns
from statsfirst.load.table_specs import TABLE_SPECS

PROCESSING_PARAMETERS = next(spec for spec in TABLE_SPECS if spec.name == "processing_parameters")


def frame_for(conn: psycopg.Connection) -> pl.DataFrame:
    """An empty frame with exactly the columns the load writes to processing_parameters."""
    columns = [c for c in target_columns(conn, TARGET, "processing_parameters")
               if c not in PROCESSING_PARAMETERS.not_loaded]
    return pl.DataFrame(schema={c: pl.String for c in columns})


def test_a_misnamed_or_missing_column_fails_loudly(legacy_db: ResolvedDsn) -> None:
    apply_migrations(legacy_db, target_schema=TARGET, log=quiet)
    with psycopg.connect(legacy_db.conninfo) as conn:
        good = frame_for(conn)
        assert copy_to_staging(conn, TARGET, PROCESSING_PARAMETERS, good).columns == tuple(good.columns)
        conn.rollback()
        misnamed = good.rename({"smoothing_window_ms": "smoothing_window"})
        with pytest.raises(LoadShapeError, match=r"unknown to the target: smoothing_window; missing: smoothing_wi"):
            copy_to_staging(conn, TARGET, PROCESSING_PARAMETERS, misnamed)
        with pytest.raises(LoadShapeError, match=r"missing: filter_order$"):
            copy_to_staging(conn, TARGET, PROCESSING_PARAMETERS, good.drop("filter_order"))


def test_a_column_added_to_the_target_is_seen_by_the_next_connection(legacy_db: ResolvedDsn) -> None:
    apply_migrations(legacy_db, target_schema=TARGET, log=quiet)
    with psycopg.connect(legacy_db.conninfo) as conn:
        good = frame_for(conn)
        conn.execute(f"ALTER TABLE {TARGET}.processing_parameters ADD COLUMN notch_hz double precision")
        conn.commit()
    with psycopg.connect(legacy_db.conninfo) as conn, pytest.raises(LoadShapeError, match=r"missing: notch_hz$"):
        copy_to_staging(conn, TARGET, PROCESSING_PARAMETERS, good)

"""The shape of a held-back reason: one row per failed check, keyed by the legacy session id."""

from __future__ import annotations

import polars as pl

PROBLEM_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "session_id": pl.String,
    "stage": pl.String,
    "table": pl.String,
    "column": pl.String,
    "check": pl.String,
    "value": pl.String,
    "reason": pl.String,
}


def empty_problems() -> pl.DataFrame:
    return pl.DataFrame(schema=PROBLEM_SCHEMA)


def problems_from(
    frame: pl.DataFrame, *, stage: str, table: str, column: pl.Expr, check: str, value: pl.Expr, reason: str
) -> pl.DataFrame:
    """Build problem rows from a frame that has a ``session_id`` column (one problem per row)."""
    return frame.select(
        pl.col("session_id"),
        pl.lit(stage).alias("stage"),
        pl.lit(table).alias("table"),
        column.cast(pl.String).alias("column"),
        pl.lit(check).alias("check"),
        value.cast(pl.String).alias("value"),
        pl.lit(reason).alias("reason"),
    )

"""Run the pandera schemas eagerly (lazy=True collects every failure) and map failures to legacy sessions."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from statsfirst.transform.problems import PROBLEM_SCHEMA, empty_problems
from statsfirst.validate.schemas import SCHEMAS

REASONS = {
    "integral": "fractional_count",
    "greater_than_or_equal_to(0.0)": "negative_value",
    "str_matches": "bad_file_hash",
    "finite": "not_finite",
    "isin": "unknown_value",
    "half_steps": "out_of_range",
    "json_array": "wrong_type",
}


def _reason(check: pl.Expr) -> pl.Expr:
    """The reason code of a failed check (a cross-column ``a_le_b``/``a_lt_b`` check, else by the check's name)."""
    reason = pl.lit("out_of_range")
    for prefix, code in reversed(REASONS.items()):
        reason = pl.when(check.str.starts_with(prefix)).then(pl.lit(code)).otherwise(reason)
    cross_column = (
        pl.when(check.str.contains("contractions", literal=True))
        .then(pl.lit("count_exceeds_total"))
        .otherwise(pl.lit("inconsistent_values"))
    )
    return pl.when(check.str.contains("_(le|lt)_")).then(cross_column).otherwise(reason)


def _checked_columns(frame: pl.DataFrame, schema: pa.DataFrameSchema, key: str) -> pl.DataFrame:
    """The key and the columns the schema checks, nothing else: pandera turns the first failing rows of a
    frame-level check into Python values for its message, and a legacy timestamp of 4713 BC (which polars holds but
    Python's datetime cannot) in an unchecked column would crash the run instead of quarantining the session."""
    return frame.select(key, *(c for c in schema.columns if c in frame.columns and c != key))


def validate_tables(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every failed check of every table, as problem rows (stage 'validate')."""
    found = [empty_problems()]
    for table, schema in SCHEMAS.items():
        frame = tables[table]
        if frame.height == 0:
            continue
        key = "session_id" if "session_id" in frame.columns else "id"
        try:
            schema.validate(_checked_columns(frame, schema, key), lazy=True)
        except pa.errors.SchemaErrors as errors:
            cases = errors.failure_cases
            if "index" not in cases.columns or cases["index"].null_count() == cases.height:
                raise
            keyed = frame.select(pl.col(key).alias("session_id")).with_row_index("index")
            rows = (
                cases.filter(pl.col("index").is_not_null())
                .with_columns(pl.col("index").cast(pl.UInt32))
                .join(keyed, on="index", how="left")
            )
            found.append(
                rows.select(
                    "session_id",
                    pl.lit("validate").alias("stage"),
                    pl.lit(table).alias("table"),
                    pl.when(pl.col("schema_context") == "DataFrameSchema")
                    .then(pl.col("check").str.replace("_(le|lt)_.*$", ""))
                    .otherwise(pl.col("column"))
                    .alias("column"),
                    pl.col("check"),
                    pl.col("failure_case").str.slice(0, 200).alias("value"),
                    _reason(pl.col("check")).alias("reason"),
                ).cast(PROBLEM_SCHEMA)
            )
    return pl.concat(found, how="vertical_relaxed")

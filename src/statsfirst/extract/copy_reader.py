"""COPY a query's result out as CSV and read it into polars with an explicit schema (no row-by-row fetches)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
import psycopg
from psycopg import sql

UTC_MICROSECONDS = pl.Datetime("us", "UTC")  # the dtype legacy timestamps arrive as (microseconds since the epoch)


def copy_frame(
    conn: psycopg.Connection,
    query: sql.Composable,
    params: Sequence[Any] | Mapping[str, Any] | None,
    schema: Mapping[str, pl.DataType | type[pl.DataType]],
) -> pl.DataFrame:
    """Run ``COPY (query) TO STDOUT`` and parse the CSV; timestamps arrive as epoch microseconds (bigint)."""
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER true)").format(query)
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(statement, params) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    if buffer.getbuffer().nbytes == 0:
        return pl.DataFrame(schema=dict(schema))
    booleans = [name for name, dtype in schema.items() if dtype == pl.Boolean]
    as_read = {name: (pl.String if name in booleans else dtype) for name, dtype in schema.items()}
    frame = pl.read_csv(buffer, schema=as_read, has_header=True)
    if booleans:  # PostgreSQL writes booleans as t/f
        frame = frame.with_columns([(pl.col(name) == "t").alias(name) for name in booleans])
    timestamp_columns = [name for name in frame.columns if name.endswith("_us")]
    if timestamp_columns:
        frame = frame.with_columns(
            [pl.col(name).cast(UTC_MICROSECONDS).alias(name.removesuffix("_us")) for name in timestamp_columns]
        ).drop(timestamp_columns)
    return frame

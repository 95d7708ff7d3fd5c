"""Decode the current analysis' channel objects with an explicit dtype; report what cannot be decoded.

Only JSON that passed the SQL type guard is decoded, so the strict decoder sees numbers where numbers belong.
A channel key must look like the C3D label convention (``CH1``, ``CH2``, …); anything else is held back.
"""

from __future__ import annotations

import polars as pl

from statsfirst.extract.fields import CHANNEL_DTYPE, PARAMETERS_DTYPE, TEMPORAL_BLOCKS
from statsfirst.transform.problems import PROBLEM_SCHEMA, empty_problems, problems_from

CHANNEL_KEY_PATTERN = r"^CH[0-9]+$"


def decode_channels(channels: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Returns (one decoded row per good channel, problems)."""
    with_problems = channels.with_columns(
        pl.col("type_problems").str.json_decode(pl.List(pl.String)).fill_null([]).alias("type_problems")
    )
    type_issues = (
        with_problems.filter(pl.col("type_problems").list.len() > 0)
        .explode("type_problems")
        .with_columns(pl.col("type_problems").str.splitn("=", 2).alias("_parts"))
        .with_columns(
            (pl.col("channel_name") + "." + pl.col("_parts").struct.field("field_0")).alias("_column"),
            pl.col("_parts").struct.field("field_1").alias("_value"),
        )
    )
    problems = [
        problems_from(
            type_issues,
            stage="normalize",
            table="emg_statistics",
            column=pl.col("_column"),
            check="json_number",
            value=pl.col("_value"),
            reason="wrong_type",
        ),
        problems_from(
            channels.filter(~pl.col("channel_name").str.contains(CHANNEL_KEY_PATTERN)),
            stage="normalize",
            table="emg_statistics",
            column=pl.lit("analytics_data"),
            check="channel_key",
            value=pl.col("channel_name"),
            reason="unknown_channel_key",
        ),
    ]
    good = with_problems.filter(
        (pl.col("type_problems").list.len() == 0)
        & pl.col("channel_json").is_not_null()
        & pl.col("channel_name").str.contains(CHANNEL_KEY_PATTERN)
    ).drop("type_problems")
    decoded, decode_problems = _decode(good)
    problems.append(decode_problems)
    return decoded, pl.concat(problems, how="vertical_relaxed")


def _decode(good: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    try:
        return _decode_all(good), empty_problems()
    except pl.exceptions.PolarsError:
        # Should not happen after the SQL guard; find the offending rows one by one rather than fail the batch.
        keep, bad = [], []
        for index in range(good.height):
            try:
                _decode_all(good.slice(index, 1))
                keep.append(index)
            except pl.exceptions.PolarsError:
                bad.append(index)
        rows = good.with_row_index("_i")
        broken = rows.filter(pl.col("_i").is_in(bad))
        problems = problems_from(
            broken,
            stage="normalize",
            table="emg_statistics",
            column=pl.col("channel_name"),
            check="json_decode",
            value=pl.col("channel_json").str.slice(0, 80),
            reason="malformed_json",
        )
        return _decode_all(rows.filter(pl.col("_i").is_in(keep)).drop("_i")), problems.cast(PROBLEM_SCHEMA)  # type: ignore[arg-type]


def _decode_all(good: pl.DataFrame) -> pl.DataFrame:
    decoded = good.with_columns(
        pl.col("channel_json").str.json_decode(CHANNEL_DTYPE).alias("_channel"),
        pl.col("parameters_used").str.json_decode(PARAMETERS_DTYPE).alias("_parameters"),
    ).unnest("_channel")
    temporal = []
    for block, metric in TEMPORAL_BLOCKS.items():
        temporal += [
            pl.col(block).struct.field("mean_value").alias(f"{metric}_mean"),
            pl.col(block).struct.field("std_value").alias(f"{metric}_std"),
        ]
    return decoded.with_columns(temporal).drop(list(TEMPORAL_BLOCKS)).unnest("_parameters")

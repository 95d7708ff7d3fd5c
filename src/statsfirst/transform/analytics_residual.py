"""The part of the current analysis' analytics_data that emg_statistics does not keep, per channel.

``analysis_results_view`` (sql/007) rebuilds the legacy analytics_data from emg_statistics plus this residual, so
it must hold exactly: every key of a channel except the parts not kept (contractions, signal_processing, errors),
the stored numbers and the temporal blocks; each temporal block without its stored mean_value/std_value; and a
stored field whose legacy value was JSON ``null`` as ``null`` (emg_statistics cannot tell null from absent).

PostgreSQL strips the channel objects while it reads them (extract/legacy_reader.py); here the pieces are joined
into one JSON object per analysis with string expressions, so no JSON is parsed in Python.
"""

from __future__ import annotations

import polars as pl

from statsfirst.extract.fields import (
    STORED_CHANNEL_NUMBERS,
    TEMPORAL_BLOCKS,
    TEMPORAL_FIELDS,
    raw_block_column,
    raw_number_column,
    residual_block_column,
    residual_rest_column,
)
from statsfirst.transform.channels import CHANNEL_KEY_PATTERN

RESIDUAL_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "analysis_id": pl.String,
    "session_id": pl.String,
    "analytics_residual": pl.String,
}


def _object(members: list[pl.Expr]) -> pl.Expr:
    """A JSON object from member texts (``"key": value``, or null to leave out) and inner texts of objects."""
    return pl.lit("{") + pl.concat_str(members, separator=", ", ignore_nulls=True) + pl.lit("}")


def _inner(json_object: pl.Expr) -> pl.Expr:
    """The members of a JSON object's text, without its braces (null when it has none)."""
    inner = json_object.str.strip_prefix("{").str.strip_suffix("}")
    return pl.when(inner == "").then(None).otherwise(inner)


def _null_member(raw: pl.Expr, key: str) -> pl.Expr:
    return pl.when(raw == "null").then(pl.lit(f'"{key}": null'))


def _block_member(block: str) -> pl.Expr:
    text = pl.col(residual_block_column(block))
    nulls = [_null_member(pl.col(raw_block_column(block, f)), f) for f in TEMPORAL_FIELDS]
    as_object = _object([_inner(text), *nulls])
    value = pl.when(text.str.starts_with("{")).then(as_object).otherwise(text)
    return pl.when(text.is_not_null()).then(pl.lit(f'"{block}": ') + value)


def channel_residual() -> pl.Expr:
    """One channel's residual object as JSON text (null for a channel that is not an object)."""
    members = [
        _inner(pl.col(residual_rest_column())),
        *(_null_member(pl.col(raw_number_column(name)), name) for name in STORED_CHANNEL_NUMBERS),
        *(_block_member(block) for block in TEMPORAL_BLOCKS),
    ]
    return pl.when(pl.col(residual_rest_column()).is_not_null()).then(_object(members))


def build_analysis_residuals(channels: pl.DataFrame) -> pl.DataFrame:
    """One row per current analysis: ``{"CH1": {...}, "CH2": {...}}`` as JSON text.

    Only channels named like ``CH<n>`` are written (any other name holds the session back, so its residual is never
    loaded); their names need no JSON escaping.
    """
    named = channels.filter(pl.col("channel_name").str.contains(CHANNEL_KEY_PATTERN))
    members = named.select(
        "analysis_id",
        "session_id",
        "channel_name",
        (pl.lit('"') + pl.col("channel_name") + pl.lit('": ') + pl.coalesce(channel_residual(), pl.lit("null"))).alias(
            "_member"
        ),
    )
    return (
        members.sort("analysis_id", "channel_name")
        .group_by("analysis_id", "session_id", maintain_order=True)
        .agg(pl.col("_member").str.join(", "))
        .select(
            "analysis_id",
            "session_id",
            (pl.lit("{") + pl.col("_member") + pl.lit("}")).alias("analytics_residual"),
        )
    )

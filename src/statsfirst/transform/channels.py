"""Parse the current analysis' channel fields with an explicit Float64 dtype; report what is not a JSON number.

Each field the mapping reads arrives as its JSON text (see extract/legacy_reader.py). A field is taken only when it
is JSON ``null`` or a number a float8 represents; a string, array, object or boolean where a number belongs, or a
number that would overflow or underflow to zero, is reported with its value and holds the session back. A channel
key must look like the C3D label convention (``CH1``, ``CH2``, …); anything else is held back.
"""

from __future__ import annotations

import polars as pl

from statsfirst.extract.fields import (
    CHANNEL_NUMBERS,
    PARAMETER_NUMBERS,
    TEMPORAL_BLOCKS,
    TEMPORAL_FIELDS,
    block_shape_column,
    raw_block_column,
    raw_number_column,
    raw_parameter_column,
)
from statsfirst.transform.problems import problems_from

CHANNEL_KEY_PATTERN = r"^CH[0-9]+$"
FLOAT8_MAX = 1.7e308
FLOAT8_MIN_NORMAL = 2.3e-308

# (extract column, decoded column, label used in a problem report)
_NUMERIC_FIELDS: tuple[tuple[str, str, str], ...] = (
    *((raw_number_column(name), name, name) for name in CHANNEL_NUMBERS),
    *(
        (raw_block_column(block, f), f"{metric}_{f.removesuffix('_value')}", f"{block}.{f}")
        for block, metric in TEMPORAL_BLOCKS.items()
        for f in TEMPORAL_FIELDS
    ),
    *(
        (raw_parameter_column(name), name, f"signal_processing.parameters_used.{name}")
        for name in PARAMETER_NUMBERS
    ),
)


def _as_float(raw: pl.Expr) -> pl.Expr:
    return raw.cast(pl.Float64, strict=False)


def _not_a_float8(raw: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """JSON text that is neither ``null`` nor a number a float8 holds unchanged.

    PostgreSQL prints jsonb numbers without an exponent, so a number that parsed to zero (or a subnormal) but has a
    digit other than 0 in its text underflowed.
    """
    return (
        raw.is_not_null()
        & (raw != "null")
        & (
            parsed.is_null()
            | ~parsed.is_finite()
            | (parsed.abs() >= FLOAT8_MAX)
            | ((parsed.abs() <= FLOAT8_MIN_NORMAL) & (raw.str.strip_chars("-0.") != ""))
        )
    )


def _problem_flags() -> list[tuple[str, pl.Expr]]:
    """(label, whether this row's field is wrongly typed) for every field and block a channel is checked on."""
    flags = [(label, _not_a_float8(pl.col(raw), pl.col(name))) for raw, name, label in _NUMERIC_FIELDS]
    flags += [(block, pl.col(block_shape_column(block)).is_not_null()) for block in TEMPORAL_BLOCKS]
    flags.append(("<channel>", pl.col("channel_not_object").is_not_null()))
    return flags


def _problem_values() -> dict[str, pl.Expr]:
    values = {label: pl.col(raw).str.slice(0, 80) for raw, _, label in _NUMERIC_FIELDS}
    values.update({block: pl.col(block_shape_column(block)) for block in TEMPORAL_BLOCKS})
    values["<channel>"] = pl.col("channel_not_object")
    return values


def _type_problems(flags: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """Every wrongly typed field of a channel, as ``label=<value>`` (value cut to 80 characters)."""
    values = _problem_values()
    found = [pl.when(flag).then(pl.lit(f"{label}=") + values[label]) for label, flag in flags]
    return pl.concat_list(found).list.drop_nulls().list.sort()


def current_analysis_channels(channels: pl.DataFrame, analyses: pl.DataFrame) -> pl.DataFrame:
    """The channels of each session's current analysis: the newest (created_at, then id) with a non-empty object."""
    current = (
        channels.select("analysis_id")
        .unique()
        .join(analyses.select("analysis_id", "created_at"), on="analysis_id")
        .join(analyses.select("analysis_id", "session_id"), on="analysis_id")
        .sort(["created_at", "analysis_id"], descending=True, nulls_last=False)
        .unique("session_id", keep="first", maintain_order=True)
    )
    return channels.join(current.select("analysis_id"), on="analysis_id", how="semi")


def decode_channels(channels: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Returns (one decoded row per good channel, problems)."""
    flags = _problem_flags()
    parsed = channels.with_columns([_as_float(pl.col(raw)).alias(name) for raw, name, _ in _NUMERIC_FIELDS])
    parsed = parsed.with_columns(pl.any_horizontal([flag for _, flag in flags]).alias("_wrong_type"))
    # the problem list is built only for the (rare) channels that have one
    type_issues = (
        parsed.filter(pl.col("_wrong_type"))
        .with_columns(_type_problems(flags).alias("type_problems"))
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
    raw_columns = [raw for raw, _, _ in _NUMERIC_FIELDS] + [block_shape_column(b) for b in TEMPORAL_BLOCKS]
    decoded = parsed.filter(~pl.col("_wrong_type") & pl.col("channel_name").str.contains(CHANNEL_KEY_PATTERN)).drop(
        [*raw_columns, "_wrong_type", "channel_not_object"]
    )
    return decoded, pl.concat(problems, how="vertical_relaxed")

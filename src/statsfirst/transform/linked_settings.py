"""Link legacy session_settings rows to sessions (mapping.md): newest updated_at wins among candidates.

A params row links when its session_id equals the session's legacy session_id or its id as text. The chosen
row's params are decoded with an explicit dtype; wrongly typed params hold the session back.
"""

from __future__ import annotations

import polars as pl

from statsfirst.extract.fields import SETTINGS_DTYPE
from statsfirst.transform.problems import problems_from


def choose_linked_settings(settings: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Returns (one decoded settings row per linked session, problems)."""
    chosen = (
        settings.sort(
            ["session_id", "settings_updated_at", "settings_user_id", "settings_session_id"],
            descending=[False, True, False, False],
            nulls_last=True,
        )
        .unique("session_id", keep="first", maintain_order=True)
        .with_columns(pl.col("type_problems").str.json_decode(pl.List(pl.String)).fill_null([]))
    )
    issues = (
        chosen.filter(pl.col("type_problems").list.len() > 0)
        .explode("type_problems")
        .with_columns(pl.col("type_problems").str.splitn("=", 2).alias("_parts"))
    )
    problems = problems_from(
        issues,
        stage="normalize",
        table="session_settings",
        column=pl.col("_parts").struct.field("field_0"),
        check="json_type",
        value=pl.col("_parts").struct.field("field_1"),
        reason="wrong_type",
    )
    good = chosen.filter(pl.col("type_problems").list.len() == 0).drop("type_problems")
    decoded = (
        good.with_columns(pl.col("params").str.json_decode(SETTINGS_DTYPE).alias("_p"))
        .with_columns(
            pl.col("_p").struct.field("post_session_rpe").alias("post_session_rpe"),
            pl.col("_p").struct.field("session_expected_contractions_ch1").alias("expected_ch1"),
            pl.col("_p").struct.field("session_expected_contractions_ch2").alias("expected_ch2"),
            pl.col("_p").struct.field("bfr_parameters").struct.field("left").alias("bfr_left"),
            pl.col("_p").struct.field("bfr_parameters").struct.field("right").alias("bfr_right"),
            pl.col("_p").struct.field("channel_muscle_mapping").struct.field("CH1").alias("mapping_ch1"),
            pl.col("_p").struct.field("channel_muscle_mapping").struct.field("CH2").alias("mapping_ch2"),
            pl.when(pl.col("_p").struct.field("channel_muscle_mapping").is_null()).then(None)
        .otherwise(pl.col("_p").struct.field("channel_muscle_mapping").struct.json_encode())
        .alias("channel_muscle_mapping"),
        )
        .drop("_p")
    )
    return decoded, problems

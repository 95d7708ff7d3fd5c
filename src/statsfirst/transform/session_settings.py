"""session_settings: the thresholds, targets and weights in force for every migrated session.

From the linked legacy params where present (settings_source 'legacy'), else the configured defaults
('default'). Defaults are configuration, recorded as such; they are not measurements. Units are converted from the
real app's: ``session_mvc_threshold_percentage`` percent / 100, ``contraction_duration_threshold`` ms / 1000;
target_contractions_per_muscle ← ``session_expected_contractions`` / 2 (both muscles together), else the default;
mvc_user_left/right ← the ``session_mvc_values`` entry of the side's channel, else ``session_mvc_value``. The
side's channel is the emg_statistics channel of that side, else CH1 left / CH2 right (swapped when the muscle
mapping names CH1 right). mvc_calculation_method is what the current analysis says (the first channel in key order
that states a method), else backend_95percentile: user MVC values in the params do not change it.
"""

from __future__ import annotations

import polars as pl

from statsfirst.transform.linked_settings import channel_entries
from statsfirst.transform.scoring import (
    DEFAULT_BFR_TARGET_AOP,
    DEFAULT_DURATION_THRESHOLD_SECONDS,
    DEFAULT_MVC_THRESHOLD_PERCENTAGE,
    DEFAULT_TARGET_CONTRACTIONS,
    PerformanceWeights,
)


def _side_channels(emg: pl.DataFrame) -> pl.DataFrame:
    """session_id, _left_channel, _right_channel: the emg_statistics channel of each side (NULL when none)."""
    sided = emg.filter(pl.col("side").is_in(["left", "right"])).unique(["session_id", "side"], keep="first")
    return sided.group_by("session_id").agg(
        pl.col("channel_name").filter(pl.col("side") == "left").first().alias("_left_channel"),
        pl.col("channel_name").filter(pl.col("side") == "right").first().alias("_right_channel"),
    )


def _analysis_methods(emg: pl.DataFrame) -> pl.DataFrame:
    """session_id, _method: the MVC method of the first channel (key order) of the current analysis that has one."""
    return (
        emg.filter(pl.col("mvc_calculation_method").is_not_null())
        .sort(["session_id", "channel_name"])
        .unique("session_id", keep="first", maintain_order=True)
        .select("session_id", pl.col("mvc_calculation_method").alias("_method"))
    )


def build_session_settings(
    session_ids: pl.DataFrame,
    settings: pl.DataFrame,
    bfr: pl.DataFrame,
    emg: pl.DataFrame,
    weights: PerformanceWeights,
) -> pl.DataFrame:
    bfr_sessions = bfr.select("session_id").unique().with_columns(pl.lit(True).alias("_has_bfr"))
    frame = (
        session_ids.join(settings, on="session_id", how="left")
        .join(bfr_sessions, on="session_id", how="left")
        .join(_side_channels(emg), on="session_id", how="left")
        .join(_analysis_methods(emg), on="session_id", how="left")
    )
    ch1_is_right = pl.col("mapping_ch1").str.to_lowercase().str.contains("right").fill_null(False)
    frame = frame.with_columns(
        pl.coalesce("_left_channel", pl.when(ch1_is_right).then(pl.lit("CH2")).otherwise(pl.lit("CH1"))).alias(
            "_left_channel"
        ),
        pl.coalesce("_right_channel", pl.when(ch1_is_right).then(pl.lit("CH1")).otherwise(pl.lit("CH2"))).alias(
            "_right_channel"
        ),
    )
    mvc = channel_entries(settings, "mvc_values_entries", "_mvc")
    for side in ("left", "right"):
        frame = frame.join(
            mvc.rename({"channel_name": f"_{side}_channel", "_mvc": f"_mvc_{side}"}),
            on=["session_id", f"_{side}_channel"],
            how="left",
        )
    linked = pl.col("settings_user_id").is_not_null()
    return frame.select(
        "session_id",
        pl.coalesce("_method", pl.lit("backend_95percentile")).alias("mvc_calculation_method"),
        pl.coalesce(pl.col("mvc_threshold_pct") / 100.0, pl.lit(DEFAULT_MVC_THRESHOLD_PERCENTAGE)).alias(
            "mvc_threshold_percentage"
        ),
        pl.coalesce("_mvc_left", "mvc_value").alias("mvc_user_left"),
        pl.coalesce("_mvc_right", "mvc_value").alias("mvc_user_right"),
        pl.lit(weights.as_json()).alias("performance_weights"),
        pl.coalesce(
            pl.col("duration_threshold_ms_setting") / 1000.0, pl.lit(DEFAULT_DURATION_THRESHOLD_SECONDS)
        ).alias("duration_threshold_seconds"),
        pl.coalesce(pl.col("expected_total") / 2.0, pl.lit(float(DEFAULT_TARGET_CONTRACTIONS))).alias(
            "target_contractions_per_muscle"
        ),
        pl.when(ch1_is_right)
        .then(pl.col("expected_ch2"))
        .otherwise(pl.col("expected_ch1"))
        .alias("target_contractions_left"),
        pl.when(ch1_is_right)
        .then(pl.col("expected_ch1"))
        .otherwise(pl.col("expected_ch2"))
        .alias("target_contractions_right"),
        "channel_muscle_mapping",
        pl.col("_has_bfr").fill_null(False).alias("bfr_enabled"),
        pl.lit(DEFAULT_BFR_TARGET_AOP).alias("bfr_target_pressure_aop"),
        pl.when(linked).then(pl.lit("legacy")).otherwise(pl.lit("default")).alias("settings_source"),
    ).sort("session_id")

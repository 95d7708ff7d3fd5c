"""session_settings: the thresholds, targets and weights in force for every migrated session.

From the linked legacy params where present (settings_source 'legacy'), else the configured defaults
('default'). Defaults are configuration, recorded as such; they are not measurements.
"""

from __future__ import annotations

import polars as pl

from statsfirst.transform.scoring import (
    DEFAULT_BFR_TARGET_AOP,
    DEFAULT_DURATION_THRESHOLD_SECONDS,
    DEFAULT_MVC_THRESHOLD_PERCENTAGE,
    DEFAULT_TARGET_CONTRACTIONS,
    PerformanceWeights,
)


def build_session_settings(
    session_ids: pl.DataFrame, settings: pl.DataFrame, bfr: pl.DataFrame, weights: PerformanceWeights
) -> pl.DataFrame:
    bfr_sessions = bfr.select("session_id").unique().with_columns(pl.lit(True).alias("_has_bfr"))
    frame = session_ids.join(settings, on="session_id", how="left").join(bfr_sessions, on="session_id", how="left")
    ch1_is_right = pl.col("mapping_ch1").str.to_lowercase().str.contains("right").fill_null(False)
    linked = pl.col("settings_user_id").is_not_null()
    return frame.select(
        "session_id",
        pl.lit("backend_95percentile").alias("mvc_calculation_method"),
        pl.lit(DEFAULT_MVC_THRESHOLD_PERCENTAGE).alias("mvc_threshold_percentage"),
        pl.lit(weights.as_json()).alias("performance_weights"),
        pl.lit(DEFAULT_DURATION_THRESHOLD_SECONDS).alias("duration_threshold_seconds"),
        pl.lit(DEFAULT_TARGET_CONTRACTIONS).alias("target_contractions_per_muscle"),
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

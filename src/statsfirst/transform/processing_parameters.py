"""processing_parameters ← signal_processing.parameters_used of the first channel that has it (mapping.md).

filter_low_cutoff_hz ← highpass_cutoff_hz (the raw signal's high-pass). filter_high_cutoff_hz stays NULL: the
legacy lowpass_cutoff_hz (10 Hz) smooths the rectified envelope, it does not bound the raw band, so it stays in
algorithm_config only. Thresholds: the settings in force (linked params in percent / ms, else the defaults); the
duration threshold the analysis states wins, as in emg_statistics.
"""

from __future__ import annotations

import polars as pl

from statsfirst.transform.scoring import DEFAULT_DURATION_THRESHOLD_SECONDS, DEFAULT_MVC_THRESHOLD_PERCENTAGE


def build_processing_parameters(
    emg_source: pl.DataFrame, therapy_sessions: pl.DataFrame, settings: pl.DataFrame
) -> pl.DataFrame:
    """``emg_source``: decoded channels (with parameters_used fields), one row per channel."""
    ordered = emg_source.sort(["session_id", "channel_name"])
    first_params = (
        ordered.filter(pl.col("parameters_used").is_not_null())
        .unique("session_id", keep="first", maintain_order=True)
        .select(
            "session_id",
            "highpass_cutoff_hz",
            "filter_order",
            "smoothing_window_ms",
            pl.col("parameters_used").alias("algorithm_config"),
        )
    )
    first_thresholds = ordered.group_by("session_id", maintain_order=True).agg(
        pl.col("duration_threshold_actual_value").drop_nulls().first(),
        pl.col("mvc_estimation_method").drop_nulls().first(),
        pl.col("processing_version").first(),
    )
    frame = (
        first_thresholds.join(first_params, on="session_id", how="left")
        .join(
            therapy_sessions.select(pl.col("id").alias("session_id"), "original_sampling_rate"),
            on="session_id",
            how="left",
        )
        .join(
            settings.select("session_id", "mvc_threshold_pct", "duration_threshold_ms_setting"),
            on="session_id",
            how="left",
        )
    )
    return frame.select(
        "session_id",
        pl.col("original_sampling_rate").alias("sampling_rate_hz"),
        pl.col("highpass_cutoff_hz").alias("filter_low_cutoff_hz"),
        pl.lit(None, dtype=pl.Float64).alias("filter_high_cutoff_hz"),
        "filter_order",
        "smoothing_window_ms",
        pl.coalesce(pl.col("mvc_threshold_pct") / 100.0, pl.lit(DEFAULT_MVC_THRESHOLD_PERCENTAGE)).alias(
            "mvc_threshold_percentage"
        ),
        pl.coalesce(
            "duration_threshold_actual_value",
            "duration_threshold_ms_setting",
            pl.lit(DEFAULT_DURATION_THRESHOLD_SECONDS * 1000.0),
        ).alias("duration_threshold_ms"),
        pl.col("mvc_estimation_method").alias("mvc_source"),
        "algorithm_config",
        "processing_version",
    ).sort("session_id")

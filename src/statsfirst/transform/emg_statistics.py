"""emg_statistics ← the current analysis' analytics_data.<channel> (mapping.md §emg_statistics).

Side: first channel key in sorted order = left, second = right (legacy convention); a linked
channel_muscle_mapping naming Left/Right overrides it; further channels get no side. Target T for the completion
rate (mapping.md §session_settings): the linked ``session_expected_contractions_ch1``/``_ch2`` of the channel,
else ``session_expected_contractions`` / 2, else the analysis' expected_contractions, else 12 (configured default).
MVC threshold in force: the channel's ``session_mvc_threshold_percentages`` entry, else
``session_mvc_threshold_percentage`` (both percent, / 100), else 0.75; it also reverses mvc_peak_value. Duration
threshold: the analysis' duration_threshold_actual_value, else ``contraction_duration_threshold`` (both ms, / 1000),
else 2.0 s.
"""

from __future__ import annotations

import polars as pl

from statsfirst.transform.linked_settings import channel_entries
from statsfirst.transform.scoring import (
    DEFAULT_DURATION_THRESHOLD_SECONDS,
    DEFAULT_MVC_THRESHOLD_PERCENTAGE,
    DEFAULT_TARGET_CONTRACTIONS,
    ComplianceWeights,
    completion_rate,
    muscle_compliance,
    quality_rate,
)

MVC_METHODS = {
    "backend_estimation": "backend_95percentile",
    "user_provided": "user_defined",
    "global_provided": "user_defined",
}


def _side_named(mapping: pl.Expr) -> pl.Expr:
    lowered = mapping.str.to_lowercase()
    return (
        pl.when(lowered.str.contains("left"))
        .then(pl.lit("left"))
        .when(lowered.str.contains("right"))
        .then(pl.lit("right"))
        .otherwise(None)
    )


def build_emg_statistics(
    channels: pl.DataFrame, settings: pl.DataFrame, sessions: pl.DataFrame, compliance_weights: ComplianceWeights
) -> pl.DataFrame:
    """``channels``: decoded good channels; ``settings``: chosen linked settings; ``sessions``: processed_at."""
    frame = _with_linked_settings(channels, settings, sessions)
    frame = frame.with_columns(*_rules_in_force())
    return _as_target_rows(_with_rates(frame, compliance_weights))


def _with_linked_settings(channels: pl.DataFrame, settings: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """Each channel with its position in the session (the legacy side convention), its session's linked settings,
    its own threshold entry and the session's processed_at."""
    ordered = channels.sort(["session_id", "channel_name"]).with_columns(
        pl.int_range(pl.len()).over("session_id").alias("_position")
    )
    linked = settings.select(
        "session_id", "mapping_ch1", "mapping_ch2", "expected_ch1", "expected_ch2", "expected_total",
        "mvc_threshold_pct", "duration_threshold_ms_setting",
    )
    return (
        ordered.join(linked, on="session_id", how="left")
        .join(channel_entries(settings, "threshold_entries", "channel_threshold_pct"),
              on=["session_id", "channel_name"], how="left")
        .join(sessions.select("session_id", "processed_at"), on="session_id", how="left")
    )


def _per_channel(ch1: pl.Expr, ch2: pl.Expr) -> pl.Expr:
    """The CH1 or the CH2 value of a channel; other channels have none."""
    channel = pl.col("channel_name")
    return pl.when(channel == "CH1").then(ch1).when(channel == "CH2").then(ch2).otherwise(None)


def _rules_in_force() -> list[pl.Expr]:
    """Side, target T, MVC and duration thresholds of each channel: the linked setting, else the legacy
    convention or the analysis' value, else the configured default (the module docstring gives the order)."""
    mapped_side = _per_channel(_side_named(pl.col("mapping_ch1")), _side_named(pl.col("mapping_ch2")))
    position = pl.col("_position")
    default_side = pl.when(position == 0).then(pl.lit("left")).when(position == 1).then(pl.lit("right"))
    return [
        pl.coalesce(mapped_side, default_side).alias("side"),
        pl.coalesce(
            _per_channel(pl.col("expected_ch1"), pl.col("expected_ch2")),
            pl.col("expected_total") / 2.0,
            "expected_contractions",
            pl.lit(float(DEFAULT_TARGET_CONTRACTIONS)),
        ).alias("target_contractions"),
        pl.coalesce(
            pl.col("channel_threshold_pct") / 100.0,
            pl.col("mvc_threshold_pct") / 100.0,
            pl.lit(DEFAULT_MVC_THRESHOLD_PERCENTAGE),
        ).alias("mvc_threshold_percentage"),
        pl.coalesce(
            pl.col("duration_threshold_actual_value") / 1000.0,
            pl.col("duration_threshold_ms_setting") / 1000.0,
            pl.lit(DEFAULT_DURATION_THRESHOLD_SECONDS),
        ).alias("duration_threshold_seconds"),
    ]


def _with_rates(frame: pl.DataFrame, compliance_weights: ComplianceWeights) -> pl.DataFrame:
    """R_comp, R_int, R_dur and the muscle's compliance score (scoring.py holds the formulas)."""
    total = pl.col("contraction_count")
    return frame.with_columns(
        completion_rate(total, pl.col("target_contractions")).alias("completion_rate"),
        quality_rate(pl.col("mvc_contraction_count"), total).alias("intensity_rate"),
        quality_rate(pl.col("duration_contraction_count"), total).alias("duration_rate"),
    ).with_columns(
        muscle_compliance(
            pl.col("completion_rate"), pl.col("intensity_rate"), pl.col("duration_rate"), compliance_weights
        ).alias("muscle_compliance_score"),
    )


def _as_target_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """The target's columns in its order (NULL where legacy records nothing), plus two validation-only ones."""
    return frame.select(
        "session_id",
        "channel_name",
        "side",
        # x · (1 / threshold), spelled out: polars divides by a column that is one repeated value (no setting in
        # the batch) as a multiplication by its reciprocal, so the explicit form gives the same bits either way
        (pl.col("mvc_threshold_actual_value") * (1.0 / pl.col("mvc_threshold_percentage"))).alias("mvc_peak_value"),
        pl.lit(None, dtype=pl.Float64).alias("mvc_rms_value"),
        pl.lit(None, dtype=pl.Float64).alias("mvc_confidence_score"),
        pl.col("mvc_estimation_method").replace_strict(MVC_METHODS, default=None).alias("mvc_calculation_method"),
        pl.col("contraction_count").alias("total_contractions"),
        pl.col("mvc_contraction_count").alias("good_contractions_intensity"),
        pl.col("duration_contraction_count").alias("good_contractions_duration"),
        pl.col("good_contraction_count").alias("good_contractions_both"),
        "completion_rate",
        "intensity_rate",
        "duration_rate",
        "muscle_compliance_score",
        pl.lit(None, dtype=pl.Float64).alias("signal_quality_score"),
        pl.lit(None, dtype=pl.Float64).alias("noise_level_db"),
        pl.lit(None, dtype=pl.Int64).alias("artifacts_detected"),
        pl.lit(None, dtype=pl.Float64).alias("processing_confidence"),
        "rms",
        "mav",
        "mpf",
        "mdf",
        pl.col("fatigue_index_fi_nsm5").alias("fatigue_index"),
        "rms_mean",
        "rms_std",
        "mav_mean",
        "mav_std",
        "mpf_mean",
        "mpf_std",
        "mdf_mean",
        "mdf_std",
        "fatigue_index_mean",
        "fatigue_index_std",
        "avg_duration_ms",
        "min_duration_ms",
        "max_duration_ms",
        "total_time_under_tension_ms",
        "avg_amplitude",
        "max_amplitude",
        "processing_pipeline",
        "processing_version",
        "processing_time_ms",
        "mvc_threshold_percentage",
        "duration_threshold_seconds",
        "processed_at",
        # validation-only: the raw method and the target, checked by pandera, not loaded
        pl.col("mvc_estimation_method").alias("raw_mvc_estimation_method"),
        "target_contractions",
    )

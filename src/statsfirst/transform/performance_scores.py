"""performance_scores: one row per session with emg_statistics (mapping.md §performance_scores)."""

from __future__ import annotations

import polars as pl

from statsfirst.transform import scoring
from statsfirst.transform.scoring import PerformanceWeights


def _side(emg: pl.DataFrame, side: str) -> pl.DataFrame:
    return emg.filter(pl.col("side") == side).select(
        "session_id",
        pl.col("muscle_compliance_score").alias(f"_{side}_compliance"),
        pl.col("completion_rate").alias(f"{side}_muscle_completion_rate"),
        pl.col("intensity_rate").alias(f"{side}_muscle_intensity_rate"),
        pl.col("duration_rate").alias(f"{side}_muscle_duration_rate"),
    )


def build_performance_scores(
    emg: pl.DataFrame,
    bfr: pl.DataFrame,
    settings: pl.DataFrame,
    therapy_sessions: pl.DataFrame,
    game_points: pl.DataFrame,
    weights: PerformanceWeights,
) -> pl.DataFrame:
    bfr_summary = bfr.group_by("session_id").agg(
        pl.len().alias("_sides_recorded"),
        pl.col("safety_gate_status").sum().alias("_sides_in_range"),
        pl.col("actual_pressure_aop").mean().alias("bfr_pressure_aop"),
    )
    frame = (
        emg.select("session_id")
        .unique()
        .join(_side(emg, "left"), on="session_id", how="left")
        .join(_side(emg, "right"), on="session_id", how="left")
        .join(bfr_summary, on="session_id", how="left")
        .join(settings.select("session_id", "post_session_rpe"), on="session_id", how="left")
        .join(
            therapy_sessions.select(pl.col("id").alias("session_id"), "original_duration_seconds"),
            on="session_id",
            how="left",
        )
        .join(game_points, on="session_id", how="left")
    )
    left, right = pl.col("_left_compliance"), pl.col("_right_compliance")
    gate = scoring.bfr_gate(pl.col("_sides_in_range"), pl.col("_sides_recorded"))
    frame = (
        frame.with_columns(gate.alias("bfr_compliance_gate"))
        .with_columns(
            scoring.compliance_score(left, right, pl.col("bfr_compliance_gate")).alias("compliance_score"),
            scoring.symmetry_score(left, right).alias("symmetry_score"),
            scoring.effort_score(pl.col("post_session_rpe")).alias("effort_score"),
            scoring.game_score(pl.col("game_points_achieved"), pl.col("game_points_maximum")).alias("game_score"),
        )
        .with_columns(
            scoring.overall_score(weights, pl.col("bfr_compliance_gate")).alias("overall_performance_score"),
            scoring.missing_components(weights).alias("missing_components"),
        )
    )
    return frame.select(
        "session_id",
        "overall_performance_score",
        "compliance_score",
        "symmetry_score",
        "effort_score",
        "game_score",
        pl.lit(weights.as_json()).alias("performance_weights"),
        "bfr_pressure_aop",
        "bfr_compliance_gate",
        pl.col("post_session_rpe").alias("rpe_post_session"),
        "game_points_achieved",
        "game_points_maximum",
        (pl.col("original_duration_seconds") / 60.0).alias("session_duration_minutes"),
        "left_muscle_completion_rate",
        "left_muscle_intensity_rate",
        "left_muscle_duration_rate",
        "right_muscle_completion_rate",
        "right_muscle_intensity_rate",
        "right_muscle_duration_rate",
        "missing_components",
        pl.lit(scoring.SCORING_VERSION).alias("scoring_version"),
    ).sort("session_id")

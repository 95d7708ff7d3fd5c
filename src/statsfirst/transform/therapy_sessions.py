"""therapy_sessions ← c3d_metadata (mapping.md §therapy_sessions).

Legacy 0 / [] / NULL mean unknown → NULL; the 33 Hz point rate is kept as the legacy row says it.
"""

from __future__ import annotations

import polars as pl

SESSION_TYPES = ("baseline", "training", "assessment")


def _known_positive(column: str) -> pl.Expr:
    return pl.when(pl.col(column) == 0).then(None).otherwise(pl.col(column))


def build_therapy_sessions(sessions: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """``sessions`` has references resolved; ``current`` holds session_id, processing_version, processing_time_ms."""
    joined = sessions.join(current, on="session_id", how="left", suffix="_analysis")
    return joined.select(
        pl.col("session_id").alias("id"),
        "file_path",
        "file_hash",
        "file_size_bytes",
        pl.col("patient_code").alias("patient_id"),
        pl.col("therapist_uuid").alias("therapist_id"),
        pl.col("legacy_session_code").alias("session_code"),
        pl.coalesce("session_date", "resolved_session_date").alias("session_date"),
        pl.when(pl.col("session_type").is_in(SESSION_TYPES))
        .then(pl.col("session_type"))
        .otherwise(None)
        .alias("session_type"),
        pl.lit(None, dtype=pl.Int64).alias("protocol_day"),
        _known_positive("sampling_rate").alias("original_sampling_rate"),
        _known_positive("duration_seconds").alias("original_duration_seconds"),
        _known_positive("frame_count").alias("original_sample_count"),
        pl.when(pl.col("channel_names").is_in(["[]", "null"]))
        .then(None)
        .otherwise(pl.col("channel_names"))
        .alias("channel_names"),
        _known_positive("channel_count").alias("channel_count"),
        "game_metadata",
        pl.coalesce("processing_version_analysis", "processing_version", pl.lit("unknown")).alias("processing_version"),
        "processing_status",
        pl.col("processing_time_ms").alias("processing_time_ms"),
        "error_message",
        "created_at",
        "updated_at",
        "processed_at",
    )

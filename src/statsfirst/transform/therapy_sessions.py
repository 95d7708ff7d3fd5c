"""therapy_sessions ← c3d_metadata (mapping.md §therapy_sessions).

Legacy 0 / [] / NULL mean unknown → NULL; the 33 Hz point rate is kept as the legacy row says it. A header value
outside its plausible range (mapping.md "Plausibility") holds the session back as ``implausible_metadata``
(normalize.py); the value is not carried into the frame, so that one named reason is all the session gets.
"""

from __future__ import annotations

import polars as pl

SESSION_TYPES = ("baseline", "training", "assessment")


# (exclusive lower bound, inclusive upper bound) of a readable C3D's header values; legacy 0 means unknown
PLAUSIBLE_RANGES: dict[str, tuple[float, float | None]] = {
    "sampling_rate": (0.0, 100_000.0),  # Hz
    "duration_seconds": (0.0, 86_400.0),  # s
    "frame_count": (-1.0, None),  # a count: negative is impossible
}


def implausible(column: str) -> pl.Expr:
    """The legacy header value is set, not the 'unknown' 0, and outside its plausible range (NaN and ±inf too)."""
    low, high = PLAUSIBLE_RANGES[column]
    value = pl.col(column).cast(pl.Float64)
    outside = value.is_nan() | value.is_infinite() | (value <= low)
    if high is not None:
        outside = outside | (value > high)
    return (value.is_not_null() & (value != 0) & outside).fill_null(False)


def _zero_as_unknown(column: str) -> pl.Expr:
    """Legacy 0 means 'unknown' (mapping.md): NULL; an implausible value (quarantined anyway) is not carried."""
    known = pl.when(pl.col(column) == 0).then(None).otherwise(pl.col(column))
    if column in PLAUSIBLE_RANGES:
        return pl.when(implausible(column)).then(None).otherwise(known)
    return known


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
        _zero_as_unknown("sampling_rate").alias("original_sampling_rate"),
        _zero_as_unknown("duration_seconds").alias("original_duration_seconds"),
        _zero_as_unknown("frame_count").alias("original_sample_count"),
        pl.when(pl.col("channel_names").is_in(["[]", "null"]))
        .then(None)
        .otherwise(pl.col("channel_names"))
        .alias("channel_names"),
        _zero_as_unknown("channel_count").alias("channel_count"),
        "game_metadata",
        pl.coalesce("processing_version_analysis", "processing_version", pl.lit("unknown")).alias("processing_version"),
        "processing_status",
        pl.col("processing_time_ms").alias("processing_time_ms"),
        "error_message",
        "created_at",
        "updated_at",
        "processed_at",
    )

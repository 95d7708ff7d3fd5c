"""signal_processing_cache ← every analysis_results row of a migrated session (mapping.md).

processing_request_hash = SHA-256 of the canonical JSON (sorted keys, no spaces) of
{"processing_params": <params or {}>, "processing_version": <version>}. cache_valid = it is the current analysis
and not expired at run time; otherwise invalidated as 'expired' or 'superseded' at run time.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import polars as pl


def request_hash(params_text: str | None, version: str | None) -> str:
    params = json.loads(params_text) if params_text else {}
    canonical = json.dumps(
        {"processing_params": params if params is not None else {}, "processing_version": version},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def build_signal_processing_cache(analyses: pl.DataFrame, current_ids: pl.Series, run_time: datetime) -> pl.DataFrame:
    pairs = analyses.select("processing_params", "processing_version").unique()
    hashes = pairs.with_columns(
        pl.Series("processing_request_hash", [request_hash(p, v) for p, v in pairs.iter_rows()], dtype=pl.String)
    )
    frame = analyses.join(hashes, on=["processing_params", "processing_version"], how="left", nulls_equal=True)
    now = pl.lit(run_time).cast(pl.Datetime("us", "UTC"))
    is_current = pl.col("analysis_id").is_in(current_ids.implode())
    expired = pl.col("expires_at").is_not_null() & (pl.col("expires_at") <= now)
    return frame.select(
        pl.col("analysis_id").alias("id"),
        "session_id",
        "processing_request_hash",
        "processing_version",
        pl.coalesce("processing_params", pl.lit("{}")).alias("processing_params"),
        pl.lit("legacy_analysis").alias("cache_type"),
        "processing_time_ms",
        pl.col("cache_hits").fill_null(0).alias("hit_count"),
        "last_accessed_at",
        "expires_at",
        (is_current & ~expired).alias("cache_valid"),
        pl.when(is_current & ~expired)
        .then(None)
        .when(expired)
        .then(pl.lit("expired"))
        .otherwise(pl.lit("superseded"))
        .alias("invalidated_reason"),
        pl.when(is_current & ~expired).then(None).otherwise(now).alias("invalidated_at"),
        "created_at",
    ).sort("id")

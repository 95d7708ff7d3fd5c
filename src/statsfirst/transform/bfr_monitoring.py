"""bfr_monitoring ← linked legacy session_settings.params.bfr_parameters (mapping.md §bfr_monitoring).

One row per side with a recorded percentage_aop; unknown device, cuff and violation fields stay NULL.
"""

from __future__ import annotations

import polars as pl

from statsfirst.transform.scoring import BFR_SAFE_MAX_AOP, BFR_SAFE_MIN_AOP, DEFAULT_BFR_TARGET_AOP

SOURCE = "legacy_session_settings"


def build_bfr_monitoring(settings: pl.DataFrame) -> pl.DataFrame:
    sides = []
    for side in ("left", "right"):
        block = pl.col(f"bfr_{side}")
        sides.append(
            settings.select(
                "session_id",
                pl.lit(side).alias("side"),
                pl.lit(DEFAULT_BFR_TARGET_AOP).alias("target_pressure_aop"),
                block.struct.field("percentage_aop").alias("actual_pressure_aop"),
                block.struct.field("aop_measured").alias("patient_aop_baseline_mmhg"),
                block.struct.field("applied_pressure").alias("applied_pressure_mmhg"),
                block.struct.field("application_time_minutes").alias("bfr_session_duration_minutes"),
            )
        )
    frame = pl.concat(sides).filter(pl.col("actual_pressure_aop").is_not_null())
    return frame.with_columns(
        pl.col("actual_pressure_aop").is_between(BFR_SAFE_MIN_AOP, BFR_SAFE_MAX_AOP).alias("safety_gate_status"),
        pl.lit(SOURCE).alias("source"),
    ).sort(["session_id", "side"])

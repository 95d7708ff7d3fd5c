"""One pandera schema per target table. Columns the target checks are checked here first, so bad legacy values
are held back with a named reason instead of failing a whole batch in the database.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from statsfirst.transform.emg_statistics import MVC_METHODS
from statsfirst.transform.therapy_sessions import SESSION_TYPES

MVC_SOURCES = (
    "c3d_metadata",
    "patient_database",
    "self_calibration",
    "session_defaults",
    "backend_estimation",
    "user_provided",
    "global_provided",
)


def unit(name: str) -> pa.Column:
    """A rate or score in [0, 1] (NULL allowed)."""
    return pa.Column(pl.Float64, pa.Check.in_range(0.0, 1.0), nullable=True, required=True, name=name)


def percent(name: str) -> pa.Column:
    return pa.Column(pl.Float64, pa.Check.in_range(0.0, 100.0), nullable=True, name=name)


def non_negative(name: str) -> pa.Column:
    return pa.Column(pl.Float64, pa.Check.ge(0.0), nullable=True, name=name)


def positive(name: str) -> pa.Column:
    return pa.Column(pl.Float64, pa.Check.gt(0.0), nullable=True, name=name)


def finite(name: str) -> pa.Column:
    return pa.Column(
        pl.Float64,
        pa.Check(lambda d: d.lazyframe.select(pl.col(d.key).is_finite()), name="finite"),
        nullable=True,
        name=name,
    )


# the largest value of a PostgreSQL integer column: counts that arrive as JSON floats are checked against it
INT4_MAX = 2_147_483_647.0


def _integral() -> pa.Check:
    """A JSON float bound for an integer column must be whole: the load would otherwise round 7.5 to 8."""
    return pa.Check(lambda d: d.lazyframe.select(pl.col(d.key) == pl.col(d.key).round()), name="integral")


def integral_count(name: str) -> pa.Column:
    """Counts arrive as JSON floats; 12.0 is accepted, 7.5, -1 and 1e17 (no integer column holds it) are not."""
    return pa.Column(pl.Float64, [pa.Check.ge(0.0), pa.Check.le(INT4_MAX), _integral()], nullable=True, name=name)


def positive_whole(name: str, nullable: bool = True) -> pa.Column:
    """A target or a maximum for an integer column: whole and above zero (20.5 game points is not 20)."""
    return pa.Column(pl.Float64, [pa.Check.gt(0.0), pa.Check.le(INT4_MAX), _integral()], nullable=nullable, name=name)


def _le(smaller: str, larger: str) -> pa.Check:
    def check(d: pa.PolarsData) -> pl.LazyFrame:
        s, g = pl.col(smaller), pl.col(larger)
        return d.lazyframe.select((s <= g) | s.is_null() | g.is_null())

    return pa.Check(check, name=f"{smaller}_le_{larger}")


THERAPY_SESSIONS = pa.DataFrameSchema(
    {
        "id": pa.Column(pl.String, unique=True),
        "file_path": pa.Column(pl.String, pa.Check.str_length(min_value=1)),
        "file_hash": pa.Column(pl.String, pa.Check.str_matches(r"^[0-9a-f]{64}$")),
        "file_size_bytes": pa.Column(pl.Int64, pa.Check.ge(0)),
        "session_type": pa.Column(pl.String, pa.Check.isin(SESSION_TYPES), nullable=True),
        "original_sampling_rate": positive("original_sampling_rate"),
        "original_duration_seconds": positive("original_duration_seconds"),
        "original_sample_count": pa.Column(pl.Int64, pa.Check.gt(0), nullable=True),
        "channel_count": pa.Column(pl.Int64, pa.Check.gt(0), nullable=True),
        # the target CHECK: a non-empty JSON array ([] and null became NULL in the transform)
        "channel_names": pa.Column(
            pl.String,
            pa.Check(lambda d: d.lazyframe.select(pl.col(d.key).str.starts_with("[") & (pl.col(d.key) != "[]")),
                     name="json_array"),
            nullable=True,
        ),
        "processing_status": pa.Column(pl.String, pa.Check.isin(("pending", "processing", "completed", "failed"))),
        "processing_time_ms": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        "processing_version": pa.Column(pl.String),
    },
    strict=False,
    name="therapy_sessions",
)

EMG_STATISTICS = pa.DataFrameSchema(
    {
        "session_id": pa.Column(pl.String),
        "channel_name": pa.Column(pl.String, pa.Check.str_length(min_value=1)),
        "side": pa.Column(pl.String, pa.Check.isin(("left", "right")), nullable=True),
        "mvc_peak_value": non_negative("mvc_peak_value"),
        "raw_mvc_estimation_method": pa.Column(pl.String, pa.Check.isin(tuple(MVC_METHODS)), nullable=True),
        "target_contractions": positive_whole("target_contractions", nullable=False),
        **{
            c: integral_count(c)
            for c in (
                "total_contractions",
                "good_contractions_intensity",
                "good_contractions_duration",
                "good_contractions_both",
            )
        },
        **{c: unit(c) for c in ("completion_rate", "intensity_rate", "duration_rate", "muscle_compliance_score")},
        **{
            c: non_negative(c)
            for c in (
                "rms",
                "mav",
                "mpf",
                "mdf",
                "rms_std",
                "mav_std",
                "mpf_std",
                "mdf_std",
                "fatigue_index_std",
                "avg_duration_ms",
                "min_duration_ms",
                "max_duration_ms",
                "total_time_under_tension_ms",
                "avg_amplitude",
                "max_amplitude",
            )
        },
        **{
            c: finite(c)
            for c in ("fatigue_index", "rms_mean", "mav_mean", "mpf_mean", "mdf_mean", "fatigue_index_mean")
        },
        "processing_time_ms": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        "mvc_threshold_percentage": pa.Column(pl.Float64, [pa.Check.gt(0.0), pa.Check.le(1.0)]),
        "duration_threshold_seconds": pa.Column(pl.Float64, pa.Check.gt(0.0)),
    },
    checks=[
        _le("good_contractions_intensity", "total_contractions"),
        _le("good_contractions_duration", "total_contractions"),
        _le("good_contractions_both", "total_contractions"),
        _le("good_contractions_both", "good_contractions_intensity"),
        _le("good_contractions_both", "good_contractions_duration"),
        _le("min_duration_ms", "max_duration_ms"),
    ],
    strict=False,
    name="emg_statistics",
)

PERFORMANCE_SCORES = pa.DataFrameSchema(
    {
        **{
            c: percent(c)
            for c in (
                "overall_performance_score",
                "compliance_score",
                "symmetry_score",
                "effort_score",
                "game_score",
                "bfr_pressure_aop",
            )
        },
        "rpe_post_session": pa.Column(
            pl.Float64,
            [
                pa.Check.in_range(0.0, 10.0),
                pa.Check(
                    lambda d: d.lazyframe.select((pl.col(d.key) * 2) == (pl.col(d.key) * 2).round()), name="half_steps"
                ),
            ],
            nullable=True,
        ),
        "game_points_achieved": integral_count("game_points_achieved"),
        "game_points_maximum": positive_whole("game_points_maximum"),
        "session_duration_minutes": non_negative("session_duration_minutes"),
        **{
            f"{s}_muscle_{r}_rate": unit(f"{s}_muscle_{r}_rate")
            for s in ("left", "right")
            for r in ("completion", "intensity", "duration")
        },
    },
    checks=[_le("game_points_achieved", "game_points_maximum")],
    strict=False,
    name="performance_scores",
)

BFR_MONITORING = pa.DataFrameSchema(
    {
        "side": pa.Column(pl.String, pa.Check.isin(("left", "right"))),
        "target_pressure_aop": pa.Column(pl.Float64, pa.Check.in_range(0.0, 100.0)),
        "actual_pressure_aop": pa.Column(pl.Float64, pa.Check.in_range(0.0, 100.0)),
        "patient_aop_baseline_mmhg": non_negative("patient_aop_baseline_mmhg"),
        "applied_pressure_mmhg": non_negative("applied_pressure_mmhg"),
        "bfr_session_duration_minutes": non_negative("bfr_session_duration_minutes"),
    },
    strict=False,
    name="bfr_monitoring",
)


def _lt(smaller: str, larger: str) -> pa.Check:
    def check(d: pa.PolarsData) -> pl.LazyFrame:
        s, g = pl.col(smaller), pl.col(larger)
        return d.lazyframe.select((s < g) | s.is_null() | g.is_null())

    return pa.Check(check, name=f"{smaller}_lt_{larger}")


def threshold_fraction(name: str, nullable: bool = False) -> pa.Column:
    """An MVC threshold as a fraction in (0, 1] (the legacy percent / 100)."""
    return pa.Column(pl.Float64, [pa.Check.gt(0.0), pa.Check.le(1.0)], nullable=nullable, name=name)


SESSION_SETTINGS = pa.DataFrameSchema(
    {
        "mvc_threshold_percentage": threshold_fraction("mvc_threshold_percentage"),
        "duration_threshold_seconds": pa.Column(pl.Float64, pa.Check.gt(0.0)),
        "target_contractions_per_muscle": positive_whole("target_contractions_per_muscle", nullable=False),
        "mvc_user_left": non_negative("mvc_user_left"),
        "mvc_user_right": non_negative("mvc_user_right"),
        "target_contractions_left": positive_whole("target_contractions_left"),
        "target_contractions_right": positive_whole("target_contractions_right"),
        "settings_source": pa.Column(pl.String, pa.Check.isin(("legacy", "default"))),
    },
    strict=False,
    name="session_settings",
)

PROCESSING_PARAMETERS = pa.DataFrameSchema(
    {
        "sampling_rate_hz": positive("sampling_rate_hz"),
        "filter_low_cutoff_hz": non_negative("filter_low_cutoff_hz"),
        "filter_high_cutoff_hz": positive("filter_high_cutoff_hz"),
        "filter_order": pa.Column(pl.Float64, [pa.Check.in_range(1.0, 8.0), _integral()], nullable=True),
        "smoothing_window_ms": positive("smoothing_window_ms"),
        "mvc_threshold_percentage": threshold_fraction("mvc_threshold_percentage", nullable=True),
        "duration_threshold_ms": positive("duration_threshold_ms"),
        "mvc_source": pa.Column(pl.String, pa.Check.isin(MVC_SOURCES), nullable=True),
    },
    # the target CHECK: a band's low cut-off lies below its high cut-off whenever both are set
    checks=[_lt("filter_low_cutoff_hz", "filter_high_cutoff_hz")],
    strict=False,
    name="processing_parameters",
)

SIGNAL_PROCESSING_CACHE = pa.DataFrameSchema(
    {
        "processing_request_hash": pa.Column(pl.String, pa.Check.str_matches(r"^[0-9a-f]{64}$")),
        "processing_version": pa.Column(pl.String),
        "hit_count": pa.Column(pl.Int64, pa.Check.ge(0)),
        "processing_time_ms": pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
    },
    strict=False,
    name="signal_processing_cache",
)

SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "therapy_sessions": THERAPY_SESSIONS,
    "emg_statistics": EMG_STATISTICS,
    "performance_scores": PERFORMANCE_SCORES,
    "bfr_monitoring": BFR_MONITORING,
    "session_settings": SESSION_SETTINGS,
    "processing_parameters": PROCESSING_PARAMETERS,
    "signal_processing_cache": SIGNAL_PROCESSING_CACHE,
}

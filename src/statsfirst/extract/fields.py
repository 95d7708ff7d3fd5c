"""The analytics_data fields the mapping needs, per channel. One list shared by the SQL guard and the decoder."""

from __future__ import annotations

import polars as pl

# Numbers per channel (JSON floats, possibly null) that feed emg_statistics.
CHANNEL_NUMBERS: tuple[str, ...] = (
    "contraction_count",
    "good_contraction_count",
    "mvc_contraction_count",
    "duration_contraction_count",
    "avg_duration_ms",
    "min_duration_ms",
    "max_duration_ms",
    "total_time_under_tension_ms",
    "duration_threshold_actual_value",
    "avg_amplitude",
    "max_amplitude",
    "rms",
    "mav",
    "mvc_threshold_actual_value",
    "mpf",
    "mdf",
    "fatigue_index_fi_nsm5",
    "expected_contractions",
)

# The channel numbers emg_statistics keeps in a column of its own (sql/007 rebuilds them for analysis_results_view;
# statsfirst.compat_stored_channel_keys() must list the same). The others stay in the analysis' residual.
STORED_CHANNEL_NUMBERS: tuple[str, ...] = tuple(
    name for name in CHANNEL_NUMBERS if name not in ("expected_contractions", "duration_threshold_actual_value")
)
# Parts of a channel object the Statistics-First design does not keep (re-derived from the C3D file on demand).
NOT_KEPT_CHANNEL_PARTS: tuple[str, ...] = ("contractions", "signal_processing", "errors")

# Temporal statistics blocks and the fields of each that are kept (<metric>_mean / <metric>_std).
TEMPORAL_BLOCKS: dict[str, str] = {
    "rms_temporal_stats": "rms",
    "mav_temporal_stats": "mav",
    "mpf_temporal_stats": "mpf",
    "mdf_temporal_stats": "mdf",
    "fatigue_index_temporal_stats": "fatigue_index",
}
TEMPORAL_FIELDS: tuple[str, ...] = ("mean_value", "std_value")

# signal_processing.parameters_used numbers that feed processing_parameters.
PARAMETER_NUMBERS: tuple[str, ...] = (
    "highpass_cutoff_hz",
    "lowpass_cutoff_hz",
    "filter_order",
    "smoothing_window_ms",
    "sampling_rate",
)



# Extract column names: each field arrives as its JSON text and is parsed by polars (transform/channels.py).
def raw_number_column(name: str) -> str:
    return f"raw:{name}"


def block_shape_column(block: str) -> str:
    return f"shape:{block}"


def raw_block_column(block: str, field_name: str) -> str:
    return f"raw:{block}.{field_name}"


def raw_parameter_column(name: str) -> str:
    return f"raw:signal_processing.parameters_used.{name}"


# Legacy session_settings params: only the parts the mapping uses.
BFR_SIDE_DTYPE = pl.Struct(
    [
        pl.Field("aop_measured", pl.Float64),
        pl.Field("applied_pressure", pl.Float64),
        pl.Field("percentage_aop", pl.Float64),
        pl.Field("application_time_minutes", pl.Float64),
    ]
)
SETTINGS_DTYPE = pl.Struct(
    [
        pl.Field("post_session_rpe", pl.Float64),
        pl.Field("session_expected_contractions_ch1", pl.Float64),
        pl.Field("session_expected_contractions_ch2", pl.Float64),
        pl.Field("bfr_parameters", pl.Struct([pl.Field("left", BFR_SIDE_DTYPE), pl.Field("right", BFR_SIDE_DTYPE)])),
        pl.Field("channel_muscle_mapping", pl.Struct([pl.Field("CH1", pl.String), pl.Field("CH2", pl.String)])),
    ]
)
SETTINGS_NUMBER_PATHS: tuple[str, ...] = (
    "{post_session_rpe}",
    "{session_expected_contractions_ch1}",
    "{session_expected_contractions_ch2}",
    *(
        f"{{bfr_parameters,{side},{f}}}"
        for side in ("left", "right")
        for f in ("aop_measured", "applied_pressure", "percentage_aop", "application_time_minutes")
    ),
)


def residual_rest_column() -> str:
    return "residual:rest"


def residual_block_column(block: str) -> str:
    return f"residual:{block}"

"""How each target table is keyed and merged."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSpec:
    name: str
    conflict_key: tuple[str, ...]
    # extra parts of a deterministic id (md5 of table/session/parts) for tables whose id is not a legacy id
    derived_id_parts: tuple[str, ...] | None
    # columns whose old value is kept unless the row's other content changed (e.g. run-time stamps)
    sticky: dict[str, str] | None = None
    # target columns the load never writes: the derived id, the database's defaults, fields no legacy row holds
    not_loaded: tuple[str, ...] = ()
    # frame columns that only validation reads (checked by pandera, never loaded)
    validation_only: tuple[str, ...] = ()


STAMPED = ("id", "created_at")  # a derived id (merge.py) and the database's now()
TABLE_SPECS: tuple[TableSpec, ...] = (
    TableSpec("therapy_sessions", ("id",), None),
    TableSpec("emg_statistics", ("session_id", "channel_name"), ("channel_name",), not_loaded=STAMPED,
              validation_only=("raw_mvc_estimation_method", "target_contractions")),
    TableSpec("performance_scores", ("session_id",), (), not_loaded=(*STAMPED, "calculated_at")),
    TableSpec("bfr_monitoring", ("session_id", "side"), ("side",), not_loaded=(
        *STAMPED, "cuff_position", "cuff_size", "device_calibration_date", "device_serial_number",
        "max_pressure_deviation_aop", "monitoring_device", "monitoring_frequency_hz", "patient_limb_circumference_cm",
        "pressure_stability_coefficient", "safety_violations_count", "safety_violations_duration_seconds")),
    TableSpec("session_settings", ("session_id",), (), not_loaded=(
        *STAMPED, "updated_at", "audio_feedback_enabled", "duration_threshold_left", "duration_threshold_right",
        "game_difficulty_level", "haptic_feedback_enabled", "rest_between_contractions_seconds",
        "rest_between_sets_seconds", "visual_feedback_enabled")),
    TableSpec("signal_processing_cache", ("id",), None, sticky={"invalidated_at": "invalidated_reason"},
              not_loaded=("cache_data",)),
    TableSpec("processing_parameters", ("session_id",), (), not_loaded=(
        *STAMPED, "mvc_window_seconds", "rms_overlap_percent", "rms_window_ms")),
)
CHILD_TABLES = tuple(spec for spec in TABLE_SPECS if spec.name != "therapy_sessions")

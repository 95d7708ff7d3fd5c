"""CHECK and UNIQUE constraints, defaults, triggers and catalog hygiene of the eight Statistics-First tables.

Every CHECK constraint found in pg_constraint must be exercised by at least one violating case below, so a new
CHECK without a test fails ``test_every_check_constraint_has_a_violating_case``.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import errors
from psycopg.types.json import Jsonb

TABLES = (
    "therapy_sessions",
    "emg_statistics",
    "performance_scores",
    "bfr_monitoring",
    "session_settings",
    "export_history",
    "signal_processing_cache",
    "processing_parameters",
)
NO_GOOD = {
    "good_contractions_intensity": None,
    "good_contractions_duration": None,
    "good_contractions_both": None,
}
W = {"compliance": 0.40, "symmetry": 0.25, "effort": 0.20, "game": 0.15}

# (table, overrides of a valid row, constraint expected to reject it)
CASES: list[tuple[str, dict[str, Any], str]] = [
    # therapy_sessions
    ("therapy_sessions", {"file_hash": "ABC"}, "therapy_sessions_file_hash_check"),
    ("therapy_sessions", {"file_hash": "A" * 64}, "therapy_sessions_file_hash_check"),
    ("therapy_sessions", {"file_hash": "a" * 63 + "g"}, "therapy_sessions_file_hash_check"),
    ("therapy_sessions", {"file_size_bytes": -1}, "therapy_sessions_file_size_bytes_check"),
    ("therapy_sessions", {"session_type": "rehab"}, "therapy_sessions_session_type_check"),
    ("therapy_sessions", {"protocol_day": 0}, "therapy_sessions_protocol_day_check"),
    ("therapy_sessions", {"protocol_day": 15}, "therapy_sessions_protocol_day_check"),
    ("therapy_sessions", {"original_sampling_rate": 0.0}, "therapy_sessions_original_sampling_rate_check"),
    (
        "therapy_sessions",
        {"original_duration_seconds": 0.0},
        "therapy_sessions_original_duration_seconds_check",
    ),
    ("therapy_sessions", {"original_sample_count": 0}, "therapy_sessions_original_sample_count_check"),
    ("therapy_sessions", {"channel_names": Jsonb([])}, "therapy_sessions_channel_names_check"),
    ("therapy_sessions", {"channel_names": Jsonb({"CH1": 1})}, "therapy_sessions_channel_names_check"),
    ("therapy_sessions", {"channel_count": 0}, "therapy_sessions_channel_count_check"),
    ("therapy_sessions", {"processing_status": "done"}, "therapy_sessions_processing_status_check"),
    ("therapy_sessions", {"processing_time_ms": -1}, "therapy_sessions_processing_time_ms_check"),
    # emg_statistics
    ("emg_statistics", {"channel_name": ""}, "emg_statistics_channel_name_check"),
    ("emg_statistics", {"side": "both"}, "emg_statistics_side_check"),
    ("emg_statistics", {"mvc_peak_value": -1.0}, "emg_statistics_mvc_peak_value_check"),
    ("emg_statistics", {"mvc_rms_value": -1.0}, "emg_statistics_mvc_rms_value_check"),
    ("emg_statistics", {"mvc_confidence_score": 1.5}, "emg_statistics_mvc_confidence_score_check"),
    (
        "emg_statistics",
        {"mvc_calculation_method": "backend_estimation"},
        "emg_statistics_mvc_calculation_method_check",
    ),
    ("emg_statistics", {"total_contractions": -1, **NO_GOOD}, "emg_statistics_total_contractions_check"),
    (
        "emg_statistics",
        {"good_contractions_intensity": -1, "good_contractions_both": None},
        "emg_statistics_good_contractions_intensity_check",
    ),
    (
        "emg_statistics",
        {"good_contractions_duration": -1, "good_contractions_both": None},
        "emg_statistics_good_contractions_duration_check",
    ),
    ("emg_statistics", {"good_contractions_both": -1}, "emg_statistics_good_contractions_both_check"),
    ("emg_statistics", {"good_contractions_both": 11}, "emg_statistics_good_both_le_criteria_check"),
    # null-tolerant: with intensity unknown, good_both is still bounded by duration
    (
        "emg_statistics",
        {"good_contractions_intensity": None, "good_contractions_both": 12},
        "emg_statistics_good_both_le_criteria_check",
    ),
    ("emg_statistics", {"good_contractions_intensity": 13}, "emg_statistics_good_intensity_le_total_check"),
    ("emg_statistics", {"good_contractions_duration": 13}, "emg_statistics_good_duration_le_total_check"),
    (
        "emg_statistics",
        {
            "total_contractions": 5,
            "good_contractions_intensity": None,
            "good_contractions_duration": None,
            "good_contractions_both": 6,
        },
        "emg_statistics_good_both_le_total_check",
    ),
    ("emg_statistics", {"completion_rate": 1.1}, "emg_statistics_completion_rate_check"),
    ("emg_statistics", {"intensity_rate": -0.1}, "emg_statistics_intensity_rate_check"),
    ("emg_statistics", {"duration_rate": 2.0}, "emg_statistics_duration_rate_check"),
    ("emg_statistics", {"muscle_compliance_score": 1.01}, "emg_statistics_muscle_compliance_score_check"),
    ("emg_statistics", {"signal_quality_score": -0.5}, "emg_statistics_signal_quality_score_check"),
    ("emg_statistics", {"artifacts_detected": -1}, "emg_statistics_artifacts_detected_check"),
    ("emg_statistics", {"processing_confidence": 1.5}, "emg_statistics_processing_confidence_check"),
    *[
        ("emg_statistics", {column: -1.0}, f"emg_statistics_{column}_check")
        for column in (
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
        )
    ],
    ("emg_statistics", {"processing_time_ms": -1}, "emg_statistics_processing_time_ms_check"),
    ("emg_statistics", {"mvc_threshold_percentage": 0.0}, "emg_statistics_mvc_threshold_percentage_check"),
    ("emg_statistics", {"mvc_threshold_percentage": 1.01}, "emg_statistics_mvc_threshold_percentage_check"),
    (
        "emg_statistics",
        {"duration_threshold_seconds": 0.0},
        "emg_statistics_duration_threshold_seconds_check",
    ),
    # performance_scores
    (
        "performance_scores",
        {"overall_performance_score": 100.1},
        "performance_scores_overall_performance_score_check",
    ),
    ("performance_scores", {"compliance_score": -1.0}, "performance_scores_compliance_score_check"),
    ("performance_scores", {"symmetry_score": 100.5}, "performance_scores_symmetry_score_check"),
    ("performance_scores", {"effort_score": -0.1}, "performance_scores_effort_score_check"),
    ("performance_scores", {"game_score": 150.0}, "performance_scores_game_score_check"),
    (
        "performance_scores",
        {"performance_weights": Jsonb({"compliance": 0.5, "symmetry": 0.25, "effort": 0.25})},
        "performance_scores_performance_weights_check",
    ),
    (
        "performance_scores",
        {"performance_weights": Jsonb({**W, "game": 0.25})},
        "performance_scores_performance_weights_check",
    ),
    (
        "performance_scores",
        {"performance_weights": Jsonb({**W, "compliance": 1.2, "symmetry": -0.55})},
        "performance_scores_performance_weights_check",
    ),
    (
        "performance_scores",
        {"performance_weights": Jsonb({**W, "game": "0.15"})},
        "performance_scores_performance_weights_check",
    ),
    (
        "performance_scores",
        {"performance_weights": Jsonb({**W, "game": None})},
        "performance_scores_performance_weights_check",
    ),
    (
        "performance_scores",
        {"performance_weights": Jsonb([0.4, 0.25, 0.2, 0.15])},
        "performance_scores_performance_weights_check",
    ),
    ("performance_scores", {"bfr_pressure_aop": 101.0}, "performance_scores_bfr_pressure_aop_check"),
    ("performance_scores", {"bfr_compliance_gate": 2}, "performance_scores_bfr_compliance_gate_check"),
    ("performance_scores", {"rpe_post_session": 10.5}, "performance_scores_rpe_post_session_check"),
    ("performance_scores", {"rpe_post_session": -0.5}, "performance_scores_rpe_post_session_check"),
    ("performance_scores", {"game_points_achieved": -1}, "performance_scores_game_points_achieved_check"),
    (
        "performance_scores",
        {"game_points_maximum": 0, "game_points_achieved": None},
        "performance_scores_game_points_maximum_check",
    ),
    (
        "performance_scores",
        {"game_points_achieved": 1001},
        "performance_scores_game_points_achieved_le_maximum_check",
    ),
    (
        "performance_scores",
        {"session_duration_minutes": -1.0},
        "performance_scores_session_duration_minutes_check",
    ),
    *[
        (
            "performance_scores",
            {f"{side}_muscle_{rate}_rate": 1.5},
            f"performance_scores_{side}_muscle_{rate}_rate_check",
        )
        for side in ("left", "right")
        for rate in ("completion", "intensity", "duration")
    ],
    # bfr_monitoring
    ("bfr_monitoring", {"side": "both"}, "bfr_monitoring_side_check"),
    ("bfr_monitoring", {"target_pressure_aop": 101.0}, "bfr_monitoring_target_pressure_aop_check"),
    (
        "bfr_monitoring",
        {"actual_pressure_aop": 101.0, "safety_gate_status": False},
        "bfr_monitoring_actual_pressure_aop_check",
    ),
    (
        "bfr_monitoring",
        {"actual_pressure_aop": 50.0, "safety_gate_status": False},
        "bfr_monitoring_safety_gate_status_check",
    ),
    (
        "bfr_monitoring",
        {"actual_pressure_aop": 60.0, "safety_gate_status": True},
        "bfr_monitoring_safety_gate_status_check",
    ),
    (
        "bfr_monitoring",
        {"pressure_stability_coefficient": -0.1},
        "bfr_monitoring_pressure_stability_coefficient_check",
    ),
    ("bfr_monitoring", {"safety_violations_count": -1}, "bfr_monitoring_safety_violations_count_check"),
    (
        "bfr_monitoring",
        {"safety_violations_duration_seconds": -1.0},
        "bfr_monitoring_safety_violations_duration_seconds_check",
    ),
    ("bfr_monitoring", {"patient_aop_baseline_mmhg": -1.0}, "bfr_monitoring_patient_aop_baseline_mmhg_check"),
    ("bfr_monitoring", {"applied_pressure_mmhg": -1.0}, "bfr_monitoring_applied_pressure_mmhg_check"),
    (
        "bfr_monitoring",
        {"patient_limb_circumference_cm": 0.0},
        "bfr_monitoring_patient_limb_circumference_cm_check",
    ),
    (
        "bfr_monitoring",
        {"bfr_session_duration_minutes": -1.0},
        "bfr_monitoring_bfr_session_duration_minutes_check",
    ),
    ("bfr_monitoring", {"monitoring_frequency_hz": 0.0}, "bfr_monitoring_monitoring_frequency_hz_check"),
    ("bfr_monitoring", {"source": ""}, "bfr_monitoring_source_check"),
    # session_settings
    (
        "session_settings",
        {"mvc_calculation_method": "backend_estimation"},
        "session_settings_mvc_calculation_method_check",
    ),
    (
        "session_settings",
        {"mvc_threshold_percentage": 0.0},
        "session_settings_mvc_threshold_percentage_check",
    ),
    ("session_settings", {"mvc_user_left": -1.0}, "session_settings_mvc_user_left_check"),
    ("session_settings", {"mvc_user_right": -1.0}, "session_settings_mvc_user_right_check"),
    (
        "session_settings",
        {"performance_weights": Jsonb({**W, "effort": 0.3})},
        "session_settings_performance_weights_check",
    ),
    (
        "session_settings",
        {"duration_threshold_seconds": 0.0},
        "session_settings_duration_threshold_seconds_check",
    ),
    ("session_settings", {"duration_threshold_left": 0.0}, "session_settings_duration_threshold_left_check"),
    (
        "session_settings",
        {"duration_threshold_right": -2.0},
        "session_settings_duration_threshold_right_check",
    ),
    (
        "session_settings",
        {"target_contractions_per_muscle": 0},
        "session_settings_target_contractions_per_muscle_check",
    ),
    ("session_settings", {"target_contractions_left": 0}, "session_settings_target_contractions_left_check"),
    (
        "session_settings",
        {"target_contractions_right": -1},
        "session_settings_target_contractions_right_check",
    ),
    (
        "session_settings",
        {"channel_muscle_mapping": Jsonb(["CH1"])},
        "session_settings_channel_muscle_mapping_check",
    ),
    (
        "session_settings",
        {"rest_between_contractions_seconds": -1.0},
        "session_settings_rest_between_contractions_seconds_check",
    ),
    (
        "session_settings",
        {"rest_between_sets_seconds": -1.0},
        "session_settings_rest_between_sets_seconds_check",
    ),
    (
        "session_settings",
        {"bfr_target_pressure_aop": 101.0},
        "session_settings_bfr_target_pressure_aop_check",
    ),
    ("session_settings", {"game_difficulty_level": 11}, "session_settings_game_difficulty_level_check"),
    ("session_settings", {"game_difficulty_level": 0}, "session_settings_game_difficulty_level_check"),
    ("session_settings", {"settings_source": "configured"}, "session_settings_settings_source_check"),
    # export_history
    ("export_history", {"export_type": "everything"}, "export_history_export_type_check"),
    ("export_history", {"data_format": "pdf"}, "export_history_data_format_check"),
    ("export_history", {"processing_method": "magic"}, "export_history_processing_method_check"),
    ("export_history", {"channels_exported": Jsonb({"CH1": True})}, "export_history_channels_exported_check"),
    ("export_history", {"export_options": Jsonb([])}, "export_history_export_options_check"),
    ("export_history", {"export_hash": "xyz"}, "export_history_export_hash_check"),
    ("export_history", {"export_status": "done"}, "export_history_export_status_check"),
    ("export_history", {"file_size_bytes": -1}, "export_history_file_size_bytes_check"),
    # signal_processing_cache
    (
        "signal_processing_cache",
        {"processing_request_hash": "F" * 64},
        "signal_processing_cache_processing_request_hash_check",
    ),
    ("signal_processing_cache", {"cache_type": "full"}, "signal_processing_cache_cache_type_check"),
    (
        "signal_processing_cache",
        {"processing_time_ms": -1},
        "signal_processing_cache_processing_time_ms_check",
    ),
    ("signal_processing_cache", {"hit_count": -1}, "signal_processing_cache_hit_count_check"),
    (
        "signal_processing_cache",
        {"invalidated_reason": "stale"},
        "signal_processing_cache_invalidated_reason_check",
    ),
    # processing_parameters
    ("processing_parameters", {"sampling_rate_hz": 0.0}, "processing_parameters_sampling_rate_hz_check"),
    (
        "processing_parameters",
        {"filter_low_cutoff_hz": -1.0},
        "processing_parameters_filter_low_cutoff_hz_check",
    ),
    (
        "processing_parameters",
        {"filter_high_cutoff_hz": 0.0, "filter_low_cutoff_hz": None},
        "processing_parameters_filter_high_cutoff_hz_check",
    ),
    ("processing_parameters", {"filter_order": 0}, "processing_parameters_filter_order_check"),
    ("processing_parameters", {"filter_order": 9}, "processing_parameters_filter_order_check"),
    (
        "processing_parameters",
        {"smoothing_window_ms": 0.0},
        "processing_parameters_smoothing_window_ms_check",
    ),
    ("processing_parameters", {"rms_window_ms": 0.0}, "processing_parameters_rms_window_ms_check"),
    (
        "processing_parameters",
        {"rms_overlap_percent": 100.0},
        "processing_parameters_rms_overlap_percent_check",
    ),
    ("processing_parameters", {"mvc_window_seconds": 0.0}, "processing_parameters_mvc_window_seconds_check"),
    (
        "processing_parameters",
        {"mvc_threshold_percentage": 1.5},
        "processing_parameters_mvc_threshold_percentage_check",
    ),
    (
        "processing_parameters",
        {"duration_threshold_ms": 0.0},
        "processing_parameters_duration_threshold_ms_check",
    ),
    ("processing_parameters", {"mvc_source": "guess"}, "processing_parameters_mvc_source_check"),
    (
        "processing_parameters",
        {"algorithm_config": Jsonb([1])},
        "processing_parameters_algorithm_config_check",
    ),
]


def _case_id(case: tuple[str, dict[str, Any], str]) -> str:
    table, overrides, _ = case
    return f"{table}-{'-'.join(overrides)}"


@pytest.fixture
def session_id(conn: psycopg.Connection, kit: Any) -> Any:
    return kit.insert(conn, "therapy_sessions", kit.valid_session())


def _check_constraints(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        """
        SELECT c.conname FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid
        WHERE c.contype = 'c' AND t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%s)
        """,
        (list(TABLES),),
    ).fetchall()
    return {row[0] for row in rows}


def test_every_check_constraint_has_a_violating_case(conn: psycopg.Connection) -> None:
    in_database = _check_constraints(conn)
    exercised = {constraint for _, _, constraint in CASES}
    assert in_database - exercised == set(), "CHECK constraints without a violating test case"
    assert exercised - in_database == set(), "test cases name constraints that do not exist"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_check_constraint_rejects_violating_row(
    conn: psycopg.Connection, kit: Any, session_id: Any, case: tuple[str, dict[str, Any], str]
) -> None:
    table, overrides, constraint = case
    with pytest.raises(errors.CheckViolation) as raised:
        kit.insert(conn, table, kit.valid_row(table, session_id, **overrides))
    assert raised.value.diag.constraint_name == constraint


@pytest.mark.parametrize("table", TABLES)
def test_valid_row_inserts(conn: psycopg.Connection, kit: Any, session_id: Any, table: str) -> None:
    row_id = kit.insert(conn, table, kit.valid_row(table, session_id))
    assert row_id is not None


@pytest.mark.parametrize("table", TABLES)
def test_minimal_row_inserts_with_nulls_and_defaults(
    conn: psycopg.Connection, kit: Any, session_id: Any, table: str
) -> None:
    """Measurements the legacy data lacks are NULL: only keys and configuration are required."""
    required: dict[str, dict[str, Any]] = {
        "therapy_sessions": {
            "file_path": "root.c3d",
            "file_hash": "f" * 64,
            "file_size_bytes": 0,
            "processing_version": "unknown",
        },
        "emg_statistics": {"session_id": session_id, "channel_name": "CH1", "processing_version": "v2.1.0"},
        "performance_scores": {"session_id": session_id, "scoring_version": "s1"},
        "bfr_monitoring": {
            "session_id": session_id,
            "side": "right",
            "target_pressure_aop": 50.0,
            "actual_pressure_aop": 40.0,
            "safety_gate_status": False,
            "source": "legacy_session_settings",
        },
        "session_settings": {"session_id": session_id, "settings_source": "default"},
        "export_history": {"export_type": "research_dataset", "data_format": "parquet"},
        "signal_processing_cache": {
            "session_id": session_id,
            "processing_request_hash": "0" * 64,
            "processing_version": "v2.1.0",
            "cache_type": "legacy_analysis",
        },
        "processing_parameters": {"session_id": session_id, "processing_version": "v2.1.0"},
    }
    assert kit.insert(conn, table, required[table]) is not None


def test_defaults(conn: psycopg.Connection, kit: Any, session_id: Any) -> None:
    kit.insert(
        conn, "emg_statistics", {"session_id": session_id, "channel_name": "CH1", "processing_version": "v"}
    )
    kit.insert(conn, "session_settings", {"session_id": session_id, "settings_source": "default"})
    kit.insert(conn, "performance_scores", {"session_id": session_id, "scoring_version": "s"})
    emg = conn.execute(
        "SELECT mvc_threshold_percentage, duration_threshold_seconds FROM emg_statistics"
    ).fetchone()
    assert emg == (0.75, 2.0)
    settings = conn.execute(
        "SELECT target_contractions_per_muscle, bfr_target_pressure_aop, performance_weights "
        "FROM session_settings"
    ).fetchone()
    assert settings is not None
    assert settings[:2] == (12, 50.0)
    weights = {"compliance": 0.40, "symmetry": 0.25, "effort": 0.20, "game": 0.15}
    assert {k: float(v) for k, v in settings[2].items()} == weights
    scores = conn.execute("SELECT performance_weights, missing_components FROM performance_scores").fetchone()
    assert scores is not None
    assert {k: float(v) for k, v in scores[0].items()} == weights
    assert scores[1] == []


@pytest.mark.parametrize(
    "weights",
    [
        {"compliance": 0.50, "symmetry": 0.25, "effort": 0.25, "game": 0.00},
        {"compliance": 1 / 3, "symmetry": 1 / 3, "effort": 1 / 3, "game": 0},
        {"compliance": 0.4, "symmetry": 0.25, "effort": 0.2, "game": 0.15, "note": "extra keys are ignored"},
    ],
)
def test_performance_weights_accepts_valid_weights(
    conn: psycopg.Connection, kit: Any, session_id: Any, weights: dict[str, Any]
) -> None:
    kit.insert(
        conn,
        "performance_scores",
        kit.valid_child("performance_scores", session_id, performance_weights=Jsonb(weights)),
    )
    kit.insert(
        conn,
        "session_settings",
        kit.valid_child("session_settings", session_id, performance_weights=Jsonb(weights)),
    )


# (table, columns of the natural key besides session_id) - a second row with the same key is refused
UNIQUE_KEYS = [
    ("therapy_sessions", "therapy_sessions_file_path_key"),
    ("emg_statistics", "emg_statistics_session_channel_key"),
    ("performance_scores", "performance_scores_session_id_key"),
    ("bfr_monitoring", "bfr_monitoring_session_side_key"),
    ("session_settings", "session_settings_session_id_key"),
    ("processing_parameters", "processing_parameters_session_id_key"),
    ("signal_processing_cache", "signal_processing_cache_session_request_key"),
]


@pytest.mark.parametrize(("table", "constraint"), UNIQUE_KEYS)
def test_natural_key_is_unique(
    conn: psycopg.Connection, kit: Any, session_id: Any, table: str, constraint: str
) -> None:
    row = kit.valid_row(table, session_id)
    kit.insert(conn, table, row)
    duplicate = {**kit.valid_row(table, session_id), **{k: row[k] for k in _key_columns(table)}}
    with pytest.raises(errors.UniqueViolation) as raised:
        kit.insert(conn, table, duplicate)
    assert raised.value.diag.constraint_name == constraint


def _key_columns(table: str) -> tuple[str, ...]:
    return {
        "therapy_sessions": ("file_path",),
        "emg_statistics": ("session_id", "channel_name"),
        "bfr_monitoring": ("session_id", "side"),
        "signal_processing_cache": ("session_id", "processing_request_hash"),
    }.get(table, ("session_id",))


def test_cache_rows_of_one_session_differ_by_request_hash(
    conn: psycopg.Connection, kit: Any, session_id: Any
) -> None:
    """Several legacy analysis rows of one session (own ids, own request hashes) all fit."""
    for _ in range(3):
        kit.insert(conn, "signal_processing_cache", kit.valid_child("signal_processing_cache", session_id))
    count = conn.execute("SELECT count(*) FROM signal_processing_cache WHERE session_id = %s", (session_id,))
    assert count.fetchone() == (3,)


# ------------------------------------------------------------------------------------------------- triggers
def test_processing_version_change_invalidates_cache(
    conn: psycopg.Connection, kit: Any, session_id: Any
) -> None:
    other = kit.insert(conn, "therapy_sessions", kit.valid_session())
    valid = kit.insert(
        conn, "signal_processing_cache", kit.valid_child("signal_processing_cache", session_id)
    )
    expired = kit.insert(
        conn,
        "signal_processing_cache",
        kit.valid_child(
            "signal_processing_cache",
            session_id,
            cache_valid=False,
            invalidated_reason="expired",
            invalidated_at=kit.valid_session()["created_at"],
        ),
    )
    untouched = kit.insert(conn, "signal_processing_cache", kit.valid_child("signal_processing_cache", other))

    conn.execute("UPDATE therapy_sessions SET processing_status = 'completed' WHERE id = %s", (session_id,))
    assert conn.execute(
        "SELECT cache_valid FROM signal_processing_cache WHERE id = %s", (valid,)
    ).fetchone() == (True,)

    conn.execute("UPDATE therapy_sessions SET processing_version = 'v3.0.0' WHERE id = %s", (session_id,))
    rows = dict(
        (r[0], r[1:])
        for r in conn.execute(
            "SELECT id, cache_valid, invalidated_reason, invalidated_at = now() FROM signal_processing_cache"
        ).fetchall()
    )
    assert rows[valid] == (False, "session_reprocessed", True)
    assert rows[expired] == (False, "expired", False)  # already invalid: keeps its first reason
    assert rows[untouched] == (True, None, None)


@pytest.mark.parametrize("table", ["therapy_sessions", "session_settings"])
def test_updated_at_trigger(conn: psycopg.Connection, kit: Any, session_id: Any, table: str) -> None:
    from psycopg import sql

    row_id = (
        session_id
        if table == "therapy_sessions"
        else kit.insert(conn, table, kit.valid_child(table, session_id))
    )
    read = sql.SQL("SELECT updated_at FROM {} WHERE id = %s").format(sql.Identifier(table))
    original = conn.execute(read, (row_id,)).fetchone()
    column = "error_message" if table == "therapy_sessions" else "bfr_enabled"
    value = "boom" if table == "therapy_sessions" else False

    # a no-op update (idempotent re-load) keeps the timestamp
    conn.execute(
        sql.SQL("UPDATE {} SET updated_at = updated_at WHERE id = %s").format(sql.Identifier(table)),
        (row_id,),
    )
    assert conn.execute(read, (row_id,)).fetchone() == original
    # a change without updated_at gets now()
    conn.execute(
        sql.SQL("UPDATE {} SET {} = %s WHERE id = %s").format(sql.Identifier(table), sql.Identifier(column)),
        (value, row_id),
    )
    assert conn.execute(
        sql.SQL("SELECT updated_at = now() FROM {} WHERE id = %s").format(sql.Identifier(table)), (row_id,)
    ).fetchone() == (True,)
    # an explicit updated_at (legacy value carried by the migration) is kept
    conn.execute(
        sql.SQL("UPDATE {} SET {} = NULL, updated_at = '2024-01-01T00:00:00Z' WHERE id = %s").format(
            sql.Identifier(table),
            sql.Identifier("error_message" if table == "therapy_sessions" else "mvc_user_left"),
        ),
        (row_id,),
    )
    assert conn.execute(read, (row_id,)).fetchone()[0].year == 2024  # type: ignore[index]


# ------------------------------------------------------------------------------------------------- catalog
def test_every_table_and_column_has_a_comment(conn: psycopg.Connection) -> None:
    missing = conn.execute(
        """
        SELECT c.relname, a.attname
        FROM pg_class c
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%s)
          AND (obj_description(c.oid, 'pg_class') IS NULL OR col_description(c.oid, a.attnum) IS NULL)
        """,
        (list(TABLES),),
    ).fetchall()
    assert missing == []
    found = conn.execute(
        "SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
        "AND relname = ANY(%s) "
        "AND relkind = 'r'",
        (list(TABLES),),
    ).fetchone()
    assert found == (len(TABLES),)


def test_every_function_policy_and_trigger_has_a_comment(conn: psycopg.Connection) -> None:
    functions = conn.execute(
        "SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace "
        "AND proname LIKE 'statsfirst\\_%%' AND obj_description(oid, 'pg_proc') IS NULL"
    ).fetchall()
    policies = conn.execute(
        "SELECT p.polname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%s) "
        "AND obj_description(p.oid, 'pg_policy') IS NULL",
        (list(TABLES),),
    ).fetchall()
    triggers = conn.execute(
        "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%s) "
        "AND NOT t.tgisinternal "
        "AND obj_description(t.oid, 'pg_trigger') IS NULL",
        (list(TABLES),),
    ).fetchall()
    assert (functions, policies, triggers) == ([], [], [])


def test_every_function_pins_its_search_path(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT proname, proconfig FROM pg_proc WHERE pronamespace = current_schema()::regnamespace "
        "AND proname LIKE 'statsfirst\\_%%'"
    ).fetchall()
    assert len(rows) >= 7
    for name, config in rows:
        assert config and any(c.startswith("search_path=") for c in config), name
        assert current_schema_in(conn, config), name


def current_schema_in(conn: psycopg.Connection, config: list[str]) -> bool:
    schema = conn.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
    path = next(c for c in config if c.startswith("search_path="))
    return path.removeprefix("search_path=").split(",")[0].strip().strip('"') == schema


def test_every_table_has_rls_enabled(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT relname, relrowsecurity FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
        "AND relname = ANY(%s)",
        (list(TABLES),),
    ).fetchall()
    assert sorted(rows) == sorted((t, True) for t in TABLES)


def test_clinical_read_path_indexes_exist(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    ).fetchall()
    defs = [f"{t}: {d.split(' USING ', 1)[1]}" for t, d in rows]
    expected = [
        "therapy_sessions: btree (patient_id, session_date DESC)",
        "therapy_sessions: btree (therapist_id, session_date DESC)",
        "therapy_sessions: btree (file_hash)",
        "emg_statistics: btree (session_id, side)",
        "emg_statistics: btree (muscle_compliance_score)",
        "performance_scores: btree (overall_performance_score)",
        "bfr_monitoring: btree (session_id) WHERE (NOT safety_gate_status)",
        "export_history: btree (exported_by, export_timestamp DESC)",
        "signal_processing_cache: btree (session_id, cache_type) WHERE cache_valid",
        "signal_processing_cache: btree (expires_at)",
    ]
    assert [e for e in expected if e not in defs] == []


def test_legacy_tables_are_untouched(stats_conn: psycopg.Connection) -> None:
    """The legacy session_settings keeps living in public next to the new one in `stats`."""
    columns = stats_conn.execute(
        "SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute "
        "WHERE attrelid = 'public.session_settings'::regclass AND attnum > 0 AND NOT attisdropped"
    ).fetchone()
    assert columns is not None
    assert {"user_id", "session_id", "params"} <= set(columns[0])
    assert stats_conn.execute("SELECT to_regclass('stats.session_settings') IS NOT NULL").fetchone() == (
        True,
    )

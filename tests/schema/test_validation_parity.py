"""Validation catches what the target's CHECKs reject, before the database sees it.

Every violating case of test_constraints.py (one per side of each CHECK) is put through the pandera schemas as
the pipeline's frame of that table would carry it: validation must hold the row back, so a bad legacy value is
quarantined with a named reason instead of failing a batch in the database (and costing a bisection). The valid
rows pass. A CHECK the pipeline cannot violate (a column it never fills, or a value it builds itself) is listed in
EXEMPT with the reason; the list may only name checks pandera does not already cover.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import polars as pl
import pytest
from psycopg.types.json import Jsonb
from test_constraints import CASES

from statsfirst.load.table_specs import TABLE_SPECS
from statsfirst.validate.run_checks import validate_tables
from statsfirst.validate.schemas import SCHEMAS

ALWAYS_NULL = "no legacy source: the pipeline leaves it NULL"
BUILT = "the pipeline builds the value itself; no legacy value reaches it"
EXEMPT = {
    "therapy_sessions_protocol_day_check": "protocol_day is not recorded in legacy: always NULL (mapping.md)",
    "emg_statistics_mvc_rms_value_check": ALWAYS_NULL,
    "emg_statistics_mvc_confidence_score_check": ALWAYS_NULL,
    "emg_statistics_signal_quality_score_check": ALWAYS_NULL,
    "emg_statistics_artifacts_detected_check": ALWAYS_NULL,
    "emg_statistics_processing_confidence_check": ALWAYS_NULL,
    "emg_statistics_mvc_calculation_method_check": (
        "mapped from raw_mvc_estimation_method, which validation checks (isin MVC_METHODS); the mapping only yields "
        "allowed names"),
    "session_settings_mvc_calculation_method_check": "the current analysis' mapped method, else a constant",
    "performance_scores_performance_weights_check": (
        "built from the target's recorded configuration, validated when recorded (PerformanceWeights)"),
    "session_settings_performance_weights_check": (
        "built from the target's recorded configuration, validated when recorded (PerformanceWeights)"),
    "performance_scores_bfr_compliance_gate_check": BUILT + " (0 or 1 from the BFR pressure)",
    "bfr_monitoring_safety_gate_status_check": BUILT + " (from actual_pressure_aop, which validation checks)",
    "bfr_monitoring_source_check": BUILT,
    "session_settings_bfr_target_pressure_aop_check": BUILT + " (the recorded default)",
    "signal_processing_cache_cache_type_check": BUILT,
    "signal_processing_cache_invalidated_reason_check": BUILT,
    "session_settings_channel_muscle_mapping_check": (
        "a legacy channel_muscle_mapping that is not an object of strings is held back by the extract's type check "
        "of the params (SETTINGS_QUERY)"),
    "processing_parameters_algorithm_config_check": "the extract reads parameters_used only when it is an object",
}
# frame columns only validation reads, in their valid form (a database row does not have them)
VALIDATION_ONLY = {"emg_statistics": {"raw_mvc_estimation_method": "backend_estimation", "target_contractions": 12.0}}
NOT_LOADED = {spec.name: set(spec.not_loaded) for spec in TABLE_SPECS}
SESSION = uuid.UUID(int=7, version=4)


def as_frame(table: str, row: dict[str, Any]) -> pl.DataFrame:
    """The row as the pipeline's frame carries it: ids and JSON as text, each checked column in pandera's dtype."""
    plain = {k: (json.dumps(v.obj) if isinstance(v, Jsonb) else str(v) if isinstance(v, uuid.UUID) else v)
             for k, v in row.items()}
    plain.setdefault("id", str(SESSION))
    plain = {**VALIDATION_ONLY.get(table, {}), **plain}
    frame = pl.DataFrame([plain], infer_schema_length=None)
    casts = {name: column.dtype.type for name, column in SCHEMAS[table].columns.items() if name in frame.columns}
    return frame.with_columns(pl.col(name).cast(dtype, strict=False) for name, dtype in casts.items())


def problems_of(table: str, row: dict[str, Any]) -> pl.DataFrame:
    tables = {name: pl.DataFrame() for name in SCHEMAS} | {table: as_frame(table, row)}
    return validate_tables(tables)


# a CHECK on columns the load never writes (TableSpec.not_loaded) cannot be violated by the pipeline
CHECKED = [case for case in CASES if case[0] in SCHEMAS and case[2] not in EXEMPT
           and not set(case[1]) <= NOT_LOADED.get(case[0], set())]


@pytest.mark.parametrize("case", CHECKED, ids=[f"{c[2]}-{'-'.join(c[1])}" for c in CHECKED])
def test_validation_holds_back_what_the_check_rejects(kit: Any, case: tuple[str, dict[str, Any], str]) -> None:
    table, overrides, constraint = case
    problems = problems_of(table, kit.valid_row(table, SESSION, **overrides))
    assert problems.height > 0, f"{constraint} rejects {overrides}, but validation lets it through"


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_the_valid_rows_pass_validation(kit: Any, table: str) -> None:
    assert problems_of(table, kit.valid_row(table, SESSION)).height == 0


def test_exemptions_name_only_unchecked_rules(kit: Any) -> None:
    """An exemption is for a check pandera cannot see; once validation covers it, the exemption must go."""
    for constraint in EXEMPT:
        table, overrides = next((t, o) for t, o, c in CASES if c == constraint)
        assert problems_of(table, kit.valid_row(table, SESSION, **overrides)).height == 0, constraint


@pytest.mark.parametrize(
    ("table", "column"),
    [("performance_scores", "game_points_maximum"), ("session_settings", "target_contractions_left"),
     ("session_settings", "target_contractions_right"), ("emg_statistics", "total_contractions")],
)
def test_a_fraction_bound_for_an_integer_column_is_held_back_not_rounded(kit: Any, table: str, column: str) -> None:
    """The load casts a JSON float to the target's integer type by rounding: a legacy 20.5 would be stored as 20
    (a value the legacy data does not contain), so validation holds the session back with the column named."""
    row = kit.valid_row(table, SESSION)
    whole = problems_of(table, {**row, column: 2000.0})
    assert whole.height == 0, whole
    problems = problems_of(table, {**row, column: 2000.5})
    assert column in problems["column"].to_list(), problems

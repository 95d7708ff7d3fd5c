"""Fixtures for the Statistics-First schema tests: a legacy database with the eight tables applied.

Each target schema gets one database for the whole test session (built with the real migration runner); every
test works inside one transaction that is rolled back, so tests never see each other's rows.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy

TARGET_TABLES = (
    "therapy_sessions",
    "emg_statistics",
    "performance_scores",
    "bfr_monitoring",
    "session_settings",
    "export_history",
    "signal_processing_cache",
    "processing_parameters",
)
CHILD_TABLES = tuple(t for t in TARGET_TABLES if t != "therapy_sessions")
NOW = dt.datetime(2025, 8, 12, 10, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class SchemaDb:
    """A database holding the legacy tables (in public) and the Statistics-First tables (in ``schema``)."""

    dsn: ResolvedDsn
    schema: str


def _build(make_database: Callable[[], ResolvedDsn], schema: str) -> SchemaDb:
    dsn = make_database()
    # In `public` the legacy session_settings would collide with the new table (the runner refuses), so the
    # public variant is a legacy database without it, as a deployment that archived it would be.
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=schema != "public")
    apply_migrations(dsn, target_schema=schema, log=lambda *_: None)
    return SchemaDb(dsn, schema)


@pytest.fixture(scope="session")
def schema_dbs(make_database: Callable[[], ResolvedDsn]) -> Iterator[dict[str, SchemaDb]]:
    """Lazily built, one database per target schema, shared by the whole test session."""
    built: dict[str, SchemaDb] = {}

    class _Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, schema: str) -> SchemaDb:
            built[schema] = _build(make_database, schema)
            self[schema] = built[schema]
            return built[schema]

    yield _Lazy()


@pytest.fixture(params=["public", "stats"])
def schema_db(request: pytest.FixtureRequest, schema_dbs: dict[str, SchemaDb]) -> SchemaDb:
    """The schema applied to the target schema `public` and to `stats` (tests run once for each)."""
    return schema_dbs[request.param]


@pytest.fixture
def stats_db(schema_dbs: dict[str, SchemaDb]) -> SchemaDb:
    """The schema applied to target schema `stats` (next to the legacy session_settings table)."""
    return schema_dbs["stats"]


def _connect(db: SchemaDb) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(db.dsn.conninfo)
    try:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(db.schema)))
        yield conn
    finally:
        conn.rollback()
        conn.close()


@pytest.fixture
def conn(schema_db: SchemaDb) -> Iterator[psycopg.Connection]:
    """A connection (table owner) to ``schema_db`` in an open transaction, rolled back after the test."""
    yield from _connect(schema_db)


@pytest.fixture
def stats_conn(stats_db: SchemaDb) -> Iterator[psycopg.Connection]:
    """Like ``conn`` but only for the `stats` target schema."""
    yield from _connect(stats_db)


# --------------------------------------------------------------------------------------------- row builders
def insert(conn: psycopg.Connection, table: str, values: dict[str, Any]) -> uuid.UUID | None:
    """INSERT one row (omitted columns take their defaults); returns its id."""
    columns = list(values)
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    row = conn.execute(query, [values[c] for c in columns]).fetchone()
    return row[0] if row else None


@dataclass
class Legacy:
    """Rows of the legacy tables the new schema references."""

    therapist_id: uuid.UUID
    therapist_user_id: uuid.UUID
    patient_code: str
    researcher_id: uuid.UUID


def add_therapist(conn: psycopg.Connection) -> tuple[uuid.UUID, uuid.UUID]:
    user_id = uuid.uuid4()
    row = conn.execute("INSERT INTO therapists (user_id) VALUES (%s) RETURNING id", (user_id,)).fetchone()
    assert row is not None
    return row[0], user_id


def add_patient(conn: psycopg.Connection, therapist_id: uuid.UUID, code: str | None = None) -> str:
    code = code or f"P{uuid.uuid4().hex[:6]}"
    conn.execute("INSERT INTO patients (therapist_id, patient_code) VALUES (%s, %s)", (therapist_id, code))
    return code


def add_researcher(conn: psycopg.Connection) -> uuid.UUID:
    researcher_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO researcher_profiles (id, full_name, role, access_level) VALUES (%s, 'R', "
        "'researcher', 'full')",
        (researcher_id,),
    )
    return researcher_id


@pytest.fixture
def legacy(conn: psycopg.Connection) -> Legacy:
    therapist_id, user_id = add_therapist(conn)
    return Legacy(therapist_id, user_id, add_patient(conn, therapist_id), add_researcher(conn))


def valid_session(**overrides: Any) -> dict[str, Any]:
    """A therapy_sessions row with every column set to a valid value."""
    row: dict[str, Any] = {
        "file_path": f"P005/Ghostly_Emg_{uuid.uuid4().hex}.c3d",
        "file_hash": uuid.uuid4().hex * 2,
        "file_size_bytes": 2_345_678,
        "patient_id": None,
        "therapist_id": None,
        "session_code": "S01",
        "session_date": NOW,
        "session_type": "training",
        "protocol_day": 3,
        "original_sampling_rate": 990.0,
        "original_duration_seconds": 175.5,
        "original_sample_count": 173_745,
        "channel_names": Jsonb(["CH1", "CH2"]),
        "channel_count": 2,
        "game_metadata": Jsonb({"player_name": "P005", "game_name": "Ghostly"}),
        "processing_version": "v2.1.0",
        "processing_status": "completed",
        "processing_time_ms": 1000,
        "error_message": None,
        "created_at": NOW,
        "updated_at": NOW,
        "processed_at": NOW,
    }
    row.update(overrides)
    return row


WEIGHTS = {"compliance": 0.40, "symmetry": 0.25, "effort": 0.20, "game": 0.15}


def valid_child(table: str, session: uuid.UUID | None, /, **overrides: Any) -> dict[str, Any]:
    """A row of a child table with every column set to a valid value."""
    rows: dict[str, dict[str, Any]] = {
        "emg_statistics": {
            "channel_name": "CH1",
            "side": "left",
            "mvc_peak_value": 0.0012,
            "mvc_rms_value": 0.0009,
            "mvc_confidence_score": 0.9,
            "mvc_calculation_method": "backend_95percentile",
            "total_contractions": 12,
            "good_contractions_intensity": 10,
            "good_contractions_duration": 11,
            "good_contractions_both": 9,
            "completion_rate": 1.0,
            "intensity_rate": 10 / 12,
            "duration_rate": 11 / 12,
            "muscle_compliance_score": 0.9166,
            "signal_quality_score": 0.8,
            "noise_level_db": -40.0,
            "artifacts_detected": 0,
            "processing_confidence": 0.95,
            "rms": 1e-4,
            "mav": 8e-5,
            "mpf": 80.5,
            "mdf": 70.1,
            "fatigue_index": -3e-12,
            "rms_mean": 1e-4,
            "rms_std": 1e-5,
            "mav_mean": 8e-5,
            "mav_std": 1e-5,
            "mpf_mean": 80.0,
            "mpf_std": 5.0,
            "mdf_mean": 70.0,
            "mdf_std": 4.0,
            "fatigue_index_mean": 1e-12,
            "fatigue_index_std": 1e-13,
            "avg_duration_ms": 2500.0,
            "min_duration_ms": 1200.0,
            "max_duration_ms": 4000.0,
            "total_time_under_tension_ms": 30000.0,
            "avg_amplitude": 2e-4,
            "max_amplitude": 9e-4,
            "processing_pipeline": "highpass -> rectify -> lowpass",
            "processing_version": "v2.1.0",
            "processing_time_ms": 1000,
            "mvc_threshold_percentage": 0.75,
            "duration_threshold_seconds": 2.0,
            "processed_at": NOW,
        },
        "performance_scores": {
            "overall_performance_score": 92.3,
            "compliance_score": 87.1,
            "symmetry_score": 98.8,
            "effort_score": 100.0,
            "game_score": 85.0,
            "performance_weights": Jsonb(WEIGHTS),
            "bfr_pressure_aop": 52.0,
            "bfr_compliance_gate": 1,
            "rpe_post_session": 6.5,
            "game_points_achieved": 850,
            "game_points_maximum": 1000,
            "session_duration_minutes": 15.0,
            "left_muscle_completion_rate": 0.9167,
            "left_muscle_intensity_rate": 0.818,
            "left_muscle_duration_rate": 0.909,
            "right_muscle_completion_rate": 1.0,
            "right_muscle_intensity_rate": 0.667,
            "right_muscle_duration_rate": 0.917,
            "missing_components": [],
            "scoring_version": "metrics-2025-08",
            "calculated_at": NOW,
        },
        "bfr_monitoring": {
            "side": "left",
            "target_pressure_aop": 50.0,
            "actual_pressure_aop": 52.0,
            "pressure_stability_coefficient": 0.05,
            "safety_gate_status": True,
            "safety_violations_count": 0,
            "safety_violations_duration_seconds": 0.0,
            "max_pressure_deviation_aop": 2.0,
            "patient_aop_baseline_mmhg": 180.0,
            "applied_pressure_mmhg": 94.0,
            "patient_limb_circumference_cm": 52.0,
            "cuff_size": "large",
            "cuff_position": "proximal thigh",
            "monitoring_device": "Delfi PTS",
            "device_calibration_date": dt.date(2025, 1, 2),
            "device_serial_number": "SN-1",
            "bfr_session_duration_minutes": 15.0,
            "monitoring_frequency_hz": 10.0,
            "source": "legacy_session_settings",
        },
        "session_settings": {
            "mvc_calculation_method": "user_defined",
            "mvc_threshold_percentage": 0.75,
            "mvc_user_left": 0.001,
            "mvc_user_right": 0.0011,
            "performance_weights": Jsonb(WEIGHTS),
            "duration_threshold_seconds": 2.0,
            "duration_threshold_left": 2.0,
            "duration_threshold_right": 2.5,
            "target_contractions_per_muscle": 12,
            "target_contractions_left": 12,
            "target_contractions_right": 10,
            "channel_muscle_mapping": Jsonb({"CH1": "Left Quadriceps", "CH2": "Right Quadriceps"}),
            "rest_between_contractions_seconds": 5.0,
            "rest_between_sets_seconds": 60.0,
            "bfr_enabled": True,
            "bfr_target_pressure_aop": 50.0,
            "game_difficulty_level": 5,
            "visual_feedback_enabled": True,
            "audio_feedback_enabled": False,
            "haptic_feedback_enabled": False,
            "settings_source": "legacy",
            "created_at": NOW,
            "updated_at": NOW,
        },
        "export_history": {
            "export_type": "session_statistics",
            "data_format": "csv",
            "processing_method": "statistics_only",
            "channels_exported": Jsonb(["CH1", "CH2"]),
            "export_options": Jsonb({"include_raw": False}),
            "exported_by": None,
            "export_timestamp": NOW,
            "export_hash": "0" * 64,
            "export_status": "completed",
            "validation_checks": Jsonb({"rows": "ok"}),
            "error_message": None,
            "file_size_bytes": 1234,
        },
        "signal_processing_cache": {
            "processing_request_hash": uuid.uuid4().hex * 2,
            "processing_version": "v2.1.0",
            "processing_params": Jsonb({}),
            "cache_type": "legacy_analysis",
            "cache_data": None,
            "processing_time_ms": 1000,
            "hit_count": 3,
            "last_accessed_at": NOW,
            "expires_at": NOW + dt.timedelta(days=30),
            "cache_valid": True,
            "invalidated_reason": None,
            "invalidated_at": None,
            "created_at": NOW,
        },
        "processing_parameters": {
            "sampling_rate_hz": 990.0,
            "filter_low_cutoff_hz": 20.0,
            "filter_high_cutoff_hz": 450.0,
            "filter_order": 4,
            "smoothing_window_ms": 50.0,
            "rms_window_ms": 100.0,
            "rms_overlap_percent": 50.0,
            "mvc_window_seconds": 3.0,
            "mvc_threshold_percentage": 0.75,
            "duration_threshold_ms": 2000.0,
            "mvc_source": "backend_estimation",
            "algorithm_config": Jsonb({"filter_order": 4}),
            "processing_version": "v2.1.0",
        },
    }
    row = {"session_id": session, **rows[table]}
    row.update(overrides)
    return row


def valid_row(table: str, session: uuid.UUID | None, /, **overrides: Any) -> dict[str, Any]:
    """A valid row of ``table`` (a child row of ``session``)."""
    return (
        valid_session(**overrides)
        if table == "therapy_sessions"
        else valid_child(table, session, **overrides)
    )


def set_claims(conn: psycopg.Connection, role: str, sub: uuid.UUID | None) -> None:
    """Act as a Supabase client for the rest of the transaction: SET ROLE plus request.jwt.claims."""
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    claims = {"role": role} if sub is None else {"sub": str(sub), "role": role}
    conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))


def reset_claims(conn: psycopg.Connection) -> None:
    conn.execute("RESET ROLE")
    conn.execute("SELECT set_config('request.jwt.claims', '', true)")


@pytest.fixture
def kit() -> SimpleNamespace:
    """The row builders and role helpers above, for the test modules (a conftest is not importable)."""
    return SimpleNamespace(
        insert=insert,
        valid_row=valid_row,
        valid_session=valid_session,
        valid_child=valid_child,
        add_therapist=add_therapist,
        add_patient=add_patient,
        add_researcher=add_researcher,
        set_claims=set_claims,
        reset_claims=reset_claims,
        TARGET_TABLES=TARGET_TABLES,
        CHILD_TABLES=CHILD_TABLES,
    )

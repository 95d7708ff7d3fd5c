"""Helpers shared by the migration-flow tests: hand-built legacy sessions and seeded legacy databases.

A module of its own (not conftest.py) so that test modules of other folders, which have conftests of their own,
never import the wrong one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate
from statsfirst.pipeline.summary import MigrationSummary
from statsfirst.target_tables import TARGET_TABLES

TARGET = "stats"
SEED = 11
SESSIONS = 1500
BAD_FRACTION = 0.05


def quiet(_: object) -> None:
    return None


def run(dsn: ResolvedDsn, **options: Any) -> MigrationSummary:
    return migrate(dsn, MigrateOptions(**options), log=quiet)


def seeded_database(make_database: Callable[[], ResolvedDsn], sessions: int = SESSIONS,
                    seed: int = SEED) -> ResolvedDsn:
    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
        seed_legacy(conn, sessions=sessions, seed=seed, bad_fraction=BAD_FRACTION)
    apply_migrations(dsn, target_schema=TARGET, log=quiet)
    return dsn


def table_digests(dsn: ResolvedDsn) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every target table's rows (as text, in a total order)."""
    out: dict[str, tuple[int, str]] = {}
    with psycopg.connect(dsn.conninfo) as conn:
        for name in TARGET_TABLES:
            row = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                f"FROM {TARGET}.{name} t"
            ).fetchone()
            assert row is not None
            out[name] = (int(row[0]), str(row[1]))
    return out


def scalar(dsn: ResolvedDsn, query: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(dsn.conninfo) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def rows(dsn: ResolvedDsn, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn.conninfo) as conn:
        return conn.execute(query, params).fetchall()


# ------------------------------------------------------------------------------------------------ hand-built rows
def channel(total: float, mvc: float, duration: float, good: float, expected: float | None = 12) -> dict[str, Any]:
    return {
        "contraction_count": total,
        "mvc_contraction_count": mvc,
        "duration_contraction_count": duration,
        "good_contraction_count": good,
        "expected_contractions": expected,
        "mvc_threshold_actual_value": 0.3,
        "duration_threshold_actual_value": 2000.0,
        "mvc_estimation_method": "backend_estimation",
    }


WORKED_ANALYTICS = {"CH1": channel(11, 9, 10, 8), "CH2": channel(12, 8, 11, 7)}


def bfr_side(pct: float) -> dict[str, Any]:
    return {"percentage_aop": pct, "aop_measured": 180, "applied_pressure": round(180 * pct / 100, 1),
            "application_time_minutes": 15}


WORKED_PARAMS: dict[str, Any] = {
    "post_session_rpe": 6,
    "bfr_parameters": {"left": bfr_side(52), "right": bfr_side(52)},
    # the worked example names its sides (CH1 left, CH2 right), as the real app writes them
    "channel_muscle_mapping": {"CH1": "Left Quadriceps", "CH2": "Right Quadriceps"},
}


@dataclass
class HandBuilt:
    """A legacy database with one therapist and patient P001; add sessions with :meth:`add_session`."""

    dsn: ResolvedDsn
    therapist_id: str
    counter: int = 0

    def add_session(self, analytics: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                    game: dict[str, Any] | None = None) -> str:
        self.counter += 1
        n = self.counter
        session_code = f"S{n}"
        path = f"P001/{session_code}/Ghostly_Emg_20230321_17-50-{n % 60:02d}-0881.c3d"
        file_hash = hashlib.sha256(path.encode()).hexdigest()
        session_id = str(uuid.UUID(int=n, version=4))
        analysis_id = str(uuid.UUID(int=10_000 + n, version=4))
        with psycopg.connect(self.dsn.conninfo) as conn:
            conn.execute(
                "INSERT INTO public.c3d_metadata (id, file_path, file_hash, file_size_bytes, patient_id, therapist_id,"
                " session_id, session_date, game_metadata, channel_names, channel_count, sampling_rate,"
                " duration_seconds, frame_count, resolved_patient_id, resolved_therapist_id, processing_status,"
                " processing_version, created_at, updated_at, processed_at) VALUES (%s, %s, %s, 1000000, 'P001',"
                " %s, %s, '2023-03-21 17:50:17', %s, '[\"CH1\", \"CH2\"]', 2, 990, 175.0, 173250, 'P001', %s,"
                " 'completed', 'v2.1.0', '2023-03-21T18:00:00Z', '2023-03-21T18:00:00Z', '2023-03-21T18:01:00Z')",
                (session_id, path, file_hash, self.therapist_id, session_code,
                 json.dumps(game if game is not None else {"game_points_achieved": "850",
                                                           "game_points_maximum": "1000"}),
                 self.therapist_id),
            )
            conn.execute(
                "INSERT INTO public.analysis_results (id, c3d_metadata_id, file_hash, processing_version,"
                " processing_params, analytics_data, processing_time_ms, cache_hits, created_at, expires_at,"
                " last_accessed_at) VALUES (%s, %s, %s, 'v2.1.0', '{}', %s, 1200, 0, '2023-03-21T18:01:00Z',"
                " '2035-01-01T00:00:00Z', '2023-03-21T18:01:00Z')",
                (analysis_id, session_id, file_hash,
                 json.dumps(analytics if analytics is not None else WORKED_ANALYTICS)),
            )
            if params is not None:
                conn.execute(
                    "INSERT INTO public.session_settings (user_id, session_id, params, updated_at)"
                    " VALUES (%s, %s, %s, '2023-03-21T18:05:00Z')",
                    (str(uuid.uuid4()), session_code, json.dumps(params)),
                )
        return session_id

    def scores(self, session_id: str) -> dict[str, Any]:
        with psycopg.connect(self.dsn.conninfo) as conn:
            cur = conn.execute(f"SELECT * FROM {TARGET}.performance_scores WHERE session_id = %s", (session_id,))
            row = cur.fetchone()
            assert row is not None, f"no performance_scores row for {session_id}"
            assert cur.description is not None
            return {d.name: v for d, v in zip(cur.description, row, strict=True)}


def one_therapist_and_patient(legacy_db: ResolvedDsn) -> str:
    """Therapist 'A B' with patient P001 in the legacy tables, then the schema applied; returns the therapist id."""
    therapist = str(uuid.uuid4())
    with psycopg.connect(legacy_db.conninfo) as conn:
        conn.execute("INSERT INTO public.therapists (id, user_id, first_name, last_name) VALUES (%s, %s, 'A', 'B')",
                     (therapist, str(uuid.uuid4())))
        conn.execute("INSERT INTO public.patients (therapist_id, patient_code) VALUES (%s, 'P001')", (therapist,))
    apply_migrations(legacy_db, target_schema=TARGET, log=quiet)
    return therapist


@pytest.fixture
def hand_built(legacy_db: ResolvedDsn) -> HandBuilt:
    return HandBuilt(legacy_db, one_therapist_and_patient(legacy_db))

"""Arbitrary JSON where a channel (or the whole analytics_data) belongs: the flow never crashes, and the session is
either migrated or quarantined with reasons, with every session accounted for."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from migration_support import TARGET, rows, run, scalar, seeded_database
from psycopg.types.json import Jsonb

from statsfirst.db.dsn import ResolvedDsn

SESSIONS = 40

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 5e-324, 2.2e-308, 1e-300, 0.0, -0.0, 12.0, 12.5, -3.0]),
    st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "1e400", "1e-400", "12", "12.0", "", "null", "\u0000x"]),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=12,
)
# keys a real channel carries, so the generated objects often reach the typed decoder
CHANNEL_KEYS = ("contraction_count", "mvc_contraction_count", "duration_contraction_count", "good_contraction_count",
                "expected_contractions", "rms", "mpf", "mvc_threshold_actual_value", "signal_processing",
                "rms_temporal_stats", "contractions")
channel_like = st.dictionaries(st.sampled_from(CHANNEL_KEYS), json_values, max_size=6)


def _strip_nul(value: Any) -> Any:
    """PostgreSQL jsonb refuses \\u0000 in text; the legacy database can never hold it."""
    if isinstance(value, str):
        return value.replace("\u0000", "")
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@pytest.fixture(scope="module")
def small_legacy(make_database: Callable[[], ResolvedDsn]) -> tuple[ResolvedDsn, str, str]:
    dsn = seeded_database(make_database, sessions=SESSIONS, seed=5)
    picked = rows(dsn, "SELECT a.c3d_metadata_id::text, a.id::text FROM public.analysis_results a"
                       " JOIN legacy_seed.manifest m ON m.c3d_metadata_id = a.c3d_metadata_id"
                       " WHERE m.spoiled_kind IS NULL AND a.analytics_data <> '{}' AND cardinality(m.traps) <= 2"
                       " AND a.processing_version = 'v2.1.0' ORDER BY a.id LIMIT 1")
    assert picked
    run(dsn, batch_size=100)
    return dsn, picked[0][0], picked[0][1]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(value=st.one_of(json_values, channel_like), whole=st.booleans())
def test_arbitrary_json_never_crashes(small_legacy: tuple[ResolvedDsn, str, str], value: Any, whole: bool) -> None:
    dsn, session_id, analysis_id = small_legacy
    value = _strip_nul(value)
    with psycopg.connect(dsn.conninfo) as conn:
        if whole:
            conn.execute("UPDATE public.analysis_results SET analytics_data = %s WHERE id = %s",
                         (Jsonb(value), analysis_id))
        else:
            conn.execute("UPDATE public.analysis_results SET analytics_data = jsonb_set(analytics_data, '{CH1}', %s)"
                         " WHERE id = %s AND jsonb_typeof(analytics_data) = 'object'", (Jsonb(value), analysis_id))
            conn.execute("UPDATE public.analysis_results SET analytics_data = jsonb_build_object('CH1', %s::jsonb)"
                         " WHERE id = %s AND jsonb_typeof(analytics_data) <> 'object'", (Jsonb(value), analysis_id))
    summary = run(dsn, batch_size=100).as_json()

    sessions = summary["sessions"]
    assert isinstance(sessions, dict)
    assert sessions["in_range"] == SESSIONS
    assert sessions["migrated"] + sessions["quarantined"] + sessions["skipped"] == SESSIONS
    open_entries = rows(dsn, "SELECT reasons, last_run_id::text FROM statsfirst.quarantine"
                             " WHERE resolved_at IS NULL AND legacy_session_id = %s", (session_id,))
    held_now = [r for r in open_entries if r[1] == summary["run_id"]]
    assert len(open_entries) <= 1
    if held_now:
        assert held_now[0][0], "a quarantined session must carry its reasons"
    else:
        assert open_entries == [], "an entry not refreshed by this run must have been resolved"
        assert scalar(dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE id = %s", (session_id,)) == 1
        assert scalar(dsn, f"SELECT count(*) FROM {TARGET}.signal_processing_cache WHERE id = %s", (analysis_id,)) == 1
    # the other sessions are untouched by this one's payload
    assert scalar(dsn, "SELECT count(*) FROM statsfirst.quarantine WHERE resolved_at IS NULL"
                       " AND legacy_session_id <> %s", (session_id,)) == scalar(
        dsn, "SELECT count(*) FROM legacy_seed.manifest WHERE spoiled_kind IS NOT NULL")

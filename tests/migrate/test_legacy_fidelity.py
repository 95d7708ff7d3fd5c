"""Fidelity to the real legacy application: the session store's real keys and units, plausibility of the C3D header,
the processing version of an empty analysis, the filter band, and cache hits recorded through the compatibility view.

Every test writes its own legacy rows (explicit INSERTs into the baseline of the ``legacy_db`` fixture), so it does
not depend on the synthetic generator, migrates them with the real flow and reconciles the result.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest
from migration_support import one_therapist_and_patient
from psycopg import errors

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate
from statsfirst.pipeline.summary import MigrationSummary
from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.run import reconcile
from statsfirst.validate.run_checks import validate_tables

TARGET = "stats"
CLI = Path(sys.executable).with_name("statsfirst")
PARAMETERS_USED = {"highpass_cutoff_hz": 20.0, "lowpass_cutoff_hz": 10.0, "filter_order": 4,
                   "smoothing_window_ms": 50.0, "sampling_rate": 990.0}


OVERFLOW = "<1e400>"  # written into the params JSON as the number 1e400 (jsonb holds it, a float8 cannot)


def quiet(_: object) -> None:
    return None


def channel(total: int, mvc: int, duration: int, good: int, **extra: Any) -> dict[str, Any]:
    """One analytics_data channel as the real writer emits it (counts as integers, amplitudes in volts)."""
    values: dict[str, Any] = {
        "contraction_count": total,
        "mvc_contraction_count": mvc,
        "duration_contraction_count": duration,
        "good_contraction_count": good,
        "expected_contractions": None,
        "mvc_threshold_actual_value": 0.0003,
        "duration_threshold_actual_value": 2000.0,
        "mvc_estimation_method": "backend_estimation",
        "rms": 0.0001,
        "signal_processing": {"source": "c3d", "processing_steps": ["highpass", "rectify", "lowpass"],
                              "parameters_used": PARAMETERS_USED},
    }
    values.update(extra)
    return values


@dataclass
class Legacy:
    """A legacy database with one therapist and the registered patient P001, and the target schema applied."""

    dsn: ResolvedDsn
    therapist_id: str
    counter: int = 0
    ids: dict[str, str] = field(default_factory=dict)

    def session(
        self,
        name: str,
        *,
        analyses: list[tuple[str, dict[str, Any]]] | None = None,
        params: dict[str, Any] | None = None,
        sampling_rate: float = 990.0,
        duration_seconds: float | None = 175.0,
        frame_count: int = 173_250,
        status: str = "completed",
        c3d_version: str | None = None,
    ) -> str:
        """Insert one c3d_metadata row, its analyses ``(processing_version, analytics_data)`` (oldest first) and,
        with ``params``, a session_settings row linked by the session code; returns the session id."""
        self.counter += 1
        n = self.counter
        code = f"S{n}"
        path = f"P001/{code}/Ghostly_Emg_20230321_17-50-{n:02d}-0881.c3d"
        file_hash = hashlib.sha256(path.encode()).hexdigest()
        session_id = str(uuid.UUID(int=n, version=4))
        with psycopg.connect(self.dsn.conninfo) as conn:
            conn.execute(
                "INSERT INTO public.c3d_metadata (id, file_path, file_hash, file_size_bytes, patient_id, session_id,"
                " channel_names, channel_count, sampling_rate, duration_seconds, frame_count, resolved_patient_id,"
                " resolved_therapist_id, processing_status, processing_version, created_at, updated_at, processed_at)"
                " VALUES (%s, %s, %s, 1000000, 'P001', %s, '[]', 0, %s, %s, %s, 'P001', 'Unknown', %s, %s,"
                " '2023-03-21T18:00:00Z', '2023-03-21T18:00:00Z', '2023-03-21T18:01:00Z')",
                (session_id, path, file_hash, code, sampling_rate, duration_seconds, frame_count, status,
                 c3d_version),
            )
            for k, (version, analytics) in enumerate(analyses or []):
                conn.execute(
                    "INSERT INTO public.analysis_results (id, c3d_metadata_id, file_hash, processing_version,"
                    " processing_params, analytics_data, processing_time_ms, cache_hits, created_at, expires_at,"
                    " last_accessed_at) VALUES (%s, %s, %s, %s, %s, %s, 1000, 1, %s, '2035-01-01T00:00:00Z',"
                    " '2023-03-21T18:01:00Z')",
                    (str(uuid.UUID(int=10_000 * (k + 1) + n, version=4)), session_id, file_hash, version,
                     json.dumps({"attempt": k}), json.dumps(analytics), f"2023-03-2{1 + k}T18:01:00Z"),
                )
            if params is not None:
                conn.execute(
                    "INSERT INTO public.session_settings (user_id, session_id, params, updated_at)"
                    " VALUES (%s, %s, %s, '2023-03-21T18:05:00Z')",
                    (str(uuid.uuid4()), code, json.dumps(params).replace(f'"{OVERFLOW}"', "1e400")),
                )
        self.ids[name] = session_id
        return session_id

    def migrate(self, **options: Any) -> MigrationSummary:
        return migrate(self.dsn, MigrateOptions(**options), log=quiet)

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with psycopg.connect(self.dsn.conninfo) as conn:
            cur = conn.execute(query, params)
            assert cur.description is not None
            names = [d.name for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def one(self, query: str, params: tuple[Any, ...] = ()) -> dict[str, Any]:
        found = self.rows(query, params)
        assert len(found) == 1, found
        return found[0]

    def failures(self, session_id: str) -> tuple[list[str], list[dict[str, Any]]]:
        entry = self.one("SELECT reasons, failures FROM statsfirst.quarantine"
                         " WHERE legacy_session_id = %s AND resolved_at IS NULL", (session_id,))
        return entry["reasons"], entry["failures"]

    def assert_reconciled(self) -> None:
        report = reconcile(self.dsn, ReconcileOptions())
        assert report.reconciled, report.mismatches
        # every rule is mirrored operation by operation: the checksums agree to the last bit
        assert report.values.segments_differing == 0, report.values


@pytest.fixture
def legacy(legacy_db: ResolvedDsn) -> Legacy:
    return Legacy(legacy_db, one_therapist_and_patient(legacy_db))


def migrated_ids(legacy: Legacy) -> set[str]:
    return {str(r["id"]) for r in legacy.rows(f"SELECT id FROM {TARGET}.therapy_sessions")}


# ------------------------------------------------------------------------------------------------ settings
REAL_PARAMS: dict[str, Any] = {
    "session_mvc_threshold_percentage": 60,  # percent
    "session_mvc_threshold_percentages": {"CH2": 70},  # wins for CH2
    "contraction_duration_threshold": 1500,  # milliseconds
    "session_expected_contractions": 20,  # both muscles together: 10 each
    "session_expected_contractions_ch2": 8,  # wins for CH2
    "session_mvc_value": 0.00015,
    "session_mvc_values": {"CH1": 0.0002},  # wins for CH1 (left)
    "post_session_rpe": 5,
    "subjective_fatigue_level": 5,
    "muscle_color_mapping": {"CH1": "#f00"},
    "channel_muscle_mapping": {"CH1": "Left Quadriceps", "CH2": "Right Quadriceps"},
}


def test_a_linked_session_keeps_its_real_settings(legacy: Legacy) -> None:
    # CH1 states its duration threshold (2000 ms, wins); CH2 does not (the setting's 1500 ms applies). The analysis'
    # expected_contractions (12) loses to the settings.
    analytics = {
        "CH1": channel(9, 8, 7, 6, expected_contractions=12),
        "CH2": channel(7, 6, 5, 4, expected_contractions=12, duration_threshold_actual_value=None),
    }
    sid = legacy.session("real", analyses=[("v2.1.0", analytics)], params=REAL_PARAMS)
    # a linked row with none of the keys: the analysis' target, then the defaults; the analysis' MVC method
    analysis_target = legacy.session("analysis_target", params={"post_session_rpe": 5}, analyses=[
        ("v2.1.0", {"CH1": channel(9, 8, 7, 6, expected_contractions=9, mvc_estimation_method="user_provided"),
                    "CH2": channel(12, 6, 5, 4)})])
    unlinked = legacy.session("unlinked", analyses=[("v2.1.0", {"CH1": channel(9, 8, 7, 6),
                                                                "CH2": channel(7, 6, 5, 4)})])
    # the muscle mapping names CH1 right: CH1's MVC and target are the right side's
    swapped = legacy.session("swapped", analyses=[("v2.1.0", {"CH1": channel(9, 8, 7, 6), "CH2": channel(7, 6, 5, 4)})],
                             params={"session_mvc_values": {"CH1": 0.0004, "CH2": 0.0005},
                                     "session_expected_contractions_ch1": 10,
                                     "channel_muscle_mapping": {"CH1": "Right Quadriceps", "CH2": "Left Quadriceps"}})
    summary = legacy.migrate()
    assert summary.migrated == 4, summary.as_json()
    assert legacy.one(f"SELECT mvc_user_left, mvc_user_right, target_contractions_left, target_contractions_right"
                      f" FROM {TARGET}.session_settings WHERE session_id = %s", (swapped,)) == {
        "mvc_user_left": 0.0005, "mvc_user_right": 0.0004, "target_contractions_left": None,
        "target_contractions_right": 10}
    assert legacy.one(f"SELECT side, completion_rate FROM {TARGET}.emg_statistics WHERE session_id = %s"
                      " AND channel_name = 'CH1'", (swapped,)) == {"side": "right", "completion_rate": 0.9}

    settings = legacy.one(f"SELECT * FROM {TARGET}.session_settings WHERE session_id = %s", (sid,))
    assert settings["settings_source"] == "legacy"
    assert settings["mvc_threshold_percentage"] == pytest.approx(0.60)
    assert settings["duration_threshold_seconds"] == pytest.approx(1.5)
    assert settings["target_contractions_per_muscle"] == 10
    assert (settings["target_contractions_left"], settings["target_contractions_right"]) == (None, 8)
    assert settings["mvc_user_left"] == pytest.approx(0.0002)
    assert settings["mvc_user_right"] == pytest.approx(0.00015)
    assert settings["mvc_calculation_method"] == "backend_95percentile"

    emg = {r["channel_name"]: r for r in legacy.rows(
        f"SELECT * FROM {TARGET}.emg_statistics WHERE session_id = %s", (sid,))}
    assert emg["CH1"]["mvc_threshold_percentage"] == pytest.approx(0.60)
    assert emg["CH2"]["mvc_threshold_percentage"] == pytest.approx(0.70)
    assert emg["CH1"]["mvc_peak_value"] == pytest.approx(0.0003 / 0.60)
    assert emg["CH2"]["mvc_peak_value"] == pytest.approx(0.0003 / 0.70)
    assert emg["CH1"]["duration_threshold_seconds"] == pytest.approx(2.0)
    assert emg["CH2"]["duration_threshold_seconds"] == pytest.approx(1.5)
    assert emg["CH1"]["completion_rate"] == pytest.approx(9 / 10)  # session_expected_contractions / 2
    assert emg["CH2"]["completion_rate"] == pytest.approx(min(7 / 8, 1))  # session_expected_contractions_ch2
    s_left = (9 / 10 + 8 / 9 + 7 / 9) / 3
    assert emg["CH1"]["muscle_compliance_score"] == pytest.approx(s_left)

    scores = legacy.one(f"SELECT * FROM {TARGET}.performance_scores WHERE session_id = %s", (sid,))
    assert scores["left_muscle_completion_rate"] == pytest.approx(0.9)
    assert scores["right_muscle_completion_rate"] == pytest.approx(7 / 8)

    params = legacy.one(f"SELECT * FROM {TARGET}.processing_parameters WHERE session_id = %s", (sid,))
    assert params["mvc_threshold_percentage"] == pytest.approx(0.60)
    assert params["duration_threshold_ms"] == pytest.approx(2000.0)  # the analysis states it

    fallback = {r["channel_name"]: r["completion_rate"] for r in legacy.rows(
        f"SELECT channel_name, completion_rate FROM {TARGET}.emg_statistics WHERE session_id = %s",
        (analysis_target,))}
    assert fallback == {"CH1": pytest.approx(1.0), "CH2": pytest.approx(1.0)}  # 9/9 (analysis), 12/12 (default)
    assert legacy.one(f"SELECT mvc_calculation_method, target_contractions_per_muscle, mvc_user_left"
                      f" FROM {TARGET}.session_settings WHERE session_id = %s", (analysis_target,)) == {
        "mvc_calculation_method": "user_defined", "target_contractions_per_muscle": 12, "mvc_user_left": None}
    defaults = legacy.one(f"SELECT * FROM {TARGET}.session_settings WHERE session_id = %s", (unlinked,))
    assert (defaults["settings_source"], defaults["mvc_threshold_percentage"], defaults["duration_threshold_seconds"],
            defaults["target_contractions_per_muscle"], defaults["mvc_user_left"]) == ("default", 0.75, 2.0, 12, None)
    assert legacy.one(f"SELECT completion_rate FROM {TARGET}.emg_statistics WHERE session_id = %s"
                      " AND channel_name = 'CH1'", (unlinked,))["completion_rate"] == pytest.approx(9 / 12)

    legacy.assert_reconciled()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"DATABASE_URL": legacy.dsn.conninfo}
    result = subprocess.run([str(CLI), "reconcile", "--format", "json"], capture_output=True, text=True, env=env,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert json.loads(result.stdout)["reconciled"] is True


# (name, params, the failure's column, value, reason)
BAD_SETTINGS: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("string_threshold", {"session_mvc_threshold_percentage": "60"},
     "params.session_mvc_threshold_percentage", '"60"', "wrong_type"),
    ("percentage_250", {"session_mvc_threshold_percentage": 250},
     "params.session_mvc_threshold_percentage", "250", "out_of_range"),
    ("percentage_0", {"session_mvc_threshold_percentage": 0},
     "params.session_mvc_threshold_percentage", "0", "out_of_range"),
    ("negative_target", {"session_expected_contractions_ch1": -5},
     "params.session_expected_contractions_ch1", "-5", "out_of_range"),
    ("negative_total", {"session_expected_contractions": -24},
     "params.session_expected_contractions", "-24", "out_of_range"),
    ("odd_total", {"session_expected_contractions": 25},
     "params.session_expected_contractions", "25", "fractional_count"),
    ("zero_duration", {"contraction_duration_threshold": 0},
     "params.contraction_duration_threshold", "0", "out_of_range"),
    ("string_duration", {"contraction_duration_threshold": "2000 ms"},
     "params.contraction_duration_threshold", '"2000 ms"', "wrong_type"),
    ("channel_percentage", {"session_mvc_threshold_percentages": {"CH2": 150}},
     "params.session_mvc_threshold_percentages.CH2", "150.0", "out_of_range"),
    ("string_mvc", {"session_mvc_values": {"CH1": "high"}},
     "params.session_mvc_values.CH1", '"high"', "wrong_type"),
    ("mvc_map_not_object", {"session_mvc_values": [0.1]},
     "params.session_mvc_values", "[0.1]", "wrong_type"),
    ("negative_mvc", {"session_mvc_value": -0.001},
     "params.session_mvc_value", "-0.001", "out_of_range"),
    ("overflowing_threshold", {"session_mvc_threshold_percentage": OVERFLOW},
     "params.session_mvc_threshold_percentage", "1" + "0" * 79, "wrong_type"),  # cut to 80 characters
    ("overflowing_channel_mvc", {"session_mvc_values": {"CH2": OVERFLOW}},
     "params.session_mvc_values.CH2", "1" + "0" * 79, "wrong_type"),
    ("object_target", {"session_expected_contractions": {"total": 24}},
     "params.session_expected_contractions", '{"total": 24}', "wrong_type"),
]


def test_bad_settings_values_quarantine_only_their_session(legacy: Legacy) -> None:
    analytics = {"CH1": channel(9, 8, 7, 6), "CH2": channel(7, 6, 5, 4)}
    good = [legacy.session(f"good{i}", analyses=[("v2.1.0", analytics)], params=REAL_PARAMS) for i in range(2)]
    bad = {name: legacy.session(name, analyses=[("v2.1.0", analytics)], params={**REAL_PARAMS, **spoiled})
           for name, spoiled, *_ in BAD_SETTINGS}
    summary = legacy.migrate()
    assert summary.migrated == len(good), summary.as_json()
    assert sum(summary.quarantined.values()) == len(BAD_SETTINGS)
    assert migrated_ids(legacy) == set(good)
    for name, _, column, value, reason in BAD_SETTINGS:
        reasons, failures = legacy.failures(bad[name])
        assert reasons == [reason], (name, failures)
        assert [(f["table"], f["column"], f["value"], f["reason"]) for f in failures] == [
            ("session_settings", column, value, reason)], name
    # the rest of the batch kept its settings
    assert [r["mvc_threshold_percentage"] for r in legacy.rows(
        f"SELECT mvc_threshold_percentage FROM {TARGET}.session_settings")] == [pytest.approx(0.6)] * len(good)
    legacy.assert_reconciled()


# ------------------------------------------------------------------------------------------------ plausibility
def test_a_file_that_is_not_a_c3d_is_quarantined_as_implausible(legacy: Legacy) -> None:
    analytics = {"CH1": channel(9, 8, 7, 6), "CH2": channel(7, 6, 5, 4)}
    # what the real writer produced for a file that is not a C3D: a completed row with nonsense header values
    not_c3d = legacy.session("not_c3d", analyses=[("v2.1.0", {})], sampling_rate=4.4e31, duration_seconds=4.6e-28,
                             frame_count=20220)
    too_long = legacy.session("too_long", analyses=[("v2.1.0", analytics)], duration_seconds=90_000.0)
    negative = legacy.session("negative", analyses=[("v2.1.0", analytics)], frame_count=-3, sampling_rate=-990.0)
    at_limits = legacy.session("limits", analyses=[("v2.1.0", analytics)], sampling_rate=100_000.0,
                               duration_seconds=86_400.0)
    point_rate = legacy.session("point_rate", analyses=[("v2.1.0", analytics)], sampling_rate=33.0,
                                duration_seconds=None, frame_count=0)
    not_numbers = [legacy.session(f"nan{i}", analyses=[("v2.1.0", analytics)], sampling_rate=value)
                   for i, value in enumerate((float("nan"), float("inf"), float("-inf")))]
    summary = legacy.migrate()
    assert summary.quarantined == {"implausible_metadata": 6}, summary.as_json()
    for session_id in not_numbers:
        assert legacy.failures(session_id)[0] == ["implausible_metadata"]
    assert migrated_ids(legacy) == {at_limits, point_rate}

    expected = {
        not_c3d: [("sampling_rate", 4.4e31)],
        too_long: [("duration_seconds", 90_000.0)],
        negative: [("frame_count", -3.0), ("sampling_rate", -990.0)],
    }
    for session_id, named in expected.items():
        reasons, failures = legacy.failures(session_id)
        assert reasons == ["implausible_metadata"]
        assert sorted((f["column"], float(f["value"])) for f in failures) == named
        assert {f["table"] for f in failures} == {"therapy_sessions"}
    kept = legacy.one(f"SELECT original_sampling_rate, original_duration_seconds, original_sample_count"
                      f" FROM {TARGET}.therapy_sessions WHERE id = %s", (point_rate,))
    assert kept == {"original_sampling_rate": 33.0, "original_duration_seconds": None, "original_sample_count": None}
    legacy.assert_reconciled()


# ------------------------------------------------------------------------------------------------ versions
def test_processing_version_comes_from_the_newest_analysis_even_when_empty(legacy: Legacy) -> None:
    only_empty = legacy.session("only_empty", analyses=[("v2.1.0", {})])
    analytics = {"CH1": channel(9, 8, 7, 6), "CH2": channel(7, 6, 5, 4)}
    newer_empty = legacy.session("newer_empty", analyses=[("v2.0.0", analytics), ("v2.1.0", {})])
    no_analysis = legacy.session("failed", status="failed", c3d_version="v1.9.0")
    nothing = legacy.session("nothing", status="failed")
    assert legacy.migrate().migrated == 4

    versions = {str(r["id"]): r["processing_version"] for r in legacy.rows(
        f"SELECT id, processing_version FROM {TARGET}.therapy_sessions")}
    assert versions == {only_empty: "v2.1.0", newer_empty: "v2.1.0", no_analysis: "v1.9.0", nothing: "unknown"}
    # the statistics still come from the current (newest non-empty) analysis, with its version
    assert {r["processing_version"] for r in legacy.rows(
        f"SELECT processing_version FROM {TARGET}.emg_statistics WHERE session_id = %s", (newer_empty,))} == {"v2.0.0"}
    legacy.assert_reconciled()


# ------------------------------------------------------------------------------------------------ filter band
def test_filter_cut_offs_follow_the_mapping(legacy: Legacy) -> None:
    sid = legacy.session("filters", analyses=[("v2.1.0", {"CH1": channel(9, 8, 7, 6), "CH2": channel(7, 6, 5, 4)})])
    assert legacy.migrate().migrated == 1
    row = legacy.one(f"SELECT filter_low_cutoff_hz, filter_high_cutoff_hz, filter_order, smoothing_window_ms,"
                     f" algorithm_config FROM {TARGET}.processing_parameters WHERE session_id = %s", (sid,))
    assert (row["filter_low_cutoff_hz"], row["filter_high_cutoff_hz"]) == (20.0, None)
    assert row["algorithm_config"]["lowpass_cutoff_hz"] == 10.0  # the envelope's low-pass stays in the config
    assert (row["filter_order"], row["smoothing_window_ms"]) == (4, 50.0)
    legacy.assert_reconciled()

    # the target refuses a band whose low cut-off is not below its high cut-off ...
    with psycopg.connect(legacy.dsn.conninfo) as conn:
        with pytest.raises(errors.CheckViolation) as refused:
            conn.execute(f"UPDATE {TARGET}.processing_parameters SET filter_high_cutoff_hz = 10 WHERE session_id = %s",
                         (sid,))
        assert refused.value.diag.constraint_name == "processing_parameters_filter_high_cutoff_hz_check"
        conn.rollback()
        conn.execute(f"UPDATE {TARGET}.processing_parameters SET filter_high_cutoff_hz = 450 WHERE session_id = %s",
                     (sid,))
        conn.rollback()
    # ... and so does the pandera schema, before the database sees it
    frame = pl.DataFrame({"session_id": ["a", "b", "c"], "filter_low_cutoff_hz": [20.0, 20.0, None],
                          "filter_high_cutoff_hz": [10.0, 450.0, 10.0]})
    tables = {name: pl.DataFrame() for name in ("therapy_sessions", "emg_statistics", "performance_scores",
                                                 "bfr_monitoring", "session_settings", "signal_processing_cache")}
    problems = validate_tables({**tables, "processing_parameters": frame})
    assert problems.select("session_id", "column", "reason").rows() == [
        ("a", "filter_low_cutoff_hz", "inconsistent_values")]


# ------------------------------------------------------------------------------------------------ cache hits
def test_a_cache_hit_through_the_view_survives_full_and_incremental_runs(legacy: Legacy) -> None:
    analytics = {"CH1": channel(9, 8, 7, 6), "CH2": channel(7, 6, 5, 4)}
    sid = legacy.session("cached", analyses=[("v2.1.0", analytics)])
    other = legacy.session("other", analyses=[("v2.1.0", analytics)])
    first = legacy.migrate()
    assert first.migrated == 2
    analysis = str(uuid.UUID(int=10_000 + 1, version=4))
    hit_at = "2030-01-01T00:00:00+00:00"

    def cache_row() -> tuple[int, str]:
        row = legacy.one(f"SELECT hit_count, last_accessed_at FROM {TARGET}.signal_processing_cache WHERE id = %s",
                         (analysis,))
        return row["hit_count"], row["last_accessed_at"].isoformat()

    with psycopg.connect(legacy.dsn.conninfo) as conn:  # the legacy app's cache-hit update, through the view
        conn.execute("SET search_path TO stats, public")
        cur = conn.execute("UPDATE public.analysis_results_view SET cache_hits = cache_hits + 5,"
                           " last_accessed_at = %s WHERE id = %s", (hit_at, analysis))
        assert cur.rowcount == 1
    assert cache_row() == (6, hit_at)

    legacy.migrate()  # a full run over everything
    assert cache_row() == (6, hit_at)
    legacy.assert_reconciled()

    # the legacy row moves (a hit in the legacy table, lower than the target's): the incremental run rewrites the
    # session, and still keeps the greater values
    with psycopg.connect(legacy.dsn.conninfo) as conn:
        conn.execute("UPDATE public.analysis_results SET cache_hits = 2, last_accessed_at = '2029-01-01T00:00:00Z'"
                     " WHERE id = %s", (analysis,))
    incremental = legacy.migrate(incremental=True)
    rewritten = legacy.one("SELECT run_id::text AS run_id FROM statsfirst.session_lineage"
                           " WHERE legacy_session_id = %s", (sid,))["run_id"]
    assert rewritten == incremental.run_id, "the incremental run must rewrite the changed session"
    assert cache_row() == (6, hit_at)
    legacy.migrate()
    assert cache_row() == (6, hit_at)
    legacy.assert_reconciled()

    # a greater legacy value wins
    with psycopg.connect(legacy.dsn.conninfo) as conn:
        conn.execute("UPDATE public.analysis_results SET cache_hits = 50, last_accessed_at = '2031-01-01T00:00:00Z'"
                     " WHERE id = %s", (analysis,))
    legacy.migrate(incremental=True)
    assert cache_row() == (50, "2031-01-01T00:00:00+00:00")
    untouched = legacy.one(f"SELECT hit_count FROM {TARGET}.signal_processing_cache WHERE session_id = %s", (other,))
    assert untouched["hit_count"] == 1
    legacy.assert_reconciled()

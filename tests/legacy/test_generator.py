"""The synthetic legacy generator: determinism, traps, spoiling, bloat, refusal, CLI."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from typer.testing import CliRunner

from statsfirst.cli import app
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.errors import SchemaStateError
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import SPOIL_KINDS, seed_legacy

TABLES = (
    "therapists",
    "patients",
    "researcher_profiles",
    "c3d_metadata",
    "analysis_results",
    "session_settings",
    "legacy_seed.manifest",
)


def _digest(dsn: ResolvedDsn) -> dict[str, str]:
    out = {}
    with psycopg.connect(dsn.conninfo) as conn:
        for table in TABLES:
            row = conn.execute(
                f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"
            ).fetchone()
            out[table] = row[0] if row else ""
    return out


def _seeded(make_database: Callable[[], ResolvedDsn], **kwargs: object) -> ResolvedDsn:
    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
        seed_legacy(conn, **kwargs)  # type: ignore[arg-type]
    return dsn


def test_deterministic(make_database: Callable[[], ResolvedDsn]) -> None:
    a = _digest(_seeded(make_database, sessions=300, seed=7, bad_fraction=0.05))
    b = _digest(_seeded(make_database, sessions=300, seed=7, bad_fraction=0.05))
    c = _digest(_seeded(make_database, sessions=300, seed=8, bad_fraction=0.05))
    assert a == b
    assert a["c3d_metadata"] != c["c3d_metadata"]


@pytest.fixture(scope="module")
def big(make_database: Callable[[], ResolvedDsn]) -> ResolvedDsn:
    return _seeded(make_database, sessions=2000, seed=42, bad_fraction=0.05)


CHECKS = {
    "unknown_sentinel": "SELECT count(*) FROM c3d_metadata WHERE resolved_patient_id = 'Unknown'",
    "unregistered": "SELECT count(*) FROM c3d_metadata m WHERE resolved_patient_id <> 'Unknown' "
    "AND NOT EXISTS (SELECT 1 FROM patients p WHERE p.patient_code = m.resolved_patient_id)",
    "empty_analytics": "SELECT count(*) FROM analysis_results WHERE analytics_data = '{}'",
    "failed": "SELECT count(*) FROM c3d_metadata m WHERE processing_status = 'failed' AND "
    "error_message IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM analysis_results a WHERE a.c3d_metadata_id = m.id)",
    "pending": "SELECT count(*) FROM c3d_metadata WHERE processing_status = 'pending'",
    "processing": "SELECT count(*) FROM c3d_metadata WHERE processing_status = 'processing'",
    "shared": "SELECT count(*) FROM (SELECT file_hash FROM c3d_metadata GROUP BY 1 HAVING count(*) > 1) x",
    "expired": "SELECT count(*) FROM analysis_results WHERE expires_at < now()",
    "superseded": "SELECT count(*) FROM (SELECT c3d_metadata_id FROM analysis_results GROUP BY 1 "
    "HAVING count(*) > 1) x",
    "frames_zero": "SELECT count(*) FROM c3d_metadata WHERE frame_count = 0 AND duration_seconds IS NULL",
    "size_unknown": "SELECT count(*) FROM c3d_metadata WHERE file_size_bytes = 0",
    "bucket_root": "SELECT count(*) FROM c3d_metadata WHERE file_path NOT LIKE '%/%' AND patient_id IS NULL",
    "session_folder": "SELECT count(*) FROM c3d_metadata WHERE session_id IS NOT NULL "
    "AND file_path LIKE '%/' || session_id || '/%'",
    "one_channel": "SELECT count(*) FROM analysis_results WHERE analytics_data ? 'CH1' "
    "AND NOT analytics_data ? 'CH2'",
    "linked_by_sid": "SELECT count(*) FROM session_settings s JOIN c3d_metadata m ON m.session_id = "
    "s.session_id",
    "linked_by_id": "SELECT count(*) FROM session_settings s JOIN c3d_metadata m ON m.id::text = "
    "s.session_id",
    "ambiguous": "SELECT count(*) FROM (SELECT session_id FROM session_settings GROUP BY 1 HAVING "
    "count(*) > 1) x",
    "bfr_out": "SELECT count(*) FROM session_settings WHERE "
    "(params->'bfr_parameters'->'left'->>'percentage_aop')"
    "::float NOT BETWEEN 45 AND 55",
    "real_files": "SELECT count(*) FROM c3d_metadata WHERE file_path LIKE "
    "'%Ghostly_Emg_20230321_17-23-09-0409.c3d'",
    "contractions": "SELECT count(*) FROM analysis_results WHERE CASE WHEN "
    "jsonb_typeof(analytics_data->'CH1'->"
    "'contraction_count') = 'number' THEN jsonb_array_length(analytics_data->'CH1'->'contractions') "
    "= (analytics_data->'CH1'->>'contraction_count')::float ELSE false END",
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_pattern_present(big: ResolvedDsn, name: str) -> None:
    with psycopg.connect(big.conninfo) as conn:
        row = conn.execute(CHECKS[name]).fetchone()
        assert row and row[0] > 0, name


def test_manifest_and_spoiled(big: ResolvedDsn) -> None:
    with psycopg.connect(big.conninfo) as conn:
        labels = {r[0] for r in conn.execute("SELECT DISTINCT unnest(traps) FROM legacy_seed.manifest")}
        for label in (
            "unknown_patient_sentinel",
            "unregistered_patient_code",
            "empty_analytics",
            "failed",
            "stuck_pending",
            "stuck_processing",
            "shared_hash",
            "expired_analysis",
            "superseded_analysis",
            "frame_count_zero",
            "size_unknown",
            "bucket_root",
            "one_channel",
            "missing_keys",
            "extra_keys",
            "null_values",
            "linked_settings",
            "ambiguous_settings",
            "bfr_out_of_range",
        ):
            assert label in labels
        kinds = dict(
            conn.execute(
                "SELECT spoiled_kind, count(*) FROM legacy_seed.manifest "
                "WHERE spoiled_kind IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
        assert set(kinds) == set(SPOIL_KINDS)
        eligible = conn.execute(
            "SELECT count(*) FROM c3d_metadata m JOIN analysis_results a ON a.c3d_metadata_id = m.id "
            "AND a.processing_version = 'v2.1.0' AND a.analytics_data <> '{}' "
            "WHERE (SELECT count(*) FROM c3d_metadata o WHERE lower(o.file_hash) = lower(m.file_hash)) = 1"
        ).fetchone()
        assert eligible
        assert abs(sum(kinds.values()) - 0.05 * eligible[0]) <= 2
        bad = conn.execute("SELECT count(*) FROM c3d_metadata WHERE file_hash !~ '^[0-9a-f]{64}$'").fetchone()
        assert bad == (kinds["bad_file_hash"],)
        nan = conn.execute(
            "SELECT count(*) FROM analysis_results WHERE analytics_data->'CH1'->>'mpf' "
            "IN ('NaN', 'nan', 'Infinity', '-Infinity')"
        ).fetchone()
        assert nan == (kinds["nan_string"],)


def test_signal_samples(make_database: Callable[[], ResolvedDsn]) -> None:
    dsn = _seeded(make_database, sessions=50, signal_samples=64)
    with psycopg.connect(dsn.conninfo) as conn:
        rows = conn.execute(
            "SELECT jsonb_array_length(emg_signals->'CH1'->'data'), "
            "jsonb_array_length(emg_signals->'CH2'->'data') FROM analysis_results "
            "WHERE analytics_data <> '{}'"
        ).fetchall()
        assert rows and set(rows) == {(64, 64)}


def test_refusals(make_database: Callable[[], ResolvedDsn]) -> None:
    dsn = _seeded(make_database, sessions=20)
    with (
        psycopg.connect(dsn.conninfo) as conn,
        pytest.raises(SchemaStateError, match="seed a fresh database"),
    ):
        seed_legacy(conn, sessions=20)
    with (
        psycopg.connect(make_database().conninfo) as conn,
        pytest.raises(SchemaStateError, match="legacy init"),
    ):
        seed_legacy(conn, sessions=20)


def test_cli(empty_db: ResolvedDsn) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["legacy", "init", "--with-session-settings", "--dsn", empty_db.conninfo])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["legacy", "seed", "--sessions", "200", "--dsn", empty_db.conninfo])
    assert result.exit_code == 0, result.output
    assert "seeded 200 legacy sessions" in result.output
    result = runner.invoke(app, ["legacy", "init", "--dsn", empty_db.conninfo])
    assert result.exit_code == 2


# legacy-schema.md "What the real legacy writer produces" (the patterns of shared/data/real_legacy): each query
# returns (rows showing the pattern, rows contradicting it); the first must be > 0 and the second 0
WRITER = {
    "pending/processing rows keep resolved_* and header values NULL": (
        "SELECT count(*) FILTER (WHERE resolved_patient_id IS NULL AND resolved_therapist_id IS NULL "
        "AND resolved_session_date IS NULL AND sampling_rate IS NULL AND frame_count IS NULL "
        "AND channel_names IS NULL AND channel_count IS NULL AND duration_seconds IS NULL), "
        "count(*) FILTER (WHERE num_nonnulls(resolved_patient_id, resolved_therapist_id, resolved_session_date, "
        "sampling_rate, frame_count, channel_names, channel_count, duration_seconds) > 0) "
        "FROM c3d_metadata WHERE processing_status IN ('pending', 'processing')"
    ),
    "completed/failed rows have their resolved_* sentinels": (
        "SELECT count(*) FILTER (WHERE resolved_therapist_id = 'Unknown'), "
        "count(*) FILTER (WHERE resolved_therapist_id IS DISTINCT FROM 'Unknown' OR resolved_patient_id IS NULL) "
        "FROM c3d_metadata WHERE processing_status IN ('completed', 'failed')"
    ),
    "a racing duplicate upload is a failed row with the printed unique violation": (
        "SELECT count(*) FILTER (WHERE m.error_message = format('{''message'': ''duplicate key value violates "
        "unique constraint \"unique_analysis_cache\"'', ''code'': ''23505'', ''hint'': None, ''details'': "
        "''Key (file_hash, processing_version, processing_params)=(%s, v2.1.0, {}) already exists.''}', m.file_hash)"
        " AND m.created_at < f.processed_at AND m.processed_at IS NULL), "
        "count(*) FILTER (WHERE f.id IS NULL OR m.created_at >= f.processed_at OR m.resolved_patient_id IS NULL) "
        "FROM c3d_metadata m "
        # the first upload: the row of the hash that owns the analysis
        "LEFT JOIN c3d_metadata f ON f.file_hash = m.file_hash AND f.id <> m.id "
        "AND EXISTS (SELECT 1 FROM analysis_results a WHERE a.c3d_metadata_id = f.id) "
        "WHERE m.error_message LIKE '{''message'': ''duplicate key%'"
    ),
    "{} of a too-short recording keeps 1000 ms, of an unreadable file 0 ms": (
        "SELECT count(DISTINCT a.processing_time_ms) FILTER (WHERE m.frame_count = 0), "
        "count(*) FILTER (WHERE a.processing_time_ms NOT IN (0, 1000) "
        "OR (a.processing_time_ms = 0 AND m.sampling_rate = 33) "
        "OR (a.processing_time_ms = 1000 AND m.sampling_rate IS NULL)) "
        "FROM analysis_results a JOIN c3d_metadata m ON m.id = a.c3d_metadata_id WHERE a.analytics_data = '{}'"
    ),
    "a non-C3D file is completed with nonsense header values and {} in 0 ms": (
        "SELECT count(*) FILTER (WHERE m.sampling_rate = 4.385949990779581e31 AND m.frame_count = 20220 "
        "AND m.duration_seconds < 1e-20 AND a.analytics_data = '{}' AND a.processing_time_ms = 0), "
        "count(*) FILTER (WHERE m.processing_status <> 'completed' OR a.analytics_data <> '{}' "
        "OR s.spoiled_kind IS DISTINCT FROM 'out_of_range' OR NOT 'not_a_c3d' = ANY(s.traps)) "
        "FROM c3d_metadata m JOIN legacy_seed.manifest s ON s.c3d_metadata_id = m.id "
        "LEFT JOIN analysis_results a ON a.c3d_metadata_id = m.id AND a.processing_version = 'v2.1.0' "
        "WHERE m.sampling_rate > 1e6 OR 'not_a_c3d' = ANY(s.traps)"
    ),
    "every non-empty analysis took the 1000 ms placeholder": (
        "SELECT count(*) FILTER (WHERE processing_time_ms = 1000), "
        "count(*) FILTER (WHERE processing_time_ms IS DISTINCT FROM 1000) "
        "FROM analysis_results WHERE analytics_data <> '{}'"
    ),
    "counts are JSON integers, floats only on hand-edited (float_counts) rows": (
        "SELECT count(*) FILTER (WHERE a.analytics_data -> 'CH1' ->> 'contraction_count' ~ '^[0-9]+$'), "
        "count(*) FILTER (WHERE (a.analytics_data -> 'CH1' ->> 'contraction_count' ~ '^[0-9]+\\.0$') "
        "<> ('float_counts' = ANY(s.traps))) "
        "FROM analysis_results a JOIN legacy_seed.manifest s ON s.c3d_metadata_id = a.c3d_metadata_id "
        "WHERE a.processing_version = 'v2.1.0' AND s.spoiled_kind IS NULL AND a.analytics_data <> '{}' "
        "AND jsonb_typeof(a.analytics_data -> 'CH1' -> 'contraction_count') = 'number'"
    ),
    "settings params hold the app's keys in its units": (
        "SELECT count(*) FILTER (WHERE params ?& ARRAY['session_mvc_value', 'session_mvc_values', "
        "'session_mvc_threshold_percentage', 'session_mvc_threshold_percentages', 'session_expected_contractions', "
        "'session_expected_contractions_ch1', 'session_expected_contractions_ch2', 'contraction_duration_threshold', "
        "'subjective_fatigue_level', 'channel_muscle_mapping', 'muscle_color_mapping'] "
        "AND params -> 'session_mvc_threshold_percentage' = '75' AND params -> 'contraction_duration_threshold' = "
        "'2000'), "
        "count(*) FILTER (WHERE NOT params ? 'session_mvc_threshold_percentage' "
        "OR (params ->> 'session_expected_contractions')::int % 2 <> 0 "
        "OR jsonb_typeof(params -> 'bfr_parameters' -> 'left' -> 'applied_pressure') = 'string') "
        "FROM session_settings"
    ),
    "settings rows are mostly unlinked (random session ids)": (
        "SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM c3d_metadata m WHERE m.id::text = s.session_id "
        "OR m.session_id = s.session_id)), "
        "CASE WHEN 2 * count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM c3d_metadata m WHERE m.id::text = "
        "s.session_id OR m.session_id = s.session_id)) > count(*) THEN 0 ELSE 1 END FROM session_settings s"
    ),
}


@pytest.mark.parametrize("pattern", sorted(WRITER))
def test_what_the_real_writer_produces(big: ResolvedDsn, pattern: str) -> None:
    with psycopg.connect(big.conninfo) as conn:
        row = conn.execute(WRITER[pattern]).fetchone()
        assert row is not None
        shown, contradicting = row
        assert shown > 0 and contradicting == 0, (pattern, row)


def test_every_real_writer_trap_is_in_the_manifest(big: ResolvedDsn) -> None:
    with psycopg.connect(big.conninfo) as conn:
        labels = {r[0] for r in conn.execute("SELECT DISTINCT unnest(traps) FROM legacy_seed.manifest")}
    assert {
        "not_yet_extracted", "failed_duplicate_upload", "too_short_recording", "unreadable_file", "not_a_c3d",
        "float_counts", "cache_hit_no_analysis",
    } <= labels

"""The legacy baseline: tables, constraints, indexes, trigger, view, refusal."""

from __future__ import annotations

import psycopg
import pytest

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.errors import SchemaStateError
from statsfirst.legacy.baseline import init_legacy


def _tables(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    ).fetchall()
    return {r[0] for r in rows}


def test_tables_columns_indexes_trigger_view(legacy_db: ResolvedDsn) -> None:
    with psycopg.connect(legacy_db.conninfo) as conn:
        assert {
            "c3d_metadata",
            "analysis_results",
            "therapists",
            "patients",
            "researcher_profiles",
            "session_settings",
            "analysis_summary",
        } <= _tables(conn)
        cols = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = 'c3d_metadata'"
            ).fetchall()
        )
        assert len(cols) == 31
        assert cols["file_size_bytes"] == "bigint" and cols["session_date"] == "timestamp without time zone"
        assert cols["upload_date"] == "timestamp with time zone" and cols["game_metadata"] == "jsonb"
        defaults = dict(
            conn.execute(
                "SELECT column_name, column_default FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = 'analysis_results'"
            ).fetchall()
        )
        assert "30 days" in defaults["expires_at"] and defaults["cache_hits"] == "0"
        indexes = {r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'")}
        assert any("(resolved_patient_id, resolved_therapist_id)" in d for d in indexes)
        assert any("(resolved_session_date, size_category)" in d for d in indexes)
        assert any("c3d_metadata USING btree (created_at DESC)" in d for d in indexes)
        assert any("(file_hash, processing_version, processing_params)" in d for d in indexes)
        fk = conn.execute(
            "SELECT confdeltype FROM pg_constraint WHERE conname LIKE 'analysis_results_c3d%'"
        ).fetchone()
        assert fk == ("c",)
        conn.execute(
            "INSERT INTO c3d_metadata (id, file_path, file_hash, file_size_bytes, updated_at) "
            "VALUES (gen_random_uuid(), 'a.c3d', 'h', 0, '2020-01-01')"
        )
        conn.execute("UPDATE c3d_metadata SET frame_count = 1")
        row = conn.execute(
            "SELECT updated_at > '2021-01-01', processing_status, bucket_name FROM c3d_metadata"
        ).fetchone()
        assert row == (True, "pending", "c3d-files")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE c3d_metadata SET size_category = 'huge'")


def test_refuses_second_init(legacy_db: ResolvedDsn) -> None:
    with psycopg.connect(legacy_db.conninfo) as conn:
        with pytest.raises(SchemaStateError, match="only for empty dev/test databases") as err:
            init_legacy(conn, with_session_settings=False)
        assert "c3d_metadata" in str(err.value)


def test_session_settings_only_with_flag(empty_db: ResolvedDsn) -> None:
    with psycopg.connect(empty_db.conninfo) as conn:
        created = init_legacy(conn, with_session_settings=False)
        assert "session_settings" not in created and "session_settings" not in _tables(conn)


C3D_COLUMNS = [
    "id", "file_path", "file_hash", "file_size_bytes", "patient_id", "therapist_id", "session_id", "session_date",
    "session_type", "session_duration", "session_notes", "game_metadata", "channel_names", "channel_count",
    "sampling_rate", "duration_seconds", "frame_count", "resolved_patient_id", "resolved_therapist_id",
    "resolved_session_date", "size_category", "content_type", "upload_date", "bucket_name", "object_metadata",
    "processing_status", "processing_version", "error_message", "created_at", "updated_at", "processed_at",
]
# legacy-schema.md numbers them: code that reads rows by position depends on this order
ANALYSIS_COLUMNS = [
    "id", "c3d_metadata_id", "file_hash", "processing_version", "processing_params", "analytics_data",
    "emg_signals", "contractions_data", "processing_time_ms", "cache_hits", "last_accessed_at", "mvc_values",
    "good_contractions_count", "total_contractions_count", "compliance_scores", "temporal_stats", "created_at",
    "expires_at",
]


def _ordered_columns(conn: psycopg.Connection, table: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
            "ORDER BY attnum",
            (f"public.{table}",),
        )
    ]


def _names(conn: psycopg.Connection, query: str, table: str) -> set[str]:
    return {r[0] for r in conn.execute(query, (f"public.{table}",))}


# PostgreSQL 18 lists NOT NULL constraints in pg_constraint too (contype n); the DDL names the others
CONSTRAINTS = "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype <> 'n'"
INDEXES = "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass"


def test_the_real_ddl_column_order_and_names(legacy_db: ResolvedDsn) -> None:
    with psycopg.connect(legacy_db.conninfo) as conn:
        assert _ordered_columns(conn, "c3d_metadata") == C3D_COLUMNS
        assert _ordered_columns(conn, "analysis_results") == ANALYSIS_COLUMNS
        assert _names(conn, CONSTRAINTS, "c3d_metadata") == {
            "c3d_metadata_pkey", "c3d_metadata_file_path_key", "valid_status", "valid_size_category",
        }
        assert _names(conn, CONSTRAINTS, "analysis_results") == {
            "analysis_results_pkey", "analysis_results_c3d_metadata_id_fkey", "unique_analysis_cache",
        }
        assert _names(conn, INDEXES, "c3d_metadata") == {
            "c3d_metadata_pkey", "c3d_metadata_file_path_key",
            *(f"idx_c3d_metadata_{c}" for c in (
                "file_hash", "patient_id", "resolved_patient_id", "therapist_id", "resolved_therapist_id",
                "session_date", "resolved_session_date", "size_category", "processing_status", "created_at",
                "upload_date", "patient_therapist", "date_range",
            )),
        }
        assert _names(conn, INDEXES, "analysis_results") == {
            "analysis_results_pkey", "unique_analysis_cache", "idx_analysis_results_file_hash",
            "idx_analysis_results_c3d_metadata_id", "idx_analysis_results_created_at",
            "idx_analysis_results_expires_at", "idx_analysis_results_last_accessed",
        }
        defs = {r[0]: r[1] for r in conn.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid IN ('public.c3d_metadata'::regclass, 'public.analysis_results'::regclass)"
        )}
        assert defs["idx_c3d_metadata_patient_therapist"].endswith("(resolved_patient_id, resolved_therapist_id)")
        assert defs["idx_c3d_metadata_date_range"].endswith("(resolved_session_date, size_category)")
        assert defs["idx_analysis_results_last_accessed"].endswith("(last_accessed_at DESC)")
        triggers = conn.execute(
            "SELECT t.tgname, p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE NOT t.tgisinternal AND t.tgrelid IN ('public.c3d_metadata'::regclass, "
            "'public.analysis_results'::regclass)"
        ).fetchall()
        assert triggers == [("update_c3d_metadata_updated_at", "update_updated_at_column")]
        # update_cache_hit() exists, and no trigger uses it (the app does read-then-update)
        functions = {r[0] for r in conn.execute(
            "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
        )}
        assert {"update_cache_hit", "update_updated_at_column"} <= functions
        summary = _ordered_columns(conn, "analysis_summary")
        assert summary[:2] == ["id", "file_path"] and "last_accessed_at" in summary


def test_the_legacy_session_settings_table(legacy_db: ResolvedDsn) -> None:
    with psycopg.connect(legacy_db.conninfo) as conn:
        cols = conn.execute(
            "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'session_settings' ORDER BY ordinal_position"
        ).fetchall()
        assert cols == [
            ("user_id", "uuid", "NO", None),
            ("session_id", "text", "NO", None),
            ("params", "jsonb", "NO", "'{}'::jsonb"),
            ("updated_at", "timestamp with time zone", "NO", "now()"),
        ]
        assert _names(conn, INDEXES, "session_settings") == {"session_settings_pkey", "session_settings_params_gin"}
        gin = conn.execute("SELECT pg_get_indexdef('public.session_settings_params_gin'::regclass)").fetchone()
        assert gin and "USING gin (params)" in gin[0]
        assert conn.execute(
            "SELECT relrowsecurity FROM pg_class WHERE oid = 'public.session_settings'::regclass"
        ).fetchone() == (True,)
        # no auth.uid() here (plain PostgreSQL before `schema apply`): RLS on, no policy, as on a live table where
        # the legacy `create policy if not exists` statements were rejected
        assert conn.execute("SELECT count(*) FROM pg_policy WHERE polrelid = 'public.session_settings'::regclass"
                            ).fetchone() == (0,)
        conn.execute("INSERT INTO session_settings (user_id, session_id) VALUES (gen_random_uuid(), 's')")
        assert conn.execute("SELECT params FROM session_settings").fetchone() == ({},)
        with pytest.raises(psycopg.errors.NotNullViolation):
            conn.execute("UPDATE session_settings SET updated_at = NULL")


def test_session_settings_policies_where_auth_uid_exists(empty_db: ResolvedDsn) -> None:
    with psycopg.connect(empty_db.conninfo) as conn:
        conn.execute("CREATE SCHEMA auth")
        conn.execute("CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT NULL::uuid $$")
        conn.commit()
        init_legacy(conn, with_session_settings=True)
        policies = conn.execute(
            "SELECT polname, polcmd, pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) "
            "FROM pg_policy WHERE polrelid = 'public.session_settings'::regclass ORDER BY polname"
        ).fetchall()
        assert [(p[0], p[1]) for p in policies] == [
            ("session_settings_delete_own", "d"), ("session_settings_insert_own", "a"),
            ("session_settings_select_own", "r"), ("session_settings_update_own", "w"),
        ]
        assert all("auth.uid() = user_id" in (p[2] or p[3]) for p in policies)


def test_check_constraints_by_name(legacy_db: ResolvedDsn) -> None:
    with psycopg.connect(legacy_db.conninfo) as conn:
        for column, constraint in (("processing_status", "valid_status"), ("size_category", "valid_size_category")):
            with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
                conn.execute(
                    f"INSERT INTO c3d_metadata (file_path, file_hash, file_size_bytes, {column}) "
                    "VALUES ('x.c3d', 'h', 0, 'nonsense')"
                )
            conn.rollback()

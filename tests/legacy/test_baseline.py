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

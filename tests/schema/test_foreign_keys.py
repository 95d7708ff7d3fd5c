"""Foreign keys of the Statistics-First tables: orphans are refused, deleting a session removes its children,
and changes to the referenced legacy rows never fail because of the new tables."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

CHILD_TABLES = (
    "emg_statistics",
    "performance_scores",
    "bfr_monitoring",
    "session_settings",
    "export_history",
    "signal_processing_cache",
    "processing_parameters",
)

# (table, column, orphan value, constraint) - every foreign key of the eight tables
ORPHANS: list[tuple[str, str, Any, str]] = [
    ("therapy_sessions", "patient_id", "P999", "therapy_sessions_patient_id_fkey"),
    ("therapy_sessions", "therapist_id", uuid.UUID(int=1), "therapy_sessions_therapist_id_fkey"),
    ("export_history", "exported_by", uuid.UUID(int=2), "export_history_exported_by_fkey"),
    *[(table, "session_id", uuid.UUID(int=3), f"{table}_session_id_fkey") for table in CHILD_TABLES],
]


@pytest.fixture
def session_id(conn: psycopg.Connection, kit: Any) -> Any:
    return kit.insert(conn, "therapy_sessions", kit.valid_session())


def test_every_foreign_key_has_an_orphan_case(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        """
        SELECT c.conname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
        WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%s)
        """,
        (["therapy_sessions", *CHILD_TABLES],),
    ).fetchall()
    assert {row[0] for row in rows} == {constraint for *_, constraint in ORPHANS}


@pytest.mark.parametrize(
    ("table", "column", "value", "constraint"), ORPHANS, ids=[f"{o[0]}.{o[1]}" for o in ORPHANS]
)
def test_orphan_is_rejected(
    conn: psycopg.Connection, kit: Any, session_id: Any, table: str, column: str, value: Any, constraint: str
) -> None:
    row = kit.valid_row(table, session_id, **{column: value})
    with pytest.raises(errors.ForeignKeyViolation) as raised:
        kit.insert(conn, table, row)
    assert raised.value.diag.constraint_name == constraint


def test_references_to_existing_legacy_rows_insert(conn: psycopg.Connection, kit: Any) -> None:
    therapist_id, _ = kit.add_therapist(conn)
    code = kit.add_patient(conn, therapist_id)
    researcher = kit.add_researcher(conn)
    session = kit.insert(
        conn, "therapy_sessions", kit.valid_session(patient_id=code, therapist_id=therapist_id)
    )
    kit.insert(conn, "export_history", kit.valid_child("export_history", session, exported_by=researcher))
    kit.insert(conn, "export_history", kit.valid_child("export_history", None, exported_by=researcher))


def test_deleting_a_session_cascades_to_every_child(
    conn: psycopg.Connection, kit: Any, session_id: Any
) -> None:
    keep = kit.insert(conn, "therapy_sessions", kit.valid_session())
    for table in CHILD_TABLES:
        kit.insert(conn, table, kit.valid_child(table, session_id))
        kit.insert(conn, table, kit.valid_child(table, keep))
    conn.execute("DELETE FROM therapy_sessions WHERE id = %s", (session_id,))
    for table in CHILD_TABLES:
        query = sql.SQL("SELECT count(*) FILTER (WHERE session_id = %s), count(*) FROM {}").format(
            sql.Identifier(table)
        )
        counts = conn.execute(query, (session_id,)).fetchone()
        assert counts == (0, 1), table


def test_every_child_table_has_an_index_led_by_session_id(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        """
        SELECT t.relname FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
        WHERE t.relnamespace = current_schema()::regnamespace AND a.attname = 'session_id'
          AND i.indpred IS NULL
        """
    ).fetchall()
    assert set(CHILD_TABLES) <= {row[0] for row in rows}


def test_legacy_deletes_and_renames_are_not_blocked(conn: psycopg.Connection, kit: Any) -> None:
    """Patients, therapists and researcher profiles stay editable by the legacy application."""
    therapist_id, _ = kit.add_therapist(conn)
    lone_therapist, _ = kit.add_therapist(conn)
    code = kit.add_patient(conn, therapist_id)
    researcher = kit.add_researcher(conn)
    session = kit.insert(
        conn, "therapy_sessions", kit.valid_session(patient_id=code, therapist_id=lone_therapist)
    )
    export = kit.insert(
        conn, "export_history", kit.valid_child("export_history", session, exported_by=researcher)
    )

    conn.execute("UPDATE patients SET patient_code = 'P777' WHERE patient_code = %s", (code,))
    assert conn.execute("SELECT patient_id FROM therapy_sessions WHERE id = %s", (session,)).fetchone() == (
        "P777",
    )
    conn.execute("DELETE FROM patients WHERE patient_code = 'P777'")
    conn.execute("DELETE FROM therapists WHERE id = %s", (lone_therapist,))
    conn.execute("DELETE FROM researcher_profiles WHERE id = %s", (researcher,))
    assert conn.execute(
        "SELECT patient_id, therapist_id FROM therapy_sessions WHERE id = %s", (session,)
    ).fetchone() == (None, None)
    assert conn.execute("SELECT exported_by FROM export_history WHERE id = %s", (export,)).fetchone() == (
        None,
    )

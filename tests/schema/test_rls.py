"""Row-level security with the real Supabase roles and JWT claims (``request.jwt.claims``).

World: therapist A owns patient PA, therapist B owns patient PB; researcher R; sessions
  s_a_patient   patient PA, no therapist      -> A (via patients.therapist_id)
  s_a_assigned  patient PB, therapist A       -> A (therapy_sessions.therapist_id), B (PB is B's patient)
  s_b           patient PB, no therapist      -> B
  s_nobody      no patient, no therapist      -> researchers only
each with one row in every child table, and one export by R.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

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
SESSION_TABLES = tuple(t for t in TABLES if t != "export_history")


@dataclass
class World:
    therapist_a: uuid.UUID  # auth user ids
    therapist_b: uuid.UUID
    researcher: uuid.UUID
    sessions: dict[str, uuid.UUID]
    export_id: uuid.UUID


@pytest.fixture
def world(conn: psycopg.Connection, kit: Any) -> World:
    therapist_a, user_a = kit.add_therapist(conn)
    therapist_b, user_b = kit.add_therapist(conn)
    patient_a = kit.add_patient(conn, therapist_a)
    patient_b = kit.add_patient(conn, therapist_b)
    researcher = kit.add_researcher(conn)
    specs = {
        "s_a_patient": {"patient_id": patient_a},
        "s_a_assigned": {"patient_id": patient_b, "therapist_id": therapist_a},
        "s_b": {"patient_id": patient_b},
        "s_nobody": {},
    }
    sessions = {
        name: kit.insert(conn, "therapy_sessions", kit.valid_session(**spec)) for name, spec in specs.items()
    }
    for session in sessions.values():
        for table in SESSION_TABLES[1:]:
            kit.insert(conn, table, kit.valid_child(table, session))
    export_id = kit.insert(
        conn,
        "export_history",
        kit.valid_child("export_history", sessions["s_a_patient"], exported_by=researcher),
    )
    return World(user_a, user_b, researcher, sessions, export_id)


def _session_ids(conn: psycopg.Connection, table: str) -> set[uuid.UUID]:
    column = "id" if table == "therapy_sessions" else "session_id"
    query = sql.SQL("SELECT {} FROM {}").format(sql.Identifier(column), sql.Identifier(table))
    return {row[0] for row in conn.execute(query).fetchall()}


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("table", SESSION_TABLES)
def test_therapist_reads_only_own_patients_sessions(
    conn: psycopg.Connection, kit: Any, world: World, table: str
) -> None:
    s = world.sessions
    kit.set_claims(conn, "authenticated", world.therapist_a)
    assert _session_ids(conn, table) == {s["s_a_patient"], s["s_a_assigned"]}
    kit.reset_claims(conn)
    kit.set_claims(conn, "authenticated", world.therapist_b)
    assert _session_ids(conn, table) == {s["s_a_assigned"], s["s_b"]}


def test_therapist_sees_no_exports(conn: psycopg.Connection, kit: Any, world: World) -> None:
    kit.set_claims(conn, "authenticated", world.therapist_a)
    assert _count(conn, "export_history") == 0


@pytest.mark.parametrize("table", TABLES)
def test_researcher_reads_everything(conn: psycopg.Connection, kit: Any, world: World, table: str) -> None:
    expected = _count(conn, table)
    assert expected >= 1
    kit.set_claims(conn, "authenticated", world.researcher)
    assert _count(conn, table) == expected


@pytest.mark.parametrize("table", TABLES)
def test_authenticated_stranger_reads_nothing(
    conn: psycopg.Connection, kit: Any, world: World, table: str
) -> None:
    kit.set_claims(conn, "authenticated", uuid.uuid4())
    assert _count(conn, table) == 0
    kit.reset_claims(conn)
    kit.set_claims(conn, "authenticated", None)  # a JWT without sub
    assert _count(conn, table) == 0


@pytest.mark.parametrize("table", TABLES)
def test_anon_reads_nothing(conn: psycopg.Connection, kit: Any, world: World, table: str) -> None:
    kit.set_claims(conn, "anon", None)
    with pytest.raises(errors.InsufficientPrivilege):
        _count(conn, table)


@pytest.mark.parametrize("table", TABLES)
def test_therapist_cannot_write(conn: psycopg.Connection, kit: Any, world: World, table: str) -> None:
    session = world.sessions["s_a_patient"]
    target = session if table == "therapy_sessions" else None
    kit.set_claims(conn, "authenticated", world.therapist_a)
    key = sql.Identifier("id" if table == "therapy_sessions" else "session_id")
    statements = [
        sql.SQL("UPDATE {} SET id = id WHERE {} = %s").format(sql.Identifier(table), key),
        sql.SQL("DELETE FROM {} WHERE {} = %s").format(sql.Identifier(table), key),
    ]
    for statement in statements:
        with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
            conn.execute(statement, (session,))
    row = kit.valid_row(table, target or session)
    if table == "export_history":
        row["exported_by"] = world.therapist_a
    with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
        kit.insert(conn, table, row)


def test_researcher_inserts_own_exports_only(conn: psycopg.Connection, kit: Any, world: World) -> None:
    other_researcher = kit.add_researcher(conn)
    kit.set_claims(conn, "authenticated", world.researcher)
    own = kit.insert(
        conn, "export_history", kit.valid_child("export_history", None, exported_by=world.researcher)
    )
    assert own is not None
    for exported_by in (other_researcher, None):
        with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
            kit.insert(
                conn, "export_history", kit.valid_child("export_history", None, exported_by=exported_by)
            )
    for statement in ("UPDATE export_history SET export_status = 'failed'", "DELETE FROM export_history"):
        with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
            conn.execute(statement)
    with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
        kit.insert(
            conn, "emg_statistics", kit.valid_child("emg_statistics", world.sessions["s_b"], channel_name="X")
        )


def test_therapist_cannot_insert_exports_even_as_themselves(
    conn: psycopg.Connection, kit: Any, world: World
) -> None:
    kit.set_claims(conn, "authenticated", world.therapist_a)
    with pytest.raises(errors.InsufficientPrivilege):
        kit.insert(
            conn, "export_history", kit.valid_child("export_history", None, exported_by=world.therapist_a)
        )


@pytest.mark.parametrize("table", TABLES)
def test_service_role_bypasses_rls(conn: psycopg.Connection, kit: Any, world: World, table: str) -> None:
    expected = _count(conn, table)
    kit.set_claims(conn, "service_role", None)
    assert _count(conn, table) == expected
    session = kit.insert(conn, "therapy_sessions", kit.valid_session())
    if table != "therapy_sessions":
        kit.insert(conn, table, kit.valid_child(table, session))
    conn.execute(sql.SQL("UPDATE {} SET id = id").format(sql.Identifier(table)))
    assert _count(conn, table) == expected + 1


def test_policies_work_when_legacy_tables_have_their_own_rls(
    conn: psycopg.Connection, kit: Any, world: World
) -> None:
    """SECURITY DEFINER helpers: a therapist who cannot read patients/therapists still gets their rows."""
    for table in ("patients", "therapists", "researcher_profiles"):
        conn.execute(sql.SQL("ALTER TABLE public.{} ENABLE ROW LEVEL SECURITY").format(sql.Identifier(table)))
    kit.set_claims(conn, "authenticated", world.therapist_a)
    assert _session_ids(conn, "emg_statistics") == {
        world.sessions["s_a_patient"],
        world.sessions["s_a_assigned"],
    }
    kit.reset_claims(conn)
    kit.set_claims(conn, "authenticated", world.researcher)
    assert _count(conn, "therapy_sessions") == 4


def test_helper_functions_answer_for_the_caller(conn: psycopg.Connection, kit: Any, world: World) -> None:
    kit.set_claims(conn, "authenticated", world.researcher)
    assert conn.execute(
        "SELECT statsfirst_is_researcher(), statsfirst_current_therapist_id()"
    ).fetchone() == (True, None)
    kit.reset_claims(conn)
    kit.set_claims(conn, "authenticated", world.therapist_b)
    row = conn.execute(
        "SELECT statsfirst_is_researcher(), statsfirst_can_read_session(%s), statsfirst_can_read_session(%s)",
        (world.sessions["s_b"], world.sessions["s_a_patient"]),
    ).fetchone()
    assert row == (False, True, False)

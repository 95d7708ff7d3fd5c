"""RLS through the views (security_invoker) and the write rules (cache-hit update only)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.rows import dict_row

Act = Callable[[psycopg.Connection, str, uuid.UUID | None], None]


def _ids(conn: psycopg.Connection, query: str | sql.Composable) -> set[Any]:
    return {r[0] for r in conn.execute(query).fetchall()}


def _target(views_db: Any, table: str) -> sql.Composable:
    return sql.Identifier(views_db.target, table)


def therapists_with_sessions(conn: psycopg.Connection, target: str) -> list[uuid.UUID]:
    """Auth user ids of the two therapists with the most migrated sessions (read as the owner)."""
    rows = conn.execute(
        sql.SQL(
            "SELECT t.user_id FROM public.therapists t JOIN public.patients p ON p.therapist_id = t.id "
            "JOIN {} s ON s.patient_id = p.patient_code GROUP BY t.user_id ORDER BY count(*) DESC, t.user_id LIMIT 2"
        ).format(sql.Identifier(target, "therapy_sessions"))
    ).fetchall()
    assert len(rows) == 2
    return [r[0] for r in rows]


def _rows_by_id(conn: psycopg.Connection, view: str) -> dict[Any, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return {r["id"]: r for r in cur.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier("public", view)))}


def test_a_therapist_sees_through_the_views_exactly_what_rls_grants_through_the_tables(
    conn: psycopg.Connection, views_db: Any, as_role: Act
) -> None:
    everything = {view: _rows_by_id(conn, view) for view in ("c3d_metadata_view", "analysis_results_view")}
    seen: list[set[Any]] = []
    for user in therapists_with_sessions(conn, views_db.target):
        with conn.transaction():
            as_role(conn, "authenticated", user)
            sessions = _ids(conn, sql.SQL("SELECT id FROM {}").format(_target(views_db, "therapy_sessions")))
            analyses = _ids(conn, sql.SQL("SELECT id FROM {}").format(_target(views_db, "signal_processing_cache")))
            c3d_rows = _rows_by_id(conn, "c3d_metadata_view")
            analysis_rows = _rows_by_id(conn, "analysis_results_view")
            count = conn.execute("SELECT count(*) FROM public.c3d_metadata_view").fetchone()
            lineage = conn.execute("SELECT count(*) FROM statsfirst.session_lineage").fetchone()
            analysis_lineage = _ids(conn, "SELECT legacy_session_id FROM statsfirst.analysis_lineage")
            conn.execute("RESET ROLE")
        assert 0 < len(sessions) < len(everything["c3d_metadata_view"])
        assert set(c3d_rows) == sessions and count == (len(sessions),)
        assert analyses and set(analysis_rows) == analyses
        # the therapist's rows carry the same values as the owner's (lineage and statistics readable to them)
        assert all(c3d_rows[i] == everything["c3d_metadata_view"][i] for i in sessions)
        assert all(analysis_rows[i] == everything["analysis_results_view"][i] for i in analyses)
        # the lineage itself: only their sessions' rows
        assert lineage == (len(sessions),) and analysis_lineage <= sessions
        seen.append(sessions)
    assert not seen[0] & seen[1]


def test_a_researcher_sees_everything_and_a_user_without_a_profile_nothing(
    conn: psycopg.Connection, views_db: Any, as_role: Act
) -> None:
    researcher = conn.execute("SELECT id FROM public.researcher_profiles LIMIT 1").fetchone()
    assert researcher is not None
    total = [conn.execute(f"SELECT count(*) FROM public.{v}").fetchone() for v in ("c3d_metadata_view",
                                                                                   "analysis_results_view")]
    with conn.transaction():
        as_role(conn, "authenticated", researcher[0])
        assert [conn.execute(f"SELECT count(*) FROM public.{v}").fetchone()
                for v in ("c3d_metadata_view", "analysis_results_view")] == total
        conn.execute("RESET ROLE")
    with conn.transaction():
        as_role(conn, "authenticated", uuid.uuid4())
        assert conn.execute("SELECT count(*) FROM public.c3d_metadata_view").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM public.analysis_results_view").fetchone() == (0,)
        conn.execute("RESET ROLE")


@pytest.mark.parametrize(
    "relation",
    ["public.c3d_metadata_view", "public.analysis_results_view", "statsfirst.session_lineage",
     "statsfirst.analysis_lineage"],
)
def test_anon_sees_nothing(conn: psycopg.Connection, as_role: Act, relation: str) -> None:
    as_role(conn, "anon", None)
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(f"SELECT * FROM {relation} LIMIT 1")


def test_lineage_columns_the_views_do_not_need_stay_private(
    conn: psycopg.Connection, views_db: Any, as_role: Act
) -> None:
    user = therapists_with_sessions(conn, views_db.target)[0]
    as_role(conn, "authenticated", user)
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute("SELECT linked_settings FROM statsfirst.session_lineage LIMIT 1")


# ------------------------------------------------------------------------------------------------ writes
def _some_analysis(conn: psycopg.Connection) -> tuple[Any, int]:
    row = conn.execute("SELECT id, cache_hits FROM public.analysis_results_view ORDER BY id LIMIT 1").fetchone()
    assert row is not None
    return row[0], row[1]


@pytest.mark.parametrize("role", [None, "service_role"])
def test_the_cache_hit_update_lands_in_signal_processing_cache(
    conn: psycopg.Connection, views_db: Any, as_role: Act, role: str | None
) -> None:
    analysis_id, hits = _some_analysis(conn)
    if role:
        as_role(conn, role, None)
    cur = conn.execute(
        "UPDATE public.analysis_results_view SET cache_hits = cache_hits + 1, last_accessed_at = now() "
        "WHERE id = %s",
        (analysis_id,),
    )
    assert cur.rowcount == 1
    stored = conn.execute(
        sql.SQL("SELECT hit_count, last_accessed_at = now() FROM {} WHERE id = %s").format(
            _target(views_db, "signal_processing_cache")
        ),
        (analysis_id,),
    ).fetchone()
    assert stored == (hits + 1, True)
    assert conn.execute(
        "SELECT cache_hits FROM public.analysis_results_view WHERE id = %s", (analysis_id,)
    ).fetchone() == (hits + 1,)


def _refused(conn: psycopg.Connection, statement: str, params: tuple[Any, ...], table: str) -> None:
    with pytest.raises(errors.FeatureNotSupported) as caught, conn.transaction():
        conn.execute(statement, params)
    assert "read-only" in str(caught.value)
    assert caught.value.diag.message_hint is not None and f"stats.{table}" in caught.value.diag.message_hint


def test_other_writes_fail_with_a_message_naming_the_table_to_write(conn: psycopg.Connection) -> None:
    analysis_id, _ = _some_analysis(conn)
    session = conn.execute("SELECT id FROM public.c3d_metadata_view LIMIT 1").fetchone()
    assert session is not None
    cache = "signal_processing_cache"
    _refused(conn, "UPDATE public.analysis_results_view SET processing_version = 'v9' WHERE id = %s",
             (analysis_id,), cache)
    _refused(conn, "UPDATE public.analysis_results_view SET cache_hits = 1, analytics_data = '{}' WHERE id = %s",
             (analysis_id,), cache)
    _refused(conn, "DELETE FROM public.analysis_results_view WHERE id = %s", (analysis_id,), cache)
    _refused(
        conn,
        "INSERT INTO public.analysis_results_view (id, c3d_metadata_id, file_hash, processing_version, analytics_data)"
        " VALUES (gen_random_uuid(), %s, 'x', 'v2.1.0', '{}')",
        (session[0],),
        cache,
    )
    _refused(conn, "UPDATE public.c3d_metadata_view SET file_size_bytes = 1 WHERE id = %s", (session[0],),
             "therapy_sessions")
    _refused(conn, "DELETE FROM public.c3d_metadata_view WHERE id = %s", (session[0],), "therapy_sessions")
    _refused(conn, "INSERT INTO public.c3d_metadata_view (file_path, file_hash, file_size_bytes) VALUES (%s, 'x', 0)",
             ("x.c3d",), "therapy_sessions")
    # nothing changed
    assert conn.execute("SELECT count(*) FROM public.analysis_results_view WHERE id = %s",
                        (analysis_id,)).fetchone() == (1,)


def test_a_therapist_cannot_write_through_the_views(
    conn: psycopg.Connection, views_db: Any, as_role: Act
) -> None:
    """Therapists write nothing in the new schema (006), so the cache-hit update is not theirs either."""
    analysis_id, _ = _some_analysis(conn)
    as_role(conn, "authenticated", therapists_with_sessions(conn, views_db.target)[0])
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute("UPDATE public.analysis_results_view SET cache_hits = 0 WHERE id = %s", (analysis_id,))

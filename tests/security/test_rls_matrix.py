"""Row-level security matrix: the eight tables and the two compatibility views × anon, therapist A, therapist B, a
researcher and service_role × SELECT, INSERT, UPDATE, DELETE, on a database the real CLI migrated.

What each may do is written down below from shared/spec/target-schema.md (and compat-views.md for the views); the
rows a therapist should see are recomputed from the legacy patients/therapists tables as the owner.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from security_support import TARGET, TARGET_TABLES, VIEWS, SecuredRun, SqlText, act_as, rows

CLIENTS = ("anon", "therapist A", "therapist B", "researcher", "service_role")
RELATIONS = (*TARGET_TABLES, *VIEWS)
OPERATIONS = ("select", "insert", "update", "delete")

# target-schema.md: researchers read everything and insert their own exports; therapists read their patients'
# sessions and those sessions' rows; anon nothing; the pipeline (service_role) writes. compat-views.md: the views are
# security_invoker (same rows as the tables), read-only except the legacy cache-hit update, other writes refused.
DENIED_WRITES = {"insert": "denied", "update": "denied", "delete": "denied"}
TABLE_RULES: dict[str, dict[str, str]] = {
    "anon": {"select": "denied", **DENIED_WRITES},
    "therapist": {"select": "own sessions", **DENIED_WRITES},
    "researcher": {"select": "all", **DENIED_WRITES},
    "service_role": {"select": "all", "insert": "allowed", "update": "allowed", "delete": "allowed"},
}
EXCEPTIONS: dict[tuple[str, str], dict[str, str]] = {
    ("therapist", "export_history"): {"select": "none"},
    ("researcher", "export_history"): {"insert": "own rows only"},
    ("service_role", "c3d_metadata_view"): {"insert": "refused", "update": "refused", "delete": "refused"},
    ("service_role", "analysis_results_view"): {"insert": "refused", "update": "cache hits only",
                                                "delete": "refused"},
}


def expected(client: str, relation: str) -> dict[str, str]:
    kind = "therapist" if client.startswith("therapist") else client
    return {**TABLE_RULES[kind], **EXCEPTIONS.get((kind, relation), {})}


# ------------------------------------------------------------------------------------------------ the world
def qualified(relation: str) -> sql.Composable:
    return sql.Identifier("public" if relation in VIEWS else TARGET, relation)


def session_column(relation: str) -> str:
    return {"therapy_sessions": "id", "c3d_metadata_view": "id", "analysis_results_view": "c3d_metadata_id",
            "export_history": "id"}.get(relation, "session_id")


def identities(run: SecuredRun) -> dict[str, tuple[str, uuid.UUID | None]]:
    """(database role, auth user id) per client: the two therapists with the most migrated sessions (therapist A
    one with BFR records, so every table has a row A may read), a researcher."""
    therapists = rows(run.admin, sql.SQL(
        "SELECT t.user_id FROM public.therapists t JOIN public.patients p ON p.therapist_id = t.id"
        " JOIN {} s ON s.patient_id = p.patient_code LEFT JOIN {} b ON b.session_id = s.id GROUP BY t.user_id"
        " ORDER BY count(b.session_id) > 0 DESC, count(DISTINCT s.id) DESC, t.user_id LIMIT 2"
    ).format(sql.Identifier(TARGET, "therapy_sessions"), sql.Identifier(TARGET, "bfr_monitoring")))
    researcher = rows(run.admin, "SELECT id FROM public.researcher_profiles ORDER BY id LIMIT 1")[0][0]
    return {"anon": ("anon", None), "therapist A": ("authenticated", therapists[0][0]),
            "therapist B": ("authenticated", therapists[1][0]), "researcher": ("authenticated", researcher),
            "service_role": ("service_role", None)}


def own_sessions(conn: psycopg.Connection, user: uuid.UUID) -> set[uuid.UUID]:
    """The spec's rule, recomputed as the owner: sessions of the therapist's patients or assigned to them."""
    query = sql.SQL(
        "SELECT s.id FROM {} s WHERE EXISTS (SELECT 1 FROM public.therapists t WHERE t.user_id = %(u)s AND"
        " (s.therapist_id = t.id OR EXISTS (SELECT 1 FROM public.patients p"
        "  WHERE p.patient_code = s.patient_id AND p.therapist_id = t.id)))"
    ).format(sql.Identifier(TARGET, "therapy_sessions"))
    return {r[0] for r in conn.execute(query, {"u": user}).fetchall()}


def attempt(conn: psycopg.Connection, statement: SqlText, params: Any = None) -> tuple[str, int]:
    """Run a write in a savepoint that is always rolled back: allowed (rows affected), denied or refused."""
    try:
        with conn.transaction(force_rollback=True):
            return "allowed", conn.execute(statement, params).rowcount
    except errors.InsufficientPrivilege:
        return "denied", 0
    except errors.FeatureNotSupported as exc:
        assert "read-only" in str(exc)
        return "refused", 0


def row_as_json(conn: psycopg.Connection, relation: str, where: str, value: Any) -> dict[str, Any]:
    row = conn.execute(sql.SQL("SELECT to_jsonb(t) FROM {} t WHERE {} = %s LIMIT 1").format(
        qualified(relation), sql.Identifier(where)), (value,)).fetchone()
    assert row is not None, (relation, where, value)
    return dict(row[0])


def insert_json(relation: str) -> sql.Composed:
    return sql.SQL("INSERT INTO {rel} SELECT * FROM jsonb_populate_record(NULL::{rel}, %s::jsonb)").format(
        rel=qualified(relation))


# ------------------------------------------------------------------------------------------------ the matrix
@pytest.mark.parametrize("relation", RELATIONS)
@pytest.mark.parametrize("client", CLIENTS)
def test_rls_matrix(secured_run: SecuredRun, client: str, relation: str) -> None:
    role, sub = identities(secured_run)[client]
    rules = expected(client, relation)
    key = session_column(relation)
    with psycopg.connect(secured_run.admin.conninfo) as conn:
        # ---- as the owner: what exists, what the spec says this client sees, rows and payloads to write with
        researchers = [r[0] for r in conn.execute("SELECT id FROM public.researcher_profiles ORDER BY id LIMIT 2")]
        exports = [conn.execute(
            "INSERT INTO stats.export_history (session_id, export_type, data_format, processing_method, exported_by,"
            " export_status) VALUES (NULL, 'session_statistics', 'csv', 'statistics_only', %s, 'completed')"
            " RETURNING id", (r,)).fetchone()[0] for r in researchers]  # type: ignore[index]
        therapist_a = identities(secured_run)["therapist A"][1]
        assert therapist_a is not None
        visible_to_a = sorted(own_sessions(conn, therapist_a))
        # a session of nobody's (no patient, no therapist) that child rows can be inserted for
        fresh_session = uuid.uuid4()
        template = row_as_json(conn, "therapy_sessions", "id", visible_to_a[0])
        conn.execute(insert_json("therapy_sessions"), (json.dumps(
            {**template, "id": str(fresh_session), "file_path": f"rls/{fresh_session}.c3d", "patient_id": None,
             "therapist_id": None}),))
        everything = {r[0] for r in conn.execute(sql.SQL("SELECT {} FROM {}").format(
            sql.Identifier(key), qualified(relation))).fetchall()}
        own = own_sessions(conn, sub) if client.startswith("therapist") and sub else set()
        want = {"all": everything, "own sessions": everything & own, "none": set()}.get(rules["select"])
        if rules["select"] == "own sessions" and relation in ("therapy_sessions", "emg_statistics", *VIEWS):
            assert want and len(want) < len(everything), "the therapist must see some rows and not all"
        # a row of the relation that therapist A may read (so a therapist's refusal is about rights, not rows)
        if relation == "export_history":
            target_id = exports[0]
        else:
            id_column = "id"
            target_id = conn.execute(sql.SQL("SELECT {} FROM {} WHERE {} = ANY(%s) ORDER BY 1 LIMIT 1").format(
                sql.Identifier(id_column), qualified(relation), sql.Identifier(key)), (visible_to_a,)).fetchone()[0]  # type: ignore[index]
        if relation in TARGET_TABLES and relation != "export_history":
            payload = row_as_json(conn, relation, "id", target_id)
            payload.update(id=str(uuid.uuid4()), **({"file_path": f"rls/{uuid.uuid4()}.c3d"}
                                                   if relation == "therapy_sessions" else
                                                   {"session_id": str(fresh_session)}))
        elif relation == "export_history":
            payload = {**row_as_json(conn, relation, "id", exports[0]), "id": str(uuid.uuid4()),
                       "exported_by": str(sub) if sub else None}
        else:
            payload = {}

        # ---- as the client
        act_as(conn, role, sub)
        seen: dict[str, str] = {}
        try:
            with conn.transaction(force_rollback=True):
                got = {r[0] for r in conn.execute(sql.SQL("SELECT {} FROM {}").format(
                    sql.Identifier(key), qualified(relation))).fetchall()}
            seen["select"] = rules["select"] if got == want else f"saw {len(got)} of {len(everything)} rows"
        except errors.InsufficientPrivilege:
            seen["select"] = "denied"

        insert: tuple[SqlText, tuple[Any, ...]]
        update: tuple[SqlText, tuple[Any, ...]]
        if relation == "c3d_metadata_view":
            insert = (sql.SQL("INSERT INTO public.c3d_metadata_view (id, file_path, file_hash, file_size_bytes)"
                              " VALUES (gen_random_uuid(), %s, %s, 1)"), (f"rls/{uuid.uuid4()}.c3d", "0" * 64))
            update = (sql.SQL("UPDATE public.c3d_metadata_view SET file_size_bytes = file_size_bytes WHERE id = %s"),
                      (target_id,))
        elif relation == "analysis_results_view":
            insert = (sql.SQL("INSERT INTO public.analysis_results_view (id, c3d_metadata_id, file_hash,"
                              " processing_version, analytics_data) VALUES (gen_random_uuid(), %s, %s, 'v2.1.0',"
                              " '{}')"), (fresh_session, "0" * 64))
            update = (sql.SQL("UPDATE public.analysis_results_view SET cache_hits = cache_hits + 1,"
                              " last_accessed_at = now() WHERE id = %s"), (target_id,))
        else:
            insert = (insert_json(relation), (json.dumps(payload),))
            update = (sql.SQL("UPDATE {} SET id = id WHERE id = %s").format(qualified(relation)), (target_id,))
        delete = (sql.SQL("DELETE FROM {} WHERE id = %s").format(qualified(relation)), (target_id,))

        outcome, count = attempt(conn, *insert)
        seen["insert"] = outcome if outcome != "allowed" or count == 1 else f"inserted {count}"
        if rules["insert"] == "own rows only":
            another = {**payload, "id": str(uuid.uuid4()), "exported_by": str(researchers[1])}
            refused_for_other, _ = attempt(conn, insert_json(relation), (json.dumps(another),))
            seen["insert"] = "own rows only" if (outcome, refused_for_other) == ("allowed", "denied") else (
                f"own: {outcome}, another researcher's: {refused_for_other}")
        outcome, count = attempt(conn, *update)
        seen["update"] = outcome if outcome != "allowed" or count == 1 else f"updated {count}"
        if rules["update"] == "cache hits only" and outcome == "allowed":
            other, _ = attempt(conn, sql.SQL("UPDATE public.analysis_results_view SET processing_version = 'x'"
                                             " WHERE id = %s"), (target_id,))
            seen["update"] = "cache hits only" if other == "refused" else f"other columns: {other}"
        outcome, count = attempt(conn, *delete)
        seen["delete"] = outcome if outcome != "allowed" or count == 1 else f"deleted {count}"
        conn.rollback()
    assert seen == rules

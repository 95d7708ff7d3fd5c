"""No patient (or therapist, or researcher) name reaches what clinicians see: the reports in every format, the
migration summaries, the flows' artifacts, and every relation a client role can read (the clinicians' view of the
quarantine, statsfirst.quarantine_review, among them). The quarantine payload keeps the legacy row as it was (names
included) and is readable by no client role."""

from __future__ import annotations

import re
import uuid
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from security_support import LEGACY_TABLES, LEGACY_VIEWS, TARGET, SecuredRun, act_as, rows


def shown_names(text: str, names: set[str]) -> list[str]:
    return sorted(n for n in names if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text))


def clients(run: SecuredRun) -> dict[str, tuple[str, Any]]:
    """anon, the therapist with the planted sessions' patients... (any two therapists), and a researcher."""
    therapists = rows(run.admin, sql.SQL(
        "SELECT t.user_id FROM public.therapists t JOIN public.patients p ON p.therapist_id = t.id"
        " JOIN {} s ON s.patient_id = p.patient_code GROUP BY t.user_id ORDER BY count(*) DESC, t.user_id LIMIT 2"
    ).format(sql.Identifier(TARGET, "therapy_sessions")))
    researcher = rows(run.admin, "SELECT id FROM public.researcher_profiles ORDER BY id LIMIT 1")
    return {"anon": ("anon", None), "therapist A": ("authenticated", therapists[0][0]),
            "therapist B": ("authenticated", therapists[1][0]), "researcher": ("authenticated", researcher[0][0])}


def test_the_planted_sessions_are_quarantined_with_their_names_in_the_payload(secured_run: SecuredRun) -> None:
    held = rows(secured_run.admin, "SELECT legacy_session_id::text, payload::text FROM statsfirst.quarantine"
                                   " WHERE resolved_at IS NULL AND legacy_session_id = ANY(%s::uuid[])",
                (secured_run.quarantined_with_names,))
    assert len(held) == 3 and all("Zoë-Vandenbroucke" in payload for _, payload in held)


def test_reports_summaries_and_artifacts_show_no_names(secured_run: SecuredRun) -> None:
    shown = {o.label: shown_names(o.stdout + o.stderr, secured_run.planted_names) for o in secured_run.outputs}
    shown.update({path: shown_names(text, secured_run.planted_names) for path, text in secured_run.files().items()})
    assert {label: names for label, names in shown.items() if names} == {}


@pytest.mark.parametrize("client", ["anon", "therapist A", "therapist B", "researcher"])
def test_no_client_role_reads_the_quarantine(secured_run: SecuredRun, client: str) -> None:
    role, sub = clients(secured_run)[client]
    for relation in ("quarantine", "migration_runs", "migration_batches"):
        with psycopg.connect(secured_run.admin.conninfo) as conn:
            act_as(conn, role, sub)
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SELECT payload FROM statsfirst.{}" if relation == "quarantine" else
                                     "SELECT * FROM statsfirst.{}").format(sql.Identifier(relation)))


@pytest.mark.parametrize("client", ["therapist A", "therapist B", "researcher"])
def test_nothing_a_client_role_can_read_holds_a_name(secured_run: SecuredRun, client: str) -> None:
    """Every relation outside the legacy tables that `authenticated` may read (whole or some columns), read as the
    client through RLS: no name from patients, therapists, researcher_profiles or the quarantined rows."""
    role, sub = clients(secured_run)[client]
    readable = rows(secured_run.admin, """
        SELECT n.nspname, c.relname,
               array_agg(a.attname ORDER BY a.attnum) FILTER (WHERE has_column_privilege(%s, c.oid, a.attnum, 'SELECT'))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'v', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%%' AND has_any_column_privilege(%s, c.oid, 'SELECT')
          AND NOT (n.nspname = 'public' AND c.relname = ANY(%s))
        GROUP BY 1, 2 ORDER BY 1, 2""", (role, role, [*LEGACY_TABLES, *LEGACY_VIEWS]))
    seen = {f"{schema}.{name}" for schema, name, _ in readable}
    assert {f"{TARGET}.therapy_sessions", "public.c3d_metadata_view", "public.analysis_results_view",
            "statsfirst.session_lineage", "statsfirst.quarantine_review"} <= seen
    assert not seen & {"statsfirst.quarantine", "statsfirst.migration_runs"}
    leaks: dict[str, list[str]] = {}
    read_rows = 0
    with psycopg.connect(secured_run.admin.conninfo) as conn:
        act_as(conn, role, sub)
        for schema, name, columns in readable:
            query = sql.SQL("SELECT ({})::text FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)) if len(columns) > 1 else
                sql.SQL("ROW({})").format(sql.Identifier(columns[0])), sql.Identifier(schema, name))
            texts = [r[0] for r in conn.execute(query).fetchall()]
            read_rows += len(texts)
            names = shown_names("\n".join(texts), secured_run.planted_names)
            if names:
                leaks[f"{schema}.{name}"] = names
    assert read_rows > 100
    assert leaks == {}
    assert uuid.UUID(str(sub))  # a real client identity was used

"""The by-id and by-hash reads of the views use indexes (compat-views.md §7).

Checked at two sizes, each seeded, migrated by the real flow and ANALYZEd, with the planner's own cost model
(enable_seqscan untouched): 1,500 sessions (every table already spans many pages) and 100,000 sessions, the size
the check is specified at. The plans are checked as the owner and as a therapist (RLS adds its quals).
bench/views.py times the same reads against the legacy tables.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

Act = Callable[[psycopg.Connection, str, uuid.UUID | None], None]
TABLES = {"therapy_sessions", "signal_processing_cache", "emg_statistics", "session_lineage", "analysis_lineage"}


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def scans(conn: psycopg.Connection, query: str, params: tuple[Any, ...]) -> list[tuple[str, str]]:
    """(node type, relation) of every node of the plan that reads a relation."""
    row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + sql.SQL(query), params).fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    return [(n["Node Type"], n["Relation Name"]) for n in nodes(plan[0]["Plan"]) if "Relation Name" in n]


def sample(conn: psycopg.Connection) -> dict[str, Any]:
    row = conn.execute(
        """
        SELECT a.c3d_metadata_id, a.id, a.file_hash, a.processing_version
        FROM public.analysis_results_view a
        WHERE a.analytics_data <> '{}' ORDER BY a.id LIMIT 1
        """
    ).fetchone()
    assert row is not None
    return {"session": row[0], "analysis": row[1], "hash": row[2], "version": row[3]}


READS = {
    "c3d by id": ("SELECT * FROM public.c3d_metadata_view WHERE id = %s", ("session",)),
    "c3d by hash": ("SELECT * FROM public.c3d_metadata_view WHERE file_hash = %s", ("hash",)),
    "analysis by hash": (
        "SELECT * FROM public.analysis_results_view WHERE file_hash = %s AND processing_version = %s "
        "AND expires_at > now() - interval '10 years' ORDER BY created_at DESC LIMIT 1",
        ("hash", "version"),
    ),
    "analyses by session": (
        "SELECT * FROM public.analysis_results_view WHERE c3d_metadata_id = %s "
        "AND expires_at > now() - interval '10 years' ORDER BY created_at DESC",
        ("session",),
    ),
    "cache_hits by id": ("SELECT cache_hits FROM public.analysis_results_view WHERE id = %s", ("analysis",)),
}


@pytest.mark.parametrize("reader", ["owner", "therapist"])
@pytest.mark.parametrize("read", list(READS))
def test_reads_by_id_and_hash_use_indexes(
    plan_conn: tuple[psycopg.Connection, Any], as_role: Act, read: str, reader: str
) -> None:
    conn, views_db = plan_conn
    values = sample(conn)
    if reader == "therapist":
        owner = conn.execute(
            sql.SQL(
                "SELECT t.user_id FROM {} s JOIN public.patients p ON p.patient_code = s.patient_id "
                "JOIN public.therapists t ON t.id = p.therapist_id WHERE s.id = %s"
            ).format(sql.Identifier(views_db.target, "therapy_sessions")),
            (values["session"],),
        ).fetchone()
        as_role(conn, "authenticated", owner[0] if owner else uuid.uuid4())
    query, keys = READS[read]
    found = scans(conn, query, tuple(values[k] for k in keys))
    assert {relation for _, relation in found} & TABLES, found
    assert [s for s in found if s[1] in TABLES and "Index" not in s[0]] == [], found

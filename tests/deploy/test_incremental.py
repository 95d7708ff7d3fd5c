"""Incremental runs touch exactly the changed and new legacy sessions, proven from the database itself."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from migration_support import TARGET, TARGET_TABLES, rows, run, scalar, seeded_database

from statsfirst.db.dsn import ResolvedDsn


def row_versions(dsn: ResolvedDsn) -> dict[tuple[str, str], tuple[str, str]]:
    """(table, row id) → (session id, xmin): a row written by a later transaction gets a new xmin."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for name in TARGET_TABLES:
        session = "t.id" if name == "therapy_sessions" else "t.session_id"
        for row_id, session_id, xmin in rows(dsn, f"SELECT t.id::text, {session}::text, t.xmin::text "
                                                   f"FROM {TARGET}.{name} t"):
            out[(name, row_id)] = (session_id, xmin)
    return out


def touched_sessions(before: dict[tuple[str, str], tuple[str, str]],
                     after: dict[tuple[str, str], tuple[str, str]]) -> set[str]:
    return {(after.get(key) or before[key])[0] for key in set(before) | set(after) if before.get(key) != after.get(key)}


def lineage_of_run(dsn: ResolvedDsn, run_id: str | None) -> set[str]:
    return {r[0] for r in rows(dsn, "SELECT legacy_session_id::text FROM statsfirst.session_lineage WHERE run_id = %s",
                               (run_id,))}


def test_incremental_touches_exactly_the_changed_and_new_sessions(make_database: Callable[[], ResolvedDsn]) -> None:
    dsn = seeded_database(make_database, sessions=300)
    full = run(dsn, batch_size=100)
    migrated = full.migrated

    # the full run covered the whole legacy history: the first incremental run after it has nothing to read
    assert migrated > 0
    first = run(dsn, incremental=True, batch_size=100)
    assert first.migrated == 0 and first.sessions_in_range == 0
    assert lineage_of_run(dsn, first.run_id) == set()
    assert scalar(dsn, "SELECT count(*) FROM statsfirst.watermarks WHERE target_schema = %s", (TARGET,)) == 1

    with psycopg.connect(dsn.conninfo) as conn:
        changed = [r[0] for r in conn.execute(
            f"SELECT t.id::text FROM {TARGET}.therapy_sessions t ORDER BY t.id LIMIT 5").fetchall()]
        conn.execute("UPDATE public.c3d_metadata SET duration_seconds = duration_seconds + 1"
                     " WHERE id = ANY(%s::uuid[])", (changed,))
        templates = [r[0] for r in conn.execute(
            f"SELECT t.id::text FROM {TARGET}.therapy_sessions t ORDER BY t.id DESC LIMIT 10").fetchall()]
        added = []
        for template in templates:
            new_id = conn.execute(
                "INSERT INTO public.c3d_metadata SELECT (jsonb_populate_record(NULL::public.c3d_metadata, to_jsonb(c)"
                " || jsonb_build_object('id', gen_random_uuid(), 'file_path', c.file_path || '.copy',"
                " 'file_hash', encode(sha256(convert_to(c.file_hash, 'UTF8')), 'hex'), 'updated_at', now())))."
                "* FROM public.c3d_metadata c WHERE c.id = %s"
                " RETURNING id::text", (template,)).fetchone()
            assert new_id is not None
            added.append(new_id[0])
            conn.execute(
                "INSERT INTO public.analysis_results SELECT (jsonb_populate_record(NULL::public.analysis_results,"
                " to_jsonb(a) || jsonb_build_object('id', gen_random_uuid(), 'c3d_metadata_id', %s::uuid,"
                " 'file_hash', encode(sha256(convert_to(a.file_hash, 'UTF8')), 'hex'), 'created_at', now())))."
                "* FROM public.analysis_results a"
                " WHERE a.c3d_metadata_id = %s", (new_id[0], template))
    before = row_versions(dsn)

    second = run(dsn, incremental=True, batch_size=100)
    expected = set(changed) | set(added)
    assert touched_sessions(before, row_versions(dsn)) == expected
    assert lineage_of_run(dsn, second.run_id) == expected
    # exactly the 15 sessions with a row version newer than the mark are read (xmin, not timestamps)
    assert second.migrated == 15 and second.sessions_in_range == 15 and second.unchanged == 0

    # nothing changed since: nothing written; a vanished legacy session is reported, not deleted
    gone = changed[0]
    with psycopg.connect(dsn.conninfo) as conn:
        conn.execute("DELETE FROM public.analysis_results WHERE c3d_metadata_id = %s", (gone,))
        conn.execute("DELETE FROM public.c3d_metadata WHERE id = %s", (gone,))
    before = row_versions(dsn)
    third = run(dsn, incremental=True, batch_size=100)
    assert third.migrated == 0 and third.sessions_in_range == third.unchanged
    assert touched_sessions(before, row_versions(dsn)) == set()
    assert third.deleted_in_legacy["sessions"] == 1 and third.deleted_in_legacy["session_ids"] == [gone]
    assert scalar(dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE id = %s", (gone,)) == 1


def test_a_worker_in_another_time_zone_sees_nothing_changed(
    make_database: Callable[[], ResolvedDsn], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lineage's source hash and legacy payload render legacy timestamps as text: a run from a worker whose
    PGTZ differs must find every session unchanged (not rewrite the whole target) and store the same payloads."""
    dsn = seeded_database(make_database, sessions=120)
    monkeypatch.setenv("PGTZ", "Pacific/Auckland")
    first = run(dsn, batch_size=50)
    payloads = rows(dsn, "SELECT legacy_session_id::text, legacy_c3d::text, source_hash "
                         "FROM statsfirst.session_lineage ORDER BY 1")
    monkeypatch.setenv("PGTZ", "America/Los_Angeles")
    again = run(dsn, batch_size=50)
    assert first.migrated > 0 and again.migrated == first.migrated
    assert again.as_json()["rewritten_unchanged"] == first.migrated
    assert rows(dsn, "SELECT legacy_session_id::text, legacy_c3d::text, source_hash "
                     "FROM statsfirst.session_lineage ORDER BY 1") == payloads
    # and the stored payload is in UTC, whatever the worker's zone
    assert all("+00:00" in payload or "Z" in payload for _, payload, _ in payloads if '"created_at"' in payload)

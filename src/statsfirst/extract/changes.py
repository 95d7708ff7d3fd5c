"""Change detection for incremental runs by transaction ids against the point of history the last run covered.

A nightly run must cost what changed, not what exists, and it must never miss a committed change. Timestamps
cannot promise that: a legacy writer stamps ``now()`` (its transaction's start) and may commit after a run read
past that stamp, and an in-place fix of ``analytics_data`` touches no timestamp at all. So every run takes
``pg_current_snapshot()`` before it reads anything (its *point*), and the next run selects the sessions with a row
version that snapshot does not see: ``xmin`` of the session's ``c3d_metadata`` row, of any of its
``analysis_results`` rows (a cache hit or a re-processing writes a new version) or of a linked ``session_settings``
row (``statsfirst.committed_after``). That is true for a transaction still open when the point was taken (its xid
is in the snapshot's in-progress list), for one that started before and wrote after it, and for any edit, whatever
columns it touches. It needs no privileged view (``pg_stat_activity``) and no superuser: any role that can SELECT
the legacy tables reads ``xmin``. Deletions leave no row version, so they are found by anti-joins of the lineage
against the legacy keys, and so are links to settings rows that are gone. Wraparound: the 32-bit xmin is widened
against the current 64-bit xid, exact for 2^31 transactions; a point older than that (or a change to the patient
or therapist tables, whose deletions leave no xmin either) makes every session a candidate. Freezing keeps the
raw xmin (PostgreSQL >= 9.4), so a frozen row is seen as old, never as new.

Legacy rows that were deleted are reported (``deleted_in_legacy``) and never deleted from the target. The
pipeline (``pipeline/incremental.py``) keeps the marks and plans batches from what this module finds.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import psycopg
from psycopg import sql

from statsfirst.extract.copy_reader import copy_frame

# How many ids of deleted legacy rows a run summary lists (the count is always complete).
REPORTED_IDS = 100
# A point older than this many transactions can no longer be compared with 32-bit xmin values exactly.
XID_HORIZON = 2**31 - 1


@dataclass(frozen=True)
class LegacyPoint:
    """The point of legacy history a run covers: a snapshot taken before it read anything, and the reference data."""

    snapshot: str  # pg_snapshot text, 'xmin:xmax:xip,...'
    references_hash: str  # md5 of the patient codes and therapist ids (their deletions leave no xmin)


def current_legacy_point(conn: psycopg.Connection) -> LegacyPoint:
    row = conn.execute(
        "SELECT pg_current_snapshot()::text, md5("
        "  coalesce((SELECT string_agg(patient_code, E'\\n' ORDER BY patient_code) FROM public.patients), '')"
        "  || '#' || coalesce((SELECT string_agg(id::text, E'\\n' ORDER BY id) FROM public.therapists), ''))"
    ).fetchone()
    assert row is not None
    return LegacyPoint(row[0], row[1])


def comparable(conn: psycopg.Connection, mark: LegacyPoint | None, now: LegacyPoint) -> bool:
    """Whether sessions can be selected by xmin against ``mark`` (else every session is a candidate)."""
    if mark is None or mark.references_hash != now.references_hash:
        return False
    row = conn.execute(
        "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
        " - pg_snapshot_xmin(%s::pg_snapshot)::text::bigint",
        (mark.snapshot,),
    ).fetchone()
    return bool(row and row[0] < XID_HORIZON)


def _changed_query(with_settings: bool) -> sql.Composable:
    """Every legacy id in key order with whether a row version of its session is newer than the mark."""
    settings = sql.SQL(
        """
        UNION
        SELECT c.id FROM public.session_settings s JOIN public.c3d_metadata c ON c.session_id = s.session_id
        CROSS JOIN point p WHERE statsfirst.committed_after(s.xmin, p.mark, p.next_xid)
        UNION
        SELECT c.id FROM public.session_settings s JOIN public.c3d_metadata c ON c.id::text = s.session_id
        CROSS JOIN point p WHERE statsfirst.committed_after(s.xmin, p.mark, p.next_xid)
        UNION
        -- the settings row a session was migrated with is gone or links elsewhere now. Plain equality of
        -- coalesced keys (not IS NOT DISTINCT FROM, which cannot be hashed): a hash anti-join, not a nested loop
        -- of lineage x settings rows (8 s at 100,000 sessions)
        SELECT l.legacy_session_id FROM statsfirst.session_lineage l
        WHERE l.linked_settings IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM public.session_settings s
            WHERE coalesce(s.session_id, '') = coalesce(l.linked_settings ->> 'session_id', '')
              AND coalesce(s.user_id::text, '') = coalesce(l.linked_settings ->> 'user_id', ''))
        """
    )
    return sql.SQL(
        """
        WITH point AS (
            SELECT %(mark)s::pg_snapshot AS mark, pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid
        ),
        moved AS (
            SELECT a.c3d_metadata_id AS id FROM public.analysis_results a CROSS JOIN point p
            WHERE statsfirst.committed_after(a.xmin, p.mark, p.next_xid)
            UNION
            -- an analysis row was deleted: the session's current analysis may be another one now
            SELECT l.legacy_session_id FROM statsfirst.analysis_lineage l
            WHERE NOT EXISTS (SELECT 1 FROM public.analysis_results a WHERE a.id = l.legacy_analysis_id)
            {settings}
        )
        SELECT c.id::text AS id,
               (statsfirst.committed_after(c.xmin, p.mark, p.next_xid) OR c.id IN (SELECT id FROM moved)) AS changed
        FROM public.c3d_metadata c CROSS JOIN point p ORDER BY c.id
        """
    ).format(settings=settings if with_settings else sql.SQL(""))


def changed_sessions(conn: psycopg.Connection, mark: LegacyPoint | None, with_settings: bool) -> pl.DataFrame:
    """Columns ``id`` (every legacy session, in key order) and ``changed`` (None mark: every session)."""
    if mark is None:
        return copy_frame(
            conn,
            sql.SQL("SELECT c.id::text AS id, true AS changed FROM public.c3d_metadata c ORDER BY c.id"),
            None,
            {"id": pl.String, "changed": pl.Boolean},
        )
    schema = {"id": pl.String, "changed": pl.Boolean}
    return copy_frame(conn, _changed_query(with_settings), {"mark": mark.snapshot}, schema)


@dataclass(frozen=True)
class DeletedInLegacy:
    """Migrated legacy rows no longer in the legacy tables (reported; their target rows are kept)."""

    sessions: int
    analyses: int
    session_ids: list[str]
    analysis_ids: list[str]

    def as_json(self) -> dict[str, object]:
        return {
            "sessions": self.sessions,
            "analyses": self.analyses,
            "session_ids": self.session_ids,
            "analysis_ids": self.analysis_ids,
        }


def deleted_in_legacy(conn: psycopg.Connection) -> DeletedInLegacy:
    """Anti-joins of the lineage against the legacy keys (index-only scans of both primary keys)."""
    sessions = conn.execute(
        "SELECT count(*) OVER (), l.legacy_session_id::text FROM statsfirst.session_lineage l "
        "WHERE NOT EXISTS (SELECT 1 FROM public.c3d_metadata c WHERE c.id = l.legacy_session_id) "
        "ORDER BY l.legacy_session_id LIMIT %s",
        (REPORTED_IDS,),
    ).fetchall()
    analyses = conn.execute(
        "SELECT count(*) OVER (), l.legacy_analysis_id::text FROM statsfirst.analysis_lineage l "
        "WHERE NOT EXISTS (SELECT 1 FROM public.analysis_results a WHERE a.id = l.legacy_analysis_id) "
        "ORDER BY l.legacy_analysis_id LIMIT %s",
        (REPORTED_IDS,),
    ).fetchall()
    return DeletedInLegacy(
        sessions=int(sessions[0][0]) if sessions else 0,
        analyses=int(analyses[0][0]) if analyses else 0,
        session_ids=[r[1] for r in sessions],
        analysis_ids=[r[1] for r in analyses],
    )

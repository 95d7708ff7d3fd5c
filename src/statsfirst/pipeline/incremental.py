"""Incremental runs: a watermark per target schema, set-based change detection, and the lineage hash.

A nightly run must cost what changed, not what exists. The legacy tables say what changed through their
timestamps: ``c3d_metadata.updated_at`` (kept current by the legacy trigger), ``analysis_results.created_at`` and
``last_accessed_at`` (a cache hit changes ``hit_count``), and ``session_settings.updated_at``. One query selects the
sessions any of them moved at or after the watermark; of those, a session whose lineage ``source_hash`` equals
the hash of what was just read is dropped before loading, so only sessions whose sources really changed are
written. Legacy rows that disappeared are reported and never deleted from the target.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import psycopg
from psycopg import sql

from statsfirst.extract.copy_reader import copy_frame
from statsfirst.extract.legacy_reader import LegacyBatch
from statsfirst.pipeline.run_ledger import PlannedBatch

# How many ids of disappeared legacy rows a run summary lists (the count is always complete).
REPORTED_IDS = 100


@dataclass(frozen=True)
class Watermark:
    """The newest legacy change a completed incremental run had seen (None: nothing seen yet)."""

    c3d_updated_at: datetime | None
    analysis_changed_at: datetime | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "c3d_updated_at": self.c3d_updated_at.isoformat() if self.c3d_updated_at else None,
            "analysis_changed_at": self.analysis_changed_at.isoformat() if self.analysis_changed_at else None,
        }

    @classmethod
    def from_json(cls, value: object) -> Watermark:
        data = value if isinstance(value, dict) else {}

        def at(key: str) -> datetime | None:
            text = data.get(key)
            return datetime.fromisoformat(text) if isinstance(text, str) else None

        return cls(at("c3d_updated_at"), at("analysis_changed_at"))


NO_WATERMARK = Watermark(None, None)


def read_watermark(conn: psycopg.Connection, target_schema: str) -> Watermark:
    row = conn.execute(
        "SELECT c3d_updated_at, analysis_created_at FROM statsfirst.watermarks WHERE target_schema = %s",
        (target_schema,),
    ).fetchone()
    return Watermark(row[0], row[1]) if row else NO_WATERMARK


# Legacy stamps past Python's datetime range (infinity, year 10,000+) hold their session back (out_of_range); they
# must not become the mark either, or every later run would fail to read it.
YEAR_10K = sql.Literal("10000-01-01 00:00:00+00")


def next_watermark(conn: psycopg.Connection, with_settings: bool) -> Watermark:
    """The newest legacy change visible now, held back to the start of any transaction still writing.

    A legacy writer stamps ``now()`` (its transaction's start) and commits later; capping the mark at the oldest
    open transaction of this database means such a row is still at or above the mark when the next run looks.
    """
    settings = (
        sql.SQL(", (SELECT max(updated_at) FILTER (WHERE updated_at < {bound}) FROM public.session_settings)").format(
            bound=YEAR_10K
        )
        if with_settings
        else sql.SQL("")
    )
    query = sql.SQL(
        """
        WITH in_flight AS (
            SELECT min(xact_start) AS oldest FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
        )
        SELECT least((SELECT max(updated_at) FILTER (WHERE updated_at < {bound}) FROM public.c3d_metadata),
                     (SELECT oldest FROM in_flight)),
               least(greatest((SELECT max(created_at) FILTER (WHERE created_at < {bound}) FROM public.analysis_results),
                              (SELECT max(last_accessed_at) FILTER (WHERE last_accessed_at < {bound})
                               FROM public.analysis_results){settings}),
                     (SELECT oldest FROM in_flight))
        """
    ).format(settings=settings, bound=YEAR_10K)
    row = conn.execute(query).fetchone()
    assert row is not None
    return Watermark(row[0], row[1])


def store_watermark(conn: psycopg.Connection, target_schema: str, mark: Watermark, run_id: str) -> None:
    conn.execute(
        """
        INSERT INTO statsfirst.watermarks (target_schema, c3d_updated_at, analysis_created_at, run_id, updated_at)
        VALUES (%s, %s, %s, %s, now())
        ON CONFLICT (target_schema) DO UPDATE SET c3d_updated_at = EXCLUDED.c3d_updated_at,
            analysis_created_at = EXCLUDED.analysis_created_at, run_id = EXCLUDED.run_id, updated_at = now()
        """,
        (target_schema, mark.c3d_updated_at, mark.analysis_changed_at, run_id),
    )


def _changed_query(with_settings: bool) -> sql.Composable:
    """Every legacy id in key order with whether it moved since the marks: one scan, index-driven semi-joins."""
    settings = sql.SQL(
        """
        UNION
        SELECT c.id FROM public.session_settings s JOIN public.c3d_metadata c ON c.session_id = s.session_id
        WHERE s.updated_at >= coalesce(%(analysis)s::timestamptz, '-infinity')
        UNION
        SELECT c.id FROM public.session_settings s JOIN public.c3d_metadata c ON c.id::text = s.session_id
        WHERE s.updated_at >= coalesce(%(analysis)s::timestamptz, '-infinity')
        """
    )
    return sql.SQL(
        """
        WITH moved AS (
            SELECT a.c3d_metadata_id AS id FROM public.analysis_results a
            WHERE a.created_at >= coalesce(%(analysis)s::timestamptz, '-infinity')
            UNION
            SELECT a.c3d_metadata_id FROM public.analysis_results a
            WHERE a.last_accessed_at >= coalesce(%(analysis)s::timestamptz, '-infinity')
            {settings}
        )
        SELECT c.id::text AS id,
               (%(c3d)s::timestamptz IS NULL OR c.updated_at >= %(c3d)s::timestamptz
                OR c.id IN (SELECT id FROM moved)) AS changed
        FROM public.c3d_metadata c ORDER BY c.id
        """
    ).format(settings=settings if with_settings else sql.SQL(""))


def changed_sessions(conn: psycopg.Connection, since: Watermark, with_settings: bool) -> pl.DataFrame:
    """Columns ``id`` (every legacy session, in key order) and ``changed``."""
    params = {"c3d": since.c3d_updated_at, "analysis": since.analysis_changed_at}
    return copy_frame(conn, _changed_query(with_settings), params, {"id": pl.String, "changed": pl.Boolean})


def plan_changed(frame: pl.DataFrame, batch_size: int) -> list[PlannedBatch]:
    """Keyset batches holding only changed sessions, each spanning at most ``batch_size`` legacy ids.

    A batch reads its whole id span, so bounding the span (not only the changed count) keeps a handful of
    scattered changes from reading the table: a lone change becomes a one-session batch.
    """
    positions = frame.with_row_index("position").filter(pl.col("changed"))
    batches: list[PlannedBatch] = []
    start_position = -1
    first = last = ""
    count = 0
    for position, session_id in positions.select("position", "id").iter_rows():
        if count and position - start_position < batch_size:
            last = session_id
            count += 1
            continue
        if count:
            batches.append(PlannedBatch(len(batches), first, last, count))
        start_position, first, last, count = position, session_id, session_id, 1
    if count:
        batches.append(PlannedBatch(len(batches), first, last, count))
    return batches


def only_sessions(batch: LegacyBatch, keep: set[str]) -> LegacyBatch:
    """The part of a read batch about the changed sessions (the others in its span are not touched)."""
    ids = pl.Series(sorted(keep), dtype=pl.String).implode()
    return LegacyBatch(
        sessions=batch.sessions.filter(pl.col("session_id").is_in(ids)),
        analyses=batch.analyses.filter(pl.col("session_id").is_in(ids)),
        channels=batch.channels.filter(pl.col("session_id").is_in(ids)),
        settings=batch.settings.filter(pl.col("session_id").is_in(ids)),
    )


def unchanged_sessions(conn: psycopg.Connection, lineage: pl.DataFrame) -> set[str]:
    """Sessions whose sources hash as their lineage says they did when last written: nothing to redo.

    The hash is the loader's own (md5 of the normalizer's source fingerprint), so this can never disagree with
    what a write would record.
    """
    if lineage.is_empty():
        return set()
    fresh = {
        session_id: hashlib.md5(fingerprint.encode()).hexdigest()
        for session_id, fingerprint in lineage.select("session_id", "source_fingerprint").iter_rows()
        if fingerprint is not None
    }
    stored = conn.execute(
        "SELECT legacy_session_id::text, source_hash FROM statsfirst.session_lineage "
        "WHERE legacy_session_id = ANY(%s::uuid[])",
        (list(fresh),),
    ).fetchall()
    return {session_id for session_id, source_hash in stored if fresh.get(session_id) == source_hash}


@dataclass(frozen=True)
class Disappeared:
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


def disappeared(conn: psycopg.Connection) -> Disappeared:
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
    return Disappeared(
        sessions=int(sessions[0][0]) if sessions else 0,
        analyses=int(analyses[0][0]) if analyses else 0,
        session_ids=[r[1] for r in sessions],
        analysis_ids=[r[1] for r in analyses],
    )

"""Incremental runs: the mark of the last complete run, and batches planned from the sessions that changed.

Change detection itself (which legacy sessions have a row version the mark does not see) is extract's job
(``extract/changes.py``). Here: the mark is stored and read back, the changed sessions are cut into keyset batches,
and of the candidates a session whose lineage ``source_hash`` equals the hash of what was just read is dropped
before loading, so only sessions whose sources really changed are written.
"""

from __future__ import annotations

import hashlib

import polars as pl
import psycopg

from statsfirst.extract.changes import LegacyPoint
from statsfirst.extract.legacy_reader import LegacyBatch
from statsfirst.pipeline.run_ledger import PlannedBatch


def read_watermark(conn: psycopg.Connection, target_schema: str) -> LegacyPoint | None:
    """The point the last complete run of this target covered (None: no such run yet)."""
    row = conn.execute(
        "SELECT legacy_snapshot::text, references_hash FROM statsfirst.watermarks WHERE target_schema = %s",
        (target_schema,),
    ).fetchone()
    return LegacyPoint(row[0], row[1] or "") if row else None


def store_watermark(conn: psycopg.Connection, target_schema: str, point: LegacyPoint, run_id: str) -> None:
    conn.execute(
        """
        INSERT INTO statsfirst.watermarks (target_schema, legacy_snapshot, references_hash, run_id, updated_at)
        VALUES (%s, %s::pg_snapshot, %s, %s, now())
        ON CONFLICT (target_schema) DO UPDATE SET legacy_snapshot = EXCLUDED.legacy_snapshot,
            references_hash = EXCLUDED.references_hash, run_id = EXCLUDED.run_id, updated_at = now()
        """,
        (target_schema, point.snapshot, point.references_hash, run_id),
    )


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

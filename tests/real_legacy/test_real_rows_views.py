"""The legacy application's six reads (compat-views.md §3) answer the same from the views as from the legacy tables.

For every migrated legacy session of the real rows: the same rows, in the same order (a read without ORDER BY
returns the legacy table's first row first: the legacy app takes data[0]), with equal values (§4: analytics_data
of the current analysis without contractions / signal_processing / errors, {} for the others; numbers within
1e-12 relative). The legacy answer is taken over the migrated sessions (the views can only hold those); the set
is read from the target, and pending/processing sessions are migrated too, so they are compared (asserted below).
The views' columns equal the tables' by position, name and type.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from real_legacy_support import TARGET, RealDb, build_real_db

from legacy_reads import (
    AR_BY_SESSION,
    C3D_BY_HASH,
    C3D_BY_ID,
    CACHE_HITS,
    COUNT,
    NOT_REPRODUCED,
    TIMES,
    same,
)
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.paths import sql_dir

PAIRS = (("c3d_metadata", "c3d_metadata_view"), ("analysis_results", "analysis_results_view"))

AR_BY_HASH = (
    "SELECT * FROM {} WHERE file_hash = %s AND processing_version = %s AND expires_at > %s ORDER BY created_at DESC"
)


class Reads:
    """Runs a legacy read on a legacy table and on its view, collecting every difference."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.migrated = {r[0] for r in conn.execute(f"SELECT id FROM {TARGET}.therapy_sessions")}
        # mapping.md: the current analysis is the session's newest with a non-empty analytics_data object
        self.current = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT ON (c3d_metadata_id) id FROM public.analysis_results "
                "WHERE jsonb_typeof(analytics_data) = 'object' AND analytics_data <> '{}' "
                "ORDER BY c3d_metadata_id, created_at DESC, id DESC"
            )
        }
        self.problems: list[str] = []
        self.first_rows_compared = 0

    def fetch(self, template: str, relation: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            query = sql.SQL(template).format(sql.Identifier("public", relation))
            return cur.execute(query, params).fetchall()

    def expected(self, row: dict[str, Any]) -> dict[str, Any]:
        """A legacy analysis row as the view reproduces it (compat-views.md §4)."""
        if "analytics_data" not in row:
            return row
        out = dict(row)
        legacy = row["analytics_data"]
        out["analytics_data"] = (
            {k: {f: v for f, v in ch.items() if f not in NOT_REPRODUCED} for k, ch in legacy.items()}
            if row["id"] in self.current
            else {}
        )
        return out

    def compare(self, label: str, template: str, table: str, view: str, params: tuple[Any, ...], key: str) -> None:
        legacy = [self.expected(r) for r in self.fetch(template, table, params) if r[key] in self.migrated]
        shown = self.fetch(template, view, params)
        if [r["id"] for r in legacy] != [r["id"] for r in shown]:
            self.problems.append(f"{label}: ids {[r['id'] for r in legacy]} != {[r['id'] for r in shown]}")
            return
        if legacy:
            self.first_rows_compared += 1
        for old, new in zip(legacy, shown, strict=True):
            if list(old) != list(new):
                self.problems.append(f"{label}: columns {list(old)} != {list(new)}")
            self.problems += [f"{label} {old['id']}{d}" for d in same(old, new)]


def test_the_six_legacy_reads_answer_the_same_through_the_views(conn: psycopg.Connection, real_db: RealDb) -> None:
    reads = Reads(conn)
    assert reads.migrated, "no session of the real rows was migrated"
    sessions = [r for r in real_db.rows["c3d_metadata"] if r["id"] in {str(m) for m in reads.migrated}]
    analyses = [a for a in real_db.rows["analysis_results"] if a["c3d_metadata_id"] in {s["id"] for s in sessions}]
    waiting = {r["id"] for r in real_db.rows["c3d_metadata"] if r["processing_status"] in ("pending", "processing")}
    assert waiting and waiting <= {s["id"] for s in sessions}, "pending/processing sessions are compared too"
    for s in sessions:
        reads.compare(f"c3d by id {s['id']}", C3D_BY_ID, "c3d_metadata", "c3d_metadata_view", (s["id"],), "id")
        reads.compare(
            f"c3d by hash {s['file_hash']}", C3D_BY_HASH, "c3d_metadata", "c3d_metadata_view", (s["file_hash"],), "id"
        )
        for at in TIMES:
            reads.compare(
                f"analyses of {s['id']} after {at:%Y-%m-%d}", AR_BY_SESSION, "analysis_results",
                "analysis_results_view", (s["id"], at), "c3d_metadata_id",
            )
    for a in analyses:
        for at in TIMES:
            # the cache lookup (LIMIT 1 over the migrated sessions' rows: the first of the ordered answer)
            reads.compare(
                f"cache lookup {a['file_hash']} after {at:%Y-%m-%d}", AR_BY_HASH, "analysis_results",
                "analysis_results_view", (a["file_hash"], a["processing_version"], at), "c3d_metadata_id",
            )
        legacy_hits = conn.execute(CACHE_HITS.format("public.analysis_results"), (a["id"],)).fetchall()
        view_hits = conn.execute(CACHE_HITS.format("public.analysis_results_view"), (a["id"],)).fetchall()
        if legacy_hits != view_hits:
            reads.problems.append(f"cache_hits of {a['id']}: {legacy_hits} != {view_hits}")
    legacy_count = conn.execute(
        "SELECT count(*) FROM public.c3d_metadata WHERE id = ANY(%s)", (list(reads.migrated),)
    ).fetchone()
    assert conn.execute(COUNT.format("public.c3d_metadata_view")).fetchone() == legacy_count == (len(sessions),)
    assert reads.problems == []
    # every migrated session's by-id and by-hash read returned its rows, so each first row was compared
    assert reads.first_rows_compared >= 2 * len(sessions)
    # the real rows carry the patterns these reads must reproduce
    assert any(a["analytics_data"] == {} for a in analyses) and any(a["cache_hits"] for a in analyses)


def test_a_read_by_hash_without_order_by_returns_the_legacy_first_row(
    conn: psycopg.Connection, real_db: RealDb
) -> None:
    """The duplicate upload: two rows share a hash; data[0] must be the first uploaded row from the view too."""
    migrated = {str(r[0]) for r in conn.execute(f"SELECT id FROM {TARGET}.therapy_sessions")}
    groups: dict[str, list[str]] = {}
    for row in real_db.rows["c3d_metadata"]:
        groups.setdefault(row["file_hash"], []).append(row["id"])
    checked = 0
    for file_hash, ids in groups.items():
        wanted = [i for i in ids if i in migrated]
        if len(wanted) < 2:
            continue
        table = [str(r[0]) for r in conn.execute(C3D_BY_HASH.format("public.c3d_metadata"), (file_hash,))]
        view = [str(r[0]) for r in conn.execute(C3D_BY_HASH.format("public.c3d_metadata_view"), (file_hash,))]
        assert [i for i in table if i in migrated] == view == wanted, file_hash
        # the order is the view's, not an accident of the target's physical order: re-insert the first row (its
        # tuple now comes last in the heap and in the file_hash index) and read again (rolled back afterwards)
        conn.execute(
            f"CREATE TEMPORARY TABLE moved ON COMMIT DROP AS SELECT * FROM {TARGET}.therapy_sessions WHERE id = %s",
            (wanted[0],),
        )
        conn.execute(f"DELETE FROM {TARGET}.therapy_sessions WHERE id = %s", (wanted[0],))
        conn.execute(f"INSERT INTO {TARGET}.therapy_sessions SELECT * FROM moved")
        conn.execute("DROP TABLE moved")
        heap = [str(r[0]) for r in conn.execute(
            f"SELECT id FROM {TARGET}.therapy_sessions WHERE file_hash = %s", (file_hash,)
        )]
        assert heap[-1] == wanted[0], heap  # the target itself now answers in another order
        view = [str(r[0]) for r in conn.execute(C3D_BY_HASH.format("public.c3d_metadata_view"), (file_hash,))]
        assert view == wanted, file_hash
        checked += 1
    assert checked >= 1  # the completed upload and its failed duplicate (hash 04452a77...)


def test_view_columns_equal_the_legacy_tables_by_position(conn: psycopg.Connection) -> None:
    for table, view in PAIRS:
        catalog = (
            "SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
        )
        legacy = conn.execute(catalog, (f"public.{table}",)).fetchall()
        assert len(legacy) in (31, 18)
        assert conn.execute(catalog, (f"public.{view}",)).fetchall() == legacy, view
        # a positional reader sees the same: SELECT * describes the same columns with the same type oids
        described = []
        for relation in (table, view):
            cur = conn.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(sql.Identifier("public", relation)))
            assert cur.description is not None
            described.append([(d.name, d.type_code) for d in cur.description])
        assert described[0] == described[1], view
    order = [r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'public.analysis_results_view'::regclass AND attnum > 0 "
        "ORDER BY attnum"
    )]
    assert order[7:11] == ["contractions_data", "processing_time_ms", "cache_hits", "last_accessed_at"]


def test_007_replaces_a_view_left_in_the_old_column_order(
    make_database: Callable[[], ResolvedDsn], tmp_path: Path
) -> None:
    """A database whose analysis_results_view has the column order of the earlier 007 gets the real order."""
    db = build_real_db(make_database)
    old_order = (
        "id, c3d_metadata_id, file_hash, processing_version, processing_params, analytics_data, emg_signals, "
        "contractions_data, mvc_values, compliance_scores, temporal_stats, processing_time_ms, cache_hits, "
        "last_accessed_at, good_contractions_count, total_contractions_count, created_at, expires_at"
    )
    with psycopg.connect(db.dsn.conninfo) as conn:
        before = conn.execute("SELECT * FROM public.analysis_results_view").fetchall()
        conn.execute("DROP VIEW public.analysis_results_view")
        conn.execute(f"CREATE VIEW public.analysis_results_view AS SELECT {old_order} FROM public.analysis_results")
        conn.commit()
    root = tmp_path / "sql"
    shutil.copytree(sql_dir(), root)
    view_file = root / "007_create_backward_compatibility_views.sql"
    view_file.write_text(view_file.read_text() + "\n-- re-applied\n")
    applied = apply_migrations(db.dsn, sql_root=root, log=lambda _: None).applied
    assert [m.version for m, _ in applied] == ["007"]
    with psycopg.connect(db.dsn.conninfo) as conn:
        table = conn.execute(
            "SELECT array_agg(attname ORDER BY attnum) FROM pg_attribute "
            "WHERE attrelid = 'public.analysis_results'::regclass AND attnum > 0 AND NOT attisdropped"
        ).fetchone()
        view = conn.execute(
            "SELECT array_agg(attname ORDER BY attnum) FROM pg_attribute "
            "WHERE attrelid = 'public.analysis_results_view'::regclass AND attnum > 0"
        ).fetchone()
        assert view == table
        assert conn.execute("SELECT * FROM public.analysis_results_view").fetchall() == before
        # the write trigger came back with the view
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="read-only"):
            conn.execute("DELETE FROM public.analysis_results_view")

"""For every migrated session, the legacy application's reads answer the same from the views as from the tables.

Value rules (compat-views.md §4): scalar columns equal; analytics_data of the current analysis equals the legacy
object minus each channel's ``contractions``, ``signal_processing`` and ``errors``; non-current analysis rows show
``{}``; numbers compare within 1e-12 relative. Pending/processing sessions are migrated (mapping.md "Every legacy row
has a home") and compared like any other; quarantined sessions are not in the views, so the legacy answer is taken
over the migrated sessions' rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

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

# every value pattern the views must reproduce appears among the migrated sessions of the seeded database
TRAPS = (
    "missing_keys", "extra_keys", "null_values", "analysis_errors", "one_channel", "zero_contractions",
    "expected_contractions_set", "mvc_not_backend", "empty_analytics", "expired_analysis", "superseded_analysis",
    "shared_hash", "cache_hit_no_analysis", "failed", "bucket_root", "unknown_patient_sentinel",
    "unregistered_patient_code", "no_session_date", "size_unknown", "frame_count_zero", "object_metadata_patient",
    "session_folder", "stuck_pending", "stuck_processing", "not_yet_extracted",
)

AR_BY_HASH = (
    "SELECT * FROM {} WHERE file_hash = %s AND processing_version = %s AND expires_at > %s "
    "ORDER BY created_at DESC LIMIT 1"
)


def expected_analytics(legacy: Any) -> Any:
    """The legacy analytics_data as the views reproduce it: without the per-channel parts not stored."""
    if not isinstance(legacy, dict):
        return legacy
    return {
        key: {k: v for k, v in channel.items() if k not in NOT_REPRODUCED} if isinstance(channel, dict) else channel
        for key, channel in legacy.items()
    }


class Reads:
    """Runs each legacy read against a legacy table and its view; collects every difference."""

    def __init__(self, conn: psycopg.Connection, migrated: set[Any], current: set[Any]) -> None:
        self.conn = conn
        self.migrated = migrated
        self.current = current
        self.problems: list[str] = []
        self.compared = 0

    def fetch(self, template: str, relation: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        query = sql.SQL(template).format(sql.Identifier("public", relation))
        with self.conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, params, prepare=True).fetchall()

    def expect_analysis(self, row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        out["analytics_data"] = expected_analytics(row["analytics_data"]) if row["id"] in self.current else {}
        return out

    def compare_rows(self, label: str, legacy: list[dict[str, Any]], view: list[dict[str, Any]]) -> None:
        self.compared += 1
        if [r.get("id") for r in legacy] != [r.get("id") for r in view]:
            self.problems.append(f"{label}: ids {[r.get('id') for r in legacy]} != {[r.get('id') for r in view]}")
            return
        for old, new in zip(legacy, view, strict=True):
            assert list(old) == list(new)  # same columns, same order
            self.problems += [f"{label}{d}" for d in same(old, new)]

    def session_keyed(self, rows: list[dict[str, Any]], column: str) -> list[dict[str, Any]]:
        return [r for r in rows if r[column] in self.migrated]

    def c3d(self, session_id: Any, file_hash: str) -> None:
        for template, param, label in ((C3D_BY_ID, session_id, "c3d by id"), (C3D_BY_HASH, file_hash, "c3d by hash")):
            legacy = self.session_keyed(self.fetch(template, "c3d_metadata", (param,)), "id")
            view = self.fetch(template, "c3d_metadata_view", (param,))
            self.compare_rows(f"{label} {param}", sorted(legacy, key=_id), sorted(view, key=_id))

    def analyses_of_session(self, session_id: Any, at: datetime) -> None:
        legacy = self.session_keyed(self.fetch(AR_BY_SESSION, "analysis_results", (session_id, at)), "c3d_metadata_id")
        view = self.fetch(AR_BY_SESSION, "analysis_results_view", (session_id, at))
        _check_newest_first(self.problems, view)
        self.compare_rows(
            f"analyses of {session_id} after {at:%Y-%m-%d}",
            [self.expect_analysis(r) for r in sorted(legacy, key=_newest_first)],
            sorted(view, key=_newest_first),
        )

    def cache_lookup(self, file_hash: str, version: str, at: datetime) -> None:
        # the legacy answer over the migrated sessions: the newest row; ties on created_at may come in any order
        everything = self.fetch(AR_BY_HASH.replace(" LIMIT 1", ""), "analysis_results", (file_hash, version, at))
        legacy = self.session_keyed(everything, "c3d_metadata_id")
        view = self.fetch(AR_BY_HASH, "analysis_results_view", (file_hash, version, at))
        label = f"cache lookup {file_hash[:12]} {version} after {at:%Y-%m-%d}"
        if not legacy:
            self.compare_rows(label, [], view)
            return
        newest = [r for r in legacy if r["created_at"] == legacy[0]["created_at"]]
        pick = [r for r in newest if view and r["id"] == view[0]["id"]]
        self.compare_rows(label, [self.expect_analysis((pick or newest)[0])], view)

    def cache_hits(self, analysis_id: Any) -> None:
        self.compare_rows(
            f"cache_hits {analysis_id}",
            self.fetch(CACHE_HITS, "analysis_results", (analysis_id,)),
            self.fetch(CACHE_HITS, "analysis_results_view", (analysis_id,)),
        )


def _id(row: dict[str, Any]) -> Any:
    return str(row["id"])


def _newest_first(row: dict[str, Any]) -> tuple[float, str]:
    return (-row["created_at"].timestamp(), str(row["id"]))


def _check_newest_first(problems: list[str], rows: list[dict[str, Any]]) -> None:
    stamps = [r["created_at"] for r in rows]
    if stamps != sorted(stamps, reverse=True):
        problems.append(f"not ordered by created_at DESC: {stamps}")


def migrated_sessions(conn: psycopg.Connection, target: str) -> set[Any]:
    """Legacy sessions minus the ones held back (pending/processing ones included: they are migrated too);
    asserted equal to what the target holds."""
    expected = {
        r[0]
        for r in conn.execute(
            "SELECT id FROM public.c3d_metadata "
            "WHERE id NOT IN (SELECT legacy_session_id FROM statsfirst.quarantine WHERE resolved_at IS NULL)"
        ).fetchall()
    }
    held = sql.SQL("SELECT id FROM {}").format(sql.Identifier(target, "therapy_sessions"))
    assert {r[0] for r in conn.execute(held).fetchall()} == expected
    return expected


def current_analyses(conn: psycopg.Connection) -> set[Any]:
    """mapping.md: the newest analysis row of a session whose analytics_data is a non-empty object."""
    rows = conn.execute(
        """
        SELECT DISTINCT ON (c3d_metadata_id) id FROM public.analysis_results
        WHERE jsonb_typeof(analytics_data) = 'object' AND analytics_data <> '{}'::jsonb
        ORDER BY c3d_metadata_id, created_at DESC, id DESC
        """
    ).fetchall()
    return {r[0] for r in rows}


def check_every_read(dsn_conninfo: str, target: str, traps: tuple[str, ...]) -> Reads:
    with psycopg.connect(dsn_conninfo) as conn:
        migrated = migrated_sessions(conn, target)
        covered = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT unnest(traps) FROM legacy_seed.manifest WHERE c3d_metadata_id = ANY(%s)",
                (list(migrated),),
            ).fetchall()
        }
        assert set(traps) <= covered, f"seeded data lacks {set(traps) - covered}"
        reads = Reads(conn, migrated, current_analyses(conn))
        sessions = conn.execute("SELECT id, file_hash FROM public.c3d_metadata ORDER BY id").fetchall()
        for session_id, file_hash in sessions:
            if session_id not in migrated:
                continue
            reads.c3d(session_id, file_hash)
            for at in TIMES:
                reads.analyses_of_session(session_id, at)
        lookups = conn.execute(
            "SELECT DISTINCT file_hash, processing_version FROM public.analysis_results "
            "WHERE c3d_metadata_id = ANY(%s) ORDER BY 1, 2",
            (list(migrated),),
        ).fetchall()
        for file_hash, version in lookups:
            for at in TIMES:
                reads.cache_lookup(file_hash, version, at)
        for (analysis_id,) in conn.execute(
            "SELECT id FROM public.analysis_results WHERE c3d_metadata_id = ANY(%s) ORDER BY id", (list(migrated),)
        ).fetchall():
            reads.cache_hits(analysis_id)
        legacy_count = conn.execute(
            "SELECT count(*) FROM public.c3d_metadata WHERE id = ANY(%s)", (list(migrated),)
        ).fetchone()
        reads.compare_rows("count", [{"count": legacy_count[0] if legacy_count else None}],
                           reads.fetch(COUNT, "c3d_metadata_view", ()))
        # nothing but the quarantine is missing from the view: the legacy count, pending/processing ones included
        held = conn.execute("SELECT count(*) FROM statsfirst.quarantine WHERE resolved_at IS NULL").fetchone()
        everything = conn.execute(sql.SQL(COUNT).format(sql.Identifier("public", "c3d_metadata"))).fetchone()
        shown = conn.execute(sql.SQL(COUNT).format(sql.Identifier("public", "c3d_metadata_view"))).fetchone()
        assert held is not None and everything is not None and shown is not None
        if shown[0] + held[0] != everything[0]:
            reads.problems.append(f"count: view {shown[0]} + quarantined {held[0]} != legacy {everything[0]}")
    return reads


def test_every_legacy_read_answers_the_same_from_the_views(views_db: Any) -> None:
    reads = check_every_read(views_db.dsn.conninfo, views_db.target, TRAPS)
    assert reads.problems == [], "\n".join(reads.problems[:40])
    assert reads.compared > 5000


def test_views_work_when_the_target_schema_is_public(public_views_db: Any) -> None:
    """The views sit next to the new tables; the seeded data is smaller and has no legacy session_settings."""
    reads = check_every_read(public_views_db.dsn.conninfo, "public", ("missing_keys", "superseded_analysis"))
    assert reads.problems == [], "\n".join(reads.problems[:40])


def test_current_analysis_analytics_really_differ_from_the_stored_legacy_text(views_db: Any) -> None:
    """Guard against a vacuous comparison: the rebuilt object is not the legacy JSON (contractions are gone)
    and its statistics come from emg_statistics (changing a column there changes the view)."""
    with psycopg.connect(views_db.dsn.conninfo) as conn:
        row = conn.execute(
            "SELECT v.id, v.c3d_metadata_id, v.analytics_data, a.analytics_data FROM public.analysis_results_view v "
            "JOIN public.analysis_results a USING (id) WHERE v.analytics_data <> '{}' LIMIT 1"
        ).fetchone()
        assert row is not None
        analysis_id, session_id, view, legacy = row
        assert "contractions" in legacy["CH1"] and "contractions" not in view["CH1"]
        conn.execute(
            sql.SQL("UPDATE {} SET rms = 42.0, rms_mean = 43.0 WHERE session_id = %s AND channel_name = 'CH1'").format(
                sql.Identifier(views_db.target, "emg_statistics")
            ),
            (session_id,),
        )
        after = conn.execute(
            "SELECT analytics_data -> 'CH1' FROM public.analysis_results_view WHERE id = %s", (analysis_id,)
        ).fetchone()
        conn.rollback()
    assert after is not None
    assert after[0]["rms"] == 42.0 and after[0]["rms_temporal_stats"]["mean_value"] == 43.0


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1.0, 1.0 + 1e-13, True),
        (1.0, 1.0 + 1e-11, False),
        ({"x": None}, {}, False),
        ({"x": 12.0}, {"x": 12}, True),
        ([1, 2], [1, 2, 3], False),
        (True, 1, False),
    ],
)
def test_the_comparison_itself(a: Any, b: Any, equal: bool) -> None:
    assert (same(a, b) == []) is equal



def test_only_the_newest_analysis_with_a_residual_is_rebuilt(views_db: Any) -> None:
    """Lineage written with a residual on every non-empty analysis (an older writer) still shows {} for the older."""
    with psycopg.connect(views_db.dsn.conninfo) as conn:
        row = conn.execute(
            """
            SELECT old.id, new.id FROM public.analysis_results_view AS old
            JOIN public.analysis_results_view AS new
              ON new.c3d_metadata_id = old.c3d_metadata_id AND new.created_at > old.created_at
            WHERE new.analytics_data <> '{}' LIMIT 1
            """
        ).fetchone()
        assert row is not None
        older, newer = row
        before = conn.execute(
            "SELECT analytics_data FROM public.analysis_results_view WHERE id = %s", (newer,)
        ).fetchone()
        conn.execute(
            "UPDATE statsfirst.analysis_lineage SET analytics_residual = (SELECT analytics_residual"
            " FROM statsfirst.analysis_lineage WHERE legacy_analysis_id = %s) WHERE legacy_analysis_id = %s",
            (newer, older),
        )
        views = dict(conn.execute(
            "SELECT id, analytics_data FROM public.analysis_results_view WHERE id IN (%s, %s)", (older, newer)
        ).fetchall())
        conn.rollback()
    assert before is not None
    assert views == {older: {}, newer: before[0]}

"""Every row the real legacy application wrote has a home after the migration, and the reconciliation agrees.

A session is migrated (a therapy_sessions row with the legacy id; one still pending/processing in legacy too, with
that status and no child rows yet: mapping.md "Every legacy row has a home") or quarantined (an open quarantine entry
with its reasons); never two, never none. Each assertion message lists the outcome of every row, so a failure shows
the whole picture.
"""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg
from real_legacy_support import DATA, TARGET, RealDb

NOT_YET_PROCESSED = ("pending", "processing")


def outcomes(conn: psycopg.Connection, real_db: RealDb) -> dict[str, tuple[str, str]]:
    """legacy c3d_metadata id → (outcome, why) for every exported c3d_metadata row."""
    migrated = {r[0] for r in conn.execute(f"SELECT id::text FROM {TARGET}.therapy_sessions")}
    quarantined = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "SELECT legacy_session_id::text, stage, array_to_string(reasons, ', ') FROM statsfirst.quarantine "
            "WHERE resolved_at IS NULL"
        )
    }
    out: dict[str, tuple[str, str]] = {}
    for row in real_db.rows["c3d_metadata"]:
        sid, status = row["id"], row["processing_status"]
        states = [s for s, hit in (("migrated", sid in migrated), ("quarantined", sid in quarantined)) if hit]
        if len(states) == 2:
            out[sid] = ("BOTH migrated and quarantined", str(quarantined[sid]))
        elif states == ["migrated"]:
            out[sid] = ("migrated", f"status {status}")
        elif states == ["quarantined"]:
            stage, reasons = quarantined[sid]
            out[sid] = ("quarantined", f"{stage}: {reasons}")
        else:
            out[sid] = ("NO OUTCOME", f"status {status}")
    return out


def table_of(real_db: RealDb, result: dict[str, tuple[str, str]]) -> str:
    lines = [
        f"  {row['id']}  {row['file_path']:<58} {row['processing_status']:<10} → {' / '.join(result[row['id']])}"
        for row in real_db.rows["c3d_metadata"]
    ]
    return "outcome per real c3d_metadata row:\n" + "\n".join(lines)


def test_the_copies_are_the_shared_export_and_all_rows_loaded(real_db: RealDb) -> None:
    sums = dict(
        reversed(line.split(maxsplit=1)) for line in (DATA / "SHA256SUMS").read_text().splitlines() if line.strip()
    )
    actual = {name: hashlib.sha256((DATA / name).read_bytes()).hexdigest() for name in sums}
    assert actual == sums, "tests/data/real_legacy differs from the export it was copied from"
    assert real_db.loaded.counts == {"c3d_metadata": 14, "analysis_results": 11, "session_settings": 2}
    assert {t: len(r) for t, r in real_db.rows.items()} == real_db.loaded.counts


def test_every_real_row_is_migrated_or_quarantined_with_a_reason(
    conn: psycopg.Connection, real_db: RealDb
) -> None:
    result = outcomes(conn, real_db)
    listing = table_of(real_db, result)
    assert all(kind in ("migrated", "quarantined") for kind, _ in result.values()), listing
    assert all(why.split(": ", 1)[-1] for kind, why in result.values() if kind == "quarantined"), listing
    kinds = [kind for kind, _ in result.values()]
    summary = real_db.summary
    assert summary.sessions_in_range == len(result), listing
    assert summary.migrated == kinds.count("migrated"), (summary.as_json(), listing)
    assert sum(summary.quarantined.values()) == kinds.count("quarantined"), (summary.as_json(), listing)
    assert dict(summary.skipped) == {}, (summary.as_json(), listing)
    waiting = [r["id"] for r in real_db.rows["c3d_metadata"] if r["processing_status"] in NOT_YET_PROCESSED]
    assert waiting, "the real rows include pending/processing sessions"
    assert summary.migrated_pending == sum(result[sid][0] == "migrated" for sid in waiting), listing
    # the rows of each session follow it: its analyses are cache rows (same ids) exactly when it is migrated
    cached = {r[0] for r in conn.execute(f"SELECT id::text FROM {TARGET}.signal_processing_cache")}
    for analysis in real_db.rows["analysis_results"]:
        session_outcome = result[analysis["c3d_metadata_id"]][0]
        assert (analysis["id"] in cached) == (session_outcome == "migrated"), (analysis["id"], listing)


def test_what_the_real_rows_are_expected_to_become(conn: psycopg.Connection, real_db: RealDb) -> None:
    """The specific outcomes mapping.md prescribes for the real writer's patterns."""
    result = outcomes(conn, real_db)
    listing = table_of(real_db, result)
    by_path = {row["file_path"]: row for row in real_db.rows["c3d_metadata"]}
    # a text file named .c3d that the legacy writer marked completed with nonsense header values
    not_c3d = by_path["P006/session_04/not_a_c3d.c3d"]
    assert not_c3d["sampling_rate"] > 1e30 and not_c3d["duration_seconds"] < 1e-20
    assert result[not_c3d["id"]][0] == "quarantined" and "implausible_metadata" in result[not_c3d["id"]][1], listing
    # the failed duplicate upload (its error_message a printed dict of the unique violation) migrates as failed
    duplicate = next(r for r in real_db.rows["c3d_metadata"] if r["processing_status"] == "failed")
    assert duplicate["error_message"].startswith("{'message': 'duplicate key value violates unique constraint")
    assert '"unique_analysis_cache"' in duplicate["error_message"]
    assert result[duplicate["id"]][0] == "migrated", listing
    row = conn.execute(
        f"SELECT processing_status, error_message FROM {TARGET}.therapy_sessions WHERE id = %s", (duplicate["id"],)
    ).fetchone()
    assert row == ("failed", duplicate["error_message"])
    # every completed real recording (and the {} analyses of the too-short and the tiny file) migrates
    for path in (
        "P005/Ghostly_Emg_20230321_17-23-09-0409.c3d",
        "P006/baseline/Ghostly_Emg_20240304_10-05-56-0883.c3d",
        "corrupt_tiny.c3d",
        "P999/Ghostly_Emg_20230321_17-50-17-0881_truncated.c3d",
    ):
        assert result[by_path[path]["id"]][0] == "migrated", (path, listing)
    # a session still pending/processing in legacy is migrated with that status, and no child rows yet
    waiting = [r for r in real_db.rows["c3d_metadata"] if r["processing_status"] in NOT_YET_PROCESSED]
    assert waiting
    for legacy in waiting:
        assert result[legacy["id"]][0] == "migrated", listing
        status = conn.execute(
            f"SELECT processing_status FROM {TARGET}.therapy_sessions WHERE id = %s", (legacy["id"],)
        ).fetchone()
        assert status == (legacy["processing_status"],), listing
        for child in ("emg_statistics", "performance_scores", "bfr_monitoring", "session_settings",
                      "processing_parameters"):
            count = conn.execute(f"SELECT count(*) FROM {TARGET}.{child} WHERE session_id = %s", (legacy["id"],))
            assert count.fetchone() == (0,), (child, legacy["id"])


def test_the_linked_settings_row_feeds_its_session(conn: psycopg.Connection, real_db: RealDb) -> None:
    """One exported settings row names its session by id as text, the other has a random session id."""
    ids = {row["id"] for row in real_db.rows["c3d_metadata"]}
    linked = [s for s in real_db.rows["session_settings"] if s["session_id"] in ids]
    assert len(linked) == 1 and len(real_db.rows["session_settings"]) == 2
    row = conn.execute(
        f"SELECT settings_source FROM {TARGET}.session_settings WHERE session_id = %s", (linked[0]["session_id"],)
    ).fetchone()
    assert row == ("legacy",)
    others = conn.execute(
        f"SELECT DISTINCT settings_source FROM {TARGET}.session_settings WHERE session_id <> %s",
        (linked[0]["session_id"],),
    ).fetchall()
    assert others == [("default",)]


def test_reconcile_runs_and_reconciles(real_db: RealDb) -> None:
    report: Any = real_db.report
    mismatches = [m.__dict__ for m in report.mismatches]
    assert report.sessions.legacy == len(real_db.rows["c3d_metadata"]), report.sessions
    assert report.sessions.migrated + report.sessions.quarantined == report.sessions.legacy, report.sessions
    assert report.sessions.skipped == 0, report.sessions
    assert report.sessions.migrated == real_db.summary.migrated, (report.sessions, real_db.summary.as_json())
    assert report.sessions.migrated_pending == real_db.summary.migrated_pending > 0, report.sessions
    assert report.reconciled, mismatches

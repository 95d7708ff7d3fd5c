"""The reconciliation on every accounting state it knows: migrated (pending/processing ones among them, counted as
migrated_pending), quarantined, deleted_in_legacy (kept
in the target or in the quarantine), arrived_since_last_run (a new upload, an in-place edit), and a real mismatch."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy

CLI = Path(sys.executable).parent / "statsfirst"
TARGET = "stats"


def quiet(_: object) -> None:
    return None


def statsfirst(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=300, check=False)


def reconcile_json(dsn: ResolvedDsn) -> tuple[int, dict[str, Any]]:
    done = statsfirst("reconcile", "--dsn", dsn.conninfo, "--format", "json")
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def one(conn: psycopg.Connection, query: str) -> str:
    row = conn.execute(query).fetchone()
    assert row is not None, query
    return str(row[0])


def test_every_accounting_state(make_database: Callable[[], ResolvedDsn], tmp_path: Path) -> None:
    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
        seed_legacy(conn, sessions=150, seed=5, bad_fraction=0.1)
    apply_migrations(dsn, target_schema=TARGET, log=quiet)
    assert statsfirst("migrate", "--dsn", dsn.conninfo, "--batch-size", "40").returncode == 0
    code, clean = reconcile_json(dsn)
    assert code == 0 and clean["states"]["migrated"] and clean["states"]["quarantined"]
    assert "skipped" not in clean["states"] and clean["sessions"]["migrated_pending"] > 0

    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        migrated = one(conn, f"SELECT id FROM {TARGET}.therapy_sessions ORDER BY id LIMIT 1")
        held = one(conn, "SELECT legacy_session_id FROM statsfirst.quarantine WHERE resolved_at IS NULL "
                         "ORDER BY legacy_session_id LIMIT 1")
        for gone in (migrated, held):  # a legacy clean-up deletes both uploads
            conn.execute("DELETE FROM public.analysis_results WHERE c3d_metadata_id = %s", (gone,))
            conn.execute("DELETE FROM public.c3d_metadata WHERE id = %s", (gone,))
        edited = one(conn, f"SELECT t.id FROM {TARGET}.therapy_sessions t JOIN public.analysis_results a "
                           f"ON a.c3d_metadata_id = t.id ORDER BY t.id DESC LIMIT 1")
        # an in-place edit that touches no timestamp, and a new upload, both after the run
        conn.execute("UPDATE public.analysis_results SET cache_hits = coalesce(cache_hits, 0) + 1 "
                     "WHERE c3d_metadata_id = %s", (edited,))
        new = one(conn, "INSERT INTO public.c3d_metadata SELECT (jsonb_populate_record(NULL::public.c3d_metadata,"
                        " to_jsonb(c) || jsonb_build_object('id', gen_random_uuid(),"
                        " 'file_path', c.file_path || '.new',"
                        " 'file_hash', encode(sha256(convert_to(c.file_hash, 'UTF8')), 'hex')))).* "
                        f"FROM public.c3d_metadata c WHERE c.id = '{edited}' RETURNING id")

    code, report = reconcile_json(dsn)
    assert code == 0, report["mismatches"][:3]
    assert report["reconciled"] is True
    assert report["states"]["deleted_in_legacy"] == 2 and report["sessions"]["deleted_in_legacy"] == 2
    assert {s["legacy_id"] for s in report["listed"]["deleted_in_legacy"]} == {migrated, held}
    assert report["states"]["arrived_since_last_run"] == 2
    assert {s["legacy_id"] for s in report["listed"]["arrived_since_last_run"]} == {edited, new}
    assert report["sessions"]["legacy"] == clean["sessions"]["legacy"] - 2 + 1
    assert report["scope"]["last_run"]["legacy_snapshot"]
    # every format names the states
    html = tmp_path / "report.html"
    assert statsfirst("reconcile", "--dsn", dsn.conninfo, "--format", "html", "--output", str(html)).returncode == 0
    page = html.read_text()
    assert migrated in page and new in page
    text = statsfirst("reconcile", "--dsn", dsn.conninfo, "--format", "csv")
    assert text.returncode == 0 and "deleted_in_legacy" in text.stdout and "arrived_since_last_run" in text.stdout

    # the next run picks the arrivals up; the deleted stay in the target
    assert statsfirst("migrate", "--dsn", dsn.conninfo, "--incremental").returncode == 0
    code, after = reconcile_json(dsn)
    assert code == 0 and after["states"].get("arrived_since_last_run", 0) == 0, after["mismatches"][:3]
    assert after["states"]["deleted_in_legacy"] == 2
    with psycopg.connect(dsn.conninfo) as conn:
        assert one(conn, f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE id = '{migrated}'") == "1"
        assert one(conn, f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE id = '{new}'") == "1"

    # a real mismatch still fails: a migrated session whose target row vanished
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        lost = one(conn, f"SELECT id FROM {TARGET}.therapy_sessions WHERE id <> '{migrated}' ORDER BY id LIMIT 1")
        for table in ("emg_statistics", "performance_scores", "bfr_monitoring", "session_settings",
                      "signal_processing_cache", "processing_parameters"):
            conn.execute(f"DELETE FROM {TARGET}.{table} WHERE session_id = %s", (lost,))
        conn.execute(f"DELETE FROM {TARGET}.therapy_sessions WHERE id = %s", (lost,))
    code, broken = reconcile_json(dsn)
    assert code == 1 and broken["states"]["unaccounted"] == 1
    assert [m["legacy_id"] for m in broken["mismatches"] if m["kind"] == "accounting"] == [lost]


def test_committed_after_widens_xmin_across_an_epoch(make_database: Callable[[], ResolvedDsn]) -> None:
    """The xid arithmetic of change detection, on snapshots either side of a 2^32 wraparound."""
    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
    apply_migrations(dsn, target_schema=TARGET, log=quiet)
    epoch = 2**32
    cases = [
        # (raw xmin, mark, next xid, committed after the mark?)
        ("100", "200:300:", 400, False),  # older than the mark's xmin: seen by the mark
        ("250", "200:300:", 400, False),  # committed before the mark, not in progress then
        ("250", "200:300:250", 400, True),  # in progress when the mark was taken (a transaction left open)
        ("350", "200:300:", 400, True),  # started after the mark
        (str(epoch - 10), f"{epoch - 20}:{epoch - 5}:{epoch - 10}", epoch + 50, True),  # open across wraparound
        ("30", f"{epoch - 20}:{epoch - 5}:", epoch + 50, True),  # written after wraparound (epoch 1)
        (str(epoch - 30), f"{epoch - 20}:{epoch - 5}:", epoch + 50, False),  # old, epoch 0
        ("2", "200:300:", 400, False),  # frozen by a pre-9.4 server
    ]
    with psycopg.connect(dsn.conninfo) as conn:
        for raw, mark, next_xid, expected in cases:
            row = conn.execute("SELECT statsfirst.committed_after(%s::xid, %s::pg_snapshot, %s)",
                               (raw, mark, next_xid)).fetchone()
            assert row is not None and row[0] is expected, (raw, mark, next_xid)

"""Pending/processing legacy sessions (mapping.md "Every legacy row has a home").

A session the legacy app has not finished is migrated as a therapy_sessions row with its status and no child rows;
the run after the legacy row completes (full or incremental) writes its children. c3d_metadata_view answers for it
exactly as the legacy row. Hand-built sessions, so each state is known exactly.
"""

from __future__ import annotations

import io
import re
from typing import Any

import psycopg
import pytest
from migration_support import TARGET, WORKED_PARAMS, HandBuilt, rows, run, scalar
from rich.console import Console

from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.render_text import render_text
from statsfirst.reconcile.run import reconcile

CHILDREN = ("emg_statistics", "performance_scores", "bfr_monitoring", "session_settings", "processing_parameters",
            "signal_processing_cache")
HEADERS = ("channel_names", "channel_count", "sampling_rate", "duration_seconds", "frame_count",
           "resolved_patient_id", "resolved_therapist_id", "resolved_session_date")


def make_pending(hb: HandBuilt, status: str = "pending") -> tuple[str, list[tuple[Any, ...]], dict[str, Any]]:
    """A session as the legacy writer leaves it before processing: status set, resolved_*/headers NULL, no analysis.

    Returns (session id, its analysis rows as they were, its header values) so :func:`complete` can finish it."""
    session_id = hb.add_session(params=WORKED_PARAMS)
    with psycopg.connect(hb.dsn.conninfo) as conn:
        analyses = conn.execute(
            "DELETE FROM public.analysis_results WHERE c3d_metadata_id = %s RETURNING id, c3d_metadata_id, file_hash,"
            " processing_version, processing_params, analytics_data, processing_time_ms, cache_hits, created_at,"
            " expires_at, last_accessed_at", (session_id,)).fetchall()
        cur = conn.execute(f"SELECT {', '.join(HEADERS)} FROM public.c3d_metadata WHERE id = %s", (session_id,))
        assert cur.description is not None
        header_row = cur.fetchone()
        assert header_row is not None
        headers = {d.name: v for d, v in zip(cur.description, header_row, strict=True)}
        conn.execute(
            "UPDATE public.c3d_metadata SET processing_status = %s, processed_at = NULL, "
            + ", ".join(f"{h} = NULL" for h in HEADERS) + " WHERE id = %s", (status, session_id))
    return session_id, analyses, headers


def complete(hb: HandBuilt, session_id: str, analyses: list[tuple[Any, ...]], headers: dict[str, Any]) -> None:
    """The legacy app finishes the session: headers and resolved_* written, status completed, its analysis row."""
    with psycopg.connect(hb.dsn.conninfo) as conn:
        conn.execute(
            "UPDATE public.c3d_metadata SET processing_status = 'completed', processed_at = '2023-03-21T18:01:00Z', "
            + ", ".join(f"{h} = %({h})s" for h in HEADERS) + " WHERE id = %(id)s",
            {**{h: psycopg.types.json.Jsonb(v) if h == "channel_names" else v for h, v in headers.items()},
             "id": session_id})
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO public.analysis_results (id, c3d_metadata_id, file_hash, processing_version,"
                " processing_params, analytics_data, processing_time_ms, cache_hits, created_at, expires_at,"
                " last_accessed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(*a[:4], psycopg.types.json.Jsonb(a[4]), psycopg.types.json.Jsonb(a[5]), *a[6:]) for a in analyses])


def child_counts(hb: HandBuilt, session_id: str) -> dict[str, int]:
    return {t: scalar(hb.dsn, f"SELECT count(*) FROM {TARGET}.{t} WHERE session_id = %s", (session_id,))
            for t in CHILDREN}


def legacy_and_view_row(hb: HandBuilt, session_id: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    legacy = rows(hb.dsn, "SELECT * FROM public.c3d_metadata WHERE id = %s", (session_id,))
    view = rows(hb.dsn, "SELECT * FROM public.c3d_metadata_view WHERE id = %s", (session_id,))
    assert len(legacy) == len(view) == 1
    return legacy[0], view[0]


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_waiting_session_is_migrated_with_status_and_no_children(hand_built: HandBuilt, status: str) -> None:
    done = hand_built.add_session(params=WORKED_PARAMS)
    waiting, _, _ = make_pending(hand_built, status)
    result = run(hand_built.dsn)
    summary = result.as_json()
    sessions = summary["sessions"]
    assert isinstance(sessions, dict)
    assert (sessions["in_range"], sessions["migrated"], sessions["migrated_pending"], sessions["skipped"]) == (
        2, 2, 1, 0)
    assert summary["skipped_by_reason"] == {} and sessions["quarantined"] == 0
    got = rows(hand_built.dsn, "SELECT processing_status, patient_id, session_date IS NOT NULL,"
                               " original_sampling_rate, channel_names, processed_at"
                               f" FROM {TARGET}.therapy_sessions WHERE id = %s", (waiting,))
    # patient resolved from patient_id (resolved_* NULL while pending); the NULL headers are unknown, not implausible
    assert got == [(status, "P001", True, None, None, None)]
    assert child_counts(hand_built, waiting) == dict.fromkeys(CHILDREN, 0)
    assert all(n > 0 for t, n in child_counts(hand_built, done).items() if t != "bfr_monitoring")
    legacy, view = legacy_and_view_row(hand_built, waiting)
    assert view == legacy
    assert scalar(hand_built.dsn, "SELECT count(*) FROM public.c3d_metadata_view") == 2
    # the run's text summary and the reconciliation name the same count
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(result.render())
    text = console.export_text()
    assert re.search(r"of the migrated, still pending/processing in legacy \(no child rows yet\) +│ +1 │", text), text
    report = reconcile(hand_built.dsn, ReconcileOptions())
    assert report.reconciled, report.mismatches
    assert (report.sessions.migrated, report.sessions.migrated_pending, report.sessions.skipped) == (2, 1, 0)
    assert report.pipeline_counters is not None and report.pipeline_counters.agrees
    assert "of them still pending/processing in legacy (migrated_pending)" in render_text(report)


def test_pending_session_with_an_implausible_header_is_quarantined(hand_built: HandBuilt) -> None:
    """Same plausibility rule as any session: a set, impossible header value holds a pending session back."""
    waiting, _, _ = make_pending(hand_built)
    with psycopg.connect(hand_built.dsn.conninfo) as conn:
        conn.execute("UPDATE public.c3d_metadata SET sampling_rate = -5 WHERE id = %s", (waiting,))
    sessions = run(hand_built.dsn).as_json()["sessions"]
    assert isinstance(sessions, dict)
    assert (sessions["migrated"], sessions["migrated_pending"], sessions["quarantined"]) == (0, 0, 1)
    assert scalar(hand_built.dsn, "SELECT reasons FROM statsfirst.quarantine WHERE legacy_session_id = %s",
                  (waiting,)) == ["implausible_metadata"]


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
def test_later_run_completes_the_session(hand_built: HandBuilt, incremental: bool) -> None:
    reference = hand_built.add_session(params=WORKED_PARAMS)
    waiting, analyses, headers = make_pending(hand_built)
    run(hand_built.dsn)
    hash_pending = scalar(hand_built.dsn, "SELECT source_hash FROM statsfirst.session_lineage"
                                          " WHERE legacy_session_id = %s", (waiting,))
    # nothing changed in legacy: an incremental run leaves the pending session as it is
    again = run(hand_built.dsn, incremental=True).as_json()["sessions"]
    assert isinstance(again, dict) and again["migrated"] == 0

    complete(hand_built, waiting, analyses, headers)
    summary = run(hand_built.dsn, incremental=incremental).as_json()
    sessions = summary["sessions"]
    assert isinstance(sessions, dict)
    assert sessions["migrated_pending"] == 0 and sessions["migrated"] >= 1 and sessions["quarantined"] == 0
    # the lineage hash covers the status (md5 of the c3d row), so completion changed it
    assert scalar(hand_built.dsn, "SELECT source_hash FROM statsfirst.session_lineage"
                                  " WHERE legacy_session_id = %s", (waiting,)) != hash_pending
    assert scalar(hand_built.dsn, f"SELECT processing_status FROM {TARGET}.therapy_sessions WHERE id = %s",
                  (waiting,)) == "completed"
    # its children are now exactly those of an identical session that was completed from the start
    assert child_counts(hand_built, waiting) == child_counts(hand_built, reference)
    assert child_counts(hand_built, waiting)["emg_statistics"] == 2
    legacy, view = legacy_and_view_row(hand_built, waiting)
    assert view == legacy
    report = reconcile(hand_built.dsn, ReconcileOptions())
    assert report.reconciled, report.mismatches
    assert (report.sessions.migrated, report.sessions.migrated_pending) == (2, 0)

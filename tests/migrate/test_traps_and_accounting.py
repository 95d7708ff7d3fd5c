"""A seeded legacy database (1500 sessions, 5 % spoiled): accounting, quarantine and every trap of mapping.md."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import pytest
from migration_support import SESSIONS, TARGET, rows, run, scalar, seeded_database

from statsfirst.db.dsn import ResolvedDsn

CHANNEL_COUNT_ZERO = 5


@dataclass
class Seeded:
    dsn: ResolvedDsn
    summary: dict[str, object]
    zero_channel_ids: list[str]


@pytest.fixture(scope="module")
def seeded(make_database: Callable[[], ResolvedDsn]) -> Seeded:
    dsn = seeded_database(make_database)
    with psycopg.connect(dsn.conninfo) as conn:
        # the generator never writes channel_count 0: make a few clean completed sessions carry it
        picked = conn.execute(
            "SELECT c.id::text FROM public.c3d_metadata c JOIN legacy_seed.manifest m ON m.c3d_metadata_id = c.id"
            " WHERE c.processing_status = 'completed' AND m.spoiled_kind IS NULL ORDER BY c.id LIMIT %s",
            (CHANNEL_COUNT_ZERO,),
        ).fetchall()
        ids = [r[0] for r in picked]
        conn.execute("UPDATE public.c3d_metadata SET channel_count = 0, channel_names = '[]' WHERE id = ANY(%s)",
                     (ids,))
        # older v2.0.0 rows all expired long ago; keep some alive so 'superseded' is exercised on its own
        conn.execute("UPDATE public.analysis_results SET expires_at = '2099-01-01T00:00:00Z' WHERE id IN ("
                     " SELECT id FROM public.analysis_results WHERE processing_version = 'v2.0.0'"
                     " ORDER BY id LIMIT 10)")
    summary = run(dsn, batch_size=500)
    return Seeded(dsn, summary.as_json(), ids)


def trap_ids(s: Seeded, trap: str, *, migrated_only: bool = True) -> set[str]:
    query = "SELECT m.c3d_metadata_id::text FROM legacy_seed.manifest m WHERE %s = ANY(m.traps)"
    if migrated_only:
        query += f" AND m.c3d_metadata_id IN (SELECT id FROM {TARGET}.therapy_sessions)"
    return {r[0] for r in rows(s.dsn, query, (trap,))}


def test_spoiled_sessions_are_exactly_the_open_quarantine(seeded: Seeded) -> None:
    spoiled = {r[0] for r in rows(seeded.dsn, "SELECT c3d_metadata_id::text FROM legacy_seed.manifest"
                                               " WHERE spoiled_kind IS NOT NULL")}
    quarantined = {r[0] for r in rows(seeded.dsn, "SELECT legacy_session_id::text FROM statsfirst.quarantine"
                                                   " WHERE resolved_at IS NULL")}
    assert spoiled, "the seed should spoil some sessions"
    assert quarantined == spoiled
    assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE id::text = ANY(%s)",
                  (list(spoiled),)) == 0
    empty = rows(seeded.dsn, "SELECT legacy_session_id FROM statsfirst.quarantine"
                             " WHERE cardinality(reasons) = 0 OR jsonb_array_length(failures) = 0")
    assert empty == []


def test_every_spoil_kind_is_quarantined(seeded: Seeded) -> None:
    kinds = rows(seeded.dsn, "SELECT m.spoiled_kind, count(q.*) FROM legacy_seed.manifest m"
                             " LEFT JOIN statsfirst.quarantine q ON q.legacy_session_id = m.c3d_metadata_id"
                             " WHERE m.spoiled_kind IS NOT NULL GROUP BY 1")
    assert len(kinds) == 7
    assert all(count > 0 for _, count in kinds)


def test_accounting_adds_up(seeded: Seeded) -> None:
    sessions = seeded.summary["sessions"]
    assert isinstance(sessions, dict)
    assert sessions["in_range"] == SESSIONS
    assert sessions["migrated"] + sessions["quarantined"] + sessions["skipped"] == SESSIONS
    migrated = scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions")
    quarantined = scalar(seeded.dsn, "SELECT count(*) FROM statsfirst.quarantine WHERE resolved_at IS NULL")
    waiting = scalar(seeded.dsn, "SELECT count(*) FROM public.c3d_metadata"
                                 " WHERE processing_status IN ('pending', 'processing')")
    legacy = scalar(seeded.dsn, "SELECT count(*) FROM public.c3d_metadata")
    pending_migrated = scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions"
                                          " WHERE processing_status IN ('pending', 'processing')")
    # every legacy row has a home: pending/processing sessions are migrated (counted apart as migrated_pending)
    assert waiting > 0 and pending_migrated == waiting
    assert migrated + quarantined == legacy == SESSIONS
    assert (migrated, quarantined, 0) == (sessions["migrated"], sessions["quarantined"], sessions["skipped"])
    assert sessions["migrated_pending"] == waiting
    assert seeded.summary["skipped_by_reason"] == {}
    table_rows = seeded.summary["rows"]
    assert isinstance(table_rows, dict)
    for name, count in table_rows.items():
        assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.{name}") == count, name


@pytest.mark.parametrize(("trap", "resolution"), [("unknown_patient_sentinel", "sentinel"),
                                                  ("unregistered_patient_code", "unregistered")])
def test_unresolved_patients(seeded: Seeded, trap: str, resolution: str) -> None:
    ids = trap_ids(seeded, trap)
    assert ids
    got = rows(seeded.dsn, f"SELECT t.patient_id, l.patient_resolution,"
                           " c.patient_id IS NULL AND c.resolved_patient_id IS NULL"
                           f" FROM {TARGET}.therapy_sessions t"
                           " JOIN statsfirst.session_lineage l ON l.legacy_session_id = t.id"
                           " JOIN public.c3d_metadata c ON c.id = t.id"
                           " WHERE t.id::text = ANY(%s)",
               (list(ids),))
    assert len(got) == len(ids)
    assert {r[0] for r in got} == {None}
    # a pending session at the bucket root names no patient yet (resolved_* NULL until processed): no reference
    assert {r[1] for r in got if not r[2]} == {resolution}
    assert {r[1] for r in got if r[2]} <= {"sentinel"}


def test_registered_patients_resolve(seeded: Seeded) -> None:
    unresolved = rows(seeded.dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions t"
                                  " JOIN statsfirst.session_lineage l ON l.legacy_session_id = t.id"
                                  " WHERE l.patient_resolution = 'resolved' AND t.patient_id IS NULL")
    assert unresolved == [(0,)]


def test_frame_count_zero_is_unknown(seeded: Seeded) -> None:
    ids = trap_ids(seeded, "frame_count_zero")
    assert ids
    got = rows(seeded.dsn, f"SELECT original_sample_count, original_duration_seconds FROM {TARGET}.therapy_sessions"
                           " WHERE id::text = ANY(%s)", (list(ids),))
    assert len(got) == len(ids)
    assert set(got) == {(None, None)}
    assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE original_sample_count = 0"
                              " OR channel_count = 0 OR original_sampling_rate = 0") == 0


def test_channel_count_zero_is_unknown(seeded: Seeded) -> None:
    got = rows(seeded.dsn, f"SELECT channel_count, channel_names FROM {TARGET}.therapy_sessions"
                           " WHERE id::text = ANY(%s)", (seeded.zero_channel_ids,))
    assert len(got) == CHANNEL_COUNT_ZERO
    assert set(got) == {(None, None)}


def test_point_rate_33_is_kept(seeded: Seeded) -> None:
    legacy = scalar(seeded.dsn, "SELECT count(*) FROM public.c3d_metadata WHERE sampling_rate = 33"
                                f" AND id IN (SELECT id FROM {TARGET}.therapy_sessions)")
    kept = scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE original_sampling_rate = 33")
    assert legacy > 0
    assert kept == legacy


def test_empty_analytics(seeded: Seeded) -> None:
    ids = trap_ids(seeded, "empty_analytics") - trap_ids(seeded, "expired_analysis")
    assert ids
    ids_list = list(ids)
    assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.emg_statistics WHERE session_id::text = ANY(%s)",
                  (ids_list,)) == 0
    assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.performance_scores WHERE session_id::text = ANY(%s)",
                  (ids_list,)) == 0
    got = rows(seeded.dsn, f"SELECT c.cache_valid, c.invalidated_reason, c.invalidated_at IS NOT NULL"
                           f" FROM public.analysis_results a JOIN {TARGET}.signal_processing_cache c ON c.id = a.id"
                           " WHERE a.analytics_data = '{}' AND a.c3d_metadata_id::text = ANY(%s)", (ids_list,))
    assert len(got) == len(ids)
    assert set(got) == {(False, "superseded", True)}


def test_expired_current_analysis(seeded: Seeded) -> None:
    ids = trap_ids(seeded, "expired_analysis") - trap_ids(seeded, "empty_analytics")
    assert ids
    got = rows(seeded.dsn, f"SELECT c.cache_valid, c.invalidated_reason FROM public.analysis_results a"
                           f" JOIN {TARGET}.signal_processing_cache c ON c.id = a.id"
                           " WHERE a.processing_version = 'v2.1.0' AND a.c3d_metadata_id::text = ANY(%s)",
               (list(ids),))
    assert len(got) == len(ids)
    assert set(got) == {(False, "expired")}


def test_superseded_analyses(seeded: Seeded) -> None:
    ids = trap_ids(seeded, "superseded_analysis")
    assert ids
    got = rows(seeded.dsn, f"SELECT c.cache_valid, c.invalidated_reason, a.expires_at <= now()"
                           f" FROM public.analysis_results a JOIN {TARGET}.signal_processing_cache c ON c.id = a.id"
                           " WHERE a.processing_version = 'v2.0.0' AND a.c3d_metadata_id::text = ANY(%s)",
               (list(ids),))
    assert len(got) == len(ids)
    # an older row that has also expired says 'expired' (README: the mapping names both reasons, not their order)
    assert {(valid, reason) for valid, reason, expired in got if not expired} == {(False, "superseded")}
    assert {(valid, reason) for valid, reason, expired in got if expired} <= {(False, "expired")}


def test_valid_cache_rows_are_current_and_unexpired(seeded: Seeded) -> None:
    bad = scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.signal_processing_cache c"
                             " WHERE c.cache_valid AND (c.expires_at <= now() OR c.invalidated_reason IS NOT NULL"
                             f" OR (SELECT count(*) FROM {TARGET}.signal_processing_cache o"
                             " WHERE o.session_id = c.session_id AND o.cache_valid) > 1)")
    assert bad == 0
    assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.signal_processing_cache WHERE cache_valid") > 0


def test_every_analysis_of_a_migrated_session_is_cached(seeded: Seeded) -> None:
    missing = scalar(seeded.dsn, "SELECT count(*) FROM public.analysis_results a"
                                 f" JOIN {TARGET}.therapy_sessions t ON t.id = a.c3d_metadata_id"
                                 f" LEFT JOIN {TARGET}.signal_processing_cache c ON c.id = a.id"
                                 " WHERE c.id IS NULL OR c.session_id <> a.c3d_metadata_id")
    assert missing == 0
    legacy = scalar(seeded.dsn, "SELECT count(*) FROM public.analysis_results a"
                                f" JOIN {TARGET}.therapy_sessions t ON t.id = a.c3d_metadata_id")
    assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.signal_processing_cache") == legacy


def test_stuck_sessions_are_migrated_with_their_status_and_no_children(seeded: Seeded) -> None:
    """mapping.md "Every legacy row has a home": a pending/processing session is a therapy_sessions row with that
    status (its NULL/0 headers are unknown, not implausible) and has no child rows yet."""
    for trap, status in (("stuck_pending", "pending"), ("stuck_processing", "processing")):
        ids = list(trap_ids(seeded, trap, migrated_only=False))
        assert ids, trap
        got = rows(seeded.dsn, f"SELECT t.processing_status, t.original_sampling_rate, t.original_duration_seconds"
                               f" FROM public.c3d_metadata c LEFT JOIN {TARGET}.therapy_sessions t ON t.id = c.id"
                               " WHERE c.id::text = ANY(%s)", (ids,))
        assert len(got) == len(ids) and {r for r in got} == {(status, None, None)}, trap
        assert scalar(seeded.dsn, "SELECT count(*) FROM statsfirst.quarantine WHERE legacy_session_id::text = ANY(%s)",
                      (ids,)) == 0
        assert scalar(seeded.dsn, "SELECT count(*) FROM statsfirst.session_lineage"
                                  " WHERE legacy_session_id::text = ANY(%s)", (ids,)) == len(ids)
        for child in ("emg_statistics", "performance_scores", "bfr_monitoring", "session_settings",
                      "processing_parameters", "signal_processing_cache"):
            assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.{child} WHERE session_id::text = ANY(%s)",
                          (ids,)) == 0, (trap, child)


def test_failed_sessions_migrate_with_error(seeded: Seeded) -> None:
    ids = trap_ids(seeded, "failed", migrated_only=False)
    assert ids
    got = rows(seeded.dsn, f"SELECT t.processing_status, t.error_message = c.error_message, t.error_message"
                           f" FROM public.c3d_metadata c LEFT JOIN {TARGET}.therapy_sessions t ON t.id = c.id"
                           " WHERE c.id::text = ANY(%s)", (list(ids),))
    assert len(got) == len(ids)
    assert {(r[0], r[1]) for r in got} == {("failed", True)}
    assert all(r[2] for r in got)


def test_linked_settings(seeded: Seeded) -> None:
    # a session still pending/processing gets no session_settings row yet, whatever links to it
    waiting = trap_ids(seeded, "linked_settings") & trap_ids(seeded, "not_yet_extracted")
    assert waiting
    assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.session_settings WHERE session_id::text = ANY(%s)",
                  (list(waiting),)) == 0
    linked = trap_ids(seeded, "linked_settings") - waiting
    assert linked
    sources = rows(seeded.dsn, f"SELECT settings_source, count(*) FROM {TARGET}.session_settings"
                               " WHERE session_id::text = ANY(%s) GROUP BY 1", (list(linked),))
    assert sources == [("legacy", len(linked))]
    assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.session_settings WHERE settings_source = 'legacy'"
                              " AND NOT session_id::text = ANY(%s)", (list(linked),)) == 0
    with_bfr = linked - trap_ids(seeded, "bfr_missing")
    assert with_bfr
    covered = scalar(seeded.dsn, f"SELECT count(DISTINCT session_id) FROM {TARGET}.bfr_monitoring"
                                 " WHERE session_id::text = ANY(%s)", (list(with_bfr),))
    assert covered == len(with_bfr)
    assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.bfr_monitoring WHERE NOT session_id::text = ANY(%s)"
                              " OR source <> 'legacy_session_settings'", (list(with_bfr),)) == 0
    one_side = trap_ids(seeded, "bfr_one_side") & with_bfr
    if one_side:
        assert scalar(seeded.dsn, f"SELECT max(n) FROM (SELECT count(*) n FROM {TARGET}.bfr_monitoring"
                                  " WHERE session_id::text = ANY(%s) GROUP BY session_id) x", (list(one_side),)) == 1


def test_bfr_gate_matches_safety_status(seeded: Seeded) -> None:
    mismatched = scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.performance_scores p"
                                    " JOIN (SELECT session_id, bool_and(safety_gate_status) ok"
                                    f" FROM {TARGET}.bfr_monitoring"
                                    " GROUP BY session_id) b USING (session_id)"
                                    " WHERE p.bfr_compliance_gate IS DISTINCT FROM (CASE WHEN b.ok THEN 1 ELSE 0 END)")
    assert mismatched == 0
    assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.performance_scores WHERE bfr_compliance_gate = 0") > 0


def test_export_history_stays_empty(seeded: Seeded) -> None:
    assert scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.export_history") == 0


def test_swapped_muscle_mapping(seeded: Seeded) -> None:
    ids = trap_ids(seeded, "muscle_mapping_swapped")
    assert ids
    got = rows(seeded.dsn, f"SELECT channel_name, side FROM {TARGET}.emg_statistics"
                           " WHERE session_id::text = ANY(%s) AND channel_name IN ('CH1', 'CH2')", (list(ids),))
    assert got
    assert {r[1] for r in got if r[0] == "CH1"} == {"right"}
    assert {r[1] for r in got if r[0] == "CH2"} <= {"left"}
    normal = scalar(seeded.dsn, f"SELECT count(*) FROM {TARGET}.emg_statistics WHERE channel_name = 'CH1'"
                                " AND side = 'right' AND NOT session_id::text = ANY(%s)", (list(ids),))
    assert normal == 0

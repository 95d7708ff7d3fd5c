"""A clean migration reconciles; damaging the target or the quarantine in any of the ways that matter makes it fail
and names the affected legacy id."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from reconcile_support import SESSIONS, TARGET, Migrated, cli_json, execute

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.run import reconcile
from statsfirst.target_tables import TARGET_TABLES

Copier = Callable[[ResolvedDsn], ResolvedDsn]


def one(dsn: ResolvedDsn, query: str) -> str:
    rows = execute(dsn, query)
    assert rows, query
    return str(rows[0][0])


def test_clean_migration_reconciles(migrated: Migrated) -> None:
    report = migrated.report
    s = report.sessions
    assert report.reconciled, report.mismatches
    assert s.legacy == SESSIONS
    assert s.migrated + s.quarantined == s.legacy
    assert s.mismatched == 0 and s.skipped == 0
    assert s.migrated > 0 and s.quarantined > 0 and s.migrated_pending > 0
    # pending/processing sessions are migrated (mapping.md "Every legacy row has a home") and counted apart
    waiting = f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE processing_status IN ('pending', 'processing')"
    assert s.migrated_pending == int(one(migrated.dsn, waiting))
    # the recount agrees with what the target and the quarantine hold, counted here a third way
    assert s.migrated == int(one(migrated.dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions"))
    open_entries = "SELECT count(*) FROM statsfirst.quarantine WHERE resolved_at IS NULL"
    assert s.quarantined == int(one(migrated.dsn, open_entries))
    assert report.skipped_reasons == {}
    assert sum(report.quarantine_reasons.values()) == s.quarantined
    assert {t.name for t in report.tables} == set(TARGET_TABLES)
    for table in report.tables:
        assert table.expected == table.actual, table
        assert table.actual == int(one(migrated.dsn, f"SELECT count(*) FROM {TARGET}.{table.name}")), table
    assert report.values.sessions_compared == s.migrated
    assert report.values.segments_differing == 0
    assert report.values.rows_compared["emg_statistics"] == report.table("emg_statistics").expected
    assert report.pipeline_counters is not None and report.pipeline_counters.agrees


def test_clean_migration_completeness(migrated: Migrated) -> None:
    c = migrated.report.completeness
    assert c.migrated == migrated.report.sessions.migrated
    # the migration's default weights give the game 0 (legacy data never stored game points): the sessions with
    # both sides and an RPE have an overall score, and missing game points are no reason against it
    assert c.overall_score_computable == int(one(
        migrated.dsn, f"SELECT count(*) FROM {TARGET}.performance_scores WHERE overall_performance_score IS NOT NULL"))
    assert c.overall_score_computable > 0
    assert "game_points_not_recorded" not in c.not_computable_reasons
    scored = migrated.report.table("performance_scores").actual
    assert c.not_computable_reasons["no_emg_analysis"] == c.migrated - scored
    assert c.not_computable_reasons["rpe_not_recorded"] > 0 and c.not_computable_reasons["one_channel"] > 0
    assert sum(c.no_identifiable_patient.values()) == int(
        one(migrated.dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE patient_id IS NULL")
    )
    assert c.point_rate_33hz["migrated"] == int(
        one(migrated.dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE original_sampling_rate = 33")
    )
    patients = migrated.report.patients
    assert sum(p.legacy for p in patients) == SESSIONS
    assert sum(p.migrated for p in patients) == migrated.report.sessions.migrated


def test_deleting_a_migrated_session_names_it(migrated: Migrated, copy_of: Copier) -> None:
    dsn = copy_of(migrated.dsn)
    victim = one(dsn, f"SELECT id FROM {TARGET}.therapy_sessions ORDER BY id OFFSET 100 LIMIT 1")
    execute(dsn, f"DELETE FROM {TARGET}.therapy_sessions WHERE id = %s", (victim,))
    code, report = cli_json(dsn=dsn)
    assert code == 1 and report["reconciled"] is False
    assert report["sessions"]["mismatched"] == 1
    assert report["tables"]["therapy_sessions"]["delta"] == -1
    named = [m for m in report["mismatches"] if m["legacy_id"] == victim]
    assert named and named[0]["kind"] == "accounting" and named[0]["detail"].startswith("unaccounted")


def test_deleting_a_child_row_names_the_session(migrated: Migrated, copy_of: Copier) -> None:
    dsn = copy_of(migrated.dsn)
    session, channel = execute(
        dsn, f"SELECT session_id::text, channel_name FROM {TARGET}.emg_statistics ORDER BY id LIMIT 1"
    )[0]
    execute(dsn, f"DELETE FROM {TARGET}.emg_statistics WHERE session_id = %s AND channel_name = %s", (session, channel))
    report = reconcile(dsn, ReconcileOptions())
    assert not report.reconciled
    assert report.sessions.mismatched == 0  # the session itself is still accounted for
    assert report.table("emg_statistics").delta == -1
    assert report.values.sessions_with_differences >= 1
    missing = [m for m in report.mismatches if m.kind == "missing_row"]
    assert [(m.legacy_id, m.table, m.row_key) for m in missing] == [(session, "emg_statistics", channel)]


@pytest.mark.parametrize(
    ("table", "column", "change", "where"),
    [
        ("emg_statistics", "total_contractions", "total_contractions + 1", "total_contractions > 0"),
        ("therapy_sessions", "file_hash", "repeat('0', 64)", "true"),
        ("performance_scores", "compliance_score", "compliance_score * 1.000001", "compliance_score BETWEEN 1 AND 90"),
    ],
)
def test_altering_one_value_names_the_session(
    migrated: Migrated, copy_of: Copier, table: str, column: str, change: str, where: str
) -> None:
    dsn = copy_of(migrated.dsn)
    session = "id" if table == "therapy_sessions" else "session_id"
    pick = f"SELECT id, {session}::text AS s FROM {TARGET}.{table} WHERE {where} ORDER BY 1 LIMIT 1"
    row_id, victim = execute(dsn, pick)[0]
    execute(dsn, f"UPDATE {TARGET}.{table} SET {column} = {change} WHERE id = %s", (row_id,))
    report = reconcile(dsn, ReconcileOptions())
    assert not report.reconciled
    assert report.sessions.mismatched == 0 and all(t.delta == 0 for t in report.tables)
    assert report.values.sessions_with_differences == 1 and report.values.segments_differing == 1
    [mismatch] = [m for m in report.mismatches if m.kind == "value"]
    assert (mismatch.legacy_id, mismatch.table, mismatch.column) == (victim, table, column)
    assert mismatch.expected != mismatch.actual


def test_deleting_a_quarantine_entry_names_the_session(
    migrated: Migrated, copy_of: Copier
) -> None:
    dsn = copy_of(migrated.dsn)
    victim = one(dsn, "SELECT legacy_session_id FROM statsfirst.quarantine ORDER BY legacy_session_id LIMIT 1")
    execute(dsn, "DELETE FROM statsfirst.quarantine WHERE legacy_session_id = %s", (victim,))
    code, report = cli_json(dsn=dsn)
    assert code == 1
    assert report["sessions"]["quarantined"] == migrated.report.sessions.quarantined - 1
    [mismatch] = [m for m in report["mismatches"] if m["kind"] == "accounting"]
    assert mismatch["legacy_id"] == victim and mismatch["detail"].startswith("unaccounted")
    # the session's rows are now expected in the target and are not there
    assert report["tables"]["therapy_sessions"]["delta"] == -1
    assert report["pipeline_counters"]["agrees"] is False


def cover_legacy_history(dsn: ResolvedDsn) -> None:
    """Move the target's mark to now, as if the last run had covered every legacy change made so far."""
    execute(dsn, "UPDATE statsfirst.watermarks SET legacy_snapshot = pg_current_snapshot()")


def test_the_legacy_side_is_recomputed_not_trusted(
    migrated: Migrated, copy_of: Copier
) -> None:
    """Change the legacy data after the migration: the reconciliation sees it, whatever the pipeline counted."""
    dsn = copy_of(migrated.dsn)
    back_to_pending, reanalysed = (
        r[0] for r in execute(dsn, f"SELECT s.id::text FROM {TARGET}.therapy_sessions s"
                                   f" JOIN {TARGET}.emg_statistics e ON e.session_id = s.id AND e.channel_name = 'CH1'"
                                   " ORDER BY s.id LIMIT 2")
    )
    execute(dsn, "UPDATE public.c3d_metadata SET processing_status = 'processing' WHERE id = %s", (back_to_pending,))
    execute(
        dsn,
        "UPDATE public.analysis_results SET analytics_data = jsonb_set(analytics_data, '{CH1,rms}', '0.123')"
        " WHERE c3d_metadata_id = %s AND analytics_data ? 'CH1'",
        (reanalysed,),
    )
    # as if the last run had read these changes and got them wrong: otherwise they are arrivals, not mismatches
    cover_legacy_history(dsn)
    report = reconcile(dsn, ReconcileOptions())
    assert not report.reconciled
    # back to processing in legacy: the target's completed row and its children are no longer what it should hold
    # (the first few per session are listed: its child rows, which a processing session must not have yet)
    unexpected = {m.table for m in report.mismatches if m.kind == "unexpected_row" and m.legacy_id == back_to_pending}
    assert "emg_statistics" in unexpected, report.mismatches
    assert report.values.sessions_with_differences == 2
    values = {(m.legacy_id, m.table, m.column) for m in report.mismatches if m.kind == "value"}
    short = {m.table for m in report.mismatches if m.kind == "row_count"}
    assert "emg_statistics" in short and "session_settings" in short, report.mismatches
    assert (reanalysed, "emg_statistics", "rms") in values


def test_a_pending_session_missing_from_the_target_is_a_mismatch(migrated: Migrated, copy_of: Copier) -> None:
    """Pending/processing sessions are expected in the target; one that is not there is named as unaccounted."""
    dsn = copy_of(migrated.dsn)
    waiting = one(dsn, f"SELECT id::text FROM {TARGET}.therapy_sessions"
                       " WHERE processing_status IN ('pending', 'processing') ORDER BY id LIMIT 1")
    execute(dsn, f"DELETE FROM {TARGET}.therapy_sessions WHERE id = %s", (waiting,))
    report = reconcile(dsn, ReconcileOptions())
    assert not report.reconciled
    assert report.states.get("unaccounted") == 1
    accounting = [m for m in report.mismatches if m.kind == "accounting"]
    assert [m.legacy_id for m in accounting] == [waiting]
    assert report.sessions.migrated_pending == migrated.report.sessions.migrated_pending - 1


def test_rounding_noise_is_not_a_mismatch(migrated: Migrated, copy_of: Copier) -> None:
    """A last-digits difference (another summation order) may change a checksum, never the verdict."""
    dsn = copy_of(migrated.dsn)
    execute(dsn, f"UPDATE {TARGET}.emg_statistics SET muscle_compliance_score = muscle_compliance_score * (1 + 4e-16),"
                 " rms = rms * (1 + 1e-13) WHERE rms IS NOT NULL")
    report = reconcile(dsn, ReconcileOptions())
    assert report.values.segments_differing > 0  # the checksums saw the noise ...
    assert report.reconciled, report.mismatches  # ... the row-by-row comparison judged it


def test_unreadable_legacy_numbers_do_not_stop_the_reconciliation(
    migrated: Migrated, copy_of: Copier
) -> None:
    """A held-back session whose entry is lost and whose analysis holds a string and a number beyond float8's range:
    the recount reads them as unknown (no crash) and names the session."""
    dsn = copy_of(migrated.dsn)
    victim = one(dsn, "SELECT legacy_session_id FROM statsfirst.quarantine ORDER BY legacy_session_id LIMIT 1")
    execute(dsn, "DELETE FROM statsfirst.quarantine WHERE legacy_session_id = %s", (victim,))
    execute(
        dsn,
        "UPDATE public.analysis_results SET analytics_data = jsonb_set(jsonb_set(analytics_data, '{CH1,rms}', '1e400'),"
        " '{CH1,mav}', '\"0.2 mV\"') WHERE c3d_metadata_id = %s AND analytics_data ? 'CH1'",
        (victim,),
    )
    cover_legacy_history(dsn)
    report = reconcile(dsn, ReconcileOptions())
    assert [m.legacy_id for m in report.mismatches if m.kind == "accounting"] == [victim]

"""Plain-language wording for clinicians: what each reason code means and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass

from statsfirst.reconcile.report import ReconciliationReport


@dataclass(frozen=True)
class Explanation:
    meaning: str
    action: str


FIX_AND_RERUN = "Correct the value in the old system (or re-process the recording), then run statsfirst migrate again."

QUARANTINE: dict[str, Explanation] = {
    "wrong_type": Explanation("A measurement was stored as text or in the wrong format.", FIX_AND_RERUN),
    "count_exceeds_total": Explanation(
        "More 'good' contractions were recorded than contractions in total.", FIX_AND_RERUN
    ),
    "fractional_count": Explanation("A contraction count is not a whole number.", FIX_AND_RERUN),
    "negative_value": Explanation("A value that cannot be negative is negative.", FIX_AND_RERUN),
    "out_of_range": Explanation("A value lies outside its possible range.", FIX_AND_RERUN),
    "not_finite": Explanation("A value is infinite or not a number.", FIX_AND_RERUN),
    "unknown_value": Explanation("A field holds a value the new system does not know.", FIX_AND_RERUN),
    "inconsistent_values": Explanation("Two related values contradict each other (e.g. minimum above maximum).",
                                       FIX_AND_RERUN),
    "bad_file_hash": Explanation(
        "The recording's file fingerprint (SHA-256) is malformed.",
        "Recompute the fingerprint from the C3D file in the old system, then run statsfirst migrate again.",
    ),
    "unknown_channel_key": Explanation(
        "The analysis names a channel that is not CH1, CH2, ...", "Check the recording's channel labels; re-process it."
    ),
    "malformed_analytics": Explanation(
        "The stored EMG analysis is not readable.", "Re-process the recording in the old system."
    ),
    "unknown_processing_status": Explanation(
        "The old system recorded no processing status for the upload, so it is unknown whether it was processed.",
        "Set the status in the old system (or re-process the recording), then run statsfirst migrate again.",
    ),
    "conflicting_sides": Explanation(
        "Two channels are mapped to the same leg.", "Correct the channel-to-muscle mapping of the session."
    ),
    "implausible_metadata": Explanation(
        "The upload's header values are impossible for an EMG recording (e.g. a sampling rate of 4e31 Hz): the file "
        "was probably not a readable C3D file.",
        "Check the uploaded file in the old system; upload the right C3D recording, then run statsfirst migrate "
        "again.",
    ),
    "rejected_by_database": Explanation(
        "The new database refused the session's values.", "Ask the data team to inspect the quarantine entry."
    ),
}

# No rule skips a session any more (pending/processing ones are migrated, see ACCOUNTING["migrated_pending"]);
# a reason a future rule adds is explained here.
SKIPPED: dict[str, Explanation] = {}

SCORE_GAPS: dict[str, Explanation] = {
    "no_emg_analysis": Explanation(
        "No usable EMG analysis (processing failed, produced nothing, or the file was a re-upload).",
        "Re-process the recording in the new system if the session matters clinically.",
    ),
    "one_channel": Explanation(
        "Only one leg's muscle channel was recorded, so compliance and symmetry need both legs.",
        "Nothing to fix in the data; check the sensor setup for future sessions.",
    ),
    "contraction_counts_missing": Explanation(
        "Contraction counts are missing from the analysis.", "Re-process the recording."
    ),
    "no_contractions": Explanation(
        "No contractions were detected on either leg, so symmetry is undefined.", "Review the recording."
    ),
    "rpe_not_recorded": Explanation(
        "The patient's perceived exertion (RPE, Borg CR-10) was not recorded.",
        "Record RPE after each session in the new app.",
    ),
    "game_points_not_recorded": Explanation(
        "Game points were never stored by the old system.",
        "Expected for legacy sessions; migrate with a game weight of 0 to score them without the game.",
    ),
}

ACCOUNTING: dict[str, Explanation] = {
    "unaccounted": Explanation(
        "In neither the new system nor the review list.", "Run statsfirst migrate again, then reconcile."
    ),
    "migrated_and_quarantined": Explanation(
        "Both in the new system and held back for review.", "Ask the data team to inspect the session."
    ),
    "migrated_pending": Explanation(
        "The old system had not finished processing the recording: the session is in the new system with its "
        "status, its results follow.",
        "Nothing to do now: once processing finishes, the next migration run adds the results.",
    ),
    "deleted_in_legacy": Explanation(
        "Migrated earlier, then deleted from the old system (e.g. a clean-up). The new system keeps it.",
        "Nothing to do; if the deletion was a mistake, the session is still in the new system.",
    ),
    "arrived_since_last_run": Explanation(
        "Uploaded or changed in the old system after the last migration run.",
        "Nothing to do: the next migration run picks it up.",
    ),
}


def explain(table: dict[str, Explanation], code: str) -> Explanation:
    return table.get(code, Explanation(code.replace("_", " ").capitalize() + ".", "Ask the data team."))


def headline(report: ReconciliationReport) -> str:
    """The one sentence a clinician reads first."""
    s = report.sessions
    if not report.found_legacy_sessions:
        return (
            "No legacy session was found in scope: the database (or the date range) holds no recordings, so "
            "nothing could be checked. Check the connection and the range."
        )
    parts = f"{s.migrated:,} migrated"
    if s.migrated_pending:
        parts += f" ({s.migrated_pending:,} of them still being processed in the old system, results to follow)"
    parts += f", {s.quarantined:,} held back for review"
    if s.skipped:
        parts += f", {s.skipped:,} skipped"
    if s.arrived_since_last_run:
        parts += f", {s.arrived_since_last_run:,} arrived since the last run"
    if s.deleted_in_legacy:
        parts += f"; {s.deleted_in_legacy:,} deleted in the old system and kept"
    if s.mismatched == 0:
        first = f"All {s.legacy:,} sessions are accounted for: {parts}."
    else:
        first = (
            f"{s.legacy - min(s.mismatched, s.legacy):,} of {s.legacy:,} sessions are accounted for ({parts}); "
            f"{s.mismatched:,} {plural(s.mismatched, 'needs', 'need')} attention."
        )
    problems = []
    differing = report.values.sessions_with_differences
    if differing:
        problems.append(
            f"{differing:,} migrated {plural(differing, 'session holds', 'sessions hold')} values that differ "
            "from the old system"
        )
    tables_off = report.mismatch_counts.get("row_count", 0)
    if tables_off:
        problems.append(f"{tables_off} {plural(tables_off, 'table does', 'tables do')} not have the expected rows")
    if report.mismatch_counts.get("pipeline_counters"):
        problems.append("the migration's own counts disagree with this recount")
    if problems:
        return f"{first} But {'; '.join(problems)}."
    return first


def plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many

"""``statsfirst reconcile``: accounting, per-table counts, value checksums and completeness, in one snapshot."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import psycopg

from statsfirst.db.connection import connection
from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import check_pipeline_privileges, target_schema_for
from statsfirst.errors import ConnectionProblem
from statsfirst.extract.legacy_reader import check_legacy_tables, has_legacy_session_settings
from statsfirst.extract.settings_links import count_settings_links
from statsfirst.pipeline.configuration import TargetConfiguration, read_configuration
from statsfirst.reconcile import accounting, completeness, held_back, tables, values
from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.report import Mismatch, ReconciliationReport
from statsfirst.reconcile.snapshot import snapshot


def reconcile(dsn: ResolvedDsn, options: ReconcileOptions) -> ReconciliationReport:
    started = time.perf_counter()
    target_schema = target_schema_for(dsn)
    try:
        with connection(dsn, application_name="statsfirst-reconcile") as conn, snapshot(conn, target_schema):
            report = _reconcile(conn, options, target_schema)
            held_back.attach(conn, report)  # the clinicians' lists, in the same snapshot (reconcile/held_back.py)
    except psycopg.OperationalError as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConnectionProblem(
            f"the connection to {dsn.redacted()} failed during reconciliation: {dsn.scrub(first_line)}",
            "check the server and re-run statsfirst reconcile (it writes nothing)",
        ) from None
    report.wall_seconds = time.perf_counter() - started
    return report


def _reconcile(conn: psycopg.Connection, options: ReconcileOptions, target_schema: str) -> ReconciliationReport:
    check_pipeline_privileges(conn, "reconcile", target_schema, writes=False)  # one line naming a missing privilege
    check_legacy_tables(conn)
    with_settings = has_legacy_session_settings(conn)
    # the target's recorded configuration, never a run's parameters (nothing recorded yet: nothing was migrated)
    configuration = read_configuration(conn, target_schema) or TargetConfiguration()

    booked = accounting.build_accounting(conn, options, target_schema, with_settings)
    counters = accounting.pipeline_counters(conn, options, target_schema, booked.sessions)
    tables.build_expected(conn, configuration.reconcile_params(), with_settings)
    values.build_actual(conn)
    counts = tables.count_tables(conn)
    row_mismatches = tables.table_mismatches(counts)
    value_check, value_mismatches, value_sessions = values.check_values(conn, options.segment_size, options.listed)
    complete = completeness.build_completeness(conn)
    patients = completeness.build_patients(conn)

    mismatches: list[Mismatch] = [*booked.mismatches, *row_mismatches, *value_mismatches]
    mismatch_counts = {
        "accounting": booked.mismatch_count,
        "row_count": len(row_mismatches),
        "values": value_sessions,
        "pipeline_counters": 0,
    }
    if counters and not counters.agrees:
        mismatch_counts["pipeline_counters"] = 1
        mismatches.append(
            Mismatch(
                kind="pipeline_counters",
                detail=(
                    f"run {counters.run_id} counted {counters.migrated:,} migrated (of them "
                    f"{counters.migrated_pending:,} pending), {counters.quarantined:,} quarantined, "
                    f"{counters.skipped:,} skipped; the legacy recount finds {booked.sessions.migrated:,} "
                    f"({booked.sessions.migrated_pending:,}) / {booked.sessions.quarantined:,} / "
                    f"{booked.sessions.skipped:,}"
                ),
            )
        )
    return ReconciliationReport(
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        target_schema=target_schema,
        since=options.since.isoformat() if options.since else None,
        until=options.until.isoformat() if options.until else None,
        weights=configuration.performance_weights.as_text(),
        legacy_session_settings=with_settings,
        sessions=booked.sessions,
        states=booked.states,
        quarantine_reasons=booked.quarantine_reasons,
        skipped_reasons=booked.skipped_reasons,
        tables=counts,
        values=value_check,
        completeness=complete,
        patients=patients,
        pipeline_counters=counters,
        mismatch_counts=mismatch_counts,
        mismatches=mismatches,
        listed=booked.listed,
        last_run=booked.last_run,
        configuration=configuration.as_rows(),
        settings_links=count_settings_links(conn) if with_settings else None,
    )


"""10,000 Hypothesis-generated hostile legacy sessions through a real `statsfirst migrate`: no crash, every session
migrated, quarantined with a reason, or skipped with a reason, and the counts add up (also per the reconciliation)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import psycopg
from fault_support import CLI, TARGET, migrate_command, quiet, rows, run_cli, scalar
from hostile_rows import Session, expand, insert_sessions, make_huge, sessions
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy
from statsfirst.reconcile.wording import QUARANTINE

ROWS = 10_000
POOL = 400  # Hypothesis-drawn sessions, mixed into ROWS (see hostile_rows.expand)
PER_EXAMPLE = 10
SEED = 20251
BATCH = 1000


def draw_pool() -> list[Session]:
    pool: list[Session] = []

    @settings(max_examples=POOL // PER_EXAMPLE, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.lists(sessions(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def collect(batch: list[Session]) -> None:
        pool.extend(batch)

    collect()
    assert len(pool) >= POOL // 2, len(pool)
    return pool


def hostile_database(make_database: Callable[[], ResolvedDsn], batch: list[Session]) -> ResolvedDsn:
    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
        for k in range(1, 6):
            therapist = str(uuid.UUID(int=(3 << 64) + k, version=4))
            conn.execute("INSERT INTO public.therapists (id, user_id, first_name, last_name) VALUES (%s, %s, 'T', 'X')",
                         (therapist, str(uuid.uuid4())))
            conn.execute("INSERT INTO public.patients (therapist_id, patient_code) VALUES (%s, %s)",
                         (therapist, f"P00{k}"))
        conn.commit()
        insert_sessions(conn, batch)
    apply_migrations(dsn, target_schema=TARGET, log=quiet)
    return dsn


def test_ten_thousand_hostile_sessions(make_database: Callable[[], ResolvedDsn]) -> None:
    started = time.perf_counter()
    batch = expand(draw_pool(), ROWS, SEED)
    huge = make_huge(batch)
    assert len(huge) == 5
    dsn = hostile_database(make_database, batch)
    prepared = time.perf_counter()

    done = run_cli(migrate_command(dsn, batch_size=BATCH), timeout=300)
    migrated_at = time.perf_counter()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    summary = json.loads(done.stdout)
    # every reason a clinician may read in the report has its own plain-language explanation and action
    assert set(summary["quarantined_by_reason"]) - set(QUARANTINE) == set(), summary["quarantined_by_reason"]
    sessions_ = summary["sessions"]
    print(f"hostile input: {sessions_}, quarantined {summary['quarantined_by_reason']}, skipped "
          f"{summary['skipped_by_reason']}; prepared in {prepared - started:.1f} s, migrated in "
          f"{migrated_at - prepared:.1f} s")
    assert sessions_["in_range"] == ROWS
    assert sessions_["migrated"] + sessions_["quarantined"] == ROWS and sessions_["skipped"] == 0
    assert sessions_["migrated"] > 0 and sessions_["quarantined"] > 0 and sessions_["migrated_pending"] > 0

    # the database agrees: each legacy session is in exactly one place, and every held-back one says why
    states = rows(dsn, f"""
        SELECT (t.id IS NOT NULL)::int + (q.legacy_session_id IS NOT NULL)::int AS places,
               t.id IS NOT NULL, q.legacy_session_id IS NOT NULL, t.processing_status IN ('pending', 'processing'),
               q.reasons, q.failures
        FROM public.c3d_metadata c
        LEFT JOIN {TARGET}.therapy_sessions t ON t.id = c.id
        LEFT JOIN statsfirst.quarantine q ON q.legacy_session_id = c.id AND q.resolved_at IS NULL""")
    assert len(states) == ROWS
    assert [s for s in states if s[0] != 1] == []
    assert sum(1 for s in states if s[1]) == sessions_["migrated"]
    assert sum(1 for s in states if s[2]) == sessions_["quarantined"]
    # pending/processing sessions are migrated (mapping.md "Every legacy row has a home"), counted apart
    assert sum(1 for s in states if s[3]) == sessions_["migrated_pending"]
    for _, _, held, _, reasons, failures in states:
        if held:
            assert reasons and all(reasons), reasons
            assert failures and all(f.get("reason") and f.get("check") for f in failures), failures
    # a 10 MB value is stored at most once per failure, and never echoed whole into a failure
    assert scalar(dsn, "SELECT coalesce(max(length(failures::text)), 0) FROM statsfirst.quarantine") < 1_000_000

    report = run_cli([str(CLI), "reconcile", "--dsn", dsn.conninfo, "--format", "json"], timeout=300)
    reconciled = json.loads(report.stdout) if report.stdout.strip() else {}
    print(f"reconcile: exit {report.returncode}, {json.dumps(reconciled)[:1500]}")
    # the independent recount agrees with the run on every hostile session: same states, no mismatch
    assert report.returncode == 0 and reconciled["reconciled"] is True, (report.stderr, reconciled.get("mismatches"))
    counted = reconciled["sessions"]
    assert (counted["legacy"], counted["migrated"], counted["quarantined"], counted["migrated_pending"]) == (
        ROWS, sessions_["migrated"], sessions_["quarantined"], sessions_["migrated_pending"])

"""Six simulated nights of a live legacy application, each followed by the nightly deployment's run.

As on Supabase: the pipeline role is not a superuser and owns the legacy tables; the legacy application keeps
writing (new uploads, uploads that are still processing and finish the next day, cache hits, RPE edits, a failed
upload, a deletion, an in-place analytics fix that touches no timestamp) and one of its transactions is left open
across the run. Every night the ``migrate_legacy`` flow runs with the ``migrate-incremental`` deployment's own
parameters (read from prefect.yaml) and reconciles; at the end the target equals a fresh full migration of the
same legacy state, sessions deleted in legacy aside.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from field_support import ManagedDatabase
from psycopg import sql

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.generator import seed_legacy
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate
from statsfirst.transform.scoring import PerformanceWeights

REPO = Path(__file__).resolve().parents[2]
TARGET = "stats"
NIGHTS = 6
LEGACY_WEIGHTS = "compliance=0.5,symmetry=0.25,effort=0.25,game=0"
LEGACY_TABLES = ("therapists", "patients", "c3d_metadata", "analysis_results", "session_settings")
TARGET_TABLES = (
    "therapy_sessions",
    "emg_statistics",
    "performance_scores",
    "bfr_monitoring",
    "session_settings",
    "signal_processing_cache",
    "processing_parameters",
)
RUN_TIME_COLUMNS = {
    "emg_statistics": ("created_at",),
    "performance_scores": ("created_at", "calculated_at"),
    "bfr_monitoring": ("created_at",),
    "session_settings": ("created_at", "updated_at"),
    "signal_processing_cache": ("invalidated_at", "cache_valid", "invalidated_reason"),
    "processing_parameters": ("created_at",),
}
SESSION_KEY = {"therapy_sessions": "id"}


def quiet(_: object) -> None:
    return None


def deployment_parameters() -> dict[str, Any]:
    """The nightly deployment's parameters, exactly as prefect.yaml gives them."""
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    (nightly,) = [d for d in spec["deployments"] if d["name"] == "migrate-incremental"]
    return dict(nightly["parameters"])


# ------------------------------------------------------------------------------------------ the legacy app
class LegacyApp:
    """What the GHOSTLY+ backend does to its two tables during a day (as its own database role)."""

    def __init__(self, dsn: ResolvedDsn, seed: int) -> None:
        self.dsn = dsn
        self.rng = random.Random(seed)
        self.processing: list[tuple[str, str]] = []  # (upload, its template): still processing, done next day

    def _completed(self, conn: psycopg.Connection, n: int) -> list[str]:
        ids = [r[0] for r in conn.execute(
            "SELECT c.id::text FROM public.c3d_metadata c WHERE c.processing_status = 'completed' "
            "AND EXISTS (SELECT 1 FROM public.analysis_results a WHERE a.c3d_metadata_id = c.id "
            "AND a.analytics_data <> '{}'::jsonb) ORDER BY c.id").fetchall()]
        return self.rng.sample(ids, n)

    def upload(self, conn: psycopg.Connection, template: str, status: str = "completed") -> str:
        """A new upload shaped like an existing one (a new file, so a new hash), analysed unless still pending."""
        row = conn.execute(
            "INSERT INTO public.c3d_metadata SELECT (jsonb_populate_record(NULL::public.c3d_metadata, to_jsonb(c)"
            " || jsonb_build_object('id', gen_random_uuid(), 'file_path', c.file_path || '.' || md5(random()::text),"
            " 'file_hash', encode(sha256(convert_to(c.file_hash || random()::text, 'UTF8')), 'hex'),"
            " 'processing_status', %s::text, 'created_at', now(), 'updated_at', now())))"
            ".* FROM public.c3d_metadata c WHERE c.id = %s RETURNING id::text", (status, template)).fetchone()
        assert row is not None
        if status == "completed":
            self._analyse(conn, row[0], template)
        return row[0]

    def _analyse(self, conn: psycopg.Connection, session: str, template: str) -> None:
        conn.execute(
            "INSERT INTO public.analysis_results SELECT (jsonb_populate_record(NULL::public.analysis_results,"
            " to_jsonb(a) || jsonb_build_object('id', gen_random_uuid(), 'c3d_metadata_id', %s::uuid,"
            " 'file_hash', (SELECT file_hash FROM public.c3d_metadata WHERE id = %s::uuid),"
            " 'created_at', now())))"
            ".* FROM public.analysis_results a WHERE a.c3d_metadata_id = %s",
            (session, session, template))

    def day(self, night: int) -> dict[str, list[str]]:
        """One day of activity; returns the sessions touched, by kind."""
        touched: dict[str, list[str]] = {}
        with psycopg.connect(self.dsn.conninfo, autocommit=True) as conn:
            templates = self._completed(conn, 6)
            touched["uploads"] = [self.upload(conn, t) for t in templates[:2]]
            # yesterday's uploads finish processing today
            for session, template in self.processing:
                conn.execute("UPDATE public.c3d_metadata SET processing_status = 'completed', processed_at = now() "
                             "WHERE id = %s", (session,))
                self._analyse(conn, session, template)
            touched["finished_processing"] = [s for s, _ in self.processing]
            self.processing = [(self.upload(conn, templates[2], status="processing"), templates[2])]
            touched["processing"] = [self.processing[0][0]]
            # cache hits: the dashboard reads an analysis again
            hits = [r[0] for r in conn.execute(
                "UPDATE public.analysis_results SET cache_hits = coalesce(cache_hits, 0) + 1, last_accessed_at = now()"
                " WHERE id IN (SELECT id FROM public.analysis_results ORDER BY md5(id::text || %s) LIMIT 3)"
                " RETURNING c3d_metadata_id::text", (str(night),)).fetchall()]
            touched["cache_hits"] = hits
            # a therapist edits the RPE of a linked session's settings
            conn.execute(
                "UPDATE public.session_settings"
                " SET params = params || jsonb_build_object('post_session_rpe', %s::float8)"
                " WHERE (user_id, session_id) IN (SELECT s.user_id, s.session_id FROM public.session_settings s"
                " JOIN public.c3d_metadata c ON c.session_id = s.session_id OR c.id::text = s.session_id"
                " ORDER BY md5(s.session_id || %s) LIMIT 2)",
                (float(self.rng.choice([3, 4.5, 6, 7.5])), str(night)))
            if night == 2:
                failed = conn.execute(
                    "UPDATE public.c3d_metadata SET processing_status = 'failed', error_message = %s"
                    " WHERE id = %s RETURNING id::text",
                    ("{'error': 'Processing failed', 'detail': 'no EMG channels'}", touched["uploads"][0])).fetchone()
                touched["failed"] = [failed[0]] if failed else []
            if night == 3:
                gone = templates[3]
                conn.execute("DELETE FROM public.analysis_results WHERE c3d_metadata_id = %s", (gone,))
                conn.execute("DELETE FROM public.c3d_metadata WHERE id = %s", (gone,))
                touched["deleted"] = [gone]
            if night == 4:
                # an in-place fix of the analysis that touches no timestamp anywhere
                fixed = templates[4]
                conn.execute(
                    "UPDATE public.analysis_results SET analytics_data = (SELECT jsonb_object_agg(k, CASE"
                    " WHEN jsonb_typeof(v) = 'object' THEN v || '{\"rms\": 0.123}'::jsonb ELSE v END)"
                    " FROM jsonb_each(analytics_data) e(k, v)) WHERE c3d_metadata_id = %s"
                    " AND analytics_data <> '{}'::jsonb", (fixed,))
                touched["fixed_in_place"] = [fixed]
        return touched


# ------------------------------------------------------------------------------------------ comparisons
def target_state(dsn: ResolvedDsn, leave_out: set[str]) -> dict[str, tuple[int, str]]:
    """Per target table: row count and md5 of its rows (run-time stamps left out), deleted sessions aside."""
    state: dict[str, tuple[int, str]] = {}
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        for table in TARGET_TABLES:
            columns = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
                " AND column_name <> ALL(%s) ORDER BY ordinal_position",
                (TARGET, table, list(RUN_TIME_COLUMNS.get(table, ())))).fetchall()]
            key = sql.Identifier(SESSION_KEY.get(table, "session_id"))
            row = conn.execute(sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) "
                "FROM (SELECT {} FROM {} WHERE NOT ({} = ANY(%s::uuid[]))) r").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(TARGET, table), key),
                (sorted(leave_out),)).fetchone()
            assert row is not None
            state[table] = (int(row[0]), str(row[1]))
    return state


def copy_legacy(source: ResolvedDsn, target: ResolvedDsn) -> None:
    """The legacy tables' rows, copied as they are into another database with the same baseline."""
    with psycopg.connect(source.conninfo) as src, psycopg.connect(target.conninfo) as dst:
        for table in LEGACY_TABLES:
            with (
                src.cursor() as out,
                dst.cursor() as into,
                out.copy(sql.SQL("COPY public.{} TO STDOUT").format(sql.Identifier(table))) as reader,
                into.copy(sql.SQL("COPY public.{} FROM STDIN").format(sql.Identifier(table))) as writer,
            ):
                for chunk in reader:
                    writer.write(chunk)


def reconcile_cli(dsn: ResolvedDsn) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "statsfirst.cli", "reconcile", "--dsn", dsn.conninfo, "--format", "json"],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


# ------------------------------------------------------------------------------------------ the soak
def test_six_nights_of_a_live_legacy_database_as_a_managed_role(
    managed_database: Callable[..., ManagedDatabase], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.testing.utilities import prefect_test_harness

    live = managed_database()
    with psycopg.connect(live.pipeline.conninfo) as conn:
        seed_legacy(conn, sessions=240, seed=7, bad_fraction=0.05)
    apply_migrations(live.pipeline, target_schema=TARGET, log=quiet)
    # the README's backfill for legacy data: the game weight is 0 (legacy data never has game points)
    backfill = migrate(live.pipeline, MigrateOptions(batch_size=100, weights=PerformanceWeights.parse(LEGACY_WEIGHTS)),
                       log=quiet)
    assert backfill.migrated > 150

    monkeypatch.setenv("DATABASE_URL", live.pipeline.conninfo)  # as the worker is started
    monkeypatch.syspath_prepend(str(REPO / "flows"))
    import migrate_legacy

    app = LegacyApp(live.admin, seed=11)
    parameters = deployment_parameters()
    assert parameters.get("incremental") is True
    deleted: set[str] = set()
    history: list[dict[str, Any]] = []
    with prefect_test_harness(server_startup_timeout=120):
        for night in range(1, NIGHTS + 1):
            touched = app.day(night)
            deleted |= set(touched.get("deleted", []))
            # a legacy transaction left open across the run: an upload and an in-place edit, committed afterwards
            open_txn = psycopg.connect(live.admin.conninfo)
            template = app._completed(open_txn, 1)[0]
            late_upload = app.upload(open_txn, template)
            open_txn.execute("UPDATE public.analysis_results SET cache_hits = coalesce(cache_hits, 0) + 10"
                             " WHERE c3d_metadata_id = %s", (template,))
            totals = migrate_legacy.migrate_legacy(**parameters)
            open_txn.commit()
            open_txn.close()
            assert totals["reconciled"] is True, f"night {night}: {totals}"
            # the open transaction committed after the run: the recount lists it as arrived, and does not fail
            code, report = reconcile_cli(live.pipeline)
            arrived = {s["legacy_id"] for s in report["listed"]["arrived_since_last_run"]}
            assert code == 0, f"night {night}: {report['mismatches'][:5]}"
            assert {late_upload, template} <= arrived, f"night {night}: {arrived}"
            assert report["sessions"]["deleted_in_legacy"] == len(deleted)
            history.append({"night": night, "touched": touched, "migrated": totals["sessions"]["migrated"],
                            "arrived": len(arrived)})
        # the last night's late transaction is picked up by one more run
        final = migrate_legacy.migrate_legacy(**parameters)
        assert final["reconciled"] is True

    code, report = reconcile_cli(live.pipeline)
    assert code == 0 and report["sessions"]["arrived_since_last_run"] == 0, report["mismatches"][:5]
    # every night wrote what changed: the uploads, the finished processing, the edits and the late transaction
    assert all(h["migrated"] >= 2 for h in history), history
    with psycopg.connect(live.pipeline.conninfo) as conn:
        recorded = conn.execute("SELECT performance_weights FROM statsfirst.configuration").fetchone()
        weights = {r[0] for r in conn.execute(
            f"SELECT DISTINCT performance_weights::text FROM {TARGET}.performance_scores")}
    assert recorded is not None and PerformanceWeights(**recorded[0]) == PerformanceWeights.parse(LEGACY_WEIGHTS)
    assert len(weights) == 1, weights  # the nightly runs never re-scored with other weights

    # a fresh full migration of the same legacy state
    fresh = managed_database()
    copy_legacy(live.admin, fresh.admin)
    apply_migrations(fresh.pipeline, target_schema=TARGET, log=quiet)
    migrate(fresh.pipeline, MigrateOptions(batch_size=100, weights=PerformanceWeights.parse(LEGACY_WEIGHTS)), log=quiet)
    assert deleted and target_state(live.pipeline, deleted) == target_state(fresh.pipeline, deleted)
    # the deleted upload is still in the nightly target, with its rows
    with psycopg.connect(live.pipeline.conninfo) as conn:
        kept = conn.execute(f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE id = ANY(%s::uuid[])",
                            (sorted(deleted),)).fetchone()
    assert kept is not None and kept[0] == len(deleted)

"""The four renderings: JSON in its documented shape, a CSV that parses, a terminal summary, and an HTML report that
headless Chromium renders without console errors, showing the headline numbers, the period and the time of the
check in local time, the actions before the per-patient table, the held-back sessions per patient and the BFR figure
over every migrated session. Codes only, never names."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from reconcile_support import SESSIONS, TARGET, Migrated, cli, execute

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.reconcile.formats import render
from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.run import reconcile
from statsfirst.target_tables import TARGET_TABLES

NEEDS_CHROMIUM = True  # tests/conftest.py finds or installs it before the session starts (STATSFIRST_CHROMIUM)
CONSOLE = re.compile(r":CONSOLE[:(]")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def chromium(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium without network (every host unresolvable); console messages are logged to stderr."""
    browser = os.environ.get("STATSFIRST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return subprocess.run(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )


def console_messages(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if CONSOLE.search(line)]


def test_json_has_the_documented_shape(migrated: Migrated, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = cli("reconcile", "--format", "json", "--output", str(out), dsn=migrated.dsn)
    assert result.returncode == 0, result.stderr
    assert "reconciled: json report written to" in result.stderr
    report = json.loads(out.read_text())
    assert report["reconciled"] is True
    sessions = report["sessions"]
    assert set(sessions) >= {"legacy", "migrated", "migrated_pending", "quarantined", "skipped"}
    assert sessions["legacy"] == SESSIONS == sessions["migrated"] + sessions["quarantined"]
    assert sessions["skipped"] == 0 and 0 < sessions["migrated_pending"] < sessions["migrated"]
    assert set(report["tables"]) == set(TARGET_TABLES)
    for counts in report["tables"].values():
        assert isinstance(counts["expected"], int) and isinstance(counts["actual"], int)
    assert sum(report["quarantine_reasons"].values()) == sessions["quarantined"]
    assert all(isinstance(k, str) and isinstance(n, int) for k, n in report["quarantine_reasons"].items())
    assert report["mismatches"] == [] and isinstance(report["mismatch_counts"], dict)
    assert report["completeness"]["migrated"] == sessions["migrated"]


def test_csv_parses_one_row_per_patient_and_per_table(migrated: Migrated) -> None:
    result = cli("reconcile", "--format", "csv", dsn=migrated.dsn)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    tables = [r for r in rows if r["row_type"] == "table"]
    patients = [r for r in rows if r["row_type"] == "patient"]
    sessions = [r for r in rows if r["row_type"] == "session"]
    links = {r["name"]: int(r["count"]) for r in rows if r["row_type"] == "settings_links"}
    assert migrated.report.settings_links is not None
    assert links == migrated.report.settings_links.as_json() and links["unlinked"] > 0  # the generator writes some
    assert [r["name"] for r in tables] == list(TARGET_TABLES)
    assert all(int(r["expected_rows"]) == int(r["actual_rows"]) and int(r["delta"]) == 0 for r in tables)
    assert len(patients) == len(migrated.report.patients)
    assert len(rows) == len(patients) + len(tables) + len(sessions) + len(links)
    # one row per session held back for review, with its id, upload time and reason
    held = {r[0]: r[1] for r in execute(migrated.dsn, "SELECT q.legacy_session_id::text, q.reasons[1] FROM"
                                                      " statsfirst.quarantine q WHERE q.resolved_at IS NULL")}
    assert len(held) == migrated.report.sessions.quarantined > 0
    assert {r["name"]: r["reason"] for r in sessions if r["state"] == "quarantined"} == held
    assert all(r["uploaded_at"] for r in sessions)
    assert sum(int(r["legacy_sessions"]) for r in patients) == SESSIONS
    assert sum(int(r["migrated"]) for r in patients) == migrated.report.sessions.migrated


def test_text_is_a_compact_terminal_summary(migrated: Migrated) -> None:
    result = cli("reconcile", dsn=migrated.dsn)
    assert result.returncode == 0, result.stderr
    assert f"All {SESSIONS:,} sessions are accounted for" in " ".join(result.stdout.split())
    for table in TARGET_TABLES:
        assert table in result.stdout
    assert len(result.stdout.splitlines()) < 60


def test_console_error_detection_works(tmp_path: Path) -> None:
    """The check below is only worth something if it sees errors: a page with a script error and an outside
    image must produce console messages."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>x</title></head><body>'
        "<script>console.error('deliberate'); undefinedFunction();</script></body></html>"
    )
    assert len(console_messages(chromium(page, "--dump-dom"))) >= 2


def test_html_renders_in_headless_chromium(migrated: Migrated, tmp_path: Path) -> None:
    page = tmp_path / "reconciliation.html"
    page.write_text(render(migrated.report, "html"), encoding="utf-8")
    html = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the report must not fetch anything"
    assert "<script" not in html

    rendered = chromium(page, "--dump-dom", "--window-size=1280,2000")
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert console_messages(rendered) == []
    dom = rendered.stdout
    s = migrated.report.sessions
    headline = re.search(r'<p id="headline"[^>]*>(.*?)</p>', dom, re.S)
    assert headline is not None
    assert headline.group(1).startswith(
        f"All {s.legacy:,} sessions are accounted for: {s.migrated:,} migrated ({s.migrated_pending:,} of them still "
        f"being processed in the old system, results to follow), {s.quarantined:,} held back for review")
    for key, value in (("legacy", s.legacy), ("migrated", s.migrated), ("quarantined", s.quarantined),
                       ("migrated_pending", s.migrated_pending)):
        assert f'data-count="{key}">{value:,}<' in dom
    assert dom.count("<svg") == 1 and "<rect" in dom
    table = re.search(r'<table id="patients">(.*?)</table>', dom, re.S)
    assert table is not None and table.group(1).count("<tr") == len(migrated.report.patients) + 1
    # what to do (and who) comes before the per-patient table, and so do the held-back sessions
    assert dom.index('id="actions"') < dom.index('id="held-back"') < dom.index('<table id="patients">')
    actions = re.search(r'id="actions".*?<table>(.*?)</table>', dom, re.S)
    assert actions is not None and "<th>Who</th>" in actions.group(1)
    for reason in migrated.report.quarantine_reasons:
        assert f"<code>{reason}</code>" in actions.group(1)

    # the period the sessions cover and the time of the check, in Amsterdam time with the zone named
    first, last = execute(migrated.dsn, "SELECT min(created_at), max(created_at) FROM public.c3d_metadata")[0]
    first, last = first.astimezone(AMSTERDAM), last.astimezone(AMSTERDAM)
    assert (f"uploaded between {first.day} {first:%B %Y} and {last.day} {last:%B %Y} ({last:%Z}, Europe/Amsterdam)"
            in dom)
    checked = datetime.fromisoformat(migrated.report.generated_at).astimezone(AMSTERDAM)
    assert f"Checked {checked.day} {checked:%B %Y, %H:%M} ({checked:%Z}, Europe/Amsterdam)" in dom

    # every held-back session, per patient, with its legacy id and upload day (and only those)
    held = execute(migrated.dsn, "SELECT q.legacy_session_id::text, (c.created_at AT TIME ZONE 'Europe/Amsterdam')"
                                 "::date::text FROM statsfirst.quarantine q JOIN public.c3d_metadata c"
                                 " ON c.id = q.legacy_session_id WHERE q.resolved_at IS NULL")
    listed = re.search(r'<table id="held-back-sessions">(.*?)</table>', dom, re.S)
    assert listed is not None
    shown = set(re.findall(r'<td><code>([0-9a-f-]{36})</code></td><td class="day">([0-9-]{10})</td>',
                           listed.group(1)))
    assert shown == set(held) and len(held) == s.quarantined > 0

    # why the overall score is not computable, and the BFR figure over every migrated session
    c = migrated.report.completeness
    assert c.overall_score_computable < c.migrated and 'id="score-why"' in dom
    no_bfr = execute(migrated.dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions t WHERE NOT EXISTS"
                                   f" (SELECT 1 FROM {TARGET}.bfr_monitoring b WHERE b.session_id = t.id)")[0][0]
    assert f'<li id="bfr"><b>{no_bfr:,}</b> of the {s.migrated:,} migrated sessions have no BFR' in dom

    shot = tmp_path / "reconciliation.png"
    shoot = chromium(page, f"--screenshot={shot}", "--window-size=1280,2200")
    assert shoot.returncode == 0 and console_messages(shoot) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    print(f"screenshot of the clinicians' report: {shot}")


def test_no_name_reaches_any_output(migrated: Migrated, copy_of: Callable[[ResolvedDsn], ResolvedDsn]) -> None:
    """Names live in patients, therapists, researcher_profiles and game_metadata; none may be printed, not even
    when the session they are planted in does not reconcile."""
    dsn = copy_of(migrated.dsn)
    planted = "Zoë-Vandenbroucke"
    victim, player = (r[0] for r in execute(dsn, f"SELECT id::text FROM {TARGET}.therapy_sessions ORDER BY id"
                                                 " LIMIT 2"))
    execute(dsn, f"UPDATE {TARGET}.therapy_sessions SET file_path = %s, error_message = %s, session_code = %s"
                 " WHERE id = %s", (f"P001/{planted}.c3d", planted, planted, victim))
    # a name edited into a legacy row after the run: that session is listed as arrived since the last run (by id)
    execute(dsn, "UPDATE public.c3d_metadata SET game_metadata = jsonb_build_object('player_name', %s::text)"
                 " WHERE id = %s", (planted, player))
    names = {planted}
    for query in ("SELECT first_name, last_name FROM public.patients",
                  "SELECT first_name, last_name FROM public.therapists",
                  "SELECT full_name, full_name FROM public.researcher_profiles"):
        for first, last in execute(dsn, query):
            names.update(n for n in (first, last) if n)
    report = reconcile(dsn, ReconcileOptions())
    assert not report.reconciled
    assert {(m.legacy_id, m.column) for m in report.mismatches if m.kind == "value"} >= {
        (victim, "file_path"), (victim, "error_message"), (victim, "session_code")}
    assert [s.legacy_id for s in report.listed["arrived_since_last_run"]] == [player]
    for name in ("json", "csv", "html", "text"):
        output = render(report, name)
        leaked = sorted(n for n in names if re.search(rf"\b{re.escape(n)}\b", output))
        assert leaked == [], f"{name} output shows {leaked}"


@pytest.mark.parametrize(
    "args",
    [
        ("--format", "xml"),
        ("--since", "yesterday"),
        ("--since", "2025-01-02", "--until", "2025-01-01"),
        ("--output", "/nonexistent-folder/report.html"),
        ("--dsn", "postgresql://nobody@127.0.0.1:1/none"),
    ],
)
def test_usage_and_connection_errors_exit_2(args: tuple[str, ...]) -> None:
    result = cli("reconcile", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


def test_range_and_a_legacy_database_without_session_settings(
    make_database: Callable[[], ResolvedDsn],
) -> None:
    """Target schema public (no legacy session_settings to collide with); a migration of part of the range
    reconciles for that range and leaves the rest unaccounted."""
    from reconcile_support import quiet, seed

    from statsfirst.db.migrations import apply_migrations
    from statsfirst.pipeline.options import MigrateOptions, parse_day
    from statsfirst.pipeline.run import migrate

    dsn = make_database()
    seed(dsn, sessions=300, with_settings=False)
    apply_migrations(dsn, target_schema="public", log=quiet)
    middle = execute(dsn, "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY created_at)::date::text"
                          " FROM public.c3d_metadata")[0][0]
    since = parse_day(middle, "--since")
    migrate(dsn, MigrateOptions(since=since), log=quiet)
    in_range = int(execute(dsn, "SELECT count(*) FROM public.c3d_metadata WHERE created_at >= %s", (since,))[0][0])

    scoped = reconcile(dsn, ReconcileOptions(since=since))
    assert scoped.reconciled, scoped.mismatches
    assert scoped.sessions.legacy == in_range and not scoped.legacy_session_settings
    assert scoped.table("bfr_monitoring").expected == 0 == scoped.table("bfr_monitoring").actual
    assert scoped.pipeline_counters is not None and scoped.pipeline_counters.agrees

    everything = reconcile(dsn, ReconcileOptions())
    assert not everything.reconciled
    # pending/processing sessions are expected in the target too: those of the left-out range are unaccounted
    left_out = execute(dsn, "SELECT count(*) FROM public.c3d_metadata WHERE created_at < %s", (since,))[0][0]
    assert everything.states["unaccounted"] == left_out > 0
    assert everything.pipeline_counters is None  # that run covered another range: nothing to cross-check
    assert {m.kind for m in everything.mismatches} == {"accounting", "row_count"}

"""Reports people read, through the CLI with its output piped (as in a log or a pipe): ids are never cut, sessions
that arrived since the last run or were deleted in the old system are listed by id in text, HTML and CSV, and a
second migration with nothing to do says so."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

from cli_support import TARGET, execute, run, seeded

from statsfirst.db.dsn import ResolvedDsn

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_listed_sessions_are_shown_whole_in_every_format(make_database: Callable[[], ResolvedDsn],
                                                         tmp_path: Path) -> None:
    dsn = seeded(make_database, sessions=60)
    env = {"DATABASE_URL": dsn.conninfo}
    # one migrated session deleted in the old system, one changed there after the run, one removed from the target
    deleted, changed, lost = (r[0] for r in execute(
        dsn, f"SELECT id::text FROM {TARGET}.therapy_sessions ORDER BY id LIMIT 3"))
    execute(dsn, "DELETE FROM public.analysis_results WHERE c3d_metadata_id = %s", (deleted,))
    execute(dsn, "DELETE FROM public.c3d_metadata WHERE id = %s", (deleted,))
    execute(dsn, "UPDATE public.c3d_metadata SET updated_at = now() WHERE id = %s", (changed,))
    execute(dsn, f"DELETE FROM {TARGET}.therapy_sessions WHERE id = %s", (lost,))

    text = run("reconcile", env=env)  # piped: no terminal, no COLUMNS
    assert text.returncode == 1, text.stdout + text.stderr  # the session removed from the target is a mismatch
    for session in (deleted, changed, lost):
        assert session in text.stdout, (session, text.stdout)
    assert all(len(line) <= 240 for line in text.stdout.splitlines())
    assert "arrived since the last run" in text.stdout and "deleted in the old system" in text.stdout
    # no id is cut: every id-like token in the output is a whole uuid
    assert not re.search(r"\b[0-9a-f]{8}-[0-9a-f-]{1,27}…", text.stdout)

    page = tmp_path / "report.html"
    assert run("reconcile", "--format", "html", "--output", str(page), env=env).returncode == 1
    html = page.read_text()
    section = html[html.index('id="since-last-run"'):html.index("<h2>Per patient</h2>")]
    assert f"<code>{changed}</code>" in section and f"<code>{deleted}</code>" in section
    assert html.index('id="since-last-run"') < html.index('<table id="patients">')

    rows = list(csv.DictReader(io.StringIO(run("reconcile", "--format", "csv", env=env).stdout)))
    states = {r["name"]: r["state"] for r in rows if r["row_type"] == "session"}
    assert states[changed] == "arrived_since_last_run" and states[deleted] == "deleted_in_legacy"


def test_an_empty_listing_shows_no_section(make_database: Callable[[], ResolvedDsn]) -> None:
    dsn = seeded(make_database, sessions=30)
    text = run("reconcile", env={"DATABASE_URL": dsn.conninfo})
    assert text.returncode == 0, text.stdout + text.stderr
    assert "arrived since the last run" not in text.stdout and "deleted in the old system" not in text.stdout
    html = run("reconcile", "--format", "html", env={"DATABASE_URL": dsn.conninfo}).stdout
    assert 'id="since-last-run"' not in html and 'id="held-back-sessions"' in html

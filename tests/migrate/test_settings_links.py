"""The legacy session_settings rows that link to no session, or compete for one, are counted (mapping.md) in the
run summary, in every reconciliation format and in the clinicians' report; the counts follow the linking rule."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable

import psycopg
from migration_support import WORKED_PARAMS, HandBuilt, run
from rich.console import Console

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.extract.settings_links import SettingsLinks, count_settings_links
from statsfirst.legacy.baseline import init_legacy
from statsfirst.reconcile.options import ReconcileOptions
from statsfirst.reconcile.render_csv import render_csv
from statsfirst.reconcile.render_html import render_html
from statsfirst.reconcile.render_markdown import render_markdown
from statsfirst.reconcile.render_text import render_text
from statsfirst.reconcile.run import reconcile


def add_settings(hand_built: HandBuilt, session_id: str | None, updated_at: str) -> None:
    with psycopg.connect(hand_built.dsn.conninfo) as conn:
        conn.execute("INSERT INTO public.session_settings (user_id, session_id, params, updated_at)"
                     " VALUES (%s, %s, %s, %s)", (str(uuid.uuid4()), session_id, json.dumps(WORKED_PARAMS), updated_at))


def test_unlinked_and_ambiguous_settings_rows_are_counted_everywhere(hand_built: HandBuilt) -> None:
    hand_built.add_session(params=WORKED_PARAMS)                   # S1: one row, by its session code
    hand_built.add_session(params=WORKED_PARAMS)                   # S2: by code ...
    add_settings(hand_built, "S2", "2023-03-20T09:00:00Z")         # ... and an older row: ambiguous, one not used
    by_id = hand_built.add_session()                               # S3: one row, by its id as text
    add_settings(hand_built, by_id, "2023-03-21T18:05:00Z")
    add_settings(hand_built, str(uuid.uuid4()), "2023-03-21T18:05:00Z")  # what the real app mostly writes
    add_settings(hand_built, "S-nowhere", "2023-03-21T18:05:00Z")
    expected = SettingsLinks(rows=6, unlinked=2, ambiguous_sessions=1, not_used=1)
    with psycopg.connect(hand_built.dsn.conninfo) as conn:
        assert count_settings_links(conn) == expected

    summary = run(hand_built.dsn, batch_size=2)  # several batches: the count is the table's, not a sum of batches
    assert summary.as_json()["settings_links"] == expected.as_json()
    assert row_value(render_to_text(summary.render()),
                     "legacy settings rows linked to no session (nothing to migrate)") == "2"

    report = reconcile(hand_built.dsn, ReconcileOptions())
    assert report.reconciled
    assert report.as_json()["settings_links"] == expected.as_json()
    assert row_value(render_text(report), "legacy settings rows linked to no session") == "2 of 6"
    assert row_value(render_text(report), "sessions with several legacy settings rows (newest used)") == "1"
    markdown = render_markdown(report)
    assert "| legacy settings rows linked to no session | 2 of 6 |" in markdown
    assert "| sessions with several legacy settings rows (newest used) | 1 |" in markdown
    csv_rows = {r["name"]: r["count"] for r in csv.DictReader(io.StringIO(render_csv(report)))
                if r["row_type"] == "settings_links"}
    assert csv_rows == {"rows": "6", "unlinked": "2", "ambiguous_sessions": "1", "not_used": "1"}
    html = " ".join(render_html(report).split())
    assert "<b>2</b> of the 6 settings rows of the old system belong to no session" in html
    assert "1 session had several settings rows: the newest was used (1 older row not used)" in html


def test_without_a_legacy_settings_table_nothing_is_counted(make_database: Callable[[], ResolvedDsn]) -> None:
    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=False)
        assert count_settings_links(conn) is None


def render_to_text(renderable: object) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def row_value(text: str, label: str) -> str:
    """The value cell of the table row whose label cell is ``label``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 4 and cells[1] == label:
            return cells[2]
    raise AssertionError(f"no row {label!r} in:\n{text}")

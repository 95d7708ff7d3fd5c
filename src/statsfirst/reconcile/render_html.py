"""The clinicians' report: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched).

A Content-Security-Policy of ``default-src 'none'`` makes the browser refuse any outside resource, so the file
opens the same way offline. Codes and ids only; every value is HTML-escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from statsfirst.reconcile.chart import patient_chart
from statsfirst.reconcile.held_back import HELD_BACK, PERIOD
from statsfirst.reconcile.report import ACCOUNTED_STATES, LISTED_STATES, ListedSession, ReconciliationReport
from statsfirst.reconcile.wording import (
    ACCOUNTING,
    QUARANTINE,
    SCORE_GAPS,
    SKIPPED,
    Explanation,
    explain,
    headline,
    plural,
)

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 62rem;
       padding: 0 1rem; color: #1c1c1c; line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .25rem; }
.headline { font-size: 1.2rem; padding: .8rem 1rem; border-radius: 6px; }
.headline.ok { background: #e8f5e9; border-left: 6px solid #2e7d32; }
.headline.bad { background: #ffebee; border-left: 6px solid #c62828; }
.meta { color: #555; font-size: .85rem; }
.cards { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .9rem; min-width: 9rem; }
.card b { display: block; font-size: 1.4rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border-bottom: 1px solid #e5e5e5; padding: .3rem .5rem; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.off td { background: #fff3f3; }
.chart text { font-size: 12px; fill: #333; }
.chart .legend { font-size: 12px; }
code { font-size: .85rem; }
td code, td.day { white-space: nowrap; }
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


# The deployments' zone: clinicians read times in it (the data and the report's JSON stay in UTC).
LOCAL_ZONE = "Europe/Amsterdam"


def render_html(report: ReconciliationReport) -> str:
    s = report.sessions
    state = "ok" if report.reconciled else "bad"
    body = [
        "<h1>Migration check: old EMG database → Statistics-First</h1>",
        f'<p id="headline" class="headline {state}" data-reconciled="{str(report.reconciled).lower()}">'
        f"{escape(headline(report))}</p>",
        f'<p class="meta" id="period">{escape(_period_text(report))}</p>',
        f'<p class="meta" id="checked">Checked {escape(local_time(report.generated_at))} · target schema '
        f"<code>{escape(report.target_schema)}</code> · every number recomputed from the old system's tables.</p>",
        '<div class="cards">',
        _card("legacy", "sessions in the old system", s.legacy),
        _card("migrated", "migrated", s.migrated),
        _card("quarantined", "held back for review", s.quarantined),
        _card("migrated_pending", "of them still being processed in the old system", s.migrated_pending),
        _card("mismatched", "need attention", s.mismatched),
        "</div>",
        '<h2 id="actions">What to do, and who should act</h2>',
        _actions(report),
        '<h2 id="held-back">Sessions held back for review, per patient</h2>',
        _held_back(report),
        *_since_last_run(report),
        "<h2>Per patient</h2>",
        patient_chart(report.patients),
        _patients_table(report),
        '<h2 id="scores">Overall performance score</h2>',
        _scores(report),
        "<h2>Good to know</h2>",
        _good_to_know(report),
        "<h2>Technical checks</h2>",
        _technical(report),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>statsfirst reconciliation</title>"
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _zone() -> tzinfo:
    try:
        return ZoneInfo(LOCAL_ZONE)
    except ZoneInfoNotFoundError:  # no time zone database: say UTC rather than guess
        return UTC


def _local(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(_zone())


def _zone_name(moment: datetime) -> str:
    zone = _zone()
    return f"{moment.tzname()}, {LOCAL_ZONE}" if zone is not UTC else "UTC"


def local_time(value: str | None) -> str:
    """A UTC timestamp as clinicians read it: '2 December 2026, 19:40 (CET, Europe/Amsterdam)'."""
    moment = _local(value)
    if moment is None:
        return value or "unknown"
    return f"{moment.day} {moment:%B %Y, %H:%M} ({_zone_name(moment)})"


def local_day(value: str | None) -> str:
    moment = _local(value)
    return f"{moment:%Y-%m-%d}" if moment else ""


def _period_text(report: ReconciliationReport) -> str:
    bounds = report.listed.get(PERIOD) or []
    first = _local(bounds[0].uploaded_at) if bounds else None
    last = _local(bounds[-1].uploaded_at) if bounds else None
    scope = (
        f"Scope: sessions uploaded from {report.since[:10] if report.since else 'the start'} until "
        f"{report.until[:10] + ' (exclusive; days start at 00:00 UTC)' if report.until else 'now'}. "
        if report.since or report.until
        else "Scope: all sessions. "
    )
    if first is None or last is None:
        return scope + "No session of the old system falls in this scope."
    return (
        f"{scope}The sessions checked were uploaded between {first.day} {first:%B %Y} and "
        f"{last.day} {last:%B %Y} ({_zone_name(last)})."
    )


def _card(key: str, label: str, value: int) -> str:
    return f'<div class="card"><b data-count="{key}">{value:,}</b>{escape(label)}</div>'


def _patients_table(report: ReconciliationReport) -> str:
    rows = [
        '<table id="patients"><thead><tr><th>Patient code</th><th class="n">Sessions in the old system</th>'
        '<th class="n">Migrated</th><th class="n">Of them still being processed</th>'
        '<th class="n">Held back for review</th>'
        '<th class="n">Overall score computable</th></tr></thead><tbody>'
    ]
    for p in report.patients:
        css = ' class="off"' if p.mismatched else ""
        rows.append(
            f"<tr{css}><td>{escape(p.label)}</td><td class=\"n\">{p.legacy:,}</td><td class=\"n\">{p.migrated:,}</td>"
            f'<td class="n">{p.migrated_pending:,}</td><td class="n">{p.quarantined:,}</td>'
            f'<td class="n">{p.overall_score_computable:,}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "".join(rows)


# Who acts on each code (the wording says what to do).
DATA_TEAM = "Data team"
NOBODY = "Nobody (automatic)"
WHO: dict[str, str] = {
    "migrated_pending": NOBODY,
    "deleted_in_legacy": "Nobody (check only if the deletion was a mistake)",
    "arrived_since_last_run": NOBODY,
    "one_channel": "Therapists (sensor setup of future sessions)",
    "rpe_not_recorded": "Therapists (record RPE after each session)",
    "game_points_not_recorded": "Nobody (expected for legacy sessions)",
    "no_contractions": "Therapists (review the recording)",
}


def _explained(rows: list[tuple[str, int, Explanation]], *, who: bool = False) -> str:
    if not rows:
        return "<p>None.</p>"
    who_head = "<th>Who</th>" if who else ""
    out = [
        f'<table><thead><tr><th class="n">Sessions</th><th>What it means</th><th>What to do</th>{who_head}</tr>'
        "</thead><tbody>"
    ]
    for code, count, explanation in rows:
        who_cell = f"<td>{escape(WHO.get(code, DATA_TEAM))}</td>" if who else ""
        out.append(
            f'<tr><td class="n">{count:,}</td><td>{escape(explanation.meaning)} <code>{escape(code)}</code></td>'
            f"<td>{escape(explanation.action)}</td>{who_cell}</tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _actions(report: ReconciliationReport) -> str:
    """Every reason a session is not simply migrated, with what to do and who should act, most sessions first."""
    if not report.found_legacy_sessions:
        return (
            "<p><b>Data team:</b> no session of the old system was found in the checked scope. Check that the "
            "report was run against the right database and date range; nothing else can be concluded.</p>"
        )
    rows = [(code, n, explain(QUARANTINE, code)) for code, n in report.quarantine_reasons.items()]
    rows += [(code, n, explain(SKIPPED, code)) for code, n in report.skipped_reasons.items()]
    if report.sessions.migrated_pending:
        rows.append(("migrated_pending", report.sessions.migrated_pending, explain(ACCOUNTING, "migrated_pending")))
    rows += [
        (state, n, explain(ACCOUNTING, state))
        for state, n in report.states.items()
        if state not in ACCOUNTED_STATES or state in LISTED_STATES
    ]
    if report.sessions.deleted_in_legacy and "deleted_in_legacy" not in report.states:
        rows.append(("deleted_in_legacy", report.sessions.deleted_in_legacy, explain(ACCOUNTING, "deleted_in_legacy")))
    rows.sort(key=lambda r: (-r[1], r[0]))
    where = (
        "<p>Which sessions are held back, and why, is listed below per patient and in "
        "<code>statsfirst.quarantine_review</code> (each therapist sees their own patients' sessions there).</p>"
        if report.sessions.quarantined
        else ""
    )
    return _explained(rows, who=True) + where


def _held_back(report: ReconciliationReport) -> str:
    held = report.listed.get(HELD_BACK) or []
    if not held:
        return "<p>None.</p>"
    by_patient: dict[str, list[ListedSession]] = {}
    for session in held:
        by_patient.setdefault(session.patient_code or "(no identifiable patient)", []).append(session)
    out = [
        '<table id="held-back-sessions"><thead><tr><th>Patient code</th><th>Legacy session id</th>'
        "<th>Uploaded</th><th>Reason</th></tr></thead><tbody>"
    ]
    for code, sessions in by_patient.items():
        for i, session in enumerate(sessions):
            reason = getattr(session, "reason", None) or ""
            meaning = explain(QUARANTINE, reason).meaning if reason else ""
            patient = f'<td rowspan="{len(sessions)}">{escape(code)}</td>' if i == 0 else ""
            out.append(
                f"<tr>{patient}<td><code>{escape(session.legacy_id)}</code></td>"
                f'<td class="day">{escape(local_day(session.uploaded_at))}</td>'
                f"<td>{escape(meaning)} <code>{escape(reason)}</code></td></tr>"
            )
    out.append("</tbody></table>")
    if len(held) < report.sessions.quarantined:
        out.append(
            f'<p class="meta">The first {len(held):,} of {report.sessions.quarantined:,} are listed; '
            "<code>statsfirst.quarantine_review</code> lists them all.</p>"
        )
    return "".join(out)


def _since_last_run(report: ReconciliationReport) -> list[str]:
    """Sessions that arrived since the last run and sessions deleted in the old system (only when there are any)."""
    s = report.sessions
    if not (s.arrived_since_last_run or s.deleted_in_legacy):
        return []
    last = report.last_run
    when = f" (finished {escape(local_time(last.finished_at))})" if last and last.finished_at else ""
    out = ['<h2 id="since-last-run">Since the last run / deleted in the old system</h2>']
    for state, count, intro in (
        ("arrived_since_last_run", s.arrived_since_last_run,
         f"uploaded or changed in the old system after the last migration run{when}; the next run picks them up"),
        ("deleted_in_legacy", s.deleted_in_legacy,
         "migrated earlier, then deleted from the old system; the new system keeps them"),
    ):
        if not count:
            continue
        listed = report.listed.get(state) or []
        out.append(f"<p><b>{count:,}</b> {plural(count, 'session', 'sessions')} {intro}:</p>")
        if listed:
            out.append(
                f'<table id="{state}"><thead><tr><th>Legacy session id</th><th>Patient code</th><th>Uploaded</th>'
                "</tr></thead><tbody>"
            )
            for session in listed:
                out.append(
                    f"<tr><td><code>{escape(session.legacy_id)}</code></td>"
                    f"<td>{escape(session.patient_code or '')}</td>"
                    f'<td class="day">{escape(local_day(session.uploaded_at))}</td></tr>'
                )
            out.append("</tbody></table>")
            if len(listed) < count:
                out.append(f'<p class="meta">The first {len(listed):,} of {count:,} are listed.</p>')
    return out



def _scores(report: ReconciliationReport) -> str:
    c = report.completeness
    missing = c.migrated - c.overall_score_computable
    intro = (
        f"<p>The overall score can be computed for <b data-count=\"score_computable\">"
        f"{c.overall_score_computable:,}</b> of {c.migrated:,} migrated sessions "
        f"(weights {escape(report.weights)}).</p>"
    )
    if c.migrated == 0 or missing == 0:
        return intro
    reasons = sorted(c.not_computable_reasons.items(), key=lambda r: (-r[1], r[0]))
    why = ""
    if reasons:
        code, n = reasons[0]
        why = (
            f'<p id="score-why">Why not for the other {missing:,}: most often ({n:,} '
            f"{plural(n, 'session', 'sessions')}) {escape(explain(SCORE_GAPS, code).meaning[0].lower())}"
            f"{escape(explain(SCORE_GAPS, code).meaning[1:])} What to do: {escape(explain(SCORE_GAPS, code).action)} "
            "All reasons (a session can have several):</p>"
        )
    rows = [(code, n, explain(SCORE_GAPS, code)) for code, n in reasons]
    return intro + why + _explained(rows, who=True)


def _good_to_know(report: ReconciliationReport) -> str:
    c = report.completeness
    unknown = c.no_identifiable_patient.get("unknown_sentinel", 0)
    unregistered = c.no_identifiable_patient.get("unregistered_code", 0)
    items = [
        f"<li><b>{unknown + unregistered:,}</b> migrated sessions have no identifiable patient: {unknown:,} say "
        f"'Unknown' or nothing, {unregistered:,} name a code that is not in the patient register. They are migrated "
        "without a patient; register the code (or correct it) to link them.</li>",
        f'<li id="bfr"><b>{c.bfr_gate_not_applied:,}</b> of the {c.migrated:,} migrated sessions have no BFR '
        "(blood-flow restriction) record, so the BFR safety gate could not be applied to their scores.</li>",
        f"<li><b>{c.point_rate_33hz.get('migrated', 0):,}</b> migrated sessions (of "
        f"{c.point_rate_33hz.get('legacy', 0):,} in the old system) carry a sampling rate of 33 Hz: the C3D "
        "<i>point</i> rate, not the EMG rate (990 Hz). It is kept as the old system recorded it.</li>",
    ]
    if report.settings_links and report.settings_links.rows:
        links = report.settings_links
        items.append(
            f'<li id="settings-links"><b>{links.unlinked:,}</b> of the {links.rows:,} settings rows of the old system '
            "belong to no session (they name a session that does not exist), so there is nothing to migrate them to; "
            f"no session lost its settings. {links.ambiguous_sessions:,} "
            f"{plural(links.ambiguous_sessions, 'session', 'sessions')} had several settings rows: the newest was used "
            f"({links.not_used:,} older {plural(links.not_used, 'row', 'rows')} not used).</li>"
        )
    if report.configuration:
        settings = ", ".join(f"{what}: {value}" for what, value in report.configuration)
        items.append(f"<li>Scores use the target's recorded configuration ({escape(settings)}).</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _technical(report: ReconciliationReport) -> str:
    v = report.values
    out = [
        '<table id="tables"><thead><tr><th>Table</th><th class="n">Expected rows</th><th class="n">Actual rows</th>'
        '<th class="n">Delta</th><th class="n">Delta %</th></tr></thead><tbody>'
    ]
    for t in report.tables_in_order():
        css = "" if t.matches else ' class="off"'
        pct = "" if t.delta_pct is None else f"{t.delta_pct:+.2f} %"
        note = "" if t.compared else " (no legacy source; written by the new system)"
        out.append(
            f"<tr{css}><td><code>{t.name}</code>{note}</td><td class=\"n\">{t.expected:,}</td>"
            f'<td class="n">{t.actual:,}</td><td class="n">{t.delta:+,}</td><td class="n">{pct}</td></tr>'
        )
    out.append("</tbody></table>")
    out.append(
        f"<p>Values: {v.sessions_compared:,} migrated sessions compared in {v.segments:,} checksum segments of "
        f"{v.segment_size:,} ids; {v.segments_differing:,} segments differ, "
        f"{v.sessions_with_differences:,} sessions hold a value that differs from the old system.</p>"
    )
    if report.mismatches:
        out.append(
            '<table id="mismatches"><thead><tr><th>Kind</th><th>Legacy id</th><th>Patient code</th><th>Detail</th>'
            "</tr></thead><tbody>"
        )
        for m in report.mismatches:
            out.append(
                f"<tr><td>{escape(m.kind)}</td><td><code>{escape(m.legacy_id or '')}</code></td>"
                f"<td>{escape(m.patient_code or '')}</td><td>{escape(m.detail)}</td></tr>"
            )
        out.append("</tbody></table>")
        counts = ", ".join(f"{k}: {n:,}" for k, n in report.mismatch_counts.items() if n)
        out.append(f"<p class=\"meta\">The first few are listed; in all: {escape(counts)}.</p>")
    return "".join(out)

"""The clinicians' report: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched).

A Content-Security-Policy of ``default-src 'none'`` makes the browser refuse any outside resource, so the file
opens the same way offline. Codes and ids only; every value is HTML-escaped.
"""

from __future__ import annotations

from html import escape

from statsfirst.reconcile.chart import patient_chart
from statsfirst.reconcile.report import ReconciliationReport
from statsfirst.reconcile.wording import (
    ACCOUNTING,
    QUARANTINE,
    SCORE_GAPS,
    SKIPPED,
    Explanation,
    explain,
    headline,
)
from statsfirst.transform.normalize import TARGET_TABLES

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
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_html(report: ReconciliationReport) -> str:
    s = report.sessions
    state = "ok" if report.reconciled else "bad"
    scope = _scope_text(report)
    body = [
        "<h1>Migration check: old EMG database → Statistics-First</h1>",
        f'<p id="headline" class="headline {state}" data-reconciled="{str(report.reconciled).lower()}">'
        f"{escape(headline(report))}</p>",
        f'<p class="meta">Checked {escape(report.generated_at)} · {escape(scope)} · target schema '
        f"<code>{escape(report.target_schema)}</code> · every number recomputed from the old system's tables.</p>",
        '<div class="cards">',
        _card("legacy", "sessions in the old system", s.legacy),
        _card("migrated", "migrated", s.migrated),
        _card("quarantined", "held back for review", s.quarantined),
        _card("skipped", "not yet processed", s.skipped),
        _card("mismatched", "need attention", s.mismatched),
        "</div>",
        "<h2>Per patient</h2>",
        patient_chart(report.patients),
        _patients_table(report),
        "<h2>Sessions held back or not yet migrated, and what to do</h2>",
        _reasons(report),
        "<h2>Overall performance score</h2>",
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


def _scope_text(report: ReconciliationReport) -> str:
    if report.since or report.until:
        return f"sessions created from {report.since or 'the start'} until {report.until or 'now'}"
    return "all sessions"


def _card(key: str, label: str, value: int) -> str:
    return f'<div class="card"><b data-count="{key}">{value:,}</b>{escape(label)}</div>'


def _patients_table(report: ReconciliationReport) -> str:
    rows = [
        '<table id="patients"><thead><tr><th>Patient code</th><th class="n">Sessions in the old system</th>'
        '<th class="n">Migrated</th><th class="n">Held back for review</th><th class="n">Not yet processed</th>'
        '<th class="n">Overall score computable</th></tr></thead><tbody>'
    ]
    for p in report.patients:
        css = ' class="off"' if p.mismatched else ""
        rows.append(
            f"<tr{css}><td>{escape(p.label)}</td><td class=\"n\">{p.legacy:,}</td><td class=\"n\">{p.migrated:,}</td>"
            f'<td class="n">{p.quarantined:,}</td><td class="n">{p.skipped:,}</td>'
            f'<td class="n">{p.overall_score_computable:,}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _explained(rows: list[tuple[str, int, Explanation]]) -> str:
    if not rows:
        return "<p>None.</p>"
    out = ['<table><thead><tr><th class="n">Sessions</th><th>What it means</th><th>What to do</th></tr></thead><tbody>']
    for code, count, explanation in rows:
        out.append(
            f'<tr><td class="n">{count:,}</td><td>{escape(explanation.meaning)} <code>{escape(code)}</code></td>'
            f"<td>{escape(explanation.action)}</td></tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _reasons(report: ReconciliationReport) -> str:
    rows = [(code, n, explain(QUARANTINE, code)) for code, n in sorted(report.quarantine_reasons.items())]
    rows += [(code, n, explain(SKIPPED, code)) for code, n in sorted(report.skipped_reasons.items())]
    rows += [
        (state, n, explain(ACCOUNTING, state))
        for state, n in sorted(report.states.items())
        if state not in ("migrated", "quarantined", "skipped")
    ]
    where = (
        "<p>Which sessions are held back, and why, is listed in <code>statsfirst.quarantine_review</code> (each "
        "therapist sees their own patients' sessions there).</p>"
        if report.sessions.quarantined
        else ""
    )
    return _explained(rows) + where


def _scores(report: ReconciliationReport) -> str:
    c = report.completeness
    intro = (
        f"<p>The overall score can be computed for <b data-count=\"score_computable\">"
        f"{c.overall_score_computable:,}</b> of {c.migrated:,} migrated sessions (weights {escape(report.weights)}). "
        "For the others, one or more inputs are missing (a session can have several):</p>"
    )
    rows = [(code, n, explain(SCORE_GAPS, code)) for code, n in c.not_computable_reasons.items()]
    return intro + _explained(rows)


def _good_to_know(report: ReconciliationReport) -> str:
    c = report.completeness
    unknown = c.no_identifiable_patient.get("unknown_sentinel", 0)
    unregistered = c.no_identifiable_patient.get("unregistered_code", 0)
    items = [
        f"<li><b>{unknown + unregistered:,}</b> migrated sessions have no identifiable patient: {unknown:,} say "
        f"'Unknown' or nothing, {unregistered:,} name a code that is not in the patient register. They are migrated "
        "without a patient; register the code (or correct it) to link them.</li>",
        f"<li><b>{c.bfr_gate_not_applied:,}</b> sessions have no BFR (blood-flow restriction) record, so the BFR "
        "safety gate could not be applied to their scores.</li>",
        f"<li><b>{c.point_rate_33hz.get('migrated', 0):,}</b> migrated sessions (of "
        f"{c.point_rate_33hz.get('legacy', 0):,} in the old system) carry a sampling rate of 33 Hz: the C3D "
        "<i>point</i> rate, not the EMG rate (990 Hz). It is kept as the old system recorded it.</li>",
    ]
    return "<ul>" + "".join(items) + "</ul>"


def _technical(report: ReconciliationReport) -> str:
    v = report.values
    out = [
        '<table id="tables"><thead><tr><th>Table</th><th class="n">Expected rows</th><th class="n">Actual rows</th>'
        '<th class="n">Delta</th><th class="n">Delta %</th></tr></thead><tbody>'
    ]
    for t in sorted(report.tables, key=lambda t: TARGET_TABLES.index(t.name)):
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

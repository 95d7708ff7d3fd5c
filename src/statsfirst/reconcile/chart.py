"""An inline SVG chart of the per-patient outcome (no JavaScript, no fonts or files to fetch)."""

from __future__ import annotations

from html import escape

from statsfirst.reconcile.report import PatientRow

SEGMENTS = (
    ("migrated_done", "Migrated", "#2e7d32"),
    ("migrated_pending", "Migrated, still being processed", "#9e9e9e"),
    ("quarantined", "Held back for review", "#ef6c00"),
    ("mismatched", "Needs attention", "#c62828"),
)
LABEL_WIDTH = 190
BAR_WIDTH = 520
COUNT_WIDTH = 60
ROW_HEIGHT = 20
LEGEND_HEIGHT = 34


def chart_rows(patients: list[PatientRow]) -> list[PatientRow]:
    """Registered patients one bar each; codes missing from the register share one bar (the table lists them)."""
    registered = [p for p in patients if p.registered]
    others = [p for p in patients if not p.registered and p.patient_code is not None]
    rest = [p for p in patients if not p.registered and p.patient_code is None]
    if others:
        merged = PatientRow(
            patient_code=f"{len(others)} unregistered codes",
            registered=True,
            legacy=sum(p.legacy for p in others),
            migrated=sum(p.migrated for p in others),
            quarantined=sum(p.quarantined for p in others),
            migrated_pending=sum(p.migrated_pending for p in others),
            mismatched=sum(p.mismatched for p in others),
            overall_score_computable=sum(p.overall_score_computable for p in others),
        )
        registered.append(merged)
    return registered + rest


def patient_chart(patients: list[PatientRow]) -> str:
    """Horizontal stacked bars, one per patient: what became of their sessions in the old system."""
    patients = chart_rows(patients)
    longest = max((p.legacy for p in patients), default=0) or 1
    width = LABEL_WIDTH + BAR_WIDTH + COUNT_WIDTH
    height = LEGEND_HEIGHT + ROW_HEIGHT * len(patients) + 6
    parts = [
        f'<svg role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="chart-title" class="chart">',
        '<title id="chart-title">Sessions per patient: migrated (of them still being processed), '
        "held back for review</title>",
    ]
    legend_x = LABEL_WIDTH
    for _, label, colour in SEGMENTS:
        parts.append(f'<rect x="{legend_x}" y="8" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 16}" y="18" class="legend">{escape(label)}</text>')
        legend_x += 30 + 7 * len(label)
    for index, patient in enumerate(patients):
        y = LEGEND_HEIGHT + index * ROW_HEIGHT
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 14}" text-anchor="end" class="label">{escape(patient.label)}</text>'
        )
        x = float(LABEL_WIDTH)
        for attribute, label, colour in SEGMENTS:
            value = getattr(patient, attribute)
            if not value:
                continue
            span = BAR_WIDTH * value / longest
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{span:.1f}" height="{ROW_HEIGHT - 6}" fill="{colour}">'
                f"<title>{escape(patient.label)}: {value:,} {escape(label.lower())}</title></rect>"
            )
            x += span
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 14}" class="count">{patient.legacy:,}</text>')
    parts.append("</svg>")
    return "".join(parts)

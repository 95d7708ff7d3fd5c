"""``--format``: the four renderings of one report."""

from __future__ import annotations

import json

from statsfirst.errors import UsageError
from statsfirst.reconcile.render_csv import render_csv
from statsfirst.reconcile.render_html import render_html
from statsfirst.reconcile.render_text import render_text
from statsfirst.reconcile.report import ReconciliationReport

FORMATS = ("text", "json", "html", "csv")


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise UsageError(f"unknown --format {name!r}", f"use one of {', '.join(FORMATS)}")
    return name


def render(report: ReconciliationReport, name: str) -> str:
    if name == "json":
        return json.dumps(report.as_json(), indent=2) + "\n"
    if name == "html":
        return render_html(report)
    if name == "csv":
        return render_csv(report)
    return render_text(report)

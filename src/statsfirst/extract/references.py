"""The legacy reference tables a session is resolved against, and the rule for a legacy reference's text.

The rule is written once here for Python (the migration's polars transform, the row-by-row benchmark) and once
in SQL, as ``statsfirst.clean_legacy_ref`` (sql/005: the reconciliation, the quarantine review view and the
all-SQL benchmark call it); tests/migrate/test_reference_rule.py proves the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import psycopg
from psycopg import sql

from statsfirst.extract.copy_reader import copy_frame

# what a legacy patient/therapist reference means "none" by (compared lower-cased, after trimming)
SENTINELS = ("unknown", "", "null", "none", "n/a")
# the characters trimmed from both ends: ASCII whitespace, as PostgreSQL's btrim is given it
REFERENCE_WHITESPACE = " \t\n\r\f\v"


def clean_reference(value: str | None) -> str | None:
    """One legacy reference, trimmed, or None for a sentinel."""
    if value is None:
        return None
    trimmed = value.strip(REFERENCE_WHITESPACE)
    return None if trimmed.lower() in SENTINELS else trimmed


@dataclass(frozen=True)
class ReferenceData:
    """Known patient codes and therapist ids (small tables, read once per run)."""

    patient_codes: pl.Series
    therapist_ids: pl.Series


def read_references(conn: psycopg.Connection) -> ReferenceData:
    codes = copy_frame(conn, sql.SQL("SELECT patient_code FROM public.patients"), None, {"patient_code": pl.String})
    ids = copy_frame(conn, sql.SQL("SELECT id::text AS id FROM public.therapists"), None, {"id": pl.String})
    return ReferenceData(codes["patient_code"], ids["id"])

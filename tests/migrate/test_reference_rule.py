"""The rule for a legacy patient/therapist reference has one definition per language, and they agree: the Python
rule (extract/references.py), the migration's polars transform, and ``statsfirst.clean_legacy_ref`` (sql/005), which
the reconciliation, the quarantine review view and the all-SQL benchmark call. A disagreement would make the
reconciliation count a session's patient differently from the migration."""

from __future__ import annotations

import polars as pl
import psycopg
from migration_support import TARGET, quiet

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.extract.references import ReferenceData, clean_reference
from statsfirst.transform.references import resolve_references

VALUES = [None, "", " ", "P001", " P001 ", "\tP001\n", "\vP001\f\r", "Unknown", " UNKNOWN ", "unknown\t", "null",
          "NULL", "None", "n/a", "N/A ", "na", "\u00a0P001", "P001\u2003", "P 001", "unknown patient", "\v", "'P001'",
          "v12", "P00v"]


def test_python_polars_and_sql_read_a_reference_alike(legacy_db: ResolvedDsn) -> None:
    apply_migrations(legacy_db, target_schema=TARGET, log=quiet)
    python = [clean_reference(v) for v in VALUES]
    with psycopg.connect(legacy_db.conninfo) as conn:
        sql = [row[0] for row in conn.execute(
            "SELECT statsfirst.clean_legacy_ref(v) FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
            (VALUES,)).fetchall()]
    sessions = pl.DataFrame({"resolved_patient_id": VALUES, "patient_id": [None] * len(VALUES),
                             "therapist_id": [None] * len(VALUES), "resolved_therapist_id": [None] * len(VALUES)},
                            schema={c: pl.String for c in ("resolved_patient_id", "patient_id", "therapist_id",
                                                           "resolved_therapist_id")})
    registered = [v for v in python if v is not None]
    refs = ReferenceData(pl.Series(registered, dtype=pl.String), pl.Series([], dtype=pl.String))
    polars = resolve_references(sessions, refs)["patient_code"].to_list()
    assert python == sql == polars
    # the rule itself: ASCII whitespace trimmed, sentinels in any case, other characters kept
    assert python[:8] == [None, None, None, "P001", "P001", "P001", "P001", None]
    assert python[16:18] == ["\u00a0P001", "P001\u2003"]  # a no-break space is not whitespace to this rule
    assert python[-2:] == ["v12", "P00v"]  # a letter v is kept (E'\\v' in SQL is a v, not a vertical tab)

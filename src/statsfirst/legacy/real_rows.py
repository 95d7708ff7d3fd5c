"""Load legacy rows exported from a real legacy database into the baseline (tests, demos).

The export format is the one of ``shared/data/real_legacy/`` (a copy lives in ``tests/data/real_legacy/``): one
``row_to_json`` object per line, in the table's physical (insertion) order, written by ``COPY ... TO`` in text
format. That is why a backslash inside a JSON string appears doubled (``\\\\"`` for an escaped quote): the file is
COPY text, not plain JSON lines, and only PostgreSQL's own COPY reader undoes that escaping exactly. So each file is
COPYed as it is into a one-column staging table, and the rows are inserted in file order with
``jsonb_populate_record`` (every column by name, whatever the table's column order).

The export holds no patients or therapists: :func:`load_real_rows` creates the ones the rows refer to (the data's
README: P005 and P006 belong to one therapist, P999 is not registered).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from statsfirst.errors import SchemaStateError

REAL_TABLES: tuple[str, ...] = ("c3d_metadata", "analysis_results", "session_settings")
# the therapist app user who wrote the exported session_settings rows owns the registered patients
THERAPIST_ID = "7d3f0c8e-2b41-4f5a-9c6e-1a2b3c4d5e6f"
THERAPIST_USER_ID = "0b1e2d3c-4a5b-4c6d-8e7f-a0b1c2d3e4f5"
REGISTERED_PATIENTS: tuple[tuple[str, str], ...] = (
    ("5a0e8b9c-0005-4d1e-8f00-000000000005", "P005"),
    ("5a0e8b9c-0006-4d1e-8f00-000000000006", "P006"),
)


@dataclass(frozen=True)
class LoadedRows:
    """Rows loaded per table, in file order."""

    counts: dict[str, int]


def real_row_files(directory: Path) -> dict[str, Path]:
    """The export file of each table; raises naming every missing file."""
    files = {table: directory / f"{table}.jsonl" for table in REAL_TABLES}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise SchemaStateError(
            f"the real legacy rows are missing: {', '.join(missing)}",
            "copy shared/data/real_legacy/*.jsonl there (see its README.md)",
        )
    return files


def load_real_rows(conn: psycopg.Connection, directory: Path) -> LoadedRows:
    """Insert the exported rows (and the patients/therapist they refer to) in one transaction, in file order."""
    files = real_row_files(directory)
    counts: dict[str, int] = {}
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "INSERT INTO public.therapists (id, user_id, first_name, last_name) VALUES (%s, %s, 'Therapist', 'A')",
            (THERAPIST_ID, THERAPIST_USER_ID),
        )
        for patient_id, code in REGISTERED_PATIENTS:
            cur.execute(
                "INSERT INTO public.patients (id, therapist_id, patient_code, first_name, last_name) "
                "VALUES (%s, %s, %s, 'Patient', %s)",
                (patient_id, THERAPIST_ID, code, code),
            )
        cur.execute(
            "CREATE TEMPORARY TABLE statsfirst_real_rows (ord bigint GENERATED ALWAYS AS IDENTITY, doc text NOT NULL)"
            " ON COMMIT DROP"
        )
        for table, path in files.items():
            cur.execute("TRUNCATE statsfirst_real_rows RESTART IDENTITY")
            with cur.copy("COPY statsfirst_real_rows (doc) FROM STDIN") as copy:
                copy.write(path.read_bytes())
            cur.execute(
                sql.SQL(
                    "INSERT INTO {table} SELECT (jsonb_populate_record(NULL::{table}, doc::jsonb)).* "
                    "FROM statsfirst_real_rows ORDER BY ord"
                ).format(table=sql.Identifier("public", table))
            )
            counts[table] = cur.rowcount
    conn.commit()
    return LoadedRows(counts)

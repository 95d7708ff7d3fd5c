"""All-SQL baseline: ``all_sql.sql`` (set-based INSERT ... SELECT, JSON parsed once into typed temp tables) in one
transaction: the seven target tables statsfirst fills and its two lineage tables.

Usage: python -m contenders.all_sql --dsn DSN [--target-schema stats]
Prints {"seconds": ..., "statements": [{"statement": ..., "seconds": ...}], "rows": {...}, "left_out_sessions": N}:
rows per table written (export_history included: it stays empty), and the sessions left out because statsfirst
quarantines them (it should equal statsfirst's ``sessions.quarantined``).
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import psycopg
from psycopg import sql

from contenders.common import TARGET_SCHEMA, emit

SCRIPT = Path(__file__).with_name("all_sql.sql")
# (schema, table): the target tables (None: the target schema) and statsfirst's lineage tables
TABLES: tuple[tuple[str | None, str], ...] = (
    (None, "therapy_sessions"),
    (None, "emg_statistics"),
    (None, "performance_scores"),
    (None, "bfr_monitoring"),
    (None, "session_settings"),
    (None, "export_history"),
    (None, "signal_processing_cache"),
    (None, "processing_parameters"),
    ("statsfirst", "session_lineage"),
    ("statsfirst", "analysis_lineage"),
)


def statements(text: str) -> list[str]:
    """The script's statements (split on ';' at line ends outside $$ bodies), comments dropped."""
    out, current, in_body = [], [], False
    for line in text.splitlines():
        if not in_body and line.lstrip().startswith("--"):
            continue
        current.append(line)
        if line.count("$$") % 2 == 1:
            in_body = not in_body
        if not in_body and line.rstrip().endswith(";"):
            out.append("\n".join(current).strip())
            current = []
    if "".join(current).strip():
        out.append("\n".join(current).strip())
    return out


def label(statement: str) -> str:
    match = re.match(r"\s*(CREATE (?:TEMP TABLE|FUNCTION) \S+|INSERT INTO \S+|ANALYZE \S+)", statement)
    return match.group(1) if match else statement.split("\n", 1)[0][:60]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--target-schema", default=TARGET_SCHEMA)
    args = parser.parse_args()

    started = time.perf_counter()
    timings = []
    with psycopg.connect(args.dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(args.target_schema)))
        for statement in statements(SCRIPT.read_text(encoding="utf-8")):
            t0 = time.perf_counter()
            conn.execute(statement.encode())
            timings.append({"statement": label(statement), "seconds": round(time.perf_counter() - t0, 3)})
        left_out = conn.execute("SELECT count(*) FROM held_back").fetchone()  # dropped at commit
        conn.commit()
        seconds = round(time.perf_counter() - started, 3)
        rows = {}
        for schema, table in TABLES:
            count = conn.execute(
                sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(schema or args.target_schema), sql.Identifier(table)
                )
            ).fetchone()
            rows[table] = count[0] if count else 0
    emit({
        "seconds": seconds,
        "statements": timings,
        "rows": rows,
        "left_out_sessions": left_out[0] if left_out else 0,
    })


if __name__ == "__main__":
    main()

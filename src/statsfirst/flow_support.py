"""What every Prefect flow needs from the library, kept out of ``flows/`` so flows stay thin.

Plain Python: nothing here imports Prefect at import time (a Secret block is loaded only when one is named), so the
library runs without it. The flows pass ``retry_transient`` as their tasks' ``retry_condition_fn``, log through
``BatchProgress`` and turn actionable failures into their failed state's message with ``failure_line``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from statsfirst.db.dsn import ResolvedDsn, redact, resolve_dsn
from statsfirst.errors import StatsfirstError, UsageError, is_transient

# Task retries of the flows: a lost connection or a restarting server is usually back within seconds; each retry
# re-runs the same command, which resumes from the run ledger (committed batches are not redone).
TASK_RETRIES = 3
TASK_RETRY_DELAY_SECONDS = [2, 5, 10]


def resolve_flow_dsn(dsn_secret_block: str | None = None) -> ResolvedDsn:
    """A Prefect Secret block when one is named, else ``DATABASE_URL``; never the embedded server.

    A flow runs on a worker: without either, starting a private embedded PostgreSQL there would migrate nothing
    anyone reads, so that is one clear error instead.
    """
    if dsn_secret_block:
        from prefect.blocks.system import Secret

        try:
            secret: Secret = Secret.load(dsn_secret_block)  # type: ignore[assignment]
        except ValueError:
            raise UsageError(
                f"no Prefect Secret block named {dsn_secret_block!r} on this Prefect server",
                "create it (prefect block create secret, value = the connection string) or pass the name of an "
                "existing one as dsn_secret_block",
            ) from None
        return ResolvedDsn(str(secret.get()), f"Prefect Secret block {dsn_secret_block!r}")
    if not os.environ.get("DATABASE_URL"):
        raise UsageError(
            "no database: DATABASE_URL is not set in the worker's environment and no dsn_secret_block was given",
            "start the worker with DATABASE_URL=postgresql://... or pass dsn_secret_block (a Prefect Secret block's "
            "name)",
        )
    return resolve_dsn(None)


def retry_transient(task: object, task_run: object, state: Any) -> bool:
    """A Prefect ``retry_condition_fn``: retry only failures a retry can get past (see ``errors.is_transient``)."""
    exc = state.data if isinstance(getattr(state, "data", None), BaseException) else None
    if exc is None:
        try:
            result = state.result(raise_on_failure=False)
        except Exception as raised:  # a result that cannot be read back: decide on what was raised
            result = raised
        exc = result if isinstance(result, BaseException) else None
    return exc is not None and is_transient(exc)


def failure_line(exc: BaseException, dsn: ResolvedDsn | None = None) -> str | None:
    """The one line (``what is wrong — what to do``) a failed flow run shows, or None for an unexpected error (a bug,
    which keeps Prefect's traceback). Never a password: the message is scrubbed of the DSN's password and of any
    password-looking part."""
    if isinstance(exc, StatsfirstError):
        text = str(exc)
    elif isinstance(exc, psycopg.Error):
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if is_transient(exc):
            text = (
                f"the database connection failed and the retries did not get past it ({first}) — check that the "
                "server is up and reachable, then run the same flow again: it resumes from the last committed batch"
            )
        else:
            text = (
                f"the database refused the operation: {first} — nothing was committed by the failing step; fix the "
                "cause and run the same flow again"
            )
    else:
        return None
    text = " ".join(text.split())
    return dsn.scrub(text) if dsn else redact(text)


class BatchProgress:
    """Per-batch progress lines for ``migrate(on_start=..., on_progress=...)``, e.g.
    ``batch done: 3,000 of 12,000 sessions (25%), 1,850 sessions/s``.

    ``total`` is the sessions of the whole run (None when unknown, e.g. an incremental run); the rate is of the
    sessions this invocation processed, over the time since the run started processing them.
    """

    def __init__(self, log: Callable[[str], object], total: int | None = None, label: str = "batch done") -> None:
        self.log = log
        self.total = total
        self.label = label
        self.done = 0
        self.processed = 0
        self.started = time.perf_counter()

    def on_start(self, already_done: int) -> None:
        self.done = already_done
        self.started = time.perf_counter()
        if already_done:
            self.log(f"{already_done:,} sessions already committed by an earlier attempt: resuming")

    def on_progress(self, sessions: int) -> None:
        self.done += sessions
        self.processed += sessions
        elapsed = time.perf_counter() - self.started
        rate = f"{self.processed / elapsed:,.0f} sessions/s" if elapsed > 0 else "- sessions/s"
        if self.total:
            share = min(100, round(100 * self.done / self.total))
            self.log(f"{self.label}: {self.done:,} of {self.total:,} sessions ({share}%), {rate}")
        else:
            self.log(f"{self.label}: {self.done:,} sessions, {rate}")


def summary_rows(totals: dict[str, Any]) -> list[dict[str, object]]:
    """A migration summary (``MigrationSummary.as_json()`` or a backfill's totals) as rows of a table artifact: one
    row per measure."""
    sessions = totals.get("sessions", {})
    out: list[dict[str, object]] = [
        {"measure": "legacy sessions in range", "value": sessions.get("in_range", 0)},
        {"measure": "migrated", "value": sessions.get("migrated", 0)},
        {"measure": "of them still pending/processing in legacy (no child rows yet)",
         "value": sessions.get("migrated_pending", 0)},
    ]
    if totals.get("rewritten_unchanged"):
        unchanged = totals["rewritten_unchanged"]
        out.append({"measure": "of them unchanged in legacy since last migrated", "value": unchanged})
    out += [{"measure": f"quarantined: {k}", "value": v} for k, v in totals.get("quarantined_by_reason", {}).items()]
    out += [{"measure": f"skipped: {k}", "value": v} for k, v in totals.get("skipped_by_reason", {}).items()]
    if totals.get("unchanged"):
        out.append({"measure": "unchanged (lineage hash)", "value": totals["unchanged"]})
    deleted = totals.get("deleted_in_legacy") or totals.get("disappeared") or {}
    for what in ("sessions", "analyses"):
        if deleted.get(what):
            out.append({"measure": f"deleted in the legacy tables: {what} (kept)", "value": deleted[what]})
    out += [{"measure": f"rows: {table}", "value": count} for table, count in totals.get("rows", {}).items()]
    out += [
        {"measure": "wall seconds", "value": totals.get("wall_seconds", 0)},
        {"measure": "sessions per second", "value": totals.get("sessions_per_second", 0)},
    ]
    if totals.get("partitions") is not None:
        out.append({"measure": "partitions", "value": totals["partitions"]})
    out.append({"measure": "run id", "value": str(totals.get("run_id"))})
    return out


def summary_headline(totals: dict[str, Any], what: str = "migration") -> str:
    s = totals.get("sessions", {})
    return (
        f"statsfirst {what}: {s.get('in_range', 0):,} legacy sessions in range — {s.get('migrated', 0):,} migrated "
        f"({s.get('migrated_pending', 0):,} of them still pending in legacy), {s.get('quarantined', 0):,} quarantined"
        + (f", {s['skipped']:,} skipped" if s.get("skipped") else "")
        + f" ({totals.get('sessions_per_second', 0):,} sessions/s)"
    )


def flows_package(flows_dir: str | Path) -> None:
    """Make the repository's ``flows`` folder importable as the package ``flows``, however a flow file was loaded
    (a Prefect entrypoint, ``python flows/x.py``, or an import with ``flows/`` on ``sys.path``), so flows import
    each other as ``flows.<name>`` and never as top-level siblings that collide with other modules."""
    if "flows" in sys.modules:
        return
    init = Path(flows_dir) / "__init__.py"
    spec = importlib.util.spec_from_file_location("flows", init)
    if spec is None or spec.loader is None:  # pragma: no cover - the folder is part of the repository
        raise ImportError(f"cannot load the flows package from {init}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["flows"] = module
    spec.loader.exec_module(module)

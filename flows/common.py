"""What the flows share: task retry settings, failed states that say what to do, the summary table artifact."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_table_artifact
from prefect.logging import get_run_logger
from prefect.states import Failed, State

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.flow_support import (
    TASK_RETRIES,
    TASK_RETRY_DELAY_SECONDS,
    failure_line,
    retry_transient,
    summary_headline,
    summary_rows,
)

# Tag of every task that works the legacy/target database; a Prefect concurrency limit on it bounds the load.
DB_TAG = "statsfirst-db"

# keyword arguments of every database task: a transient failure (lost connection, server restart, terminated
# backend) is retried a few times, a short delay apart; a retry re-runs the same command, which resumes from the
# run ledger. Everything else fails at once.
DB_TASK: dict[str, Any] = {
    "tags": [DB_TAG],
    "retries": TASK_RETRIES,
    "retry_delay_seconds": TASK_RETRY_DELAY_SECONDS,
    "retry_condition_fn": retry_transient,
}


def failed(exc: Exception, dsn: ResolvedDsn | None = None) -> State[Any]:
    """The flow run's failed state for an error a person can act on: its message is the one line ``what is wrong —
    what to do`` (no password). Anything else (a bug) is re-raised, so Prefect keeps its traceback."""
    line = failure_line(exc, dsn)
    if line is None:
        raise exc
    get_run_logger().error(line)
    return Failed(message=line)


def failed_from(state: State[Any]) -> State[Any]:
    """A parent flow's failed state for a failed subflow run: the same one-line message."""
    return Failed(message=state.message or "a sub-flow failed — see its run for the reason")


def publish_summary(key: str, totals: dict[str, Any], what: str) -> None:
    """The run summary as a table artifact (one row per measure), described by its one-line headline."""
    create_table_artifact(key=key, table=summary_rows(totals), description=summary_headline(totals, what))

"""Prefect flow ``backfill``: a one-off range migrated as concurrent partitions (threads here, or a Dask cluster).

Thin: typed parameters (Prefect validates them), then the library plans or resumes the partitions, runs them as
``migrate-partition`` tasks (tag ``statsfirst-db``) at most ``workers`` at a time, and closes the run. Re-running
the same backfill after a kill resumes it partition by partition. The DSN comes from ``DATABASE_URL`` or the
Prefect Secret block named by ``dsn_secret_block``; the Dask scheduler from ``dask_address`` or the worker's
``STATSFIRST_DASK_ADDRESS`` (a deployment job variable).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from pydantic import Field

from statsfirst.pipeline.partitions import backfill as run_backfill


@flow(name="backfill")
def backfill(
    since: date | None = None,
    until: date | None = None,
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000,
    workers: Annotated[int, Field(ge=1, le=64)] = 2,
    partitions: Annotated[int | None, Field(ge=1)] = None,
    weights: str | None = None,
    dask_address: str | None = None,
    dsn_secret_block: str | None = None,
) -> dict[str, object]:
    """Migrate legacy sessions created in [since, until) as partitions, ``workers`` at a time."""
    totals = run_backfill(since, until, batch_size, workers, partitions, weights, dask_address, dsn_secret_block)
    create_markdown_artifact(
        key="statsfirst-backfill-summary",
        markdown=f"## statsfirst backfill\n\n```json\n{json.dumps(totals, indent=2)}\n```\n",
        description=f"sessions: {totals['sessions']}",
    )
    return totals


if __name__ == "__main__":
    backfill()

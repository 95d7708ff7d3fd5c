"""``statsfirst migrate --dask-address``: a partitioned backfill whose partitions run on a Dask cluster (no Prefect).

The coordinator (this process) plans or resumes the backfill on exactly the DSN it was given, submits at most
``workers`` partitions at a time and closes the run. Each partition task resolves its own DSN where it runs
(``DATABASE_URL`` in the Dask worker's environment) and refuses, in one line, when that is not the coordinator's
database (compared by host, port, dbname and user; the password never leaves this process). Workers living in this
process (a ``LocalCluster(processes=False)``) see the given DSN: it is set in ``DATABASE_URL`` for the run and the
previous value restored afterwards.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.errors import ConnectionProblem, UsageError
from statsfirst.flow_support import resolve_flow_dsn
from statsfirst.pipeline import partitions
from statsfirst.pipeline.options import MigrateOptions

SCHEDULER_TIMEOUT_SECONDS = 3.0


def check_scheduler(address: str, timeout: float = SCHEDULER_TIMEOUT_SECONDS) -> None:
    """Fail in one line, within ``timeout``, when nothing listens at the Dask scheduler's address."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme == "inproc":  # a scheduler in this very process (LocalCluster(processes=False)): nothing to probe
        return
    if parts.scheme not in ("tcp", "tls", "ws", "wss") or not parts.hostname:
        raise UsageError(
            f"the Dask scheduler address {address!r} is not of the form tcp://host:port",
            "give --dask-address (or STATSFIRST_DASK_ADDRESS) like tcp://scheduler:8786",
        )
    try:
        port = parts.port or 8786
    except ValueError:
        raise UsageError(
            f"the Dask scheduler address {address!r} has no valid port", "give it like tcp://scheduler:8786"
        ) from None
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConnectionProblem(
            f"the Dask scheduler at {address} is not reachable ({reason})",
            "start it (dask scheduler) or fix --dask-address / STATSFIRST_DASK_ADDRESS; nothing was migrated",
        ) from None


@contextmanager
def database_url(dsn: ResolvedDsn) -> Iterator[None]:
    """``DATABASE_URL`` = this DSN for the block (workers in this process resolve it), then what it was before."""
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = dsn.conninfo
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved


def partition_on_worker(
    identity: dict[str, str], backfill_run_id: str, partition: dict[str, Any], options: dict[str, Any]
) -> dict[str, object]:
    """A Dask task: one partition on the worker's own DSN (refused when it is not the backfill's target)."""
    import logging

    log = logging.getLogger("statsfirst.backfill").info
    return partitions.run_partition(resolve_flow_dsn(None), identity, backfill_run_id, partition, options, log)


def run_on_dask(
    dsn: ResolvedDsn, options: MigrateOptions, address: str, log: Callable[[str], object] = print
) -> dict[str, object]:
    """Plan or resume the backfill of ``options``' range on ``dsn``, run its partitions on the Dask scheduler at
    ``address`` (``options.workers`` at a time) and return the backfill's totals."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError(
            "--dask-address needs the Dask extra", "pip install 'statsfirst[dask]' (or drop --dask-address)"
        ) from None
    partitions.check_partitionable(options)
    check_scheduler(address)
    started = datetime.now().astimezone()
    run_id, pending = partitions.start_backfill(dsn, options, None, options.workers, log)
    identity = partitions.target_identity(dsn)
    parameters = partitions.options_json(options)
    processed = 0
    with database_url(dsn), Client(address, timeout=f"{SCHEDULER_TIMEOUT_SECONDS:.0f}s") as client:
        queue = [asdict(p) for p in pending]
        in_flight = as_completed()
        for _ in range(min(max(1, options.workers), len(queue))):
            partition = queue.pop(0)
            in_flight.add(client.submit(partition_on_worker, identity, run_id, partition, parameters, pure=False))
        for future in in_flight:
            result = future.result()
            processed += int(result["processed"])
            log(f"partition {result['partition']} done: {processed:,} sessions migrated by this backfill so far")
            if queue:
                partition = queue.pop(0)
                in_flight.add(client.submit(partition_on_worker, identity, run_id, partition, parameters, pure=False))
    return partitions.finish_backfill(dsn, run_id, started, processed)

"""`kill -9` of a real `statsfirst migrate` at 10 seeded-random points; each re-run ends exactly as a clean run does.

A point is "k batches committed, then a seeded random fraction of a batch's duration later", each k = 0..4 of 7
batches twice, so kills land while planning, extracting, validating, loading and committing, before the first commit
and with most batches committed. Two databases run the cycles side by side (each reset between cycles) to keep the
test short; the re-run is the same command (same range and batch size), so it resumes the killed run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
from fault_support import (
    SEED,
    SESSIONS,
    FaultWorld,
    batch_atomicity_violations,
    cli_env,
    migrate_command,
    reset,
    run_in_process,
    stable_state,
    wait_for_no_backends,
)

from statsfirst.db.dsn import ResolvedDsn

KILL_BATCH = 43
BATCHES = -(-SESSIONS // KILL_BATCH)  # 7
KILL_POINTS = 10


@dataclass
class Cycle:
    after_batches: int
    delay_fraction: float
    returncode: int | None = None
    committed_at_kill: int = 0
    violations: tuple[str, ...] = ()
    resumed: bool = False
    summary: dict[str, Any] | None = None
    state: dict[str, Any] | None = None


def kill_points() -> list[Cycle]:
    rng = random.Random(SEED)
    points = [Cycle(k, rng.random()) for k in [*range(KILL_POINTS // 2)] * 2]
    rng.shuffle(points)
    return points


def progress(conn: psycopg.Connection) -> tuple[int, int]:
    row = conn.execute("SELECT (SELECT count(*) FROM statsfirst.migration_runs),"
                       " (SELECT count(*) FROM statsfirst.migration_batches WHERE status = 'committed')").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def kill_and_resume(world: FaultWorld, dsn: ResolvedDsn, cycle: Cycle) -> None:
    proc = subprocess.Popen(migrate_command(dsn, batch_size=KILL_BATCH), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=cli_env())
    try:
        with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
            deadline = time.monotonic() + 90
            while proc.poll() is None and time.monotonic() < deadline:
                runs, committed = progress(conn)
                if runs and committed >= cycle.after_batches:
                    time.sleep(cycle.delay_fraction * world.batch_seconds * 0.5)
                    os.kill(proc.pid, signal.SIGKILL)
                    break
                time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    cycle.returncode = proc.returncode
    wait_for_no_backends(dsn)  # the killed client's open transaction is rolled back by the server
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        cycle.committed_at_kill = progress(conn)[1]
    cycle.violations = tuple(batch_atomicity_violations(dsn))
    summary = run_in_process(dsn, batch_size=KILL_BATCH)  # the same command: range and batch size define the run
    cycle.resumed = summary.resumed
    cycle.summary = summary.as_json()
    cycle.state = stable_state(dsn)


def lane(world: FaultWorld, cycles: list[Cycle]) -> None:
    with world.lease() as dsn:
        for cycle in cycles:
            kill_and_resume(world, dsn, cycle)
            reset(dsn)


def test_kill_9_at_ten_points_then_rerun_equals_a_clean_run(fault_world: FaultWorld) -> None:
    cycles = kill_points()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(lane, fault_world, cycles[i::2]) for i in range(2)]:
            future.result()
    report = [(c.after_batches, round(c.delay_fraction, 2), c.committed_at_kill, c.returncode) for c in cycles]
    print(f"kill points (after k batches, delay fraction, committed at kill, exit code): {report}")
    assert len({(c.after_batches, c.delay_fraction) for c in cycles}) == KILL_POINTS
    for cycle in cycles:
        assert cycle.returncode == -signal.SIGKILL, f"the run ended before kill point {cycle.after_batches}"
        assert cycle.committed_at_kill < BATCHES, cycle
        assert cycle.violations == (), cycle.violations
        assert cycle.resumed, "the re-run resumes the killed run instead of starting over"
        assert cycle.summary is not None and cycle.summary["sessions"] == fault_world.reference_summary["sessions"]
        assert cycle.summary["rows"] == fault_world.reference_summary["rows"]
        assert cycle.state == fault_world.reference, f"kill point {cycle.after_batches} differs from a clean run"
    # the points are spread over the run: kills before the first commit and with most batches committed
    assert min(c.committed_at_kill for c in cycles) == 0
    assert max(c.committed_at_kill for c in cycles) >= BATCHES // 2

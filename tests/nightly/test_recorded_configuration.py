"""The target's configuration is recorded once and used by every later run; other weights need --reweigh."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations
from statsfirst.legacy.baseline import init_legacy
from statsfirst.legacy.generator import seed_legacy

CLI = Path(sys.executable).parent / "statsfirst"
TARGET = "stats"
LEGACY = "compliance=0.5,symmetry=0.25,effort=0.25,game=0"
PLAN = "compliance=0.4,symmetry=0.25,effort=0.2,game=0.15"


def quiet(_: object) -> None:
    return None


def statsfirst(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=300, check=False)


def seeded(make_database: Callable[[], ResolvedDsn]) -> ResolvedDsn:
    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
        seed_legacy(conn, sessions=120, seed=3, bad_fraction=0.05)
    apply_migrations(dsn, target_schema=TARGET, log=quiet)
    return dsn


def weights_in_use(dsn: ResolvedDsn) -> tuple[object, set[str], int]:
    with psycopg.connect(dsn.conninfo) as conn:
        recorded = conn.execute("SELECT performance_weights FROM statsfirst.configuration").fetchone()
        rows = {r[0] for r in conn.execute(
            f"SELECT DISTINCT performance_weights::text FROM {TARGET}.performance_scores")}
        runs = conn.execute("SELECT count(*) FROM statsfirst.migration_runs").fetchone()
    return (recorded[0] if recorded else None), rows, int(runs[0]) if runs else 0


def test_first_run_records_the_migration_default_and_later_runs_keep_it(
    make_database: Callable[[], ResolvedDsn],
) -> None:
    dsn = seeded(make_database)
    first = statsfirst("migrate", "--dsn", dsn.conninfo, "--batch-size", "50")
    assert first.returncode == 0, first.stderr
    recorded, rows, _ = weights_in_use(dsn)
    assert recorded == {"compliance": 0.5, "symmetry": 0.25, "effort": 0.25, "game": 0.0}
    assert rows == {json.dumps(recorded, separators=(", ", ": "))}
    status = statsfirst("schema", "status", "--dsn", dsn.conninfo)
    assert status.returncode == 0 and "recorded configuration" in status.stdout, status.stdout
    cells = re.sub(r"[\s│]", "", status.stdout)  # a value longer than its column folds onto the next line
    assert "performanceweightscompliance=0.5,symmetry=0.25,effort=0.25,game=0" in cells, status.stdout
    # the nightly run passes no weights: it scores with the recorded ones, so nothing differs
    with psycopg.connect(dsn.conninfo) as conn:
        conn.execute("UPDATE public.c3d_metadata SET updated_at = now() WHERE id IN "
                     "(SELECT id FROM public.c3d_metadata ORDER BY id LIMIT 20)")
    nightly = statsfirst("migrate", "--dsn", dsn.conninfo, "--incremental", "--json")
    assert nightly.returncode == 0, nightly.stderr
    assert weights_in_use(dsn)[1] == rows
    check = statsfirst("reconcile", "--dsn", dsn.conninfo, "--format", "json")
    report = json.loads(check.stdout)
    assert check.returncode == 0 and report["scope"]["configuration"]["performance weights"] == (
        "compliance=0.5,symmetry=0.25,effort=0.25,game=0"), report["mismatches"][:3]
    # with game weight 0, the sessions with both sides, an RPE and no BFR gate problem have an overall score
    assert report["completeness"]["overall_score_computable"] > 0


def test_other_weights_are_refused_in_one_line_and_reweigh_rewrites_every_score(
    make_database: Callable[[], ResolvedDsn],
) -> None:
    dsn = seeded(make_database)
    assert statsfirst("migrate", "--dsn", dsn.conninfo, "--weights", LEGACY).returncode == 0
    before = weights_in_use(dsn)

    refused = statsfirst("migrate", "--dsn", dsn.conninfo, "--weights", PLAN)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr
    assert "differ from the weights recorded" in lines[0] and "--reweigh" in lines[0]
    assert weights_in_use(dsn) == before  # nothing written, no run started

    bare = statsfirst("migrate", "--dsn", dsn.conninfo, "--reweigh")
    assert bare.returncode == 2 and "--reweigh needs the new weights" in bare.stderr
    incremental = statsfirst("migrate", "--dsn", dsn.conninfo, "--incremental", "--reweigh", "--weights", PLAN)
    assert incremental.returncode == 2 and "runs over every session" in incremental.stderr
    assert weights_in_use(dsn) == before

    reweighed = statsfirst("migrate", "--dsn", dsn.conninfo, "--reweigh", "--weights", PLAN)
    assert reweighed.returncode == 0, reweighed.stderr
    recorded, rows, _ = weights_in_use(dsn)
    assert recorded == {"compliance": 0.4, "symmetry": 0.25, "effort": 0.2, "game": 0.15}
    assert rows == {json.dumps(recorded, separators=(", ", ": "))}
    check = statsfirst("reconcile", "--dsn", dsn.conninfo, "--format", "json")
    assert check.returncode == 0, json.loads(check.stdout)["mismatches"][:3]
    # the same weights again are not "different": accepted without --reweigh
    assert statsfirst("migrate", "--dsn", dsn.conninfo, "--weights", PLAN).returncode == 0

"""statsfirst against the alternatives on like-for-like work, side by side in one run: prints Markdown, writes JSON.

Usage:
    python bench/run.py [--sessions 10000,100000] [--dsn ADMIN] [--repeat 3] [--quick] [--out bench/results]

For each N: one database is seeded (``contenders/seed.py``: ``seed_legacy`` with seed 1, 1 % spoiled sessions, and
~2 % of the channels' counts removed or nulled so a stale completion rule shows), the schema is applied (target
schema ``stats``) and the database is VACUUM FREEZE ANALYZEd. Every contender then runs in its own process on its
own copy of that database (``CREATE DATABASE ... TEMPLATE``), so all start from identical state. Every figure is
the process' wall time and its CPU (the process' own + its server backends', from /proc), peak RSS from VmHWM:

1. statsfirst: ``statsfirst migrate --workers W --batch-size B --json``, on localhost and through a loopback proxy
   that delays each direction by 2.5 ms (``contenders/proxy.py``: a 5 ms round trip); reconcile timed apart;
2. all-SQL: ``contenders/all_sql.sql``, one transaction of set-based INSERT ... SELECT writing the same rows to the
   same nine tables (7 target + 2 lineage), checked equal to statsfirst's table by table; once through the proxy;
3. row-by-row: a plain psycopg loop over the first ``--row-by-row-limit`` sessions (3 tables), on localhost and
   through the proxy; only its per-session loop is extrapolated to N (its set-up is paid once);
4. the floor, two ways on statsfirst's own output rows: COPY out of the legacy bytes the mapping reads + COPY into
   the finished tables (every index, CHECK and foreign key in place), and the true floor of a bulk load: COPY into
   the tables without secondary indexes, CHECKs and foreign keys, then CREATE INDEX and ADD CONSTRAINT ... NOT
   VALID + VALIDATE;
5. dashboard: two reads on the new tables vs the same numbers computed from the legacy JSONB (p50/p95);
6. emg_signals bloat (once, on ``--signal-sessions`` sessions): statsfirst and the true floor on the same plain and
   signal-heavy databases, each one's penalty.

Contenders 1 (both), 2 and 4 (both) run ``--repeat`` times in rotating order (the median is reported). The
top-level "ratios" (those at the largest N) are exactly: vs_all_sql (all-SQL wall / statsfirst wall),
vs_floor_cpu (statsfirst CPU / true-floor CPU), vs_row_by_row_at_5ms (row-by-row wall / statsfirst wall, both
through the proxy), latency_retention_5ms (statsfirst wall on localhost / through the proxy = throughput kept) and
dashboard_speedup (legacy p50 / new p50, the worse of the two reads); the rest is under each size's
"more_ratios". Every scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contenders.common import (
    BENCH_DIR,
    TARGET_SCHEMA,
    ChildRun,
    contender_command,
    create_database,
    database_dsn,
    drop_database,
    run_child,
)
from contenders.floor import dump_tables
from contenders.proxy import LatencyProxy, proxied_dsn, select1_ms, upstream_of
from contenders.verify import ROW_BY_ROW_TABLES, compare
from statsfirst.db.dsn import ResolvedDsn, resolve_dsn
from statsfirst.db.migrations import apply_migrations

STATSFIRST = str(Path(sys.executable).parent / "statsfirst")
# Repeated in rotating order, median reported: the figures the ratios are made of.
MIGRATION_CONTENDERS = ("statsfirst", "statsfirst_5ms", "all_sql", "floor_finished", "floor_bare")
# The top-level "ratios" hold exactly these keys (issue 17), each with its target.
RATIO_TARGETS = {
    "vs_all_sql": (">=", 1.0),
    "vs_floor_cpu": ("<=", 2.0),
    "vs_row_by_row_at_5ms": (">=", 100.0),
    "latency_retention_5ms": (">=", 0.8),
    "dashboard_speedup": (">=", 10.0),
}
TARGETS = {**RATIO_TARGETS, "peak_rss_growth": ("<=", 1.2)}
# floor.py's arguments per floor contender: the true floor is "bare" (ADD CONSTRAINT ... NOT VALID, then
# VALIDATE each); "one-pass" adds a table's CHECKs validated in one ALTER TABLE (one scan, not one per CHECK)
FLOOR_VARIANTS = {
    "floor_finished": ["--variant", "finished"],
    "floor_bare": ["--variant", "bare"],
    "floor_one_pass": ["--variant", "bare", "--checks", "one-pass"],
}
ONE_WAY_DELAY_S = 0.0025  # the proxy delays each direction: a 5 ms round trip


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------- machine
def machine_info(admin: str) -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        (int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
         if line.startswith("MemTotal")),
        0,
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        version = conn.execute("SELECT version()").fetchone()
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN ('shared_buffers', "
                "'work_mem', 'jit', 'max_parallel_workers_per_gather', 'synchronous_commit', 'max_wal_size')"
            ).fetchall()
        )
    import statsfirst

    # the statsfirst actually imported (PYTHONPATH may point at a snapshot: a `git archive` with a .commit file)
    source = Path(statsfirst.__file__).resolve().parents[2]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=source, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "sql"], cwd=source, capture_output=True,
                           text=True)
    snapshot = source / ".commit"
    from importlib.metadata import version as package_version

    return {
        "cpu_model": cpu,
        "nproc": os.cpu_count(),
        "ram_gib": round(mem_kb / 2**20, 1),
        "postgresql": (version[0] if version else "unknown").split(" on ")[0],
        "postgresql_settings": settings,
        "python": platform.python_version(),
        "polars": package_version("polars"),
        "statsfirst_source": str(source),
        "statsfirst_commit": (snapshot.read_text().strip()[:7] if snapshot.is_file() else commit.stdout.strip())
        or None,
        "statsfirst_uncommitted_changes": False if snapshot.is_file() else bool(dirty.stdout.strip()),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# ----------------------------------------------------------------------------------------------- one size
class Databases:
    """Scratch databases of this run (named sfb_<run>_<N>_<label>), all dropped at the end."""

    def __init__(self, admin: str, run_tag: str, keep: bool) -> None:
        self.admin, self.run_tag, self.keep = admin, run_tag, keep
        self.created: list[str] = []

    def new(self, label: str, template: str | None = None) -> str:
        name = f"sfb_{self.run_tag}_{label}"
        create_database(self.admin, name, template)
        self.created.append(name)
        return name

    def dsn(self, name: str) -> str:
        return database_dsn(self.admin, name)

    def drop(self, name: str) -> None:
        if not self.keep:
            drop_database(self.admin, name)
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            self.drop(name)


def seed(dbs: Databases, label: str, sessions: int, signal_samples: int) -> tuple[str, dict[str, Any]]:
    """A seeded legacy database with the target schema applied, vacuumed (frozen) and analyzed."""
    name = dbs.new(label)
    run = run_child(
        contender_command("seed", ["--dsn", dbs.dsn(name), "--sessions", str(sessions),
                                   "--signal-samples", str(signal_samples)]),
        admin=dbs.admin, dbname=name,
    )
    apply_migrations(ResolvedDsn(dbs.dsn(name), "--dsn"), target_schema=TARGET_SCHEMA, log=lambda _: None)
    with psycopg.connect(dbs.dsn(name), autocommit=True) as conn:
        conn.execute("VACUUM (FREEZE, ANALYZE)")
    return name, {**run.measured(), **run.json_result()}


def statsfirst_migrate(dsn: str, dbs: Databases, name: str, args: argparse.Namespace) -> ChildRun:
    return run_child(
        [STATSFIRST, "migrate", "--dsn", dsn, "--json", "--workers", str(args.workers),
         "--batch-size", str(args.batch_size)],
        admin=dbs.admin, dbname=name,
    )


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each measured number over repeated runs, plus every run's wall time."""
    out: dict[str, Any] = {}
    for key in ("wall_s", "client_cpu_s", "server_cpu_s", "total_cpu_s", "peak_rss_mb", "seconds"):
        values = [r[key] for r in runs if r.get(key) is not None]
        if values:
            out[key] = round(statistics.median(values), 3)
    out["runs_wall_s"] = [r["wall_s"] for r in runs]
    return out


class SizeRun:
    """One N: a seeded template, statsfirst's reference result (kept for row checks, the floor and the dashboard)
    and a latency proxy in front of the server, shared by every contender that runs through it."""

    def __init__(self, dbs: Databases, n: int, args: argparse.Namespace, proxy: LatencyProxy) -> None:
        self.dbs, self.n, self.args, self.proxy = dbs, n, args, proxy
        self.seeded = ""
        self.reference: str | None = None
        self.dump_dir = Path(tempfile.mkdtemp(prefix="sfb_dump_"))
        self.result: dict[str, Any] = {"sessions": n, "seed": {}, "contenders": {}}

    def dsn(self, name: str, slow: bool = False) -> str:
        plain = self.dbs.dsn(name)
        return proxied_dsn(plain, self.proxy.port) if slow else plain

    def copy(self, label: str) -> str:
        return self.dbs.new(f"{self.n}_{label}", template=self.seeded)

    # ------------------------------------------------------------------------------------------ one contender
    def run_contender(self, contender: str, r: int) -> dict[str, Any]:
        """One run of a migration contender on a fresh copy of the seeded database; its measured numbers."""
        name = self.copy(f"{contender}_{r}")
        try:
            if contender.startswith("statsfirst"):
                run = statsfirst_migrate(self.dsn(name, contender.endswith("_5ms")), self.dbs, name, self.args)
                summary = run.json_result()
                if contender == "statsfirst" and self.reference is None:
                    self.keep_reference(name, summary)
                    name = ""  # kept: dropped at the end of the size
                return {**run.measured(), "seconds": summary.get("wall_seconds"),
                        "quarantined": sum(summary.get("quarantined_by_reason", {}).values())}
            if contender.startswith("all_sql"):
                run = run_child(contender_command("all_sql", ["--dsn", self.dsn(name, contender.endswith("_5ms"))]),
                                admin=self.dbs.admin, dbname=name)
                own = run.json_result()
                if contender == "all_sql" and "all_sql" not in self.result["contenders"]:
                    assert self.reference is not None, "statsfirst runs before all-SQL in the first round"
                    self.result["contenders"]["all_sql"] = {
                        "left_out_sessions": own.get("left_out_sessions"), "rows": own.get("rows"),
                        "statements": own.get("statements"),
                        "same_rows_as_statsfirst": compare(self.dbs.dsn(self.reference), self.dbs.dsn(name)),
                    }
                return {**run.measured(), "seconds": own.get("seconds")}
            variant = FLOOR_VARIANTS[contender]
            run = run_child(contender_command("floor", ["--dsn", self.dsn(name), "--dump-dir", str(self.dump_dir),
                                                        *variant]),
                            admin=self.dbs.admin, dbname=name)
            return {**run.measured(), "phases": run.json_result()}
        finally:
            if name:
                self.dbs.drop(name)

    def keep_reference(self, name: str, summary: dict[str, Any]) -> None:
        """statsfirst's first run: its output rows (for the floor), its reconciliation, its summary."""
        self.reference = name
        self.result["contenders"]["statsfirst"] = {"summary": summary}
        dump_tables(self.dbs.dsn(name), self.dump_dir)
        self.result["rows_bytes_by_table"] = {
            f.name.removesuffix(".bin"): f.stat().st_size for f in sorted(self.dump_dir.glob("*.bin"))
        }
        log(f"N={self.n}: statsfirst reconcile")
        rec = run_child([STATSFIRST, "reconcile", "--dsn", self.dbs.dsn(name), "--format", "json"],
                        admin=self.dbs.admin, dbname=name, ok_codes=(0, 1))
        self.result["contenders"]["statsfirst_reconcile"] = {
            **rec.measured(), "exit_code": rec.returncode, "reconciled": rec.json_result()["reconciled"],
        }

    # ------------------------------------------------------------------------------------------ the size
    def run(self) -> dict[str, Any]:
        args, n = self.args, self.n
        log(f"N={n}: seeding")
        self.seeded, self.result["seed"]["signal_samples_0"] = seed(self.dbs, f"{n}_seed", n, 0)
        try:
            self.migrations()
            self.single_runs()
            self.result["contenders"]["row_by_row"] = self.row_by_row(slow=False, limit=args.row_by_row_limit)
            self.result["contenders"]["row_by_row_5ms"] = self.row_by_row(slow=True,
                                                                          limit=args.row_by_row_limit_5ms)
            self.dashboard()
        finally:
            shutil.rmtree(self.dump_dir, ignore_errors=True)
            if self.reference:
                self.dbs.drop(self.reference)
            self.dbs.drop(self.seeded)
        self.result["ratios"], self.result["more_ratios"] = ratios(self.result)
        return self.result

    def migrations(self) -> None:
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in MIGRATION_CONTENDERS}
        count = len(MIGRATION_CONTENDERS)
        for r in range(self.args.repeat):
            order = MIGRATION_CONTENDERS[r % count:] + MIGRATION_CONTENDERS[: r % count]
            if r == 0:  # statsfirst's reference run comes first: the floor loads its rows, all-SQL is checked on it
                order = MIGRATION_CONTENDERS
            for contender in order:
                log(f"N={self.n} run {r + 1}/{self.args.repeat}: {contender}")
                runs[contender].append(self.run_contender(contender, r))
        for contender, repeats in runs.items():
            entry = self.result["contenders"].setdefault(contender, {})
            entry.update(median_of(repeats))
            if contender.startswith("floor"):
                entry["phases"] = repeats[0]["phases"]
            if contender.startswith("statsfirst"):
                entry["quarantined"] = repeats[0].get("quarantined")

    def single_runs(self) -> None:
        """Shown beside the ratios, run once: all-SQL through the proxy (a handful of statements: latency cannot
        matter much) and the bare floor with each table's CHECKs added in one validated pass."""
        for contender in ("all_sql_5ms", "floor_one_pass"):
            log(f"N={self.n}: {contender}")
            self.result["contenders"][contender] = self.run_contender(contender, 0)

    def row_by_row(self, slow: bool, limit: int) -> dict[str, Any]:
        """The loop over the first ``limit`` sessions, its per-session part extrapolated to N (set-up once)."""
        limit = min(limit, self.n)
        label = "row_by_row_5ms" if slow else "row_by_row"
        log(f"N={self.n}: {label} on the first {limit} sessions")
        name = self.copy(label)
        run = run_child(contender_command("row_by_row", ["--dsn", self.dsn(name, slow), "--limit", str(limit)]),
                        admin=self.dbs.admin, dbname=name)
        own = run.json_result()
        with psycopg.connect(self.dbs.dsn(self.seeded)) as conn:
            ids = [str(r[0]) for r in conn.execute("SELECT id FROM public.c3d_metadata ORDER BY id LIMIT %s",
                                                   (limit,))]
        assert self.reference is not None
        same = compare(self.dbs.dsn(self.reference), self.dbs.dsn(name), ids, tables=ROW_BY_ROW_TABLES)
        self.dbs.drop(name)
        return {**extrapolate(run, own, self.n / limit), "extrapolated_from": limit, "measured": {
            **run.measured(), **own}, "same_rows_as_statsfirst": same}

    def dashboard(self) -> None:
        log(f"N={self.n}: dashboard")
        assert self.reference is not None
        with psycopg.connect(self.dbs.dsn(self.reference), autocommit=True) as conn:
            conn.execute(f"VACUUM ANALYZE {TARGET_SCHEMA}.therapy_sessions, {TARGET_SCHEMA}.performance_scores")
        dash = run_child(contender_command("dashboard", ["--dsn", self.dbs.dsn(self.reference), "--samples",
                                                         str(self.args.dashboard_samples)]),
                         admin=self.dbs.admin, dbname=self.reference)
        self.result["dashboard"] = {**dash.json_result(), "process": dash.measured()}


def extrapolate(run: ChildRun, own: dict[str, Any], scale: float) -> dict[str, Any]:
    """Process figures with the loop's share scaled: set-up + loop · scale (wall, client CPU, server CPU)."""
    def scaled(total: float | None, loop: float | None) -> float | None:
        if total is None or loop is None:
            return None
        return round(total - loop + loop * scale, 3)

    client = scaled(run.client_cpu_s, own.get("loop_client_cpu_s"))
    server = scaled(run.server_cpu_s, own.get("loop_server_cpu_s"))
    return {
        "wall_s": scaled(run.wall_s, own.get("loop_wall_s")),
        "client_cpu_s": client,
        "server_cpu_s": server,
        "total_cpu_s": None if client is None or server is None else round(client + server, 3),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
    }


def signal_bloat(dbs: Databases, args: argparse.Namespace, proxy: LatencyProxy) -> dict[str, Any]:
    """statsfirst and the true floor on the same plain and emg_signals-heavy databases: each one's penalty."""
    sessions = args.signal_sessions
    out: dict[str, Any] = {"sessions": sessions, "signal_samples": args.signal_samples}
    for label, samples in (("plain", 0), ("signal_heavy", args.signal_samples)):
        log(f"signal bloat: seeding {sessions} sessions with --signal-samples {samples}")
        size = SizeRun(dbs, sessions, args, proxy)
        size.seeded, seeded = seed(dbs, f"bloat_{label}", sessions, samples)
        try:
            log(f"signal bloat: statsfirst and the floor on the {label} database")
            statsfirst = size.run_contender("statsfirst", 0)
            floor = size.run_contender("floor_bare", 0)
        finally:
            shutil.rmtree(size.dump_dir, ignore_errors=True)
            if size.reference:
                dbs.drop(size.reference)
            dbs.drop(size.seeded)
        out[label] = {"seed": seeded, "statsfirst": statsfirst, "floor_bare": floor}
    for who in ("statsfirst", "floor_bare"):
        out[f"{who}_penalty"] = _ratio(out["signal_heavy"][who]["wall_s"], out["plain"][who]["wall_s"])
    return out


# ----------------------------------------------------------------------------------------------- ratios
def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else round(a / b, 2)


def ratios(result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The five ratios of the issue (like-for-like, process wall or process CPU), and the others shown beside."""
    c = result["contenders"]
    sf, sf5, sql_, bare, finished = (c["statsfirst"], c["statsfirst_5ms"], c["all_sql"], c["floor_bare"],
                                     c["floor_finished"])
    rbr, rbr5 = c["row_by_row"], c["row_by_row_5ms"]
    dash = result.get("dashboard", {})
    speedups = [dash[q]["speedup_p50"] for q in ("patient_14d", "clinic_14d") if q in dash]
    main = {
        "vs_all_sql": _ratio(sql_["wall_s"], sf["wall_s"]),
        "vs_floor_cpu": _ratio(sf.get("total_cpu_s"), bare.get("total_cpu_s")),
        "vs_row_by_row_at_5ms": _ratio(rbr5["wall_s"], sf5["wall_s"]),
        "latency_retention_5ms": _ratio(sf["wall_s"], sf5["wall_s"]),
        "dashboard_speedup": min(speedups) if speedups else None,
    }
    more = {
        "vs_all_sql_cpu": _ratio(sql_.get("total_cpu_s"), sf.get("total_cpu_s")),
        "vs_all_sql_at_5ms": _ratio(c["all_sql_5ms"]["wall_s"], sf5["wall_s"]),
        "vs_floor_wall": _ratio(sf["wall_s"], bare["wall_s"]),
        "vs_floor_finished_tables_cpu": _ratio(sf.get("total_cpu_s"), finished.get("total_cpu_s")),
        "vs_floor_one_pass_cpu": _ratio(sf.get("total_cpu_s"), c["floor_one_pass"].get("total_cpu_s")),
        "vs_row_by_row_localhost": _ratio(rbr["wall_s"], sf["wall_s"]),
        "vs_row_by_row_at_5ms_cpu": _ratio(rbr5.get("total_cpu_s"), sf5.get("total_cpu_s")),
    }
    return main, more


def targets(results: dict[str, Any]) -> dict[str, Any]:
    sizes = sorted(results["sizes"], key=int)
    largest = results["sizes"][sizes[-1]]["ratios"]
    out: dict[str, Any] = {}
    for name, (op, bound) in TARGETS.items():
        if name == "peak_rss_growth":
            rss = [results["sizes"][s]["contenders"]["statsfirst"]["peak_rss_mb"] for s in sizes]
            value = round(rss[-1] / rss[0], 2) if len(rss) > 1 else None
        else:
            value = largest.get(name)
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        out[name] = {"value": value, "target": f"{op} {bound:g}", "met": met, "at_sessions": int(sizes[-1])}
    return out


# ----------------------------------------------------------------------------------------------- Markdown
def _n(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}"
    return str(value)


CONTENDER_LABELS = {
    "statsfirst": "statsfirst migrate",
    "statsfirst_5ms": "statsfirst migrate, through the 5 ms proxy",
    "statsfirst_reconcile": "statsfirst reconcile (separately)",
    "all_sql": "all-SQL INSERT … SELECT, the same 9 tables",
    "all_sql_5ms": "all-SQL, through the 5 ms proxy (1 run)",
    "row_by_row": "row-by-row psycopg loop (3 tables; loop extrapolated from {k})",
    "row_by_row_5ms": "row-by-row, through the 5 ms proxy (loop extrapolated from {k})",
    "floor_finished": "COPY out + COPY into the finished tables",
    "floor_bare": "true floor: COPY out + COPY into bare tables + build indexes + VALIDATE",
    "floor_one_pass": "true floor, each table's CHECKs validated in one pass (1 run)",
}
RATIO_LABELS = {
    "vs_all_sql": "vs_all_sql = all-SQL wall / statsfirst wall",
    "vs_floor_cpu": "vs_floor_cpu = statsfirst CPU / true-floor CPU",
    "vs_row_by_row_at_5ms": "vs_row_by_row_at_5ms = row-by-row wall / statsfirst wall, both at 5 ms",
    "latency_retention_5ms": "latency_retention_5ms = statsfirst throughput at 5 ms / on localhost",
    "dashboard_speedup": "dashboard_speedup = legacy p50 / new p50 (worse of 2 reads)",
}


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    sizes = sorted(results["sizes"], key=int)
    cols = [f"{int(s):,}" for s in sizes]
    s = results["settings"]
    out = [
        f"### Benchmarks ({results['generated_at'][:10]}, statsfirst {m['statsfirst_commit']})",
        "",
        f"Machine: {m['cpu_model']}, {m['nproc']} CPUs, {m['ram_gib']} GiB RAM, {m['postgresql']} "
        f"(shared_buffers {m['postgresql_settings'].get('shared_buffers')}), Python {m['python']}; shared and "
        f"noisy (load average {m['load_average_at_start'][0]} at start). statsfirst ran as `statsfirst migrate "
        f"--workers {s['workers']} --batch-size {s['batch_size']}`. Every contender in its own process on its own "
        f"copy of the same seeded database; {', '.join(MIGRATION_CONTENDERS)} {s['repeat']}× in rotating order, "
        "median shown. Wall = the process' wall time; CPU = the process' own CPU + its PostgreSQL backends' CPU. "
        "\"5 ms\": through a loopback proxy that delays each direction by 2.5 ms.",
        "",
        "| contender | " + " | ".join(f"{c}: wall s | CPU s (client + server) | peak RSS MB" for c in cols) + " |",
        "|---|" + "---|---|---|" * len(cols),
    ]
    for key, label in CONTENDER_LABELS.items():
        cells = []
        for size in sizes:
            c = results["sizes"][size]["contenders"].get(key, {})
            cpu = f"{_n(c.get('total_cpu_s'), 2)} ({_n(c.get('client_cpu_s'), 2)} + {_n(c.get('server_cpu_s'), 2)})"
            cells.append(f"{_n(c.get('wall_s'), 2)} | {cpu} | {_n(c.get('peak_rss_mb'), 0)}")
            if "{k}" in label:
                label = label.format(k=f"{c.get('extrapolated_from', 0):,}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    checks = []
    for size in sizes:
        contenders = results["sizes"][size]["contenders"]
        same = contenders["all_sql"].get("same_rows_as_statsfirst", {})
        tables = [t for t, v in same.items() if isinstance(v, dict)]
        checks.append(
            f"at {int(size):,}: all-SQL {'identical' if same.get('identical') else 'DIFFERENT'} on {len(tables)} "
            f"tables, {_n(contenders['all_sql'].get('left_out_sessions'), 0)} sessions left out (statsfirst "
            f"quarantined {_n(contenders['statsfirst'].get('quarantined'), 0)}); row-by-row "
            f"{'identical' if contenders['row_by_row']['same_rows_as_statsfirst'].get('identical') else 'DIFFERENT'}"
        )
    out += ["", "Row checks against statsfirst's rows (every column but generated ones; floats to 12 significant "
            "digits): " + "; ".join(checks) + ".", "",
            "| ratio | " + " | ".join(cols) + " | target | met |", "|---|" + "---|" * len(cols) + "---|---|"]
    tg = results["targets"]
    for key, label in RATIO_LABELS.items():
        cells = [_n(results["sizes"][size]["ratios"].get(key), 2) for size in sizes]
        t = tg[key]
        out.append(f"| {label} | " + " | ".join(cells) + f" | {t['target']} | {_yes(t['met'])} |")
    rss = [results["sizes"][size]["contenders"]["statsfirst"]["peak_rss_mb"] for size in sizes]
    t = tg["peak_rss_growth"]
    out.append(
        "| statsfirst peak RSS (MB; growth largest/smallest N) | "
        + " | ".join(_n(x, 0) for x in rss)
        + f" | {t['target']} (flat) | {_yes(t['met'])} ({_n(t['value'], 2)}) |"
    )
    more = sorted({k for size in sizes for k in results["sizes"][size]["more_ratios"]})
    for key in more:
        out.append(f"| ({key}) | " + " | ".join(_n(results["sizes"][size]["more_ratios"].get(key), 2)
                                              for size in sizes) + " | | |")
    out += ["", "| dashboard read (ms) | " + " | ".join(f"{c}: new p50 / p95 | legacy p50 / p95 | speedup p50"
                                                        for c in cols) + " |",
            "|---|" + "---|---|---|" * len(cols)]
    for query, label in (("patient_14d", "one patient, 14 days"), ("clinic_14d", "clinic-wide summary, 14 days")):
        cells = []
        for size in sizes:
            d = results["sizes"][size].get("dashboard", {}).get(query)
            if not d:
                cells.append("– | – | –")
                continue
            cells.append(
                f"{_n(d['new']['p50_ms'], 2)} / {_n(d['new']['p95_ms'], 2)} | "
                f"{_n(d['legacy']['p50_ms'], 2)} / {_n(d['legacy']['p95_ms'], 2)} | {_n(d['speedup_p50'], 1)}×"
            )
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    bloat = results.get("signal_bloat")
    if bloat:
        out += ["", f"emg_signals bloat ({bloat['sessions']:,} sessions, {bloat['signal_samples']:,} samples per "
                "signal; the same two databases for both):", "",
                "| | plain: wall s | signal-heavy: wall s | penalty |", "|---|---|---|---|"]
        for who, label in (("statsfirst", "statsfirst migrate"), ("floor_bare", "true floor")):
            out.append(f"| {label} | {_n(bloat['plain'][who]['wall_s'], 2)} | "
                       f"{_n(bloat['signal_heavy'][who]['wall_s'], 2)} | ×{_n(bloat[f'{who}_penalty'], 2)} |")
        for label in ("plain", "signal_heavy"):
            seeded = bloat[label]["seed"]
            out.append(f"| seed {label}: s / database MB | {_n(seeded.get('wall_s'), 1)} / "
                       f"{_n(seeded.get('database_mb'), 0)} | | |")
    return "\n".join(out) + "\n"


def _yes(met: bool | None) -> str:
    return "–" if met is None else ("yes" if met else "**no**")


# ----------------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default=None, help="comma-separated sizes (default 10000,100000)")
    parser.add_argument("--dsn", default=None, help="admin DSN (default: DATABASE_URL, else the embedded server)")
    parser.add_argument("--repeat", type=int, default=None, help="runs of each migration contender (default 3)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--row-by-row-limit", type=int, default=None, help="sessions measured (default 2000)")
    parser.add_argument("--row-by-row-limit-5ms", type=int, default=None,
                        help="sessions measured through the proxy (default 1000)")
    parser.add_argument("--dashboard-samples", type=int, default=None, help="parameter sets per read (default 50)")
    parser.add_argument("--signal-samples", type=int, default=None, help="emg_signals samples (default 20000)")
    parser.add_argument("--signal-sessions", type=int, default=None,
                        help="sessions of the signal-bloat databases (default 5000)")
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes: 300 sessions, 1 repeat, few samples")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="directory for the JSON result")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases (debugging)")
    args = parser.parse_args()
    quick = args.quick
    args.sessions = [int(x) for x in (args.sessions or ("300" if quick else "10000,100000")).split(",")]
    args.repeat = args.repeat or (1 if quick else 3)
    args.row_by_row_limit = args.row_by_row_limit or (100 if quick else 2000)
    args.row_by_row_limit_5ms = args.row_by_row_limit_5ms or (50 if quick else 1000)
    args.dashboard_samples = args.dashboard_samples or (5 if quick else 50)
    args.signal_samples = args.signal_samples if args.signal_samples is not None else (200 if quick else 20000)
    args.signal_sessions = args.signal_sessions or (200 if quick else 5000)

    admin = resolve_dsn(args.dsn).conninfo
    started = time.perf_counter()
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(admin),
        "settings": {
            "sessions": args.sessions, "repeat": args.repeat, "workers": args.workers,
            "batch_size": args.batch_size, "row_by_row_limit": args.row_by_row_limit,
            "row_by_row_limit_5ms": args.row_by_row_limit_5ms, "dashboard_samples": args.dashboard_samples,
            "signal_samples": args.signal_samples, "signal_sessions": args.signal_sessions, "seed": 1,
            "bad_fraction": 0.01, "target_schema": TARGET_SCHEMA, "quick": quick,
            "proxy_delay_each_way_ms": ONE_WAY_DELAY_S * 1000,
        },
        "sizes": {},
    }
    dbs = Databases(admin, uuid.uuid4().hex[:6], args.keep)
    host, port = upstream_of(admin)
    with LatencyProxy(host, port, delay_s=ONE_WAY_DELAY_S) as proxy:
        results["proxy"] = {
            "delay_each_way_ms": ONE_WAY_DELAY_S * 1000,
            "direct_ms": round(select1_ms(admin, 100), 3),
            "proxied_ms": round(select1_ms(proxied_dsn(admin, proxy.port), 100), 3),
        }
        log(f"round trip of SELECT 1: {results['proxy']['direct_ms']} ms direct, "
            f"{results['proxy']['proxied_ms']} ms through the proxy")
        try:
            for n in args.sessions:
                results["sizes"][str(n)] = SizeRun(dbs, n, args, proxy).run()
            if args.signal_samples > 0:
                results["signal_bloat"] = signal_bloat(dbs, args, proxy)
        finally:
            dbs.drop_all()
    results["targets"] = targets(results)
    largest = results["sizes"][str(max(args.sessions))]["ratios"]
    results["ratios"] = {k: largest[k] for k in RATIO_TARGETS}
    results["ratios_by_size"] = {size: r["ratios"] for size, r in results["sizes"].items()}
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["markdown"] = markdown(results)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(results["markdown"])
    print(f"JSON: {path}")


if __name__ == "__main__":
    main()

"""statsfirst against the alternatives, side by side in one run: prints a Markdown table, writes JSON.

Usage:
    python bench/run.py [--sessions 10000,100000] [--dsn ADMIN] [--repeat 3] [--quick] [--out bench/results]

For each N: one database is seeded (``seed_legacy``, seed 1, 1 % spoiled sessions), the schema is applied (target
schema ``stats``) and the database is VACUUM FREEZE ANALYZEd. Every contender then runs in its own process
(peak RSS from wait4 on that process alone; CPU = the process' own CPU + the CPU of its server backends) on its own
copy of that database (``CREATE DATABASE ... TEMPLATE``), so all start from identical state:

1. statsfirst: ``statsfirst migrate --workers W --batch-size B --json`` (then ``statsfirst reconcile --format json``,
   timed separately);
2. all-SQL: ``contenders/all_sql.sql`` (set-based INSERT ... SELECT, one transaction), rows checked equal to
   statsfirst's for therapy_sessions, emg_statistics and performance_scores;
3. row-by-row: a plain psycopg loop over the first ``--row-by-row-limit`` sessions, extrapolated linearly to N
   (its rows checked equal to statsfirst's for those sessions);
4. floor: COPY out of the legacy bytes the mapping needs + COPY in of statsfirst's own output rows;
5. dashboard: two reads on the new tables vs the same numbers computed from the legacy JSONB (p50/p95);
6. seeding with ``--signal-samples`` (emg_signals bloat) vs 0, and statsfirst on the signal-heavy database.

Migration contenders 1, 2 and 4 run ``--repeat`` times in rotating order (the median is reported). Ratios:
vs_all_sql = all-SQL / statsfirst, vs_floor = statsfirst / floor, vs_row_by_row = row-by-row / statsfirst (wall
time; the CPU-time ratios are reported too), dashboard_speedup = legacy p50 / new p50 (the smaller of the two reads).
The top-level "ratios" are those at the largest N. Every scratch database is dropped at the end.
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
from collections.abc import Callable
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
from contenders.verify import compare
from statsfirst.db.dsn import ResolvedDsn, resolve_dsn
from statsfirst.db.migrations import apply_migrations

STATSFIRST = str(Path(sys.executable).parent / "statsfirst")
MIGRATION_CONTENDERS = ("statsfirst", "all_sql", "floor")
TARGETS = {
    "vs_all_sql": (">=", 1.0),
    "vs_floor": ("<=", 2.0),
    "vs_row_by_row": (">=", 50.0),
    "dashboard_speedup": (">=", 10.0),
    "peak_rss_growth": ("<=", 1.25),
}


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


def statsfirst_migrate(dbs: Databases, name: str, workers: int, batch_size: int) -> ChildRun:
    return run_child(
        [STATSFIRST, "migrate", "--dsn", dbs.dsn(name), "--json", "--workers", str(workers),
         "--batch-size", str(batch_size)],
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


def bench_size(dbs: Databases, n: int, args: argparse.Namespace) -> dict[str, Any]:
    log(f"N={n}: seeding")
    seeded, seed_result = seed(dbs, f"{n}_seed", n, 0)
    result: dict[str, Any] = {"sessions": n, "seed": {"signal_samples_0": seed_result}, "contenders": {}}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in MIGRATION_CONTENDERS}
    extras: dict[str, dict[str, Any]] = {name: {} for name in MIGRATION_CONTENDERS}
    dump_dir = Path(tempfile.mkdtemp(prefix="sfb_dump_"))
    reference: str | None = None  # statsfirst's migrated database (first run): verification, floor rows, dashboard
    try:
        for r in range(args.repeat):
            order = MIGRATION_CONTENDERS[r % 3 :] + MIGRATION_CONTENDERS[: r % 3]
            for contender in order:
                name = dbs.new(f"{n}_{contender}_{r}", template=seeded)
                log(f"N={n} run {r + 1}/{args.repeat}: {contender}")
                if contender == "statsfirst":
                    run = statsfirst_migrate(dbs, name, args.workers, args.batch_size)
                    summary = run.json_result()
                    runs[contender].append({**run.measured(), "seconds": summary.get("wall_seconds")})
                    if reference is None:
                        reference = name
                        extras[contender] = {"summary": summary}
                        dump_tables(dbs.dsn(name), dump_dir)
                        extras["floor"]["rows_bytes_by_table"] = {
                            f.name.removesuffix(".bin"): f.stat().st_size for f in sorted(dump_dir.glob("*.bin"))
                        }
                        log(f"N={n}: statsfirst reconcile")
                        rec = run_child(
                            [STATSFIRST, "reconcile", "--dsn", dbs.dsn(name), "--format", "json"],
                            admin=dbs.admin, dbname=name, ok_codes=(0, 1),
                        )
                        report = rec.json_result()
                        result["contenders"]["statsfirst_reconcile"] = {
                            **rec.measured(),
                            "exit_code": rec.returncode,
                            "reconciled": report["reconciled"],
                        }
                        continue
                elif contender == "all_sql":
                    run = run_child(contender_command("all_sql", ["--dsn", dbs.dsn(name)]), admin=dbs.admin,
                                    dbname=name)
                    own = run.json_result()
                    runs[contender].append({**run.measured(), "seconds": own.get("seconds")})
                    if not extras[contender]:
                        assert reference is not None
                        extras[contender] = {
                            "statements": own.get("statements"),
                            "rows": own.get("rows"),
                            "same_rows_as_statsfirst": compare(dbs.dsn(reference), dbs.dsn(name)),
                        }
                else:
                    run = run_child(contender_command("floor", ["--dsn", dbs.dsn(name), "--dump-dir", str(dump_dir)]),
                                    admin=dbs.admin, dbname=name)
                    own = run.json_result()
                    runs[contender].append({**run.measured(), **own})
                    extras[contender].update({k: v for k, v in own.items() if k != "seconds"})
                dbs.drop(name)
        for contender in MIGRATION_CONTENDERS:
            result["contenders"][contender] = {**median_of(runs[contender]), **extras[contender]}

        assert reference is not None
        result["contenders"]["row_by_row"] = row_by_row(dbs, n, seeded, reference, args)
        log(f"N={n}: dashboard")
        with psycopg.connect(dbs.dsn(reference), autocommit=True) as conn:  # the legacy tables are analyzed already
            conn.execute(f"VACUUM ANALYZE {TARGET_SCHEMA}.therapy_sessions, {TARGET_SCHEMA}.performance_scores")
        dash = run_child(contender_command("dashboard", ["--dsn", dbs.dsn(reference), "--samples",
                                                         str(args.dashboard_samples)]),
                         admin=dbs.admin, dbname=reference)
        result["dashboard"] = {**dash.json_result(), "process": dash.measured()}
        dbs.drop(reference)
        dbs.drop(seeded)
        if args.signal_samples > 0:
            result["seed"]["signal_heavy"], result["contenders"]["statsfirst_signal_heavy"] = signal_heavy(
                dbs, n, args
            )
    finally:
        shutil.rmtree(dump_dir, ignore_errors=True)
    result["ratios"] = ratios(result)
    return result


def row_by_row(dbs: Databases, n: int, seeded: str, reference: str, args: argparse.Namespace) -> dict[str, Any]:
    limit = min(args.row_by_row_limit, n)
    log(f"N={n}: row-by-row on the first {limit} sessions")
    name = dbs.new(f"{n}_row_by_row", template=seeded)
    run = run_child(contender_command("row_by_row", ["--dsn", dbs.dsn(name), "--limit", str(limit)]),
                    admin=dbs.admin, dbname=name)
    own = run.json_result()
    with psycopg.connect(dbs.dsn(seeded)) as conn:
        ids = [str(r[0]) for r in conn.execute("SELECT id FROM public.c3d_metadata ORDER BY id LIMIT %s", (limit,))]
    same = compare(dbs.dsn(reference), dbs.dsn(name), ids)
    dbs.drop(name)
    scale = n / limit
    startup = max(run.wall_s - own["seconds"], 0.0)
    measured = run.measured()
    return {
        "extrapolated_from": limit,
        "wall_s": round(startup + own["seconds"] * scale, 3),
        "client_cpu_s": round(run.client_cpu_s * scale, 3),
        "server_cpu_s": None if run.server_cpu_s is None else round(run.server_cpu_s * scale, 3),
        "total_cpu_s": None if run.total_cpu_s is None else round(run.total_cpu_s * scale, 3),
        "peak_rss_mb": measured["peak_rss_mb"],
        "measured": {**measured, **own},
        "same_rows_as_statsfirst": same,
    }


def signal_heavy(dbs: Databases, n: int, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    sessions = min(n, args.signal_sessions) if args.signal_sessions else n
    log(f"N={n}: seeding {sessions} sessions with --signal-samples {args.signal_samples}")
    name, seed_result = seed(dbs, f"{n}_signal", sessions, args.signal_samples)
    log(f"N={n}: statsfirst on the signal-heavy database")
    run = statsfirst_migrate(dbs, name, args.workers, args.batch_size)
    summary = run.json_result()
    dbs.drop(name)
    migrate = {
        **run.measured(),
        "sessions": sessions,
        "seconds": summary.get("wall_seconds"),
        "sessions_per_second": round(sessions / run.wall_s, 1),
        "migrated": summary.get("sessions", {}).get("migrated"),
    }
    return seed_result, migrate


# ----------------------------------------------------------------------------------------------- ratios
def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else round(a / b, 2)


def ratios(result: dict[str, Any]) -> dict[str, Any]:
    c = result["contenders"]
    sf, sql_, floor, rbr = c["statsfirst"], c["all_sql"], c["floor"], c["row_by_row"]
    floor_time = floor.get("seconds")
    dash = result.get("dashboard", {})
    speedups = [dash[q]["speedup_p50"] for q in ("patient_14d", "clinic_14d") if q in dash]
    return {
        "vs_all_sql": _ratio(sql_["wall_s"], sf["wall_s"]),
        "vs_floor": _ratio(sf["wall_s"], floor_time),
        "vs_row_by_row": _ratio(rbr["wall_s"], sf["wall_s"]),
        "dashboard_speedup": min(speedups) if speedups else None,
        "cpu": {
            "vs_all_sql": _ratio(sql_.get("total_cpu_s"), sf.get("total_cpu_s")),
            "vs_floor": _ratio(sf.get("total_cpu_s"), floor.get("total_cpu_s")),
            "vs_row_by_row": _ratio(rbr.get("total_cpu_s"), sf.get("total_cpu_s")),
        },
        "vs_floor_target_tables_only": _ratio(
            sf["wall_s"], (floor.get("copy_out_s") or 0) + (floor.get("copy_in_target_tables_s") or 0)
        ),
    }


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


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    sizes = sorted(results["sizes"], key=int)
    cols = [f"{int(s):,}" for s in sizes]
    s = results["settings"]
    out = [
        f"### Benchmarks ({results['generated_at'][:10]}, statsfirst {m['statsfirst_commit']})",
        "",
        f"Machine: {m['cpu_model']}, {m['nproc']} CPUs, {m['ram_gib']} GiB RAM, {m['postgresql']} "
        f"(shared_buffers {m['postgresql_settings'].get('shared_buffers')}, local socket/TCP), Python {m['python']}; "
        f"shared and noisy (load average {m['load_average_at_start'][0]} at start). statsfirst ran as "
        f"`statsfirst migrate --workers {s['workers']} --batch-size {s['batch_size']}`; every contender in its own "
        f"process on its own copy of the same seeded database; migration contenders {s['repeat']}× in rotating "
        "order, median shown. CPU = the process' own CPU + its PostgreSQL backends' CPU.",
        "",
        "| contender | " + " | ".join(f"{c}: wall s | CPU s (client + server) | peak RSS MB" for c in cols) + " |",
        "|---|" + "---|---|---|" * len(cols),
    ]
    labels = {
        "statsfirst": "statsfirst migrate (7 tables + lineage + quarantine)",
        "statsfirst_reconcile": "statsfirst reconcile (separately)",
        "all_sql": "all-SQL INSERT … SELECT (3 tables)",
        "row_by_row": "row-by-row psycopg loop (3 tables; extrapolated from {k} sessions)",
        "floor": "floor: COPY out mapping's bytes + COPY in statsfirst's rows",
    }
    for key, label in labels.items():
        cells = []
        for size in sizes:
            c = results["sizes"][size]["contenders"].get(key, {})
            wall = c.get("seconds") if key == "floor" else c.get("wall_s")
            cpu = f"{_n(c.get('total_cpu_s'), 2)} ({_n(c.get('client_cpu_s'), 2)} + {_n(c.get('server_cpu_s'), 2)})"
            cells.append(f"{_n(wall, 2)} | {cpu} | {_n(c.get('peak_rss_mb'), 0)}")
            if key == "row_by_row":
                label = label.format(k=f"{c.get('extrapolated_from', 0):,}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    written = []
    for size in sizes:
        by_table = results["sizes"][size]["contenders"]["floor"].get("rows_bytes_by_table", {})
        three = sum(by_table.get(f"{TARGET_SCHEMA}.{t}", 0) for t in ("therapy_sessions", "emg_statistics",
                                                                      "performance_scores"))
        written.append(f"{sum(by_table.values()) / 2**20:,.1f} MB vs {three / 2**20:,.1f} MB at {int(size):,}")
    out += [
        "",
        "Rows written (binary COPY size): statsfirst (7 target tables + lineage + quarantine) vs the baselines "
        "(therapy_sessions, emg_statistics, performance_scores): " + "; ".join(written) + ". Both baselines' rows "
        "are checked equal to statsfirst's (all columns; floats to 12 significant digits).",
        "",
        "| ratio (wall time; CPU-time ratio in brackets) | " + " | ".join(cols) + " | target | met |",
        "|---|" + "---|" * len(cols) + "---|---|",
    ]
    tg = results["targets"]
    explain = {
        "vs_all_sql": "vs_all_sql = all-SQL / statsfirst",
        "vs_floor": "vs_floor = statsfirst / floor",
        "vs_row_by_row": "vs_row_by_row = row-by-row / statsfirst",
        "dashboard_speedup": "dashboard_speedup = legacy p50 / new p50 (worse of 2 reads)",
    }
    for key, label in explain.items():
        cells = []
        for size in sizes:
            r = results["sizes"][size]["ratios"]
            cpu = r["cpu"].get(key)
            cells.append(_n(r.get(key), 2) + (f" [{_n(cpu, 2)}]" if cpu is not None else ""))
        t = tg[key]
        out.append(f"| {label} | " + " | ".join(cells) + f" | {t['target']} | {_yes(t['met'])} |")
    rss = [results["sizes"][size]["contenders"]["statsfirst"]["peak_rss_mb"] for size in sizes]
    t = tg["peak_rss_growth"]
    out.append(
        "| statsfirst peak RSS (MB; growth largest/smallest N) | "
        + " | ".join(_n(x, 0) for x in rss)
        + f" | {t['target']} (flat) | {_yes(t['met'])} ({_n(t['value'], 2)}) |"
    )
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
    out += ["", "| seeding and emg_signals bloat | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("seed, signal_samples 0: s / peak RSS MB / database MB",
         lambda r: _seed_cell(r["seed"].get("signal_samples_0"))),
        (f"seed, signal_samples {s['signal_samples']}: s / peak RSS MB / database MB",
         lambda r: _seed_cell(r["seed"].get("signal_heavy"))),
        ("statsfirst on the signal-heavy database: wall s / sessions/s / peak RSS MB",
         lambda r: _signal_cell(r["contenders"].get("statsfirst_signal_heavy"))),
        ("statsfirst on the plain database: wall s / sessions/s / peak RSS MB",
         lambda r: _signal_cell({**r["contenders"]["statsfirst"],
                                 "sessions_per_second": r["sessions"] / r["contenders"]["statsfirst"]["wall_s"]})),
    ]
    for label, cell in rows:
        out.append(f"| {label} | " + " | ".join(cell(results["sizes"][size]) for size in sizes) + " |")
    return "\n".join(out) + "\n"


def _yes(met: bool | None) -> str:
    return "–" if met is None else ("yes" if met else "**no**")


def _seed_cell(seed: dict[str, Any] | None) -> str:
    if not seed:
        return "–"
    sessions = f" ({seed['sessions']:,} sessions)" if seed.get("sessions") else ""
    size = _n(seed.get("database_mb"), 0)
    return f"{_n(seed.get('wall_s'), 1)} / {_n(seed.get('peak_rss_mb'), 0)} / {size}{sessions}"


def _signal_cell(run: dict[str, Any] | None) -> str:
    if not run:
        return "–"
    return f"{_n(run.get('wall_s'), 2)} / {_n(run.get('sessions_per_second'), 0)} / {_n(run.get('peak_rss_mb'), 0)}"


# ----------------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default=None, help="comma-separated sizes (default 10000,100000)")
    parser.add_argument("--dsn", default=None, help="admin DSN (default: DATABASE_URL, else the embedded server)")
    parser.add_argument("--repeat", type=int, default=None, help="runs of each migration contender (default 3)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--row-by-row-limit", type=int, default=None, help="sessions measured (default 2000)")
    parser.add_argument("--dashboard-samples", type=int, default=None, help="parameter sets per read (default 50)")
    parser.add_argument("--signal-samples", type=int, default=None, help="emg_signals samples (default 20000)")
    parser.add_argument("--signal-sessions", type=int, default=0, help="cap on N for the signal-heavy seed (0: N)")
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes: 300 sessions, 1 repeat, few samples")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="directory for the JSON result")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases (debugging)")
    args = parser.parse_args()
    quick = args.quick
    args.sessions = [int(x) for x in (args.sessions or ("300" if quick else "10000,100000")).split(",")]
    args.repeat = args.repeat or (1 if quick else 3)
    args.row_by_row_limit = args.row_by_row_limit or (100 if quick else 2000)
    args.dashboard_samples = args.dashboard_samples or (5 if quick else 50)
    args.signal_samples = args.signal_samples if args.signal_samples is not None else (200 if quick else 20000)

    admin = resolve_dsn(args.dsn).conninfo
    started = time.perf_counter()
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(admin),
        "settings": {
            "sessions": args.sessions, "repeat": args.repeat, "workers": args.workers,
            "batch_size": args.batch_size, "row_by_row_limit": args.row_by_row_limit,
            "dashboard_samples": args.dashboard_samples, "signal_samples": args.signal_samples,
            "signal_sessions": args.signal_sessions or None, "seed": 1, "bad_fraction": 0.01,
            "target_schema": TARGET_SCHEMA, "quick": quick,
        },
        "sizes": {},
    }
    dbs = Databases(admin, uuid.uuid4().hex[:6], args.keep)
    try:
        for n in args.sessions:
            results["sizes"][str(n)] = bench_size(dbs, n, args)
    finally:
        dbs.drop_all()
    results["targets"] = targets(results)
    largest = results["sizes"][str(max(args.sessions))]["ratios"]
    results["ratios"] = {k: largest[k] for k in ("vs_all_sql", "vs_floor", "vs_row_by_row", "dashboard_speedup")}
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

"""What a 5 ms network costs statsfirst, separated from what the loopback proxy itself costs.

Usage: python bench/latency.py [--sessions 30000] [--repeat 3] [--dsn ADMIN]

bench/run.py measures ``latency_retention_5ms`` as the issue defines it: throughput through the 2.5 ms-each-way
proxy over throughput on localhost. On a 2-core machine the proxy is a third process forwarding every byte (COPY
moves ~7 kB per session each way), so part of that loss is the proxy's, not the network's. This runs statsfirst
directly, through the same proxy with no delay, and through it with the delay, each on a fresh copy of one seeded
database, in rotating order, and prints the medians and the proxy's own CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contenders.common import create_database, database_dsn, drop_database, proc_cpu_seconds, run_child
from contenders.proxy import LatencyProxy, proxied_dsn, upstream_of
from run import STATSFIRST, Databases, seed

VARIANTS = {"localhost": None, "proxy_0ms": 0.0, "proxy_5ms": 0.0025}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=30000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin DSN")
    args = parser.parse_args()
    dbs = Databases(args.dsn, "lat", keep=False)
    host, port = upstream_of(args.dsn)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    try:
        seeded, _ = seed(dbs, f"{args.sessions}_seed", args.sessions, 0)
        with LatencyProxy(host, port, delay_s=0.0) as fast, LatencyProxy(host, port, delay_s=0.0025) as slow:
            proxies = {"proxy_0ms": fast, "proxy_5ms": slow}
            names = list(VARIANTS)
            for r in range(args.repeat):
                for variant in names[r % 3:] + names[: r % 3]:
                    name = f"sfb_lat_{variant}"
                    drop_database(args.dsn, name)
                    create_database(args.dsn, name, seeded)
                    dsn = database_dsn(args.dsn, name)
                    proxy = proxies.get(variant)
                    before = proc_cpu_seconds(proxy.pid) if proxy else None
                    run = run_child([STATSFIRST, "migrate", "--dsn", proxied_dsn(dsn, proxy.port) if proxy else dsn,
                                     "--json", "--workers", "2", "--batch-size", "5000"], admin=args.dsn, dbname=name)
                    after = proc_cpu_seconds(proxy.pid) if proxy else None
                    proxy_cpu = 0.0 if before is None or after is None else after - before
                    runs[variant].append({**run.measured(), "proxy_cpu_s": round(proxy_cpu, 3)})
                    drop_database(args.dsn, name)
                    print(f"{variant}: {runs[variant][-1]}", file=sys.stderr, flush=True)
    finally:
        dbs.drop_all()
    out = {variant: {key: round(statistics.median(r[key] for r in values), 3)
                     for key in ("wall_s", "total_cpu_s", "proxy_cpu_s")} for variant, values in runs.items()}
    wall = {variant: out[variant]["wall_s"] for variant in out}
    out["retention"] = {
        "proxy_5ms_vs_localhost": round(wall["localhost"] / wall["proxy_5ms"], 2),
        "proxy_0ms_vs_localhost": round(wall["localhost"] / wall["proxy_0ms"], 2),
        "proxy_5ms_vs_proxy_0ms": round(wall["proxy_0ms"] / wall["proxy_5ms"], 2),
    }
    print(json.dumps({"sessions": args.sessions, "repeat": args.repeat, **out}, indent=2))


if __name__ == "__main__":
    main()

"""Smoke test of the benchmark harness (bench/run.py --quick): it runs end to end and writes well-formed JSON.

No timing is asserted (the numbers of a 300-session run on a test server mean nothing); only the shape: every
contender measured, the ratios present and positive, the baselines' rows equal to statsfirst's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from statsfirst.db.dsn import ResolvedDsn

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_writes_ratios(server_dsn: ResolvedDsn, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "run.py"), "--quick", "--sessions", "300",
         "--dsn", server_dsn.conninfo, "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [path] = list(tmp_path.glob("*.json"))
    data = json.loads(path.read_text())

    assert set(data["ratios"]) == {"vs_all_sql", "vs_floor", "vs_row_by_row", "dashboard_speedup"}
    assert all(isinstance(v, float | int) and v > 0 for v in data["ratios"].values()), data["ratios"]
    machine = data["machine"]
    assert machine["nproc"] >= 1 and machine["ram_gib"] > 0 and machine["postgresql"].startswith("PostgreSQL")

    size = data["sizes"]["300"]
    contenders = size["contenders"]
    for name in ("statsfirst", "statsfirst_reconcile", "all_sql", "row_by_row", "floor", "statsfirst_signal_heavy"):
        assert contenders[name]["wall_s"] > 0 and contenders[name]["peak_rss_mb"] > 0, name
    assert contenders["statsfirst_reconcile"]["reconciled"] is True
    assert contenders["row_by_row"]["extrapolated_from"] == 100
    assert contenders["all_sql"]["same_rows_as_statsfirst"]["identical"] is True
    assert contenders["row_by_row"]["same_rows_as_statsfirst"]["identical"] is True
    assert contenders["statsfirst"]["summary"]["sessions"]["in_range"] == 300
    for read in ("patient_14d", "clinic_14d"):
        assert size["dashboard"][read]["new"]["p50_ms"] > 0 and size["dashboard"][read]["legacy"]["p50_ms"] > 0
    assert size["seed"]["signal_heavy"]["signal_samples"] > 0
    assert "| vs_all_sql" in data["markdown"] and "| vs_floor" in result.stdout

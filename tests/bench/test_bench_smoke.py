"""Smoke test of the benchmark harness (bench/run.py --quick): it runs end to end and writes well-formed JSON.

No timing is asserted (the numbers of a 300-session run on a test server mean nothing); only the shape: every
contender measured, the five ratios present and positive, the proxy's delay real, the baselines' rows equal to
statsfirst's on every table it writes.
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
        capture_output=True, text=True, timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [path] = list(tmp_path.glob("*.json"))
    data = json.loads(path.read_text())

    assert set(data["ratios"]) == {
        "vs_all_sql", "vs_floor_cpu", "vs_row_by_row_at_5ms", "latency_retention_5ms", "dashboard_speedup"
    }
    assert all(isinstance(v, float | int) and v > 0 for v in data["ratios"].values()), data["ratios"]
    machine = data["machine"]
    assert machine["nproc"] >= 1 and machine["ram_gib"] > 0 and machine["postgresql"].startswith("PostgreSQL")
    # the proxy really delays: a round trip through it costs at least the 2 x 2.5 ms it adds
    assert data["proxy"]["proxied_ms"] >= 5.0 > data["proxy"]["direct_ms"], data["proxy"]

    size = data["sizes"]["300"]
    contenders = size["contenders"]
    for name in ("statsfirst", "statsfirst_5ms", "statsfirst_reconcile", "all_sql", "all_sql_5ms", "row_by_row",
                 "row_by_row_5ms", "floor_finished", "floor_bare"):
        assert contenders[name]["wall_s"] > 0 and contenders[name]["peak_rss_mb"] > 0, name
        if name != "statsfirst_reconcile":
            assert contenders[name]["total_cpu_s"] > 0, name
    assert contenders["statsfirst_reconcile"]["reconciled"] is True
    assert contenders["row_by_row"]["extrapolated_from"] == 100
    assert contenders["row_by_row_5ms"]["extrapolated_from"] == 50
    same = contenders["all_sql"]["same_rows_as_statsfirst"]
    assert same["identical"] is True
    # like for like: every table statsfirst writes, compared row by row, and the seeded missing counts reach them
    assert {"therapy_sessions", "emg_statistics", "performance_scores", "bfr_monitoring", "session_settings",
            "signal_processing_cache", "processing_parameters", "session_lineage", "analysis_lineage"} <= set(same)
    assert same["emg_statistics"]["rows_a"] > 0 and same["session_lineage"]["rows_a"] > 0
    assert size["seed"]["signal_samples_0"]["missing_counts_seeded"] > 0
    assert contenders["all_sql"]["left_out_sessions"] == contenders["statsfirst"]["quarantined"]
    assert contenders["row_by_row"]["same_rows_as_statsfirst"]["identical"] is True
    assert contenders["statsfirst"]["summary"]["sessions"]["in_range"] == 300
    assert contenders["floor_bare"]["phases"]["build_indexes_s"] >= 0
    for read in ("patient_14d", "clinic_14d"):
        assert size["dashboard"][read]["new"]["p50_ms"] > 0 and size["dashboard"][read]["legacy"]["p50_ms"] > 0
    bloat = data["signal_bloat"]
    assert bloat["signal_heavy"]["seed"]["signal_samples"] > 0
    assert bloat["statsfirst_penalty"] > 0 and bloat["floor_bare_penalty"] > 0
    assert "| vs_all_sql" in data["markdown"] and "| vs_floor_cpu" in result.stdout

"""The Prefect flows: migrate_legacy ends with the reconcile flow, and both publish their keyed artifacts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from reconcile_support import quiet, seed

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.db.migrations import apply_migrations

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def test_migrate_legacy_reconciles_and_publishes_artifacts(
    make_database: Callable[[], ResolvedDsn], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.artifacts import Artifact
    from prefect.testing.utilities import prefect_test_harness

    dsn = make_database()
    seed(dsn, sessions=300)
    apply_migrations(dsn, target_schema="stats", log=quiet)
    monkeypatch.setenv("DATABASE_URL", dsn.conninfo)  # flows take the DSN from the environment, never a parameter
    monkeypatch.syspath_prepend(str(FLOWS))
    import migrate_legacy

    with prefect_test_harness(server_startup_timeout=120):
        totals = migrate_legacy.migrate_legacy(batch_size=100)
        summary = Artifact.get("statsfirst-reconciliation-summary")
        tables = Artifact.get("statsfirst-reconciliation-tables")
        migration = Artifact.get("statsfirst-migration-summary")
    assert totals["reconciled"] is True
    assert migration is not None
    assert summary is not None and summary.type == "markdown"
    assert isinstance(summary.data, str) and summary.data.startswith("## statsfirst reconciliation: reconciled")
    assert "All 300 sessions are accounted for" in summary.data
    assert tables is not None and tables.type == "table"
    assert '"table": "emg_statistics"' in str(tables.data)

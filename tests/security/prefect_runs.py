"""The Prefect flows of the secured run, run for real on a temporary Prefect server, and everything Prefect kept or
printed about them (imported by the security conftest).

Three flow runs: ``migrate_legacy`` with the password DSN in ``DATABASE_URL`` (it reconciles and publishes its
artifacts), ``reconcile`` with the DSN in a Prefect Secret block (the deployments' way), and ``migrate_legacy`` with a
malformed DSN holding the password, which fails. Kept: every log record (console side, tracebacks included, and what
the API stored), every flow run's state message and parameters, and every artifact's data.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import urllib.parse
from pathlib import Path

import pytest
from security_support import Output, SecuredRun

FLOWS = Path(__file__).resolve().parents[2] / "flows"
SECRET_BLOCK = "sf-security-dsn"


def malformed_shapes(run: SecuredRun) -> dict[str, str]:
    """Connection strings that are neither a URI nor key=value pairs libpq reads as meant, each holding the password:
    no part of any may be echoed (CLI output, flow-run states, logs, artifacts)."""
    password, role = run.password, run.role
    return {
        "no scheme": f"postgres:{password}@127.0.0.1/postgres",
        "pg://": f"pg://{role}:{password}@127.0.0.1/postgres",
        "postgresql:/": f"postgresql:/{role}:{password}@127.0.0.1/postgres",
        "mysql://": f"mysql://{role}:{password}@127.0.0.1/postgres",
        "unterminated password='": "host=127.0.0.1 password='" + password.replace("'", "\\'"),
        "unescaped @ in the password": f"postgresql://{role}:{urllib.parse.quote(password, safe='@')}@127.0.0.1/x",
    }


def prefect_flow_runs(run: SecuredRun, malformed_dsn: str) -> tuple[Output, dict[str, str]]:
    """(what Prefect showed and stored, as one Output; each flow run's final state name by flow name and case)."""
    console = io.StringIO()
    handler = logging.StreamHandler(console)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    states: dict[str, str] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry writes racing the runs'
        patch.syspath_prepend(str(FLOWS))
        stored = run_flows(run, malformed_dsn, patch, states, handler)
    text = "\n".join([console.getvalue(), *stored])
    return Output("prefect flow runs (logs, states, parameters, artifacts)", 0, text, ""), states


def run_flows(run: SecuredRun, malformed_dsn: str, patch: pytest.MonkeyPatch, states: dict[str, str],
              console: logging.Handler) -> list[str]:
    """The three flow runs on a temporary Prefect server (``console`` sees every log record they emit); returns what
    the server's API stored about them."""
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogWorker
    from prefect.testing.utilities import prefect_test_harness

    stored: list[str] = []
    with prefect_test_harness(server_startup_timeout=120):
        for module in ("migrate_legacy", "reconcile"):
            sys.modules.pop(module, None)  # the flows folder's modules, fresh (another test may hold them)
        import migrate_legacy
        import reconcile

        # attached after Prefect configured its logging (which replaces the handlers of its loggers)
        loggers = [logging.getLogger(name) for name in ("prefect", "prefect.flow_runs", "prefect.task_runs")]
        for logger in loggers:
            logger.addHandler(console)
        try:
            patch.setenv("DATABASE_URL", run.uri)
            states["migrate_legacy"] = migrate_legacy.migrate_legacy(batch_size=50, return_state=True).name
            Secret(value=run.keywords).save(SECRET_BLOCK, overwrite=True)
            patch.delenv("DATABASE_URL")
            states["reconcile from a secret block"] = reconcile.reconcile(dsn_secret_block=SECRET_BLOCK,
                                                                          return_state=True).name
            patch.setenv("DATABASE_URL", malformed_dsn)
            states["migrate_legacy malformed dsn"] = migrate_legacy.migrate_legacy(batch_size=50,
                                                                                   return_state=True).name
            for shape, dsn in malformed_shapes(run).items():
                patch.setenv("DATABASE_URL", dsn)
                states[f"migrate_legacy malformed dsn: {shape}"] = migrate_legacy.migrate_legacy(
                    batch_size=50, return_state=True).name
            APILogWorker.drain_all(timeout=30)
            with get_client(sync_client=True) as client:
                while page := client.read_logs(limit=200, offset=len(stored)):
                    stored += [log.message for log in page]
                # the API kept them: a failure's log record (a traceback, or the flow's one-line error)
                assert any("Encountered exception" in message or "the connection string from DATABASE_URL" in message
                           for message in stored), stored
                for flow_run in client.read_flow_runs():
                    stored.append(json.dumps({"name": flow_run.name, "parameters": flow_run.parameters,
                                              "state": flow_run.state.message if flow_run.state else None},
                                             default=str))
                stored += [json.dumps(a.data, default=str) + str(a.description) for a in client.read_artifacts()]
        finally:
            for logger in loggers:
                logger.removeHandler(console)
    return stored

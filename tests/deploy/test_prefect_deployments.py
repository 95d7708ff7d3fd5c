"""prefect.yaml registers every deployment on a real Prefect server, and a process worker runs one to completion."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from prefect_support import PREFECT, REPO_ROOT

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.legacy.baseline import init_legacy

DEPLOYMENTS = {
    "create_schema/create-schema": set(),
    "migrate_legacy/migrate-incremental": {"incremental", "batch_size", "workers", "since", "until"},
    "backfill/backfill": {"since", "until", "batch_size", "workers", "dask_address", "dsn_secret_block"},
    "reconcile/reconcile": {"since", "until", "dsn_secret_block"},
}


def prefect(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    done = subprocess.run([PREFECT, "--no-prompt", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_deployments_register_and_a_worker_runs_one(
    prefect_server: dict[str, str], prefect_api: str, make_database: Callable[[], ResolvedDsn], tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    prefect(prefect_server, "work-pool", "create", "statsfirst", "--type", "process", "--overwrite")
    prefect(prefect_server, "deploy", "--all")

    with get_client(sync_client=True) as client:
        deployments = {name: client.read_deployment_by_name(name) for name in DEPLOYMENTS}
        for name, deployment in deployments.items():
            schema = deployment.parameter_openapi_schema
            assert DEPLOYMENTS[name] <= set(schema["properties"]), name
            assert deployment.work_pool_name == "statsfirst"
            # the DSN is resolved where the flow runs: never stored with the deployment
            stored = json.dumps([deployment.parameters, deployment.job_variables])
            assert "postgresql://" not in stored and "password" not in stored.lower()
        assert [s.schedule.cron for s in deployments["migrate_legacy/migrate-incremental"].schedules] == [  # type: ignore[union-attr]
            "30 2 * * *"
        ]
        assert deployments["reconcile/reconcile"].schedules
        assert not deployments["backfill/backfill"].schedules
        assert not deployments["create_schema/create-schema"].schedules
        backfill = deployments["backfill/backfill"].parameter_openapi_schema["properties"]
        assert backfill["since"]["anyOf"][0] == {"format": "date", "type": "string"}
        assert backfill["workers"]["minimum"] == 1 and backfill["batch_size"]["type"] == "integer"

        # one run, executed by a real process worker; the DSN reaches it through the worker's environment only
        dsn = make_database()
        with psycopg.connect(dsn.conninfo) as conn:
            init_legacy(conn, with_session_settings=True)
        deployment_id = deployments["create_schema/create-schema"].id
        flow_run = client.create_flow_run_from_deployment(deployment_id, parameters={"target_schema": "stats"})
        worker_env = {**prefect_server, "DATABASE_URL": dsn.conninfo}
        worker = subprocess.run(
            [PREFECT, "worker", "start", "--pool", "statsfirst", "--run-once", "--type", "process"],
            cwd=tmp_path, env=worker_env, capture_output=True, text=True, timeout=180,
        )
        deadline = time.monotonic() + 60
        state = client.read_flow_run(flow_run.id).state
        while state is not None and not state.is_final() and time.monotonic() < deadline:
            time.sleep(1)
            state = client.read_flow_run(flow_run.id).state
        assert state is not None and state.is_completed(), f"{state}\n{worker.stdout[-3000:]}\n{worker.stderr[-3000:]}"
        assert "postgresql://" not in json.dumps(client.read_flow_run(flow_run.id).parameters)
    with psycopg.connect(dsn.conninfo) as conn:
        applied = conn.execute("SELECT count(*) FROM statsfirst.schema_migrations WHERE target_schema = 'stats'")
        assert (applied.fetchone() or (0,))[0] >= 4

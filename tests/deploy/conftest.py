"""Fixtures of the deployment tests: the migration tests' seeded databases, and one Prefect server for the folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

# migration_support (seeded legacy databases) lives with the migration tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "migrate"))

from prefect_support import PREFECT, REPO_ROOT, free_port, prefect_env

from statsfirst.flow_support import flows_package

# the flows are the package ``flows`` (tests import ``flows.backfill``, never a top-level sibling module)
flows_package(REPO_ROOT / "flows")


@pytest.fixture(scope="package")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``prefect server start`` on a free port with a temporary home and sqlite database; its client environment."""
    home = tmp_path_factory.mktemp("prefect_home")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = prefect_env(home, api_url)
    env["PREFECT_API_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{home / 'prefect.db'}"
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not start: {(home / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield {k: v for k, v in env.items() if k != "PREFECT_API_DATABASE_CONNECTION_URL"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="package")
def prefect_api(prefect_server: dict[str, str]) -> Iterator[str]:
    """This process (and processes it starts, e.g. Dask workers) talk to the test's Prefect server."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    saved = {k: os.environ.get(k) for k in ("PREFECT_API_URL", "PREFECT_HOME")}
    os.environ["PREFECT_API_URL"] = prefect_server["PREFECT_API_URL"]
    os.environ["PREFECT_HOME"] = prefect_server["PREFECT_HOME"]
    try:
        with temporary_settings(updates={PREFECT_API_URL: prefect_server["PREFECT_API_URL"]}):
            try:
                yield prefect_server["PREFECT_API_URL"]
            finally:
                # send what the flow runs logged while the server is up: queued logs and events would otherwise
                # retry against a stopped server when the test process exits (a minute of connection attempts)
                from prefect.events.worker import EventsWorker
                from prefect.logging.handlers import APILogWorker

                APILogWorker.drain_all(timeout=30)
                EventsWorker.drain_all(timeout=30)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

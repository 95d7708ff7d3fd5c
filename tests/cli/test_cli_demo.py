"""After the demo: the commands it prints work as printed on what it built (the embedded server, its own home), the
held-back sessions it points to are visible in statsfirst.quarantine_review to the database owner and to
service_role, and it says how to stop the embedded server it leaves running."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg
from cli_support import CLI, execute, run, seeded

from statsfirst.db.dsn import ResolvedDsn

SESSIONS = 60


def pasted(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``command`` copy-pasted into a shell in ``cwd``: no STATSFIRST_HOME, no DATABASE_URL, a PATH without the
    venv (the README's quick start does not activate it), so it works only if it says all it needs."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "COLUMNS", "STATSFIRST_HOME")}
    venv_bin = str(CLI.parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return subprocess.run(command, shell=True, capture_output=True, text=True, timeout=300, check=False, cwd=cwd,
                          env=env)


def test_the_demo_ends_with_commands_that_work_as_printed(tmp_path: Path, server_dsn: ResolvedDsn) -> None:
    """(``server_dsn``: the session's test server starts first, whatever runs after this test.) The demo is started
    as the README's quick start starts it, by a relative path from the checkout (here: a symlink to the venv)."""
    home = tmp_path / "home"
    env = {"STATSFIRST_HOME": str(home)}
    (tmp_path / ".venv").symlink_to(CLI.parent.parent)
    demo = subprocess.run([".venv/bin/statsfirst", "demo", "--sessions", str(SESSIONS)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300, check=False,
                          env={**{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "COLUMNS")},
                               **env})
    try:
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        lines = demo.stdout.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("Next (these work on the database"))
        commands = [line.split("   #")[0].strip() for line in lines[start + 1:] if line.startswith("  ")]
        assert commands[-1] == f"STATSFIRST_HOME={shlex.quote(str(home))} .venv/bin/statsfirst embedded stop"
        assert "keeps running in the background" in demo.stdout
        steps = {c.split()[1]: c for c in commands if c.startswith(".venv/bin/statsfirst ") and "--format" not in c}
        assert "statsfirst_demo" in steps["schema"] and "password" not in demo.stdout

        status = pasted(steps["schema"], tmp_path)
        assert status.returncode == 0, status.stderr
        assert "pending" not in status.stdout and "applied" in status.stdout
        reconciled = pasted(steps["reconcile"], tmp_path)
        assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
        assert f"All {SESSIONS} sessions are accounted for" in " ".join(reconciled.stdout.split())
        html = next(c for c in commands if "--format html" in c)
        assert pasted(html, tmp_path).returncode == 0
        assert (tmp_path / "report.html").read_text().count("<code>statsfirst.quarantine_review</code>") >= 1
        again = pasted(steps["migrate"], tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
        rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in again.stdout.splitlines()
                if line.count("│") == 3}
        assert rows["of these, unchanged in legacy since last migrated (rewritten as before)"] == rows["migrated"]

        review = next(c for c in commands if "quarantine_review" in c)
        shown = pasted(review, tmp_path)
        assert shown.returncode == 0, shown.stderr
        held = int(next(line for line in demo.stdout.splitlines() if "held back for review" in line
                        and line.startswith("All")).split(" held back")[0].split(", ")[-1])
        assert held > 0 and f"({held} row{'' if held == 1 else 's'})" in shown.stdout, shown.stdout[-1000:]
        stopped = pasted(commands[-1], tmp_path)
        assert stopped.returncode == 0 and "embedded server stopped" in stopped.stdout, stopped.stdout
    finally:
        run("embedded", "stop", env=env)


def test_quarantine_review_shows_the_entries_to_the_owner_and_service_role(
    make_database: Callable[[], ResolvedDsn],
) -> None:
    """Without JWT claims (psql, a service connection): the owner and SET ROLE service_role see every open entry;
    authenticated without claims sees none."""
    dsn = seeded(make_database, sessions=60)
    want = {r[0] for r in execute(dsn, "SELECT legacy_session_id::text FROM statsfirst.quarantine"
                                       " WHERE resolved_at IS NULL")}
    assert want
    with psycopg.connect(dsn.conninfo) as conn:
        assert {r[0] for r in conn.execute("SELECT legacy_session_id::text FROM statsfirst.quarantine_review")} == want
        conn.execute("SET ROLE service_role")
        assert {r[0] for r in conn.execute("SELECT legacy_session_id::text FROM statsfirst.quarantine_review")} == want
        conn.execute("RESET ROLE")
        conn.execute("SET ROLE authenticated")
        assert conn.execute("SELECT count(*) FROM statsfirst.quarantine_review").fetchone() == (0,)

"""Helpers shared by the orchestrator and the contenders: scratch databases, child processes, CPU accounting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

BENCH_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = BENCH_DIR.parent
TARGET_SCHEMA = "stats"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def emit(result: dict[str, Any]) -> None:
    """A contender's result: one JSON object on stdout."""
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------------------------------- databases
def admin_execute(admin: str, statement: sql.Composed, retries: int = 20) -> None:
    """Run one statement on the admin database; retried while another session briefly holds a template open."""
    for attempt in range(retries):
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(statement)
            return
        except psycopg.errors.ObjectInUse:
            if attempt == retries - 1:
                raise
            time.sleep(0.5)


def server_version_num(admin: str) -> int:
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    return int(row[0]) if row else 0


def database_size(admin: str, name: str) -> int:
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
    return int(row[0]) if row else 0


def create_database(admin: str, name: str, template: str | None = None) -> None:
    """An empty database, or a copy of ``template`` (file copy where the server supports it: no WAL for the data)."""
    if template is None:
        admin_execute(admin, sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        return
    # FILE_COPY (a checkpoint and a file copy, no WAL) pays off for big templates; small ones are cheaper WAL-logged
    big = database_size(admin, template) > 200 * 2**20
    strategy = sql.SQL(" STRATEGY FILE_COPY") if big and server_version_num(admin) >= 150000 else sql.SQL("")
    admin_execute(
        admin,
        sql.SQL("CREATE DATABASE {} TEMPLATE {}{}").format(sql.Identifier(name), sql.Identifier(template), strategy),
    )


def drop_database(admin: str, name: str) -> None:
    admin_execute(admin, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_dsn(admin: str, name: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(admin, dbname=name)


# ----------------------------------------------------------------------------------------------- CPU accounting
def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (from /proc), or None when it is gone or not ours to see."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class BackendCpuMonitor(threading.Thread):
    """Polls the server's backends (and parallel workers) connected to one database and keeps each one's latest
    CPU time, so a contender's server-side CPU is known even though its backends exit with it. The last interval
    of a backend's life is missed (at most ``interval`` seconds of CPU per backend)."""

    def __init__(self, admin: str, dbname: str, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.admin, self.dbname, self.interval = admin, dbname, interval
        self.cpu: dict[int, float] = {}
        self.local = True
        self._stop_event = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            while not self._stop_event.is_set():
                self.sample(conn)
                self._stop_event.wait(self.interval)
            self.sample(conn)

    def sample(self, conn: psycopg.Connection) -> None:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.dbname,)
        ).fetchall()
        for (pid,) in pids:
            seconds = proc_cpu_seconds(pid)
            if seconds is None:
                self.local = False  # the server runs elsewhere (or as someone we cannot see): no server CPU
                continue
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), seconds)

    def stop(self) -> float | None:
        self._stop_event.set()
        self.join()
        return round(sum(self.cpu.values()), 3) if self.local else None


def _peak_rss_kb(pid: int) -> int:
    """VmHWM of a running process: the peak RSS of its current program image.

    Not ``ru_maxrss`` from wait4: Linux carries the parent's RSS at fork/vfork into the child's ru_maxrss across
    exec, so every contender would report at least the orchestrator's size. VmHWM belongs to the exec'd image
    only; it is sampled every 10 ms (it only grows, so only growth in the last 10 ms of a process could be missed).
    """
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


@dataclass
class ChildRun:
    """One contender process: wall time, its own CPU (user + system), peak RSS, and its backends' CPU."""

    command: list[str]
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = None
    peak_rss_mb: float = 0.0
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_cpu_s(self) -> float | None:
        return None if self.server_cpu_s is None else round(self.client_cpu_s + self.server_cpu_s, 3)

    def json_result(self) -> dict[str, Any]:
        """The contender's own JSON: the whole stdout, else the last JSON object that starts at a line start."""
        text = self.stdout.strip()
        lines = text.splitlines()
        for start in range(len(lines)):
            if not lines[start].startswith("{"):
                continue
            try:
                value = json.loads("\n".join(lines[start:]))
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
        return {}

    def measured(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.wall_s, 3),
            "client_cpu_s": round(self.client_cpu_s, 3),
            "server_cpu_s": self.server_cpu_s,
            "total_cpu_s": self.total_cpu_s,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }


def contender_command(module: str, args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", f"contenders.{module}", *args]


def run_child(
    command: list[str],
    *,
    admin: str,
    dbname: str | None,
    timeout: float | None = None,
    ok_codes: tuple[int, ...] = (0,),
) -> ChildRun:
    """Run ``command`` to completion; its rusage comes from wait4 on its own pid (not the sum of all children)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")]))
    monitor = BackendCpuMonitor(admin, dbname) if dbname else None
    run = ChildRun(command)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        if monitor:
            monitor.start()
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=BENCH_DIR)
        deadline = None if timeout is None else started + timeout
        peak_kb = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = max(peak_kb, _peak_rss_kb(proc.pid))
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
            time.sleep(0.01)
        run.wall_s = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        run.returncode = proc.returncode
        run.client_cpu_s = usage.ru_utime + usage.ru_stime
        run.peak_rss_mb = (peak_kb or usage.ru_maxrss) / 1024  # too short to be sampled: wait4's upper bound
        if monitor:
            run.server_cpu_s = monitor.stop()
        out.seek(0)
        err.seek(0)
        run.stdout = out.read().decode(errors="replace")
        run.stderr = err.read().decode(errors="replace")
    if run.returncode not in ok_codes:
        tail = "\n".join(run.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(command[:4])} ... exited with {run.returncode}:\n{tail}")
    return run

"""Shared by tests/field: the managed-database role (as on Supabase) and helpers (see conftest.py)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from statsfirst.db.dsn import ResolvedDsn

CLIENT_ROLES = (
    ("anon", "NOLOGIN NOINHERIT"),
    ("authenticated", "NOLOGIN NOINHERIT"),
    ("service_role", "NOLOGIN NOINHERIT BYPASSRLS"),
)
PIPELINE_ROLE_ATTRIBUTES = "LOGIN CREATEROLE BYPASSRLS NOSUPERUSER NOCREATEDB NOREPLICATION"


@dataclass(frozen=True)
class ManagedDatabase:
    """A database owned by a non-superuser pipeline role, holding the legacy tables that role created."""

    admin: ResolvedDsn  # superuser, to the managed database
    pipeline: ResolvedDsn  # the pipeline role (with its password), to the managed database
    role: str
    password: str
    dbname: str


def ensure_client_roles(admin: ResolvedDsn) -> None:
    """Create anon/authenticated/service_role as a superuser when missing; another creator may win the race."""
    with psycopg.connect(admin.conninfo, autocommit=True) as conn:
        for name, attributes in CLIENT_ROLES:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                continue
            # another test process may create it between the check and the CREATE
            with contextlib.suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                conn.execute(sql.SQL("CREATE ROLE {} " + attributes).format(sql.Identifier(name)))


def pipeline_dsn(admin: ResolvedDsn, role: str, password: str) -> ResolvedDsn:
    """The admin DSN's host/port/database with the pipeline role's user and password (as a --dsn would be)."""
    return ResolvedDsn(make_conninfo(admin.conninfo, user=role, password=password), "--dsn")


def server_address(dsn: ResolvedDsn) -> tuple[str, int]:
    """Host (or Unix socket directory, as the embedded server has) and port of a DSN: what a pooler connects to."""
    params = conninfo_to_dict(dsn.conninfo)
    host = str(params.get("host") or "/var/run/postgresql")
    return host, int(str(params.get("port") or 5432))


# ------------------------------------------------------------------------------------------------ PgBouncer
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


@dataclass
class PgBouncer:
    """A real PgBouncer on a loopback port in front of the test server (its config, log and pid in ``folder``)."""

    mode: str  # session | transaction
    port: int
    folder: Path
    process: subprocess.Popen[bytes]

    def dsn(self, direct: ResolvedDsn) -> ResolvedDsn:
        """``direct`` (database, user, password) but through this pooler."""
        return ResolvedDsn(make_conninfo(direct.conninfo, host="127.0.0.1", port=str(self.port)), direct.source)

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def start_pgbouncer(server: ResolvedDsn, mode: str, users: dict[str, str]) -> PgBouncer:
    """Start PgBouncer (``pool_mode = mode``) forwarding every database to ``server``'s host/port.

    Clients authenticate to PgBouncer with SCRAM (as on Supabase) against ``users`` (name → password); PgBouncer
    logs into the server as the same user. PgBouncer refuses to run as root, so under root it runs as the account
    owning the server's socket directory, else as ``postgres`` (Debian's postgresql-common account). Its folder is
    a fresh one in the temporary directory (pytest's are private to their user, and a Unix socket path must be
    short), removed by ``stop()``.
    """
    host, port = server_address(server)
    folder = Path(tempfile.mkdtemp(prefix=f"sf_pgbouncer_{mode}_"))
    listen_port = _free_port()
    (folder / "userlist.txt").write_text(
        "".join(f"{_quoted(name)} {_quoted(password)}\n" for name, password in users.items()), encoding="utf-8"
    )
    (folder / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={host} port={port}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {listen_port}",
                f"unix_socket_dir = {folder}",
                f"logfile = {folder / 'pgbouncer.log'}",
                f"pidfile = {folder / 'pgbouncer.pid'}",
                "auth_type = scram-sha-256",
                f"auth_file = {folder / 'userlist.txt'}",
                f"pool_mode = {mode}",
                "max_client_conn = 200",
                "default_pool_size = 20",
                "server_reset_query = DISCARD ALL",
                "ignore_startup_parameters = extra_float_digits",
                "",
            ]
        ),
        encoding="utf-8",
    )
    command = [PGBOUNCER, "-q"]
    if os.geteuid() == 0:
        # the server's socket directory may be private to the server's account (the embedded server's pgdata is)
        owner = os.stat(host).st_uid if host.startswith("/") else 0
        account = pwd.getpwuid(owner) if owner else pwd.getpwnam("postgres")
        for path in (folder, *folder.iterdir()):
            os.chown(path, account.pw_uid, account.pw_gid)
        command += ["-u", account.pw_name]
    process = subprocess.Popen(
        [*command, str(folder / "pgbouncer.ini")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    bouncer = PgBouncer(mode, listen_port, folder, process)
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"pgbouncer exited with {process.returncode}: {stderr} {bouncer.log()}")
        try:
            socket.create_connection(("127.0.0.1", listen_port), timeout=1).close()
            return bouncer
        except OSError:
            if time.monotonic() > deadline:
                bouncer.stop()
                raise RuntimeError(f"pgbouncer did not listen on port {listen_port}: {bouncer.log()}") from None
            time.sleep(0.05)


# ------------------------------------------------------------------------------------------------ the real CLI
CLI = Path(sys.executable).parent / "statsfirst"
TARGET = "stats"  # the legacy session_settings table sits in public, so the new tables go to their own schema
SESSIONS = 60


def cli(dsn: ResolvedDsn, *args: str) -> subprocess.CompletedProcess[str]:
    """``statsfirst <args> --dsn <dsn>`` as a user runs it (no DATABASE_URL in the environment)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [str(CLI), *args, "--dsn", dsn.conninfo], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.args[1:-2], result.returncode, result.stdout[-3000:], result.stderr[-3000:])
    return result


def one_line_error(result: subprocess.CompletedProcess[str], exit_code: int = 2) -> str:
    """The command failed with ``exit_code`` and said why in exactly one line (``error: …``) and nothing else."""
    assert result.returncode == exit_code, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def query(dsn: ResolvedDsn, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def schemas(dsn: ResolvedDsn) -> set[str]:
    return {str(row[0]) for row in query(dsn, "SELECT nspname FROM pg_namespace")}

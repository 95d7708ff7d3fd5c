"""Connection resolution and password hygiene."""

from __future__ import annotations

import pytest

from statsfirst.db.connection import connect
from statsfirst.db.dsn import ResolvedDsn, redact, resolve_dsn
from statsfirst.errors import ConnectionProblem, UsageError


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://alice:Sup3rSecret@db.example:5432/app",
        "host=db.example user=alice password=Sup3rSecret dbname=app",
        "host=db.example password='Sup3rSecret' dbname=app",
        "postgresql://db.example/app?user=alice&password=Sup3rSecret",
    ],
)
def test_redact_removes_the_password_in_every_form(text: str) -> None:
    redacted = redact(text)
    assert "Sup3rSecret" not in redacted
    assert "***" in redacted


def test_explicit_dsn_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://env@h/db")
    assert resolve_dsn("postgresql://flag@h/db").source == "--dsn"
    assert resolve_dsn(None).source == "DATABASE_URL"


def test_malformed_dsn_is_a_usage_error_without_password() -> None:
    with pytest.raises(UsageError) as info:
        resolve_dsn("host=x password=Sup3rSecret port")
    assert "Sup3rSecret" not in str(info.value)


def test_unreachable_server_gives_one_clear_line_without_password() -> None:
    dsn = ResolvedDsn("postgresql://alice:Sup3rSecret@127.0.0.1:1/app", "--dsn")
    with pytest.raises(ConnectionProblem) as info:
        connect(dsn, connect_timeout=2)
    message = str(info.value)
    assert "Sup3rSecret" not in message
    assert "cannot connect to postgresql://alice:***@127.0.0.1:1/app" in message
    assert "\n" not in message


def test_embedded_server_is_the_default_and_persists(monkeypatch: pytest.MonkeyPatch, server_dsn: ResolvedDsn) -> None:
    """Without --dsn or DATABASE_URL the embedded server under STATSFIRST_HOME answers, twice the same."""
    import psycopg

    monkeypatch.delenv("DATABASE_URL", raising=False)
    first = resolve_dsn(None)
    assert first.source == "embedded"
    with psycopg.connect(first.conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS persisted (n int)")
        conn.execute("INSERT INTO persisted VALUES (7)")
    second = resolve_dsn(None)
    with psycopg.connect(second.conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM persisted WHERE n = 7").fetchone() == (1,)

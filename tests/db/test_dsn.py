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


# Every shape of a malformed connection string the issue names, each holding the password "TopSecret123" (or, for
# the spilled ones, pieces of "Top Secret123"). None of the string may be echoed: not the password, not a piece
# after it, not the host or user beside it.
MALFORMED = {
    "no scheme, user:password@host": ("postgres:TopSecret123@127.0.0.1/postgres", "not 'postgres://'"),
    "unknown scheme pg://": ("pg://alice:TopSecret123@127.0.0.1/postgres", "neither a PostgreSQL URI"),
    "typo postgresql:/": ("postgresql:/alice:TopSecret123@127.0.0.1/postgres", "not 'postgresql://'"),
    "mysql://": ("mysql://alice:TopSecret123@127.0.0.1/app", "is a mysql URI"),
    "SQLAlchemy URL": ("postgresql+psycopg://alice:TopSecret123@127.0.0.1/app", "SQLAlchemy"),
    "unterminated password='": ("host=127.0.0.1 user=alice password='TopSecret123", "closing ' is missing"),
    "unescaped @ in the URI password": ("postgresql://alice:Top@Secret123@127.0.0.1:5432/app", "unescaped '@'"),
    "unescaped / in the URI password": ("postgresql://alice:Top/Secret123@127.0.0.1:5432/app", "unescaped '@' or '/'"),
    "unquoted password with a space": ("host=127.0.0.1 password=Top Secret123 dbname=app", "it follows the password"),
    "space in a URI password": ("postgresql://alice:Top Secret123@127.0.0.1/app", "percent-encode spaces"),
    "bad percent-encoding": ("postgresql://alice:Top%zzSecret123@127.0.0.1/app", "percent-encoding"),
}
PIECES = ("TopSecret123", "Top", "Secret123", "alice", "127.0.0.1", "zz")


@pytest.mark.parametrize("shape", sorted(MALFORMED))
@pytest.mark.parametrize("from_env", [False, True], ids=["--dsn", "DATABASE_URL"])
def test_no_part_of_a_malformed_dsn_is_echoed(shape: str, from_env: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    text, says = MALFORMED[shape]
    monkeypatch.setenv("DATABASE_URL", text)
    with pytest.raises(UsageError) as info:
        resolve_dsn(None) if from_env else resolve_dsn(text)
    message = str(info.value)
    assert message.startswith(f"the connection string from {'DATABASE_URL' if from_env else '--dsn'} "), message
    assert says in message, message
    assert [piece for piece in PIECES if piece in message] == [], message
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("bogus=1", '"bogus"'),
        ("host=127.0.0.1 bogus=1 password=TopSecret123", '"bogus"'),
        ("postgresql://alice:TopSecret123@127.0.0.1/app?bogus=1", '"bogus"'),
        ("host=127.0.0.1 port", '"port"'),
    ],
)
def test_harmless_option_names_are_named(text: str, named: str) -> None:
    """An unknown option outside the password is named (a typo is found at once); nothing else of the string is."""
    with pytest.raises(UsageError) as info:
        resolve_dsn(text)
    message = str(info.value)
    assert named in message and "***" not in message, message
    assert "TopSecret123" not in message and "127.0.0.1" not in message


def test_an_option_after_an_unquoted_password_is_not_named() -> None:
    """``password=Top Secret123=x`` makes libpq read a key ``Secret123``: a piece of the password, so never named."""
    with pytest.raises(UsageError) as info:
        resolve_dsn("host=h password=Top Secret123=x")
    assert "Secret123" not in str(info.value) and "not shown" in str(info.value)


def test_a_well_formed_dsn_passes_unchanged() -> None:
    for text in ("postgresql://alice:Top%40Secret@127.0.0.1:5432/app", "host=h password='Top Secret' dbname=app",
                 "postgresql://h/app?user=alice@example.org"):
        assert resolve_dsn(text).conninfo == text


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

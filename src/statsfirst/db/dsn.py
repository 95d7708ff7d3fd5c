"""Resolve which database a command talks to, and keep its password out of every message.

Order: ``--dsn``, else ``DATABASE_URL``, else the embedded PostgreSQL kept under ``STATSFIRST_HOME``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from statsfirst.errors import UsageError

_URI_PASSWORD = re.compile(r"(?P<head>postgres(?:ql)?://[^:/@\s]*:)(?P<password>[^@\s]*)(?P<tail>@)")
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<password>'(?:[^'\\]|\\.)*'|\S+)")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&\s]*)")


@dataclass(frozen=True)
class ResolvedDsn:
    """A connection string plus where it came from (for messages) and its password (for scrubbing)."""

    conninfo: str
    source: str  # "--dsn", "DATABASE_URL" or "embedded"

    @property
    def password(self) -> str | None:
        try:
            return conninfo_to_dict(self.conninfo).get("password") or None  # type: ignore[return-value]
        except Exception:
            return None

    def redacted(self) -> str:
        return redact(self.conninfo)

    def scrub(self, text: str) -> str:
        """Remove this DSN's password from any text (error messages quote connection strings)."""
        text = redact(text)
        password = self.password
        if password:
            text = text.replace(password, "***")
        return text

    def with_database(self, dbname: str) -> ResolvedDsn:
        return ResolvedDsn(make_conninfo(self.conninfo, dbname=dbname), self.source)


def redact(text: str) -> str:
    """Replace passwords in URIs, ``key=value`` strings and ``?password=`` query parameters with ``***``."""
    text = _URI_PASSWORD.sub(lambda m: f"{m['head']}***{m['tail']}" if m["password"] else m[0], text)
    text = _KV_PASSWORD.sub(lambda m: f"{m['head']}***", text)
    return _QUERY_PASSWORD.sub(lambda m: f"{m['head']}***", text)


def resolve_dsn(explicit: str | None = None) -> ResolvedDsn:
    """Pick the database for this command; starts the embedded server only when nothing else is given."""
    if explicit:
        return _checked(explicit, "--dsn")
    from_env = os.environ.get("DATABASE_URL")
    if from_env:
        return _checked(from_env, "DATABASE_URL")
    from statsfirst.db.embedded import embedded_dsn

    return ResolvedDsn(embedded_dsn(), "embedded")


# libpq's parse errors quote the piece of the string they stumbled on; in a malformed string that piece can be part of
# the password (`password=my secret` → missing "=" after "secret"), so a quoted piece found after the password's
# start is masked
_PASSWORD_START = re.compile(r"password|://[^/@\s]*:", re.IGNORECASE)
_QUOTED_PIECE = re.compile(r'"(.+?)"(?=\s|$)')


def _mask_password_pieces(message: str, conninfo: str) -> str:
    start = _PASSWORD_START.search(conninfo)
    if start is None:
        return message
    tail = conninfo[start.end():]
    return _QUOTED_PIECE.sub(lambda m: '"***"' if len(m[1]) > 1 and m[1] in tail else m[0], message)


def _checked(conninfo: str, source: str) -> ResolvedDsn:
    try:
        conninfo_to_dict(conninfo)
    except Exception as exc:
        detail = _mask_password_pieces(redact(str(exc).splitlines()[0]), conninfo)
        raise UsageError(
            f"the connection string from {source} is malformed ({detail})",
            "give a URI like postgresql://user@host:5432/dbname or key=value pairs",
        ) from None
    return ResolvedDsn(conninfo, source)

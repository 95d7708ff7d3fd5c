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


# A malformed connection string is never quoted back, not even in part: libpq's parse errors quote the piece they
# stumbled on, and in a malformed string any piece can be (part of) the password (`postgres:Secret@host` has no "=",
# `password=my secret` spills "secret", an unescaped "@" moves the rest of the password into the host name). The
# messages below say what shape is wrong; the only piece ever named is an option name that lies outside every span
# that could hold a password.
MALFORMED_REMEDY = (
    "give a URI like postgresql://user@host:5432/dbname (percent-encode @ : / in a password, e.g. @ as %40) or "
    "key=value pairs like host=db user=me dbname=app (put a password holding spaces in single quotes)"
)
_PG_URI = re.compile(r"^postgres(?:ql)?://")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):")
_OTHER_SYSTEMS = ("mysql", "mariadb", "sqlite", "mssql", "sqlserver", "oracle", "mongodb", "redis", "jdbc", "http",
                  "https", "file")
_KV_QUOTED_PASSWORD = re.compile(r"\bpassword\s*=\s*'(?:[^'\\]|\\.)*'", re.IGNORECASE)
_KV_PASSWORD_START = re.compile(r"\bpassword\s*=?", re.IGNORECASE)
_QUOTED = re.compile(r'"([^"]*)"')
_OPTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def _password_spans(conninfo: str) -> list[tuple[int, int]]:
    """Where in ``conninfo`` a password is or could be (generously: a malformed string may spill it further)."""
    spans: list[tuple[int, int]] = []
    if _PG_URI.match(conninfo):
        rest_start = conninfo.index("//") + 2
        rest = conninfo[rest_start:]
        before_query = rest.split("?", 1)[0]
        at = before_query.rfind("@")
        colon = before_query.find(":")
        if at != -1:
            spans.append((rest_start + (colon + 1 if -1 < colon < at else 0), rest_start + at))
        query = conninfo.find("?")
        if query != -1:
            found = re.search(r"[?&]password=", conninfo[query:], re.IGNORECASE)
            if found:
                spans.append((query + found.start(), len(conninfo)))
        return spans
    for match in _KV_PASSWORD_START.finditer(conninfo):
        quoted = _KV_QUOTED_PASSWORD.match(conninfo, match.start())
        # a quoted, terminated value ends at its quote; anything else may have spilled into what follows
        spans.append((match.start(), quoted.end() if quoted else len(conninfo)))
    return spans


def _echoable(piece: str, conninfo: str) -> bool:
    """An option name may be named back when it is one and occurs nowhere a password could be."""
    if not _OPTION_NAME.fullmatch(piece):
        return False
    spans = _password_spans(conninfo)
    inside = any(piece.lower() in conninfo[a:b].lower() for a, b in spans)
    return not inside and piece in conninfo


def _shape_problem(conninfo: str) -> str | None:
    """What is wrong with a string libpq would misread (or read into a different server/password), else None."""
    text = conninfo.strip()
    if _PG_URI.match(text):
        rest = text[text.index("//") + 2:]
        before_query = rest.split("?", 1)[0]
        ats = before_query.count("@")
        if ats > 1 or (ats == 1 and "/" in before_query[: before_query.index("@")]):
            return (
                "is a URI whose user or password part holds an unescaped '@' or '/' (libpq would read the rest of "
                "the password as the host or database)"
            )
        return None
    scheme = _SCHEME.match(text)
    first_word = text.split(None, 1)[0] if text else ""
    if scheme and "=" not in first_word[: scheme.end()]:
        name = scheme["scheme"].lower()
        if name.startswith(("postgres+", "postgresql+")):
            return "is an SQLAlchemy URL (postgresql+driver://); drop the '+driver' part"
        if name in _OTHER_SYSTEMS:
            return f"is a {name} URI, not a PostgreSQL one (it must start with postgresql:// or postgres://)"
        if name in ("postgres", "postgresql"):
            return f"starts with '{name}:' but not '{name}://' (a URI needs both slashes)"
        return "is neither a PostgreSQL URI (postgresql://… or postgres://…) nor key=value pairs"
    return None


def _parse_problem(libpq_message: str, conninfo: str) -> str:
    """libpq's complaint, said without the piece of the string it quotes (unless that is a harmless option name)."""
    quoted = _QUOTED.findall(libpq_message)
    piece = quoted[-1] if quoted else ""  # `missing "=" after "word"`: the last quoted piece is the word
    named = f' "{piece}"' if piece and _echoable(piece, conninfo) else ""
    hidden = ""
    if piece and not named:
        after_password = any(piece.lower() in conninfo[a:b].lower() for a, b in _password_spans(conninfo))
        hidden = (
            " (not shown: it follows the password, and an unquoted password ends at the first space)"
            if after_password
            else " (not shown: it could hold a password)"
        )
    if libpq_message.startswith("missing \"=\""):
        return f'has a word without "="{":" + named if named else hidden}'
    if libpq_message.startswith("invalid connection option"):
        return f"names an unknown connection option{named}{hidden}"
    if libpq_message.startswith("invalid URI query parameter"):
        return f"names an unknown URI query parameter{named}{hidden}"
    if libpq_message.startswith("unterminated quoted string"):
        return "has a quoted value whose closing ' is missing (write a quote inside a value as \\')"
    if libpq_message.startswith("invalid percent-encoded token"):
        return "has an invalid percent-encoding (each % must be followed by two hex digits)"
    if libpq_message.startswith("unexpected spaces found"):
        return "is a URI with a space in it (percent-encode spaces as %20)"
    if "separator" in libpq_message:
        return "has a URI query parameter with more than one '='"
    return "cannot be parsed"


def describe_malformed(conninfo: str) -> str | None:
    """Why ``conninfo`` is not a usable connection string, in words that quote no part of it; None when it is."""
    problem = _shape_problem(conninfo)
    if problem:
        return problem
    try:
        conninfo_to_dict(conninfo)
    except Exception as exc:
        return _parse_problem((str(exc).strip().splitlines() or [""])[0], conninfo)
    return None


def _checked(conninfo: str, source: str) -> ResolvedDsn:
    problem = describe_malformed(conninfo)
    if problem:
        raise UsageError(f"the connection string from {source} {problem}", MALFORMED_REMEDY)
    return ResolvedDsn(conninfo, source)


def connection_advice(problem: str, source: str) -> str | None:
    """What to do about a failed connection, read from the server's (password-free) message; None when the message
    names no specific cause."""
    lowered = problem.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return f"check the password (and the user name) in {source}"
    if re.search(r'database "[^"]*" does not exist', lowered):
        return f"check the database name in {source}, or create that database"
    if re.search(r'role "[^"]*" does not exist', lowered):
        return f"check the user name in {source}"
    if "could not translate host name" in lowered or "failed to resolve host" in lowered:
        return f"check the host name in {source}"
    return None

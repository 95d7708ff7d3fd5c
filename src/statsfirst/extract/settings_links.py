"""How the legacy session_settings rows link to sessions, counted over the whole legacy table (mapping.md: the run
summary, the reconciliation and the report count the unlinked and the ambiguous rows).

The rule is the extract's (SETTINGS_QUERY): a row links to a session when its session_id equals the session's
legacy session_id or its id as text; of several candidates the newest updated_at is used. Most rows the real app
writes carry a random session id and link to nothing: they are not lost data, but nobody may take them for
migrated settings either, so they are counted where people look. Settings rows have no date, so the counts are
never limited to a --since/--until range.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import psycopg
from psycopg import sql

from statsfirst.extract.legacy_reader import has_legacy_session_settings

LINKS_QUERY = sql.SQL(
    """
    WITH candidates AS (  -- (settings row, session) pairs; a row matching one session both ways counts once
        SELECT s.ctid AS row_ref, c.id AS c_id
        FROM {legacy}.session_settings s JOIN {legacy}.c3d_metadata c ON s.session_id = c.session_id
        UNION
        SELECT s.ctid, c.id
        FROM {legacy}.session_settings s JOIN {legacy}.c3d_metadata c ON s.session_id = c.id::text
    ), per_session AS (
        SELECT count(*) AS rows_linked FROM candidates GROUP BY c_id HAVING count(*) > 1
    )
    SELECT (SELECT count(*) FROM {legacy}.session_settings),
           (SELECT count(*) FROM {legacy}.session_settings) - (SELECT count(DISTINCT row_ref) FROM candidates),
           (SELECT count(*) FROM per_session),
           (SELECT coalesce(sum(rows_linked - 1), 0) FROM per_session)
    """
)


@dataclass(frozen=True)
class SettingsLinks:
    """``rows``: legacy session_settings rows; ``unlinked``: rows that link to no session; ``ambiguous_sessions``:
    sessions with several candidate rows; ``not_used``: the candidates of those sessions that lost to a newer row."""

    rows: int = 0
    unlinked: int = 0
    ambiguous_sessions: int = 0
    not_used: int = 0

    def as_json(self) -> dict[str, int]:
        return asdict(self)


def count_settings_links(conn: psycopg.Connection) -> SettingsLinks | None:
    """The counts, or None when the legacy database has no session_settings table (older legacy versions)."""
    if not has_legacy_session_settings(conn):
        return None
    row = conn.execute(LINKS_QUERY.format(legacy=sql.Identifier("public"))).fetchone()
    assert row is not None
    return SettingsLinks(*(int(value) for value in row))

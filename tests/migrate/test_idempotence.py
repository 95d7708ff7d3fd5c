"""Re-running the same range changes nothing; a fixed legacy row changes exactly what derives from it."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from migration_support import TARGET, TARGET_TABLES, rows, run, scalar, seeded_database, table_digests

from statsfirst.db.dsn import ResolvedDsn


def row_hashes(dsn: ResolvedDsn) -> dict[str, dict[str, str]]:
    """Per table: primary id → md5 of the whole row."""
    out: dict[str, dict[str, str]] = {}
    for name in TARGET_TABLES:
        out[name] = {str(r[0]): r[1] for r in rows(dsn, f"SELECT t.id::text, md5(t::text) FROM {TARGET}.{name} t")}
    return out


def changed(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name in TARGET_TABLES:
        keys = set(before[name]) | set(after[name])
        diff = {k for k in keys if before[name].get(k) != after[name].get(k)}
        if diff:
            out[name] = diff
    return out


def test_idempotent_and_incremental(make_database: Callable[[], ResolvedDsn]) -> None:
    dsn = seeded_database(make_database, sessions=600)
    summaries = []
    digests = []
    for _ in range(3):
        summaries.append(run(dsn, batch_size=200).as_json()["sessions"])
        digests.append(table_digests(dsn))
    assert summaries[0] == summaries[1] == summaries[2]
    assert digests[0] == digests[1] == digests[2]
    assert digests[0]["therapy_sessions"][0] > 0

    # 1. change one migrated session's current analysis: CH1 contraction_count 12 → 13 (still consistent)
    target = rows(dsn, f"SELECT e.id::text, e.session_id::text, e.total_contractions FROM {TARGET}.emg_statistics e"
                       f" JOIN {TARGET}.signal_processing_cache c ON c.session_id = e.session_id AND c.cache_valid"
                       " WHERE e.channel_name = 'CH1' AND e.total_contractions >= 1 ORDER BY e.id LIMIT 1")
    assert target, "need a migrated session with a valid current analysis"
    emg_id, session_id, total = target[0]
    before = row_hashes(dsn)
    with psycopg.connect(dsn.conninfo) as conn:
        updated = conn.execute(
            "UPDATE public.analysis_results a SET analytics_data = jsonb_set(analytics_data, '{CH1,contraction_count}',"
            " to_jsonb(%s::float8)) FROM " + f"{TARGET}.signal_processing_cache c"
            " WHERE c.id = a.id AND c.cache_valid AND c.session_id = %s",
            (float(total + 1), session_id),
        ).rowcount
    assert updated == 1
    run(dsn, batch_size=200)
    diff = changed(before, row_hashes(dsn))
    assert diff.get("emg_statistics") == {emg_id}
    assert scalar(dsn, f"SELECT total_contractions FROM {TARGET}.emg_statistics WHERE id = %s", (emg_id,)) == total + 1
    # whatever else changed derives from that one session
    for name, ids in diff.items():
        if name == "therapy_sessions":
            assert ids == {session_id}
        elif name in ("performance_scores", "processing_parameters", "signal_processing_cache", "session_settings"):
            owners = {r[0] for r in rows(dsn, f"SELECT session_id::text FROM {TARGET}.{name} WHERE id::text = ANY(%s)",
                                         (list(ids),))}
            assert owners <= {session_id}, name
    assert "bfr_monitoring" not in diff

    # 2. fix a quarantined bad_file_hash session (the upper-case kind; the other kind is truncated) → lower case
    spoiled = rows(dsn, "SELECT m.c3d_metadata_id::text FROM legacy_seed.manifest m"
                        " JOIN statsfirst.quarantine q"
                        " ON q.legacy_session_id = m.c3d_metadata_id AND q.resolved_at IS NULL"
                        " JOIN public.c3d_metadata c ON c.id = m.c3d_metadata_id"
                        " WHERE m.spoiled_kind = 'bad_file_hash' AND c.file_hash ~ '^[0-9A-F]{64}$' LIMIT 1")
    assert spoiled, "the seed should spoil one session's file_hash"
    fixed = spoiled[0][0]
    open_before = scalar(dsn, "SELECT count(*) FROM statsfirst.quarantine WHERE resolved_at IS NULL")
    with psycopg.connect(dsn.conninfo) as conn:
        conn.execute("UPDATE public.c3d_metadata SET file_hash = lower(file_hash) WHERE id = %s", (fixed,))
        conn.execute("UPDATE public.analysis_results SET file_hash = lower(file_hash) WHERE c3d_metadata_id = %s",
                     (fixed,))
    summary = run(dsn, batch_size=200).as_json()
    assert scalar(dsn, f"SELECT count(*) FROM {TARGET}.therapy_sessions WHERE id = %s", (fixed,)) == 1
    resolved = rows(dsn, "SELECT resolved_at IS NOT NULL, resolved_by_run::text FROM statsfirst.quarantine"
                         " WHERE legacy_session_id = %s", (fixed,))
    assert resolved == [(True, summary["run_id"])]
    assert scalar(dsn, "SELECT count(*) FROM statsfirst.quarantine WHERE resolved_at IS NULL") == open_before - 1
    sessions = summary["sessions"]
    assert isinstance(sessions, dict)
    assert sessions["migrated"] == summaries[0]["migrated"] + 1
    assert sessions["quarantined"] == summaries[0]["quarantined"] - 1

"""statsfirst.quarantine_review, the held-back sessions as clinicians see them: each client sees exactly the open
entries target-schema.md's session rule grants (applied to the legacy row), with reasons and failed checks but no
payload and no failed value. (That it holds no name is checked with every other readable relation in
test_no_names.py.)"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg import errors
from security_support import SecuredRun, act_as, rows

from statsfirst.extract.references import clean_reference as clean


def expected_entries(run: SecuredRun, user: uuid.UUID | None) -> set[str]:
    """Open entries the client may see: all for researchers/service_role (user None), else by the session rule."""
    entries = rows(run.admin, "SELECT q.legacy_session_id::text, c.resolved_patient_id, c.patient_id, c.therapist_id,"
                              " c.resolved_therapist_id FROM statsfirst.quarantine q"
                              " JOIN public.c3d_metadata c ON c.id = q.legacy_session_id WHERE q.resolved_at IS NULL")
    if user is None:
        return {e[0] for e in entries}
    mine = rows(run.admin, "SELECT t.id::text, array_remove(array_agg(p.patient_code), NULL) FROM public.therapists t"
                           " LEFT JOIN public.patients p ON p.therapist_id = t.id WHERE t.user_id = %s GROUP BY t.id",
                (user,))
    therapist_ids = {m[0] for m in mine}
    codes = {code for m in mine for code in m[1]}
    visible = set()
    for session, resolved, raw, therapist, resolved_therapist in entries:
        code = clean(resolved) or clean(raw)
        reference = clean(therapist) or clean(resolved_therapist)
        if code in codes or (reference and reference.lower() in therapist_ids):
            visible.add(session)
    return visible


def clients(run: SecuredRun) -> dict[str, tuple[str, Any]]:
    """anon, service_role, a researcher, and every therapist that has a held-back session plus one that has none."""
    researcher = rows(run.admin, "SELECT id FROM public.researcher_profiles ORDER BY id LIMIT 1")[0][0]
    users = [r[0] for r in rows(run.admin, "SELECT user_id FROM public.therapists ORDER BY user_id")]
    has_entries = {u: bool(expected_entries(run, u)) for u in users}
    with_entries = [u for u in users if has_entries[u]]
    without = [u for u in users if not has_entries[u]][:1]
    found: dict[str, tuple[str, Any]] = {"anon": ("anon", None), "service_role": ("service_role", None),
                                         "researcher": ("authenticated", researcher)}
    found.update({f"therapist {u}": ("authenticated", u) for u in [*with_entries, *without]})
    return found


def read_as(run: SecuredRun, role: str, sub: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(run.admin.conninfo) as conn:
        act_as(conn, role, sub)
        return conn.execute("SELECT legacy_session_id::text, patient_code, stage, reasons, failed_checks, analyses"
                            " FROM statsfirst.quarantine_review").fetchall()


def test_each_client_sees_exactly_the_entries_the_session_rule_grants(secured_run: SecuredRun) -> None:
    everyone = clients(secured_run)
    therapists = [name for name in everyone if name.startswith("therapist")]
    assert len(therapists) >= 3, therapists  # some with held-back sessions, one without
    with pytest.raises(errors.InsufficientPrivilege):
        read_as(secured_run, "anon", None)
    seen_by_therapist: dict[str, set[str]] = {}
    for name, (role, sub) in everyone.items():
        if name == "anon":
            continue
        got = {r[0] for r in read_as(secured_run, role, sub)}
        want = expected_entries(secured_run, None if name in ("researcher", "service_role") else sub)
        assert got == want, name
        if name.startswith("therapist"):
            seen_by_therapist[name] = got
    everything = expected_entries(secured_run, None)
    assert len(everything) >= 10
    assert sum(1 for got in seen_by_therapist.values() if got) >= 2  # several therapists, each seeing only theirs
    assert all(got < everything for got in seen_by_therapist.values())
    assert any(not got for got in seen_by_therapist.values())


def test_entries_carry_the_reasons_and_checks_without_the_values(secured_run: SecuredRun) -> None:
    researcher = rows(secured_run.admin, "SELECT id FROM public.researcher_profiles ORDER BY id LIMIT 1")[0][0]
    shown = {r[0]: r for r in read_as(secured_run, "authenticated", researcher)}
    held = rows(secured_run.admin, "SELECT legacy_session_id::text, stage, reasons, failures,"
                                   " cardinality(legacy_analysis_ids) FROM statsfirst.quarantine"
                                   " WHERE resolved_at IS NULL")
    assert len(shown) == len(held)
    for session, stage, reasons, failures, analyses in held:
        _, _, shown_stage, shown_reasons, checks, shown_analyses = shown[session]
        assert (shown_stage, shown_reasons, shown_analyses) == (stage, reasons, analyses)
        assert sorted(checks) == sorted({" / ".join(str(f[k]) for k in ("table", "column", "check", "reason")
                                                    if f.get(k) is not None) for f in failures})
    # the planted sessions (a name in their payload) are among them, with a registered code or none
    assert set(secured_run.quarantined_with_names) <= set(shown)
    codes = {r[0] for r in rows(secured_run.admin, "SELECT patient_code FROM public.patients")}
    assert {r[1] for r in shown.values()} <= codes | {None}

"""The legacy tables' content and definitions are identical before `schema apply` and after migrate (with its
failures), the compatibility views and every reconciliation: statsfirst only ever reads them."""

from __future__ import annotations

from security_support import LEGACY_TABLES, TARGET, SecuredRun


def test_legacy_tables_identical_before_and_after_the_whole_job(secured_run: SecuredRun) -> None:
    before, after = secured_run.legacy_before, secured_run.legacy_after
    assert before["c3d_metadata.rows"][0][0] == 200 and before["c3d_metadata.constraints"]
    changed = sorted(key for key in before.keys() | after.keys()
                     if before.get(key) != after.get(key) and not key.endswith(".referenced_by"))
    assert changed == [], {key: (before.get(key), after.get(key)) for key in changed}


def test_only_the_new_tables_foreign_keys_point_at_legacy_tables(secured_run: SecuredRun) -> None:
    """The eight tables reference patients, therapists and researcher_profiles (target-schema.md); PostgreSQL keeps
    those foreign keys with internal triggers on the referenced legacy tables. Nothing else refers to them."""
    before, after = secured_run.legacy_before, secured_run.legacy_after
    legacy_names = {f"public.{t}" for t in LEGACY_TABLES} | set(LEGACY_TABLES)
    assert {r[0] for t in LEGACY_TABLES for r in before[f"{t}.referenced_by"]} <= legacy_names
    new = {t: [r for r in after[f"{t}.referenced_by"] if r not in before[f"{t}.referenced_by"]]
           for t in LEGACY_TABLES}
    new = {t: refs for t, refs in new.items() if refs}
    assert all(r in after[f"{t}.referenced_by"] for t in LEGACY_TABLES for r in before[f"{t}.referenced_by"])
    assert set(new) == {"patients", "therapists", "researcher_profiles"}, new
    for references in new.values():
        for relation, _, definition in references:
            assert relation.startswith(f"{TARGET}."), relation
            assert definition.startswith("FOREIGN KEY") and " REFERENCES " in definition, definition


def test_the_snapshot_sees_what_a_change_would_be(secured_run: SecuredRun) -> None:
    """The comparison above is only as good as the snapshot: it covers every legacy table and every aspect."""
    aspects = {key.split(".", 1)[1] for key in secured_run.legacy_before if key.split(".", 1)[0] in LEGACY_TABLES}
    assert aspects == {"rows", "columns", "constraints", "indexes", "triggers", "referenced_by", "relation",
                       "policies", "rules", "writes"}
    # the legacy trigger and indexes are in it, and the seed's writes were counted
    assert any("update_c3d_metadata_updated_at" in str(t) for t in secured_run.legacy_before["c3d_metadata.triggers"])
    assert len(secured_run.legacy_before["c3d_metadata.indexes"]) >= 10
    assert secured_run.legacy_before["c3d_metadata.writes"][0][0] >= 200

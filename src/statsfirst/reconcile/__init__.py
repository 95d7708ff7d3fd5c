"""Reconcile: recompute from the legacy tables, in SQL, what the target should hold, and compare it with the target
and the quarantine. Independent of the pipeline's own counters; read-only (temporary tables only)."""

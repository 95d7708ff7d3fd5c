"""The legacy application's reads (compat-views.md) and the value comparison used to prove that the compatibility
views answer them as the legacy tables do; shared by tests/views (seeded data) and tests/real_legacy (real rows)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

REL_TOL = 1e-12
# analytics_data parts the Statistics-First design re-derives from the C3D file (not reproduced by the view)
NOT_REPRODUCED = ("contractions", "signal_processing", "errors")
# $3 / $2 of the expiry reads: before every row (all rows), and the application's "now" (unexpired only)
TIMES = (datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))

C3D_BY_HASH = "SELECT * FROM {} WHERE file_hash = %s"
C3D_BY_ID = "SELECT * FROM {} WHERE id = %s"
AR_BY_SESSION = "SELECT * FROM {} WHERE c3d_metadata_id = %s AND expires_at > %s ORDER BY created_at DESC"
CACHE_HITS = "SELECT cache_hits FROM {} WHERE id = %s"
COUNT = "SELECT count(*) FROM {}"


def same(a: Any, b: Any, path: str = "") -> list[str]:
    """Differences between two values (JSON-like), numbers within REL_TOL; empty when equal."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return [] if math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0) else [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())} only on one side"]
        return [d for k in a for d in same(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: lengths {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in same(x, y, f"{path}[{i}]")]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]

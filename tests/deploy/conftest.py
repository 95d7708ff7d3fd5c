"""Fixtures of the deployment tests: the migration tests' seeded databases, and one Prefect server per session."""

from __future__ import annotations

import sys
from pathlib import Path

# migration_support (seeded legacy databases, digests) lives with the migration tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "migrate"))

"""Where statsfirst finds its SQL files and keeps its local state."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

_PACKAGE_DIR = Path(__file__).resolve().parent


def sql_dir() -> Path:
    """The ``sql/`` folder: bundled inside the wheel, or at the repository root in a source checkout."""
    for candidate in (_PACKAGE_DIR / "sql", _PACKAGE_DIR.parents[1] / "sql"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("statsfirst's sql/ folder is missing from the installation")


def statsfirst_home() -> Path:
    """Local state (the embedded server's data directory): ``STATSFIRST_HOME`` or the user's data dir."""
    configured = os.environ.get("STATSFIRST_HOME")
    home = Path(configured).expanduser() if configured else Path(platformdirs.user_data_dir("statsfirst"))
    home.mkdir(parents=True, exist_ok=True)
    return home.resolve()


def default_c3d_dir() -> Path | None:
    """Real GHOSTLY recordings used to ground synthetic data: ``STATSFIRST_C3D_DIR`` or ``../shared/data/c3d``."""
    configured = os.environ.get("STATSFIRST_C3D_DIR")
    if configured:
        return Path(configured).expanduser()
    repo_root = _PACKAGE_DIR.parents[1]
    for candidate in (repo_root.parent / "shared" / "data" / "c3d", Path.cwd().parent / "shared" / "data" / "c3d"):
        if candidate.is_dir():
            return candidate
    return None

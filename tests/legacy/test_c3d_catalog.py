"""Reading the real C3D files, and the parametric fallback."""

from __future__ import annotations

from pathlib import Path

from statsfirst.legacy.c3d_catalog import load_catalog

# One real GHOSTLY recording (from ../shared/data/c3d) travels with the tests, so this runs wherever CI clones.
REAL_FILES = Path(__file__).resolve().parents[1] / "data" / "c3d"


def test_real_files() -> None:
    catalog = load_catalog(REAL_FILES)
    assert catalog.grounded and len(catalog.recordings) == 1
    rec = catalog.recordings[0]
    assert rec.name == "Ghostly_Emg_20230321_17-23-09-0409.c3d" and rec.size_bytes == 1229632
    assert rec.point_rate == 33.0 and rec.analog_rate == 990.0 and rec.frame_count == 2476
    assert rec.analog_labels == ("CH1 Raw", "CH2 Raw", "CH1 activated", "CH2 activated")
    assert len(rec.sha256) == 64 and len(rec.emg_ch1) == 2000
    assert abs(rec.duration_seconds - 2476 / 33) < 1e-9


def test_parametric_fallback(tmp_path: Path) -> None:
    catalog = load_catalog(tmp_path / "missing")
    assert not catalog.grounded and len(catalog.recordings) == 7
    assert all(len(r.sha256) == 64 for r in catalog.recordings)

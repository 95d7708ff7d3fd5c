"""Read the real GHOSTLY C3D recordings that ground the synthetic legacy data.

For each file: name, size, SHA-256, point rate (33 Hz), analog rate (990 Hz), point frame count, duration
(frames / point rate), analog labels, a few INFO/SUBJECTS values and a short slice of the real ``CH1 Raw`` /
``CH2 Raw`` EMG samples (templates for the ``emg_signals`` bloat). The files are only read, never copied.

When the directory is missing, :func:`load_catalog` returns the documented parametric profile instead
(``grounded=False``): the seven real recordings' names, sizes and frame counts, pseudo hashes derived from the
names, and a synthetic EMG-like slice (band-limited noise of ~2e-5 V), so the demo works without the files.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from statsfirst.paths import default_c3d_dir

POINT_RATE_HZ = 33.0
ANALOG_RATE_HZ = 990.0
ANALOG_LABELS: tuple[str, ...] = ("CH1 Raw", "CH2 Raw", "CH1 activated", "CH2 activated")
EMG_SLICE_SAMPLES = 2000

# The parametric profile: the real recordings (name, size in bytes, point frames) measured on the originals.
PARAMETRIC_PROFILE: tuple[tuple[str, int, int], ...] = (
    ("Ghostly_Emg_20230321_17-23-09-0409.c3d", 1229632, 2476),
    ("Ghostly_Emg_20230321_17-28-14-0160.c3d", 1122496, 2260),
    ("Ghostly_Emg_20230321_17-33-14-0785.c3d", 2031168, 4092),
    ("Ghostly_Emg_20230321_17-50-17-0881.c3d", 2867920, 5779),
    ("Ghostly_Emg_20231004_13-18-43-0464.c3d", 1047104, 2108),
    ("Ghostly_Emg_20250310_11-46-23-0823.c3d", 1045616, 2105),
    ("Ghostly_Emg_20250310_11-50-16-0578.c3d", 1103152, 2221),
)


@dataclass(frozen=True)
class C3DRecording:
    """What the legacy upload pipeline could know about one C3D file."""

    name: str
    size_bytes: int
    sha256: str
    point_rate: float
    analog_rate: float
    frame_count: int
    analog_labels: tuple[str, ...]
    info: dict[str, str | float] = field(default_factory=dict)
    emg_ch1: tuple[float, ...] = ()
    emg_ch2: tuple[float, ...] = ()

    @property
    def duration_seconds(self) -> float:
        return self.frame_count / self.point_rate if self.point_rate else 0.0


@dataclass(frozen=True)
class C3DCatalog:
    """The recordings found (``grounded=True``) or the parametric profile (``grounded=False``)."""

    recordings: tuple[C3DRecording, ...]
    grounded: bool
    source: str

    @property
    def sizes(self) -> np.ndarray:
        return np.array([r.size_bytes for r in self.recordings], dtype=np.int64)

    @property
    def frame_counts(self) -> np.ndarray:
        return np.array([r.frame_count for r in self.recordings], dtype=np.int64)


def _param_value(param: object) -> str | float | None:
    """A C3D parameter as a string (character arrays) or a number, else None."""
    try:
        if param.bytes_per_element == -1:  # type: ignore[attr-defined]
            values = [str(v).strip() for v in param.string_array]  # type: ignore[attr-defined]
            return " ".join(v for v in values if v)
        width = param.bytes_per_element  # type: ignore[attr-defined]
        if width == 4:
            return float(param.float_value)  # type: ignore[attr-defined]
        if width == 2:
            return float(param.int16_value)  # type: ignore[attr-defined]
        if width == 1:
            return float(param.int8_value)  # type: ignore[attr-defined]
    except Exception:
        return None
    return None


_INFO_KEYS = {
    "INFO:GAME_NAME": "game_name",
    "INFO:GAME_LEVEL": "game_level",
    "INFO:THERAPIST_ID": "therapist_id",
    "SUBJECTS:PLAYER_NAME": "player_name",
    "SUBJECTS:GAME_SCORE": "game_score",
}


def read_recording(path: Path, slice_samples: int = EMG_SLICE_SAMPLES) -> C3DRecording:
    """Read one C3D file (warnings about missing DESCRIPTIONS parameters are suppressed)."""
    import c3d

    data = path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with path.open("rb") as handle:
            reader = c3d.Reader(handle)
            labels = tuple(str(label).strip() for label in reader.analog_labels)
            info: dict[str, str | float] = {}
            for key, name in _INFO_KEYS.items():
                param = reader.get(key)
                value = _param_value(param) if param is not None else None
                if value is not None:
                    info[name] = value
            ch1_index = labels.index("CH1 Raw") if "CH1 Raw" in labels else 0
            ch2_index = labels.index("CH2 Raw") if "CH2 Raw" in labels else min(1, len(labels) - 1)
            chunks: list[np.ndarray] = []
            collected = 0
            for _, _, analog in reader.read_frames():
                chunks.append(np.asarray(analog)[[ch1_index, ch2_index], :])
                collected += chunks[-1].shape[1]
                if collected >= slice_samples:
                    break
            emg = np.concatenate(chunks, axis=1)[:, :slice_samples] if chunks else np.zeros((2, 0))
            record = C3DRecording(
                name=path.name,
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                point_rate=float(reader.point_rate),
                analog_rate=float(reader.analog_rate),
                frame_count=int(reader.frame_count),
                analog_labels=labels,
                info=info,
                emg_ch1=tuple(float(v) for v in emg[0]),
                emg_ch2=tuple(float(v) for v in emg[1]),
            )
    return record


def parametric_catalog(slice_samples: int = EMG_SLICE_SAMPLES) -> C3DCatalog:
    """The documented fallback profile when the real files are not available."""
    rng = np.random.Generator(np.random.PCG64(20230321))
    kernel = np.ones(5) / 5.0
    recordings = []
    for name, size, frames in PARAMETRIC_PROFILE:
        ch1 = np.convolve(rng.normal(0.0, 2e-5, slice_samples), kernel, mode="same")
        ch2 = np.convolve(rng.normal(0.0, 2e-5, slice_samples), kernel, mode="same")
        recordings.append(
            C3DRecording(
                name=name,
                size_bytes=size,
                sha256=hashlib.sha256(f"parametric:{name}".encode()).hexdigest(),
                point_rate=POINT_RATE_HZ,
                analog_rate=ANALOG_RATE_HZ,
                frame_count=frames,
                analog_labels=ANALOG_LABELS,
                info={"game_name": "Ghostly"},
                emg_ch1=tuple(float(v) for v in ch1),
                emg_ch2=tuple(float(v) for v in ch2),
            )
        )
    return C3DCatalog(tuple(recordings), grounded=False, source="parametric profile (real files not found)")


def load_catalog(c3d_dir: Path | None = None, slice_samples: int = EMG_SLICE_SAMPLES) -> C3DCatalog:
    """Read every ``*.c3d`` in ``c3d_dir`` (default: :func:`statsfirst.paths.default_c3d_dir`), sorted
    by name.

    Falls back to :func:`parametric_catalog` when the directory is missing or holds no C3D file.
    """
    directory = c3d_dir if c3d_dir is not None else default_c3d_dir()
    if directory is None or not directory.is_dir():
        return parametric_catalog(slice_samples)
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() == ".c3d" and p.is_file())
    if not files:
        return parametric_catalog(slice_samples)
    recordings = tuple(read_recording(p, slice_samples) for p in files)
    return C3DCatalog(recordings, grounded=True, source=str(directory))

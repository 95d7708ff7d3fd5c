"""Build legacy ``analysis_results.analytics_data`` documents in the real units and shapes.

Counts are JSON integers as the real writer emits them (a hand-edited row may hold ``12.0``: the generator's
``float_counts`` trap), durations milliseconds, amplitudes volts (1e-6 .. 1e-2), mpf/mdf Hz,
``fatigue_index_fi_nsm5`` a tiny ratio (~1e-12 .. 1e-11). Contractions are drawn one by one, and every
count is derived from them, so ``good <= mvc_count``, ``good <= duration_count`` and both ``<= total`` hold by
construction.
Numeric draws are vectorised (one numpy call per quantity for the whole batch); only assembly is per channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DURATION_THRESHOLD_MS = 2000.0
MVC_THRESHOLD_FRACTION = 0.75
EMG_RATE_HZ = 990.0

# the signal_processing block as the real writer fills it (shared/data/real_legacy/analysis_results.jsonl)
PROCESSING_STEPS: tuple[str, ...] = (
    "High-pass filter: 20.0Hz, order 4",
    "Full-wave rectification",
    "Low-pass filter for envelope: 10.0Hz, order 4",
    "Moving average smoothing: 50.0ms window (49 samples)",
)
EXTRA_KEYS: tuple[tuple[str, Any], ...] = (
    ("channel_label", "{channel} Raw"),
    ("analysis_version", "2.1"),
    ("activation_threshold", 0.0),
)
# Keys a hand-edited or older row may lack (counts are never dropped: the migration needs them).
DROPPABLE_KEYS: tuple[str, ...] = (
    "min_duration_ms",
    "max_duration_ms",
    "mdf_temporal_stats",
    "fatigue_index_temporal_stats",
    "expected_contractions",
    "signal_processing",
    "mvc_estimation_method",
)
NULLABLE_KEYS: tuple[str, ...] = ("mpf", "mdf", "fatigue_index_fi_nsm5", "rms", "mav", "max_duration_ms")


@dataclass
class ChannelDraws:
    """Per-channel scalar draws for a batch (arrays of length n_channels)."""

    n_contractions: np.ndarray
    mvc_threshold: np.ndarray
    rms: np.ndarray
    mav: np.ndarray
    mpf: np.ndarray
    mdf: np.ndarray
    fatigue: np.ndarray
    samples: np.ndarray
    cv: np.ndarray  # (n, 5) coefficient-of-variation seeds for the temporal stats blocks
    windows: np.ndarray
    method: np.ndarray  # 0 backend_estimation, 1 user_provided, 2 global_provided
    expected: np.ndarray  # 0 = null, else the integer target


def draw_channels(rng: np.random.Generator, n: int, samples_hint: np.ndarray) -> ChannelDraws:
    """Vectorised per-channel draws; ``samples_hint`` is the EMG sample count of each channel's recording."""
    n_contractions = np.clip(rng.poisson(11.0, n), 0, 30)
    n_contractions[rng.random(n) < 0.03] = 0
    method = rng.choice(3, size=n, p=[0.85, 0.10, 0.05])
    expected = np.where(rng.random(n) < 0.3, rng.choice(np.array([10, 12, 12, 15]), size=n), 0)
    mvc_peak = np.exp(rng.uniform(np.log(5e-5), np.log(5e-3), n))
    return ChannelDraws(
        n_contractions=n_contractions,
        mvc_threshold=np.round(mvc_peak * MVC_THRESHOLD_FRACTION, 10),
        rms=np.round(mvc_peak * rng.uniform(0.15, 0.45, n), 10),
        mav=np.round(mvc_peak * rng.uniform(0.10, 0.35, n), 10),
        mpf=np.round(rng.uniform(40.0, 150.0, n), 4),
        mdf=np.round(rng.uniform(20.0, 120.0, n), 4),
        fatigue=np.round(rng.uniform(1e-12, 1e-11, n), 16),
        samples=samples_hint,
        cv=rng.uniform(0.05, 0.6, (n, 5)),
        windows=rng.integers(20, 200, n),
        method=method,
        expected=expected,
    )


@dataclass
class ContractionDraws:
    """Flat per-contraction draws for a batch (channel c owns rows offsets[c]:offsets[c+1])."""

    offsets: np.ndarray
    gap_ms: np.ndarray
    duration_ms: np.ndarray
    max_ratio: np.ndarray
    mean_ratio: np.ndarray


def draw_contractions(rng: np.random.Generator, n_contractions: np.ndarray) -> ContractionDraws:
    total = int(n_contractions.sum())
    offsets = np.zeros(len(n_contractions) + 1, dtype=np.int64)
    np.cumsum(n_contractions, out=offsets[1:])
    return ContractionDraws(
        offsets=offsets,
        gap_ms=np.round(rng.uniform(800.0, 5000.0, total)),
        duration_ms=np.round(rng.lognormal(np.log(2400.0), 0.35, total)),
        max_ratio=rng.lognormal(0.15, 0.35, total),
        mean_ratio=rng.uniform(0.35, 0.7, total),
    )


_METHODS = ("backend_estimation", "user_provided", "global_provided")
COUNT_KEYS: tuple[str, ...] = (
    "contraction_count",
    "good_contraction_count",
    "mvc_contraction_count",
    "duration_contraction_count",
)
_STAT_NAMES = ("rms", "mav", "mpf", "mdf", "fatigue_index")


def _temporal(mean: float, cv: float, windows: int) -> dict[str, Any]:
    digits = 16 if mean < 1e-6 else 10
    std = round(mean * cv, digits)
    return {
        "mean_value": mean,
        "std_value": std,
        "min_value": round(max(mean - 2.0 * std, 0.0), digits),
        "max_value": round(mean + 2.5 * std, digits),
        "valid_windows": windows,
        "coefficient_of_variation": round(cv, 6),
    }


def build_channel(channel: str, c: int, ch: ChannelDraws, con: ContractionDraws) -> dict[str, Any]:
    """One channel's analytics object (all keys of legacy-schema.md, consistent counts) from batch slot ``c``."""
    threshold = float(ch.mvc_threshold[c])
    laid = _lay_contractions(c, threshold, con)
    rms, mav, mpf, mdf, fatigue = (
        float(ch.rms[c]),
        float(ch.mav[c]),
        float(ch.mpf[c]),
        float(ch.mdf[c]),
        float(ch.fatigue[c]),
    )
    expected = int(ch.expected[c])
    return {
        **_contraction_summary(laid),
        "rms": rms,
        "mav": mav,
        "mvc_threshold_actual_value": threshold,
        "mpf": mpf,
        "mdf": mdf,
        "fatigue_index_fi_nsm5": fatigue,
        **_temporal_blocks(ch, c, (rms, mav, mpf, mdf, fatigue)),
        "mvc_estimation_method": _METHODS[int(ch.method[c])],
        "expected_contractions": expected if expected else None,
        "contractions": laid.items,
        "signal_processing": _signal_processing(int(ch.samples[c]), threshold, rms, mav, laid.peak),
    }


@dataclass
class _LaidContractions:
    """One channel's contractions in time order and the tallies every count key is derived from."""

    items: list[dict[str, Any]]
    durations: list[float]
    amps_mean: list[float]
    amps_max: list[float]
    n_mvc: int = 0
    n_dur: int = 0
    n_good: int = 0

    @property
    def peak(self) -> float:
        return max(self.amps_max) if self.amps_max else 0.0


def _lay_contractions(c: int, threshold: float, con: ContractionDraws) -> _LaidContractions:
    """Place channel ``c``'s drawn contractions end to end (gap, then duration) and classify each one.

    Counting here, contraction by contraction, is what makes good <= mvc/duration counts <= total hold.
    """
    lo, hi = int(con.offsets[c]), int(con.offsets[c + 1])
    durations = con.duration_ms[lo:hi].tolist()
    gaps = con.gap_ms[lo:hi].tolist()
    max_ratios = con.max_ratio[lo:hi].tolist()
    mean_ratios = con.mean_ratio[lo:hi].tolist()
    laid = _LaidContractions([], durations, [], [])
    t = 0.0
    for k in range(hi - lo):
        t += gaps[k]
        dur = durations[k]
        mx = round(threshold * max_ratios[k], 10)
        mean = round(mx * mean_ratios[k], 10)
        meets_mvc = mx >= threshold
        meets_duration = dur >= DURATION_THRESHOLD_MS
        good = meets_mvc and meets_duration
        laid.n_mvc += meets_mvc
        laid.n_dur += meets_duration
        laid.n_good += good
        laid.amps_mean.append(mean)
        laid.amps_max.append(mx)
        laid.items.append(
            {
                "start_time_ms": t,
                "end_time_ms": t + dur,
                "duration_ms": dur,
                "mean_amplitude": mean,
                "max_amplitude": mx,
                "is_good": good,
                "meets_mvc": meets_mvc,
                "meets_duration": meets_duration,
            }
        )
        t += dur
    return laid


def _contraction_summary(laid: _LaidContractions) -> dict[str, Any]:
    """The count, duration and amplitude keys, in the writer's key order (0.0 for a channel without contractions)."""
    durations = laid.durations
    total = len(durations)
    return {
        "contraction_count": total,
        "good_contraction_count": laid.n_good,
        "mvc_contraction_count": laid.n_mvc,
        "duration_contraction_count": laid.n_dur,
        "avg_duration_ms": round(sum(durations) / total, 3) if total else 0.0,
        "min_duration_ms": min(durations) if total else 0.0,
        "max_duration_ms": max(durations) if total else 0.0,
        "total_time_under_tension_ms": float(sum(durations)),
        "duration_threshold_actual_value": DURATION_THRESHOLD_MS,
        "avg_amplitude": round(sum(laid.amps_mean) / total, 10) if total else 0.0,
        "max_amplitude": laid.peak,
    }


def _temporal_blocks(ch: ChannelDraws, c: int, means: tuple[float, float, float, float, float]) -> dict[str, Any]:
    """The five ``*_temporal_stats`` blocks around the channel's (rms, mav, mpf, mdf, fatigue) values.

    The fatigue index is computed over longer windows, hence a quarter of the window count.
    """
    cv = ch.cv[c].tolist()
    windows = int(ch.windows[c])
    rms, mav, mpf, mdf, fatigue = means
    return {
        "rms_temporal_stats": _temporal(rms, cv[0], windows),
        "mav_temporal_stats": _temporal(mav, cv[1], windows),
        "mpf_temporal_stats": _temporal(mpf, cv[2], windows),
        "mdf_temporal_stats": _temporal(mdf, cv[3], windows),
        "fatigue_index_temporal_stats": _temporal(fatigue, cv[4], max(windows // 4, 1)),
    }


def _signal_processing(samples: int, threshold: float, rms: float, mav: float, peak: float) -> dict[str, Any]:
    """The ``signal_processing`` block as the real writer fills it: fixed filter chain, stats derived from the
    channel's own values so they agree with the rest of the document."""
    return {
        "source": "RAW",
        "processing_steps": list(PROCESSING_STEPS),
        "parameters_used": {
            "highpass_cutoff_hz": 20.0,
            "lowpass_cutoff_hz": 10.0,
            "filter_order": 4,
            "smoothing_window_ms": 50.0,
            "smoothing_window_samples": 49,
            "rectification_enabled": True,
        },
        "quality_metrics": {
            "valid": True,
            "message": "Signal quality acceptable",
            "original_signal_stats": {
                "samples": samples,
                "min": round(-threshold * 1.3, 10),
                "max": round(threshold * 1.4, 10),
                "mean": 0.0,
                "std": round(rms * 0.9, 10),
            },
            "processed_signal_stats": {
                "samples": samples,
                "min": 0.0,
                "max": peak,
                "mean": round(mav, 10),
                "std": round(rms * 0.6, 10),
            },
        },
    }

"""Deterministic, realistic synthetic legacy data (``statsfirst legacy seed``).

Every value comes from one ``numpy.random.Generator(PCG64(seed))`` (ids and timestamps included, never now()),
so the same arguments on two fresh databases give identical table contents. Rows are drawn in bulk and written
with COPY in one transaction. File names, sizes, hashes and frame counts are grounded in the real C3D files
(:mod:`statsfirst.legacy.c3d_catalog`); without them a documented parametric profile is used
(``grounded=False``).

Rates (share of sessions unless noted) and the trap labels written to ``legacy_seed.manifest.traps``:

==============================  =======================================================================
label                           pattern / rate
==============================  =======================================================================
real_recording                  the first min(7, n) sessions are the real files (name, size, hash, frames)
patient_folder                  ``Pnnn/<name>.c3d``: ~80 %
session_folder                  ``Pnnn/<session>/<name>.c3d`` (session_id = middle folder): ~12 %
bucket_root                     ``<name>.c3d`` at the bucket root, patient_id NULL: ~8 %
object_metadata_patient         object_metadata ``{"patient_id": "Pnnn"}``: ~30 % (else ``{}``)
unknown_patient_sentinel        resolved_patient_id ``'Unknown'`` (bucket root without metadata): ~4 %
unregistered_patient_code       code absent from ``patients`` (P901..P940): ~5 %
no_session_date                 resolved_session_date NULL: ~10 % (else midnight of the file-name date)
size_unknown                    file_size_bytes 0 (size_category small): ~2 %
frame_count_zero                frame_count 0, duration_seconds NULL: ~2 %
failed                          processing_status failed + error_message, no analysis row: ~5 %
stuck_pending                   pending, no analysis row: ~3 %
stuck_processing                processing, no analysis row: ~2 %
not_yet_extracted               pending/processing: resolved_*, channel_*, sampling_rate, duration, frames NULL
shared_hash                     several c3d rows share one file_hash (re-uploads): ~3 % are copies
cache_hit_no_analysis           a copy that came after the first was analysed: completed, no analysis row
failed_duplicate_upload         a copy that raced the first (~35 % of copies): failed, error_message the printed
                                dict of the unique_analysis_cache violation, metadata resolved, no analysis row
empty_analytics                 analytics_data ``{}`` on a completed row: ~4 %, half of them
too_short_recording             ... a too-short recording: frame_count 0, duration NULL, processing_time_ms 1000
unreadable_file                 ... the other half (and their copies): a tiny/unreadable file, size 200-5000 bytes,
                                sampling_rate/duration NULL, frame_count 0, processing_time_ms 0
float_counts                    counts written as floats (``12.0``, a hand-edited row; else integers): ~5 %
expired_analysis                current analysis expired (expires_at = created_at + 30 days): ~15 %
superseded_analysis             an older ``v2.0.0`` analysis row besides the current ``v2.1.0`` one: ~6 %
one_channel                     only ``CH1`` in analytics_data: ~2 % of non-empty analyses
missing_keys                    some non-count keys absent: ~5 %
extra_keys                      unexpected extra keys: ~5 %
null_values                     some metrics null (mpf, mdf, rms, ...): ~5 %
analysis_errors                 ``errors: {"temporal_stats": ...}`` present: ~3 %
zero_contractions               a channel with contraction_count 0.0: ~3 % of channels
expected_contractions_set       a channel's expected_contractions is an integer (else null): ~30 % of channels
mvc_not_backend                 mvc_estimation_method user_provided / global_provided: ~15 % of channels
linked_settings                 a legacy session_settings row links to the session (session_id or id text)
linked_by_session_id            ... by its session_id (~40 % of session_folder sessions)
linked_by_id_text               ... by its id as text (~5 % of the others)
ambiguous_settings              two linked rows (different therapists, different updated_at): ~1 %
bfr_out_of_range                linked (newest) row has a side outside 45..55 % AOP: ~10 % of BFR sides
bfr_one_side                    linked row has only one BFR side: ~10 %
bfr_missing                     linked row has no bfr_parameters: ~10 %
rpe_missing                     linked row has no / null post_session_rpe: ~15 %
muscle_mapping_swapped          linked row maps CH1 to the right quadriceps: ~5 %
==============================  =======================================================================

Unlinked session_settings rows (random uuid session ids) number ~30 % of the sessions. Every params object is
the therapist app's session store with its real keys and units: ``session_mvc_threshold_percentage`` 75 (percent),
``contraction_duration_threshold`` 2000 (ms), ``session_expected_contractions`` (both muscles) and ``_ch1``/``_ch2``,
``session_mvc_value`` (volts, or null), ``session_mvc_values``/``session_mvc_threshold_percentages`` ``{}``,
``subjective_fatigue_level``, ``muscle_color_mapping``; BFR sides in integer mmHg with the app's own 40-60 % range.

Shared hashes: the legacy app looked the cache up by file_hash before analysing, and ``analysis_results`` is
UNIQUE (file_hash, processing_version, processing_params); a re-upload of an analysed file therefore got
a cache hit (the first row's analysis, ``cache_hits`` incremented) and was marked completed without an
analysis row of its own. The cached analysis belongs to the first uploaded row of the hash group.

Spoiled sessions (``bad_fraction`` of the sessions with a current non-empty analysis and no shared hash,
chosen by the RNG, kinds cycled so each appears): ``string_number``, ``nan_string``, ``negative_count``,
``fractional_count``, ``good_exceeds_total``, ``out_of_range``, ``bad_file_hash``. Every third
``out_of_range`` session is a file that is not a C3D (trap ``not_a_c3d``): completed with the nonsense header the
real writer stored (sampling_rate 4.4e31, duration_seconds 4.6e-28, frame_count 20220), ``{}`` analytics, 0 ms.
Messy-but-valid rows above are never counted as spoiled.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from statsfirst.errors import SchemaStateError
from statsfirst.legacy import analytics as an
from statsfirst.legacy.baseline import (
    LEGACY_TABLES,
    SESSION_SETTINGS_TABLE,
    existing_legacy_tables,
    legacy_sql_dir,
)
from statsfirst.legacy.c3d_catalog import C3DCatalog, C3DRecording, load_catalog

MANIFEST_SQL = "010_seed_manifest.sql"
SPOIL_KINDS: tuple[str, ...] = (
    "string_number",
    "nan_string",
    "negative_count",
    "fractional_count",
    "good_exceeds_total",
    "out_of_range",
    "bad_file_hash",
)
N_THERAPISTS = 10
N_PATIENTS = 60
START = int(datetime(2023, 3, 1, tzinfo=UTC).timestamp())
END = int(datetime(2025, 10, 31, tzinfo=UTC).timestamp())
FAR_FUTURE = int(datetime(2035, 1, 1, tzinfo=UTC).timestamp())
DAY = 86400
# what the real writer stored for a text file named .c3d (shared/data/real_legacy: not_a_c3d.c3d)
NOT_C3D_HEADER = (4.385949990779581e31, 4.610175684289094e-28, 20220)
BYTES_PER_FRAME = 496.4  # measured on the real files: size ≈ 2 KiB header + 496.4 bytes per point frame
ERROR_MESSAGES = (
    "C3D parsing failed: unexpected end of file",
    "No EMG channels found in C3D file",
    "Processing timed out after 300 seconds",
    "Invalid analog data: all samples are zero",
    "Storage download failed: object not found",
)
FIRST_NAMES = (
    "Anna",
    "Bram",
    "Clara",
    "Dries",
    "Eva",
    "Femke",
    "Geert",
    "Hanne",
    "Ines",
    "Jonas",
    "Lotte",
    "Maarten",
)
LAST_NAMES = (
    "Peeters",
    "Janssens",
    "Maes",
    "Jacobs",
    "Mertens",
    "Willems",
    "Claes",
    "Goossens",
    "Wouters",
    "De Smet",
)


def duplicate_upload_error(file_hash: str) -> str:
    """The error_message the real webhook stores on a re-upload that raced the first one: a printed dict."""
    error = {
        "message": 'duplicate key value violates unique constraint "unique_analysis_cache"',
        "code": "23505",
        "hint": None,
        "details": f"Key (file_hash, processing_version, processing_params)=({file_hash}, v2.1.0, {{}}) "
        "already exists.",
    }
    return str(error)


@dataclass
class SeedReport:
    """What one seed run wrote."""

    sessions: int
    analyses: int
    settings_rows: int
    spoiled: int
    seconds: float
    grounded: bool
    seed: int = 42
    therapists: int = 0
    patients: int = 0
    researchers: int = 0
    catalog_source: str = ""

    def summary(self) -> str:
        grounding = (
            f"grounded in the real C3D files of {self.catalog_source}"
            if self.grounded
            else "from the parametric profile (real C3D files not found)"
        )
        return (
            f"seeded {self.sessions} legacy sessions (seed {self.seed}) with {self.analyses} analysis rows, "
            f"{self.settings_rows} legacy session_settings rows, {self.therapists} therapists, "
            f"{self.patients} "
            f"patients and {self.researchers} researcher profiles; {self.spoiled} sessions spoiled on "
            f"purpose "
            f"(listed in legacy_seed.manifest); {grounding}; took {self.seconds:.1f} s."
        )


# ------------------------------------------------------------------------------------------------ helpers
def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.bytes(16 * n)
    return [str(uuid.UUID(bytes=raw[16 * i : 16 * i + 16], version=4)) for i in range(n)]


def _ts(epoch: np.ndarray) -> list[str]:
    """Epoch seconds → timestamptz text (UTC)."""
    text = np.datetime_as_string(epoch.astype("datetime64[s]"), unit="s")
    return [f"{t}+00" for t in text.tolist()]


def _naive(epoch: np.ndarray) -> list[str]:
    return np.datetime_as_string(epoch.astype("datetime64[s]"), unit="s").tolist()


def _check_state(conn: psycopg.Connection) -> bool:
    present = existing_legacy_tables(conn, (*LEGACY_TABLES, SESSION_SETTINGS_TABLE))
    missing = [t for t in LEGACY_TABLES if t not in present]
    if missing:
        conn.rollback()
        raise SchemaStateError(
            f"the legacy tables are missing ({', '.join(missing)})", "run `statsfirst legacy init` first"
        )
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM public.c3d_metadata)").fetchone()
    conn.rollback()
    if row and row[0]:
        raise SchemaStateError("c3d_metadata already holds rows", "seed a fresh database (legacy init + seed)")
    return SESSION_SETTINGS_TABLE in present


# ------------------------------------------------------------------------------------------------ people
@dataclass
class People:
    therapist_ids: list[str]
    therapist_users: list[str]
    therapist_rows: list[tuple[Any, ...]]
    patient_rows: list[tuple[Any, ...]]
    patient_therapist: np.ndarray  # therapist index per registered patient
    researcher_rows: list[tuple[Any, ...]]


def _people(rng: np.random.Generator) -> People:
    t_ids, t_users = _uuids(rng, N_THERAPISTS), _uuids(rng, N_THERAPISTS)
    t_created = _ts(START - rng.integers(30 * DAY, 90 * DAY, N_THERAPISTS))
    fn, ln = (
        rng.integers(0, len(FIRST_NAMES), (2, N_THERAPISTS)),
        rng.integers(0, len(LAST_NAMES), N_THERAPISTS),
    )
    therapists = [
        (t_ids[i], t_users[i], FIRST_NAMES[fn[0, i]], LAST_NAMES[ln[i]], t_created[i]) for i in range(N_THERAPISTS)
    ]
    p_ids = _uuids(rng, N_PATIENTS)
    p_ther = rng.integers(0, N_THERAPISTS, N_PATIENTS)
    p_fn, p_ln = rng.integers(0, len(FIRST_NAMES), N_PATIENTS), rng.integers(0, len(LAST_NAMES), N_PATIENTS)
    dob = np.datetime64("1940-01-01") + rng.integers(0, 365 * 45, N_PATIENTS).astype("timedelta64[D]")
    p_created = _ts(START - rng.integers(0, 30 * DAY, N_PATIENTS))
    patients = [
        (
            p_ids[i],
            t_ids[p_ther[i]],
            f"P{i + 1:03d}",
            FIRST_NAMES[p_fn[i]],
            LAST_NAMES[p_ln[i]],
            str(dob[i]),
            p_created[i],
        )
        for i in range(N_PATIENTS)
    ]
    roles = (
        ("admin", "full"),
        ("clinical_specialist", "advanced"),
        ("researcher", "basic"),
        ("researcher", "basic"),
    )
    r_ids = _uuids(rng, len(roles))
    r_created = _ts(START - rng.integers(60 * DAY, 120 * DAY, len(roles)))
    researchers = [
        (
            r_ids[i],
            f"{FIRST_NAMES[i + 4]} {LAST_NAMES[i + 5]}",
            "KU Leuven",
            "Rehabilitation Sciences",
            role,
            level,
            r_created[i],
            r_created[i],
        )
        for i, (role, level) in enumerate(roles)
    ]
    return People(t_ids, t_users, therapists, patients, p_ther, researchers)


# ------------------------------------------------------------------------------------------------ sessions
@dataclass
class Sessions:
    n: int
    ids: list[str]
    traps: list[list[str]]
    paths: list[str]
    hashes: list[str]
    sizes: np.ndarray
    frames: np.ndarray
    rec: np.ndarray  # recording (template) index per session
    patient_folder: list[str | None]
    session_ids: list[str | None]
    resolved_patient: list[str | None]
    patient_code: list[str | None]  # the code the session belongs to (registered or not), None if unknown
    object_metadata: list[str]
    resolved_date: list[str | None]
    status: list[str]
    error: list[str | None]
    created: np.ndarray
    updated: np.ndarray
    processed: np.ndarray  # 0 = NULL
    has_analysis: np.ndarray  # bool: owns a current analysis row
    empty: np.ndarray  # bool: its current analysis is {}
    superseded: np.ndarray  # bool
    old_created: np.ndarray
    expired: np.ndarray
    cache_hits: np.ndarray
    extracted: np.ndarray  # bool: header values and resolved_* written (completed/failed; not pending/processing)
    sampling: np.ndarray  # sampling_rate, NaN = NULL
    duration: np.ndarray  # duration_seconds, NaN = NULL
    too_short: np.ndarray  # bool: its {} analysis is a too-short recording (1000 ms), not an unreadable file (0 ms)


_STATUS_NAMES = ("completed", "failed", "pending", "processing")


def _sessions(rng: np.random.Generator, n: int, catalog: C3DCatalog, n_registered: int) -> Sessions:
    """The uploads, in the order the legacy pipeline shaped them: drawn, grounded in the real files, re-uploads
    linked to their first upload, processed, then described (paths, patients, dates, errors) with their traps."""
    recs = catalog.recordings
    n_real = min(len(recs), n)
    d = _SessionDraws(rng, n, n_real, len(recs), n_registered)
    f = _ground_files(d, catalog, n_real)
    c = _link_reuploads(d, f)
    f.sizes[d.size_unknown] = 0  # after linking: a copy carries its source's size_unknown / frames_zero draws
    f.frames[d.frames_zero] = 0
    o = _analysis_outcome(d, f, c)
    extracted, sampling, duration = _header_values(d, f, o)
    processed, old_created, updated = _timestamps(d)
    paths, layouts, traps = _file_paths(d, f, recs, n_real)
    owners = _owners(d, layouts, extracted, traps)
    resolved_date = _resolved_dates(d, f, extracted, traps)
    _state_traps(d, f, c, o, extracted, traps)
    return Sessions(
        n=n,
        ids=d.ids,
        traps=traps,
        paths=paths,
        hashes=f.hashes,
        sizes=f.sizes,
        frames=f.frames,
        rec=d.rec,
        patient_folder=owners.patient_folder,
        session_ids=owners.session_ids,
        resolved_patient=owners.resolved_patient,
        patient_code=owners.patient_code,
        object_metadata=owners.object_metadata,
        resolved_date=resolved_date,
        status=[_STATUS_NAMES[k] for k in d.status_draw.tolist()],
        error=_error_messages(d, f, c),
        created=d.created,
        updated=updated,
        processed=processed,
        has_analysis=o.has_analysis,
        empty=d.empty,
        superseded=d.superseded,
        old_created=old_created,
        expired=d.expired & o.has_analysis,
        cache_hits=_cache_hits(d, c),
        extracted=extracted,
        sampling=sampling,
        duration=duration,
        too_short=o.too_short,
    )


class _SessionDraws:
    """Every random draw behind the sessions, taken here and nowhere else, in one fixed order.

    The order is the seed's contract: moving, adding or dropping a draw changes every later value of every seed.
    The first ``n_real`` sessions are pinned to the real recordings right after the draws that concern them; the
    later steps adjust a few arrays in place (real upload times, re-uploads), as the writer's patterns require.
    """

    def __init__(self, rng: np.random.Generator, n: int, n_real: int, n_recordings: int, n_registered: int) -> None:
        self.real = np.arange(n) < n_real
        self.rec = rng.integers(0, n_recordings, n)  # recording (template) index
        self.rec[:n_real] = np.arange(n_real)
        self.layout = rng.choice(3, size=n, p=[0.80, 0.12, 0.08])  # patient folder, session folder, bucket root
        self.layout[:n_real] = 0
        self.registered = rng.random(n) >= 0.05
        self.code_num = np.where(self.registered, rng.integers(1, n_registered + 1, n), rng.integers(901, 941, n))
        self.code_num[:n_real] = 5
        self.registered[:n_real] = True
        self.with_meta = rng.random(n) < np.where(self.layout == 2, 0.5, 0.27)
        self.no_date = rng.random(n) < 0.10
        self.size_unknown = (rng.random(n) < 0.02) & ~self.real
        self.frames_zero = (rng.random(n) < 0.02) & ~self.real
        self.status_draw = rng.choice(4, size=n, p=[0.90, 0.05, 0.03, 0.02])  # indexes _STATUS_NAMES
        self.status_draw[:n_real] = 0
        self.dup_draw = (rng.random(n) < 0.03) & ~self.real
        self.dup_pick = rng.random(n)
        self.size_factor = rng.lognormal(0.0, 0.3, n)
        self.hashes_raw = rng.bytes(32 * n)
        self.created = rng.integers(START, END, n)
        self.rec_offset = rng.integers(60, 7200, n)
        self.dup_delay = rng.integers(DAY, 60 * DAY, n)
        self.millis = rng.integers(0, 10000, n)
        self.proc_delay = rng.integers(2, 120, n)
        self.fail_delay = rng.integers(1, 60, n)
        self.err_pick = rng.integers(0, len(ERROR_MESSAGES), n)
        self.empty = (rng.random(n) < 0.04) & ~self.real
        self.superseded = (rng.random(n) < 0.06) & ~self.empty
        self.reprocess_delay = rng.integers(DAY, 90 * DAY, n)
        self.expired = rng.random(n) < 0.15
        self.hits = rng.poisson(0.8, n)
        self.sess_uuid = _uuids(rng, n)
        self.ids = _uuids(rng, n)
        # the real writer's patterns (legacy-schema.md "What the real legacy writer produces")
        self.early_copy = rng.random(n) < 0.35  # of the re-uploads: arrived before the first upload was analysed
        self.copy_lag = rng.integers(1, 120, n)  # seconds after the first upload
        self.too_short_draw = rng.random(n) < 0.5  # of the {} analyses: too short a recording (else unreadable)
        self.tiny_size = rng.integers(200, 5000, n)


@dataclass
class _Files:
    """What each upload's file is; a re-upload takes its first upload's values."""

    sizes: np.ndarray
    frames: np.ndarray  # point frames
    hashes: list[str]
    rec_time: np.ndarray  # epoch seconds of the recording (the file name's time stamp)


def _ground_files(d: _SessionDraws, catalog: C3DCatalog, n_real: int) -> _Files:
    """Scale each upload's template recording; the first ``n_real`` uploads are the real files as they are.

    Sizes follow the measured bytes per frame; a real file is uploaded shortly after the time in its name.
    """
    recs = catalog.recordings
    n = len(d.ids)
    sizes = np.clip(np.round(catalog.sizes[d.rec] * d.size_factor), 300_000, 6_000_000).astype(np.int64)
    frames = np.maximum(((sizes - 2048) / BYTES_PER_FRAME).astype(np.int64), 1)
    sizes[:n_real] = catalog.sizes[:n_real]
    frames[:n_real] = catalog.frame_counts[:n_real]
    hashes = [d.hashes_raw[32 * i : 32 * i + 32].hex() for i in range(n)]
    for i in range(n_real):
        hashes[i] = recs[i].sha256
    rec_time = d.created - d.rec_offset
    for i in range(n_real):
        stamp = datetime.strptime(recs[i].name[12:29], "%Y%m%d_%H-%M-%S").replace(tzinfo=UTC)
        rec_time[i] = int(stamp.timestamp())
        d.created[i] = rec_time[i] + int(d.rec_offset[i] % 1800) + 60
    return _Files(sizes, frames, hashes, rec_time)


@dataclass
class _Copies:
    """Re-uploads of an earlier completed file (the shared_hash groups)."""

    source: np.ndarray  # index of the first upload a copy re-uploads, -1 for an original
    is_copy: np.ndarray
    failed_copy: np.ndarray  # raced the first upload's analysis: failed on unique_analysis_cache
    in_group: np.ndarray  # the copies and the uploads they copy


def _link_reuploads(d: _SessionDraws, f: _Files) -> _Copies:
    """Make each drawn duplicate a re-upload of an earlier completed upload (picked among those so far).

    The analysis stays with the first upload of the group; copies are never picked as a source.
    """
    n = len(f.hashes)
    source = np.full(n, -1)
    completed_so_far: list[int] = []
    for i in range(n):
        if d.dup_draw[i] and completed_so_far:
            src = completed_so_far[int(d.dup_pick[i] * len(completed_so_far))]
            source[i] = src
            _copy_upload(d, f, i, src)
        elif d.status_draw[i] == 0:
            completed_so_far.append(i)
    is_copy = source >= 0
    in_group = is_copy.copy()
    in_group[source[is_copy]] = True
    return _Copies(source, is_copy, is_copy & (d.status_draw == 1), in_group)


def _copy_upload(d: _SessionDraws, f: _Files, i: int, src: int) -> None:
    """Upload ``i`` becomes a copy of ``src``: the same file, either racing its analysis or arriving later."""
    d.status_draw[i] = 0
    f.sizes[i], f.frames[i], f.hashes[i], d.rec[i] = f.sizes[src], f.frames[src], f.hashes[src], d.rec[src]
    f.rec_time[i], d.millis[i] = f.rec_time[src], d.millis[src]
    if d.early_copy[i]:
        # before the first upload's analysis row exists: the copy's own analysis insert hits
        # unique_analysis_cache and the webhook marks the copy failed with the printed error
        d.status_draw[i] = 1
        d.created[i] = d.created[src] + min(int(d.copy_lag[i]), int(d.proc_delay[src]) - 1)
    else:
        d.created[i] = min(d.created[src] + d.dup_delay[i], END + 30 * DAY)
    d.size_unknown[i], d.frames_zero[i] = d.size_unknown[src], d.frames_zero[src]


@dataclass
class _Outcome:
    """Which uploads own a current analysis row, and why a ``{}`` one is empty."""

    has_analysis: np.ndarray  # completed and not a copy
    too_short: np.ndarray  # a too-short recording: frame_count 0, analysed in the 1000 ms placeholder
    unreadable: np.ndarray  # a tiny/unreadable file (and its copies): no header values at all, 0 ms


def _analysis_outcome(d: _SessionDraws, f: _Files, c: _Copies) -> _Outcome:
    """Restrict the analysis draws to the uploads that own an analysis; a ``{}`` one reshapes its file.

    Re-uploads of a too-short or unreadable file carry the same header values, so copies re-take their source's.
    """
    has_analysis = (d.status_draw == 0) & ~c.is_copy
    d.empty &= has_analysis
    d.superseded &= has_analysis
    too_short = d.empty & d.too_short_draw
    unreadable = d.empty & ~d.too_short_draw
    f.frames[too_short | unreadable] = 0
    f.sizes[unreadable] = d.tiny_size[unreadable]
    copies = np.flatnonzero(c.is_copy)
    f.sizes[copies], f.frames[copies] = f.sizes[c.source[copies]], f.frames[c.source[copies]]
    unreadable[copies] = unreadable[c.source[copies]]
    return _Outcome(has_analysis, too_short, unreadable)


def _header_values(d: _SessionDraws, f: _Files, o: _Outcome) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(extracted, sampling_rate, duration_seconds); NaN = NULL.

    Metadata (resolved_*, header values) is extracted when processing starts: pending/processing rows lack it.
    """
    extracted = (d.status_draw == 0) | (d.status_draw == 1)
    sampling = np.where(extracted & ~o.unreadable, 33.0, np.nan)
    duration = np.where(extracted & (f.frames > 0), f.frames / 33.0, np.nan)
    return extracted, sampling, duration


def _timestamps(d: _SessionDraws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(processed_at (0 = NULL), the superseded analysis's created_at, updated_at) per upload.

    A superseded session was reprocessed later: processed_at moves on, its old analysis keeps the first time.
    """
    processed = np.where(d.status_draw == 0, d.created + d.proc_delay, 0)
    old_created = processed.copy()
    processed = np.where(d.superseded, processed + d.reprocess_delay, processed)
    updated = np.select(
        [d.status_draw == 0, d.status_draw == 1, d.status_draw == 3],
        [processed, d.created + d.fail_delay, d.created + 5],
        d.created,
    )
    return processed, old_created, updated


def _cache_hits(d: _SessionDraws, c: _Copies) -> np.ndarray:
    """cache_hits of each first upload's analysis: the drawn hits plus one per copy that found it in the cache."""
    cache_hits = d.hits.copy()
    np.add.at(cache_hits, c.source[c.is_copy & ~c.failed_copy], 1)
    return cache_hits


def _file_paths(
    d: _SessionDraws, f: _Files, recs: tuple[C3DRecording, ...], n_real: int
) -> tuple[list[str], list[int], list[list[str]]]:
    """(storage path, folder layout, first traps) per upload; the traps start with real_recording and the layout.

    The file name is the recording time's; a path already taken moves into a session folder (paths are unique).
    """
    names_dt = np.datetime_as_string(f.rec_time.astype("datetime64[s]"), unit="s").tolist()
    paths: list[str] = []
    layouts: list[int] = []
    traps: list[list[str]] = []
    used: set[str] = set()
    for i, dt in enumerate(names_dt):
        t: list[str] = []
        name = f"Ghostly_Emg_{dt[0:4]}{dt[5:7]}{dt[8:10]}_{dt[11:13]}-{dt[14:16]}-{dt[17:19]}-{d.millis[i]:04d}.c3d"
        if i < n_real:
            name = recs[i].name
            t.append("real_recording")
        code = f"P{d.code_num[i]:03d}"
        lay = int(d.layout[i])
        path = name if lay == 2 else (f"{code}/{d.sess_uuid[i]}/{name}" if lay == 1 else f"{code}/{name}")
        if path in used:
            lay = 1
            path = f"{code}/{d.sess_uuid[i]}/{name}"
        used.add(path)
        paths.append(path)
        layouts.append(lay)
        t.append(("patient_folder", "session_folder", "bucket_root")[lay])
        traps.append(t)
    return paths, layouts, traps


@dataclass
class _Owners:
    """Whose each upload is, as its folder, its object metadata and the legacy resolution say."""

    patient_folder: list[str | None]
    session_ids: list[str | None]
    object_metadata: list[str]
    resolved_patient: list[str | None]
    patient_code: list[str | None]  # the code the session belongs to (registered or not), None if unknown


def _owners(d: _SessionDraws, layouts: list[int], extracted: np.ndarray, traps: list[list[str]]) -> _Owners:
    """Folder patient, session folder, object metadata and resolved patient per upload; adds the patient traps.

    A bucket-root file without metadata resolves to the ``'Unknown'`` sentinel once extracted.
    """
    o = _Owners([], [], [], [], [])
    for i, lay in enumerate(layouts):
        t = traps[i]
        code = f"P{d.code_num[i]:03d}"
        o.patient_folder.append(None if lay == 2 else code)
        o.session_ids.append(d.sess_uuid[i] if lay == 1 else None)
        if d.with_meta[i]:
            o.object_metadata.append(json.dumps({"patient_id": code}))
            t.append("object_metadata_patient")
        else:
            o.object_metadata.append("{}")
        if lay == 2 and not d.with_meta[i]:
            o.resolved_patient.append("Unknown" if extracted[i] else None)
            o.patient_code.append(None)
            if extracted[i]:
                t.append("unknown_patient_sentinel")
        else:
            o.resolved_patient.append(code if extracted[i] else None)
            o.patient_code.append(code)
            if not d.registered[i]:
                t.append("unregistered_patient_code")
    return o


def _resolved_dates(d: _SessionDraws, f: _Files, extracted: np.ndarray, traps: list[list[str]]) -> list[str | None]:
    """resolved_session_date per upload: midnight of the recording day, NULL when missing or not extracted yet."""
    resolved_dates = _naive(f.rec_time - f.rec_time % DAY)
    out: list[str | None] = []
    for i, t in enumerate(traps):
        if d.no_date[i] or not extracted[i]:
            out.append(None)
            if extracted[i]:
                t.append("no_session_date")
        else:
            out.append(resolved_dates[i])
    return out


def _state_traps(
    d: _SessionDraws, f: _Files, c: _Copies, o: _Outcome, extracted: np.ndarray, traps: list[list[str]]
) -> None:
    """Add the header, status, shared-hash and analysis traps of each upload (after its patient and date traps)."""
    for i, t in enumerate(traps):
        if not extracted[i]:
            t.append("not_yet_extracted")
        if f.sizes[i] == 0:
            t.append("size_unknown")
        if f.frames[i] == 0 and extracted[i]:
            t.append("frame_count_zero")
        status = int(d.status_draw[i])
        if status:
            t.append(("", "failed", "stuck_pending", "stuck_processing")[status])
        if c.in_group[i]:
            t.append("shared_hash")
        if c.failed_copy[i]:
            t.append("failed_duplicate_upload")
        elif c.is_copy[i]:
            t.append("cache_hit_no_analysis")
        if o.unreadable[i]:
            t.append("unreadable_file")
        if o.has_analysis[i]:
            if d.empty[i]:
                t.append("empty_analytics")
                if o.too_short[i]:
                    t.append("too_short_recording")
            if d.expired[i]:
                t.append("expired_analysis")
            if d.superseded[i]:
                t.append("superseded_analysis")


def _error_messages(d: _SessionDraws, f: _Files, c: _Copies) -> list[str | None]:
    """error_message per upload: the printed unique violation on a raced copy, a drawn message on other failures."""
    return [
        duplicate_upload_error(f.hashes[i])
        if c.failed_copy[i]
        else (ERROR_MESSAGES[d.err_pick[i]] if d.status_draw[i] == 1 else None)
        for i in range(len(f.hashes))
    ]


# ------------------------------------------------------------------------------------------------ settings
def _number(value: float) -> int | float:
    """A number as the therapist app's JSON holds it: integral values as integers (6, not 6.0)."""
    return int(value) if float(value).is_integer() else float(value)


def _bfr_side(aop: float, pct: float, minutes: float) -> dict[str, Any]:
    """One side of ``bfr_parameters`` as the app writes it: mmHg integers, its own 40-60 % range for is_compliant
    (the mapping's gate is 45-55 % AOP, so is_compliant may say true where the gate says no)."""
    return {
        "aop_measured": _number(aop),
        "applied_pressure": round(aop * pct / 100.0),
        "percentage_aop": _number(pct),
        "is_compliant": 40.0 <= pct <= 60.0,
        "therapeutic_range_min": 40,
        "therapeutic_range_max": 60,
        "application_time_minutes": _number(minutes),
    }


MUSCLE_COLORS = {"Left Quadriceps": "#3b82f6", "Right Quadriceps": "#ef4444"}


def _settings(rng: np.random.Generator, s: Sessions, people: People) -> list[tuple[str, str, str, str]]:
    """Legacy session_settings rows (user_id, session_id, params json, updated_at); adds traps to ``s``.

    Which sessions get a row is drawn first, then every per-row value; a session's newest row is the one the
    migration links, so the traps describe that row.
    """
    targets = _settings_targets(rng, s)
    g = _SettingsDraws(rng, len(targets))
    rows: list[tuple[str, str, str, str]] = []
    newest: dict[int, tuple[int, int]] = {}  # session → (updated epoch, row index)
    first_user: dict[int, int] = {}
    for k, (i, sid, second) in enumerate(targets):
        t, epoch = _settings_author(g, k, i, second, s, people, first_user)
        params = _settings_params(g, k)
        rows.append((people.therapist_users[t], sid, json.dumps(params), _ts(np.array([epoch]))[0]))
        if i >= 0 and (i not in newest or epoch > newest[i][0]):
            newest[i] = (epoch, k)
    _settings_traps(s, g, targets, newest)
    return rows


def _settings_targets(rng: np.random.Generator, s: Sessions) -> list[tuple[int, str, bool]]:
    """(session index or -1, session_id text, is the second row) per settings row, in write order.

    A session-folder session links by its session_id, another by its id as text; ~10 % of the linked get a second
    (ambiguous) row; the unlinked rows (~30 % of the sessions) carry random session ids.
    """
    n = s.n
    has_sid = np.array([sid is not None for sid in s.session_ids])
    by_sid = has_sid & (rng.random(n) < 0.40)
    by_id = ~has_sid & (rng.random(n) < 0.05)
    linked = np.flatnonzero(by_sid | by_id)
    ambiguous = rng.random(len(linked)) < 0.10
    n_unlinked = round(0.30 * n)
    targets: list[tuple[int, str, bool]] = []
    for j, i in enumerate(linked.tolist()):
        key = s.session_ids[i] if by_sid[i] else s.ids[i]
        targets.append((i, key or "", False))
        if ambiguous[j]:
            targets.append((i, key or "", True))
    for sid in _uuids(rng, n_unlinked):
        targets.append((-1, sid, False))
    return targets


class _SettingsDraws:
    """Every per-row random draw of the settings rows, in the seed's fixed order (see :class:`_SessionDraws`)."""

    def __init__(self, rng: np.random.Generator, m: int) -> None:
        self.ther = rng.integers(0, N_THERAPISTS, m)
        self.other = rng.integers(1, N_THERAPISTS, m)
        self.bfr_kind = rng.choice(3, size=m, p=[0.80, 0.10, 0.10])  # both, one side, none
        self.one_side = rng.integers(0, 2, m)
        self.aop = np.round(rng.uniform(120.0, 220.0, (m, 2)))
        pct = np.clip(np.round(rng.normal(50.0, 2.0, (m, 2)), 1), 45.5, 54.5)
        out = rng.random((m, 2)) < 0.10
        self.pct = np.where(out, rng.choice(np.array([40.0, 42.5, 57.5, 60.0]), size=(m, 2)), pct)
        self.minutes = rng.choice(np.array([15.0, 18.0, 20.0]), size=m)
        self.rpe = rng.integers(0, 21, m) / 2.0
        self.rpe_state = rng.choice(3, size=m, p=[0.85, 0.075, 0.075])  # present, absent, null
        self.swapped = rng.random(m) < 0.05
        self.exp1 = rng.choice(np.array([12, 12, 12, 10, 15]), size=m)
        self.exp2 = rng.choice(np.array([12, 12, 12, 10, 15]), size=m)
        self.delay = rng.integers(0, 7200, m)
        self.later = rng.integers(DAY, 10 * DAY, m)
        self.random_time = rng.integers(START, END, m)
        # the rest of the app's session store (legacy-schema.md: its keys and units), drawn after the rest
        self.mvc_set = rng.random(m) < 0.5
        self.mvc_value = np.round(rng.uniform(5e-5, 5e-4, m), 6)
        self.fatigue = rng.integers(0, 11, m)


def _settings_author(
    g: _SettingsDraws,
    k: int,
    i: int,
    second: bool,
    s: Sessions,
    people: People,
    first_user: dict[int, int],
) -> tuple[int, int]:
    """(therapist index, updated_at epoch) of row ``k``.

    A linked row is written by the patient's therapist shortly after the upload; a second (ambiguous) row by
    another therapist days later; an unlinked row by anyone at any time.
    """
    if i < 0:
        return int(g.ther[k]), int(g.random_time[k])
    code = s.patient_code[i]
    t = g.ther[k]
    if code is not None and int(code[1:]) <= len(people.patient_therapist):
        t = int(people.patient_therapist[int(code[1:]) - 1])
    if second:
        t = (first_user[i] + int(g.other[k])) % N_THERAPISTS
    else:
        first_user[i] = t
    return t, int(s.created[i]) + int(g.delay[k]) + (int(g.later[k]) if second else 0)


def _settings_params(g: _SettingsDraws, k: int) -> dict[str, Any]:
    """Row ``k``'s params: the therapist app's session store with its real keys, units and key order."""
    params: dict[str, Any] = {
        "session_mvc_value": float(g.mvc_value[k]) if g.mvc_set[k] else None,
        "session_mvc_values": {},
        "session_mvc_threshold_percentage": 75,
        "session_mvc_threshold_percentages": {},
        "contraction_duration_threshold": 2000,
        "subjective_fatigue_level": int(g.fatigue[k]),
        "muscle_color_mapping": MUSCLE_COLORS,
    }
    if g.bfr_kind[k] != 2:
        sides = {
            side: _bfr_side(float(g.aop[k, c]), float(g.pct[k, c]), float(g.minutes[k]))
            for c, side in enumerate(("left", "right"))
            if g.bfr_kind[k] == 0 or g.one_side[k] == c
        }
        params["bfr_parameters"] = sides
    if g.rpe_state[k] == 0:
        params["post_session_rpe"] = _number(g.rpe[k])
    elif g.rpe_state[k] == 2:
        params["post_session_rpe"] = None
    params["channel_muscle_mapping"] = (
        {"CH1": "Right Quadriceps", "CH2": "Left Quadriceps"}
        if g.swapped[k]
        else {"CH1": "Left Quadriceps", "CH2": "Right Quadriceps"}
    )
    # the app's total (both muscles) is the sum of the per-channel targets, or its default 24 left in place
    # when a therapist changed them to an odd sum (the per-channel targets win: mapping.md)
    total = int(g.exp1[k]) + int(g.exp2[k])
    params["session_expected_contractions"] = total if total % 2 == 0 else 24
    params["session_expected_contractions_ch1"] = int(g.exp1[k])
    params["session_expected_contractions_ch2"] = int(g.exp2[k])
    return params


def _settings_traps(
    s: Sessions, g: _SettingsDraws, targets: list[tuple[int, str, bool]], newest: dict[int, tuple[int, int]]
) -> None:
    """Add each linked session's settings traps, read off its newest row (the one the migration links)."""
    amb_sessions = {i for i, _, second in targets if second}
    for i, (_, k) in newest.items():
        t_list = s.traps[i]
        t_list.append("linked_settings")
        t_list.append("linked_by_session_id" if s.session_ids[i] is not None else "linked_by_id_text")
        if i in amb_sessions:
            t_list.append("ambiguous_settings")
        if g.bfr_kind[k] == 2:
            t_list.append("bfr_missing")
        else:
            if g.bfr_kind[k] == 1:
                t_list.append("bfr_one_side")
            present = [0, 1] if g.bfr_kind[k] == 0 else [int(g.one_side[k])]
            if any(not 45.0 <= g.pct[k, c] <= 55.0 for c in present):
                t_list.append("bfr_out_of_range")
        if g.rpe_state[k] != 0:
            t_list.append("rpe_missing")
        if g.swapped[k]:
            t_list.append("muscle_mapping_swapped")


# ------------------------------------------------------------------------------------------------ spoiling
_NAN_STRINGS = ("NaN", "nan", "Infinity", "-Infinity")


def _spoil(kind: int, j: int, doc: dict[str, Any]) -> str:
    """Make ``doc`` (a current analytics document) fail validation; returns the detail text."""
    ch = doc["CH1"]
    name = SPOIL_KINDS[kind]
    if name == "string_number":
        key = "contraction_count" if j % 2 == 0 else "rms"
        ch[key] = "twelve" if key == "contraction_count" else "0.0012 V"
        return f"CH1.{key}={ch[key]!r}"
    if name == "nan_string":
        ch["mpf"] = _NAN_STRINGS[j % 4]
        return f"CH1.mpf={ch['mpf']!r}"
    if name == "negative_count":
        ch["duration_contraction_count"] = -2.0
        return "CH1.duration_contraction_count=-2.0"
    if name == "fractional_count":
        ch["contraction_count"] = float(ch["contraction_count"]) + 0.5
        return f"CH1.contraction_count={ch['contraction_count']}"
    if name == "good_exceeds_total":
        ch["good_contraction_count"] = float(ch["contraction_count"]) + 3.0
        return f"CH1.good_contraction_count={ch['good_contraction_count']} > contraction_count"
    key = ("avg_duration_ms", "max_amplitude", "mpf")[j % 3]
    ch[key] = -abs(float(ch[key] or 1.0)) - 1.0 if key != "max_amplitude" else -0.0005
    return f"CH1.{key}={ch[key]}"


def _bad_hash(good: str, j: int) -> str:
    return good.upper() if j % 2 == 0 else good[:40]


# ------------------------------------------------------------------------------------------------ analyses
_DROP = an.DROPPABLE_KEYS
_NULL = an.NULLABLE_KEYS


def _analysis_docs(
    rng: np.random.Generator,
    s: Sessions,
    spoil_kind: dict[int, int],
    s_detail: dict[int, str],
    not_c3d: set[int],
) -> tuple[list[int], list[bool], Iterator[str]]:
    """(session index per analysis row, is-current flag, lazy JSON texts) in write order; adds the analysis traps.

    The texts are built while COPY consumes them (memory stays flat); a spoiled document's detail lands in
    ``s_detail`` as its text is built, so read ``s_detail`` only after the texts are consumed.
    """
    order, current = _analysis_order(s)
    sess = np.array(order, dtype=np.int64)
    cur = np.array(current, dtype=bool)
    non_empty = ~((s.empty[sess] | np.isin(sess, list(not_c3d))) & cur)
    g = _AnalysisDraws(rng, s, sess, cur)
    spoil_j = {i: j for j, i in enumerate(sorted(spoil_kind))}

    def texts() -> Iterator[str]:
        for r, i in enumerate(order):
            if not non_empty[r]:
                yield "{}"
                continue
            doc = _analysis_doc(g, r)
            if current[r] and i in spoil_kind and SPOIL_KINDS[spoil_kind[i]] != "bad_file_hash":
                s_detail[i] = _spoil(spoil_kind[i], spoil_j[i], doc)
            yield json.dumps(doc)

    _analysis_traps(s, order, cur & non_empty, g)
    return order, current, texts()


def _analysis_order(s: Sessions) -> tuple[list[int], list[bool]]:
    """(session index, is current) per analysis row: a superseded v2.0.0 row just before its current v2.1.0 one."""
    order: list[int] = []
    current: list[bool] = []
    for i in np.flatnonzero(s.has_analysis).tolist():
        if s.superseded[i]:
            order.append(i)
            current.append(False)
        order.append(i)
        current.append(True)
    return order, current


class _AnalysisDraws:
    """Every random draw behind the analysis documents, in the seed's fixed order (see :class:`_SessionDraws`).

    Irregularities are drawn for every row and kept on current rows only; two channel slots per analysis row.
    """

    def __init__(self, rng: np.random.Generator, s: Sessions, sess: np.ndarray, cur: np.ndarray) -> None:
        m = len(sess)
        self.one_channel = (rng.random(m) < 0.02) & cur
        self.missing = (rng.random(m) < 0.05) & cur
        self.extra = (rng.random(m) < 0.05) & cur
        self.nulls = (rng.random(m) < 0.05) & cur
        self.errors = (rng.random(m) < 0.03) & cur
        self.drop_pick = rng.integers(0, len(_DROP), (m, 2))
        self.null_pick = rng.integers(0, len(_NULL), (m, 2))
        # samples = frames × 30 analog samples per point frame
        frames = np.where(s.frames[sess] > 0, s.frames[sess], 2200)
        self.channels = an.draw_channels(rng, 2 * m, np.repeat(frames * 30, 2))
        self.contractions = an.draw_contractions(rng, self.channels.n_contractions)
        self.float_counts = (rng.random(m) < 0.05) & cur  # hand-edited rows: counts written as 12.0


def _analysis_doc(g: _AnalysisDraws, r: int) -> dict[str, Any]:
    """Row ``r``'s analytics document: CH1 (and CH2 unless one_channel), then the row's drawn irregularities."""
    doc: dict[str, Any] = {"CH1": an.build_channel("CH1", 2 * r, g.channels, g.contractions)}
    if not g.one_channel[r]:
        doc["CH2"] = an.build_channel("CH2", 2 * r + 1, g.channels, g.contractions)
    if g.missing[r]:
        for key in {_DROP[g.drop_pick[r, 0]], _DROP[g.drop_pick[r, 1]]}:
            for ch in doc.values():
                ch.pop(key, None)
    if g.nulls[r]:
        for key in {_NULL[g.null_pick[r, 0]], _NULL[g.null_pick[r, 1]]}:
            doc["CH1"][key] = None
    if g.extra[r]:
        for name, ch in doc.items():
            for key, value in an.EXTRA_KEYS:
                ch[key] = value.format(channel=name) if isinstance(value, str) else value
    if g.errors[r]:
        doc["CH1"]["errors"] = {"temporal_stats": "Insufficient windows for temporal analysis"}
    if g.float_counts[r]:
        for ch in doc.values():
            for key in an.COUNT_KEYS:
                ch[key] = float(ch[key])
    return doc


def _analysis_traps(s: Sessions, order: list[int], described: np.ndarray, g: _AnalysisDraws) -> None:
    """Add the document traps to the session of each ``described`` row (current and not ``{}``)."""
    for r in np.flatnonzero(described).tolist():
        t = s.traps[order[r]]
        if g.one_channel[r]:
            t.append("one_channel")
        if g.missing[r]:
            t.append("missing_keys")
        if g.extra[r]:
            t.append("extra_keys")
        if g.nulls[r]:
            t.append("null_values")
        if g.errors[r]:
            t.append("analysis_errors")
        if g.float_counts[r]:
            t.append("float_counts")
        n_ch = 1 if g.one_channel[r] else 2
        counts = g.channels.n_contractions[2 * r : 2 * r + n_ch]
        if (counts == 0).any():
            t.append("zero_contractions")
        if (g.channels.expected[2 * r : 2 * r + n_ch] > 0).any():
            t.append("expected_contractions_set")
        if (g.channels.method[2 * r : 2 * r + n_ch] > 0).any():
            t.append("mvc_not_backend")


# ------------------------------------------------------------------------------------------------ writing
C3D_COLUMNS = (
    "id, file_path, file_hash, file_size_bytes, patient_id, session_id, game_metadata, channel_names, "
    "channel_count, sampling_rate, duration_seconds, frame_count, resolved_patient_id, "
    "resolved_therapist_id, "
    "resolved_session_date, size_category, bucket_name, object_metadata, processing_status, error_message, "
    "created_at, updated_at, processed_at"
)
ANALYSIS_COLUMNS = (
    "id, c3d_metadata_id, file_hash, processing_version, processing_params, analytics_data, emg_signals, "
    "processing_time_ms, cache_hits, last_accessed_at, created_at, expires_at"
)


def _signal_templates(catalog: C3DCatalog, k: int) -> list[str | None]:
    if k <= 0:
        return [None] * len(catalog.recordings)
    out: list[str | None] = []
    for r in catalog.recordings:
        ch1 = np.resize(np.round(np.array(r.emg_ch1 or (0.0,)), 10), k).tolist()
        ch2 = np.resize(np.round(np.array(r.emg_ch2 or (0.0,)), 10), k).tolist()
        out.append(
            json.dumps({"CH1": {"data": ch1, "sampling_rate": 990.0}, "CH2": {"data": ch2, "sampling_rate": 990.0}})
        )
    return out


def seed_legacy(
    conn: psycopg.Connection,
    *,
    sessions: int,
    seed: int = 42,
    bad_fraction: float = 0.0,
    signal_samples: int = 0,
    c3d_dir: Path | None = None,
) -> SeedReport:
    """Write ``sessions`` synthetic legacy sessions (every trap of the legacy spec) in one transaction.

    Everything is drawn from one generator before anything is written; the steps below consume it in a fixed
    order (people, sessions, settings, spoiling, analyses), which is what makes a seed reproducible.
    """
    started = time.perf_counter()
    if sessions < 1:
        raise SchemaStateError("--sessions must be at least 1", "pass a positive number of sessions")
    has_settings = _check_state(conn)
    catalog = load_catalog(c3d_dir)
    rng = np.random.Generator(np.random.PCG64(seed))
    people = _people(rng)
    s = _sessions(rng, sessions, catalog, N_PATIENTS)
    settings_rows = _settings(rng, s, people) if has_settings else []
    spoiled = _spoil_sessions(rng, s, bad_fraction)
    order, current, texts = _analysis_docs(rng, s, spoiled.kind, spoiled.details, spoiled.not_c3d)
    stamps = _analysis_stamps(rng, s, order, current)
    templates = _signal_templates(catalog, signal_samples)
    with conn.transaction(), conn.cursor() as cur:
        _write_people(cur, people)
        _write_c3d_metadata(cur, s, spoiled.hashes)
        _write_analyses(cur, s, spoiled.hashes, order, current, texts, stamps, templates)
        if settings_rows:
            _write_settings(cur, settings_rows)
        # after the analyses: their texts fill in the spoiled details as COPY consumes them
        _write_manifest(cur, s, spoiled, (seed, sessions, bad_fraction, signal_samples, catalog.grounded))
    conn.commit()
    _analyze(conn, has_settings)
    return SeedReport(
        sessions=sessions,
        analyses=len(order),
        settings_rows=len(settings_rows),
        spoiled=len(spoiled.kind),
        seconds=time.perf_counter() - started,
        grounded=catalog.grounded,
        seed=seed,
        therapists=N_THERAPISTS,
        patients=N_PATIENTS,
        researchers=len(people.researcher_rows),
        catalog_source=catalog.source,
    )


@dataclass
class _Spoiled:
    """The sessions spoiled on purpose and what the c3d_metadata side of the spoiling changed."""

    kind: dict[int, int]  # session index → SPOIL_KINDS index, in session order
    details: dict[int, str]  # session index → spoiled_detail (document spoils are added as the texts are built)
    hashes: list[str]  # file_hash per session as written (bad_file_hash applied)
    not_c3d: set[int]  # out_of_range sessions that are not a C3D file at all


def _spoil_sessions(rng: np.random.Generator, s: Sessions, bad_fraction: float) -> _Spoiled:
    """Choose ``bad_fraction`` of the sessions with a current non-empty analysis and no shared hash (kinds cycled
    so each appears) and apply the spoils that live in c3d_metadata; the document spoils come with the texts.

    Messy-but-valid sessions stay eligible: their traps are never counted as spoiled.
    """
    shared = np.array(["shared_hash" in t for t in s.traps])
    eligible = np.flatnonzero(s.has_analysis & ~s.empty & ~shared)
    n_spoil = min(round(bad_fraction * len(eligible)), len(eligible))
    chosen = np.sort(rng.choice(eligible, size=n_spoil, replace=False)) if n_spoil else np.array([], dtype=int)
    kind = {int(i): j % len(SPOIL_KINDS) for j, i in enumerate(chosen.tolist())}
    spoiled = _Spoiled(kind=kind, details={}, hashes=list(s.hashes), not_c3d=set())
    for j, i in enumerate(chosen.tolist()):
        if SPOIL_KINDS[kind[i]] == "bad_file_hash":
            spoiled.hashes[i] = _bad_hash(spoiled.hashes[i], j)
            spoiled.details[i] = f"file_hash={spoiled.hashes[i]!r}"
        elif SPOIL_KINDS[kind[i]] == "out_of_range" and (j // len(SPOIL_KINDS)) % 3 == 2:
            _make_not_c3d(s, spoiled, i, j)
    return spoiled


def _make_not_c3d(s: Sessions, spoiled: _Spoiled, i: int, j: int) -> None:
    """Session ``i`` becomes a file that is not a C3D at all, which the real writer still marks completed, with
    the nonsense header values its parser read and an analytics_data of {} (0 ms)."""
    spoiled.not_c3d.add(i)
    s.sampling[i], s.duration[i], s.frames[i] = NOT_C3D_HEADER
    s.sizes[i] = 4600 + 100 * (j % 7)
    s.traps[i] += ["not_a_c3d", "empty_analytics"]
    spoiled.details[i] = (
        f"sampling_rate={NOT_C3D_HEADER[0]!r} duration_seconds={NOT_C3D_HEADER[1]!r} "
        f"frame_count={NOT_C3D_HEADER[2]} (not a C3D file)"
    )


@dataclass
class _AnalysisStamps:
    """Ids and timestamp texts per analysis row (write order)."""

    ids: list[str]
    created: list[str]
    expires: list[str]
    accessed: list[str]


def _analysis_stamps(rng: np.random.Generator, s: Sessions, order: list[int], current: list[bool]) -> _AnalysisStamps:
    """A current row dates from processing, a superseded one from the first processing; an expired row
    expires 30 days after it was created, any other one in the far future."""
    m = len(order)
    a_ids = _uuids(rng, m)
    sess = np.array(order, dtype=np.int64)
    cur = np.array(current, dtype=bool)
    a_created = np.where(cur, s.processed[sess], s.old_created[sess]) if m else np.array([], dtype=np.int64)
    expired = np.where(cur, s.expired[sess], True) if m else np.array([], dtype=bool)
    expires = np.where(expired, a_created + 30 * DAY, FAR_FUTURE + rng.integers(0, 365 * DAY, m))
    accessed = a_created + rng.integers(0, 60 * DAY, m)
    return _AnalysisStamps(a_ids, _ts(a_created), _ts(expires), _ts(accessed))


def _write_people(cur: psycopg.Cursor[Any], people: People) -> None:
    """Therapists, patients and researcher profiles (few rows: plain INSERTs)."""
    cur.execute(
        "INSERT INTO public.therapists (id, user_id, first_name, last_name, created_at) "
        "SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::timestamptz[])",
        [list(col) for col in zip(*people.therapist_rows, strict=True)],
    )
    cur.executemany(
        "INSERT INTO public.patients (id, therapist_id, patient_code, first_name, last_name, "
        "date_of_birth, "
        "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        people.patient_rows,
    )
    cur.executemany(
        "INSERT INTO public.researcher_profiles (id, full_name, institution, department, role, "
        "access_level, "
        "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        people.researcher_rows,
    )


def _write_c3d_metadata(cur: psycopg.Cursor[Any], s: Sessions, hashes: list[str]) -> None:
    """One c3d_metadata row per session (COPY). Rows not yet extracted have NULL header and resolved values."""
    created_txt, updated_txt, processed_txt = _ts(s.created), _ts(s.updated), _ts(s.processed)
    with cur.copy(f"COPY public.c3d_metadata ({C3D_COLUMNS}) FROM STDIN") as copy:
        for i in range(s.n):
            size = int(s.sizes[i])
            frames = int(s.frames[i])
            known = bool(s.extracted[i])
            copy.write_row(
                (
                    s.ids[i],
                    s.paths[i],
                    hashes[i],
                    size,
                    s.patient_folder[i],
                    s.session_ids[i],
                    None,
                    "[]" if known else None,
                    0 if known else None,
                    None if np.isnan(s.sampling[i]) else float(s.sampling[i]),
                    None if np.isnan(s.duration[i]) else float(s.duration[i]),
                    frames if known else None,
                    s.resolved_patient[i],
                    "Unknown" if known else None,
                    s.resolved_date[i],
                    "small" if size < 2_000_000 else ("medium" if size < 3_000_000 else "large"),
                    "c3d-examples",
                    s.object_metadata[i],
                    s.status[i],
                    s.error[i],
                    created_txt[i],
                    updated_txt[i],
                    processed_txt[i] if s.processed[i] else None,
                )
            )


def _write_analyses(
    cur: psycopg.Cursor[Any],
    s: Sessions,
    hashes: list[str],
    order: list[int],
    current: list[bool],
    texts: Iterator[str],
    stamps: _AnalysisStamps,
    templates: list[str | None],
) -> None:
    """The analysis_results rows (COPY), consuming the lazy texts; a ``{}`` row has no emg_signals."""
    with cur.copy(f"COPY public.analysis_results ({ANALYSIS_COLUMNS}) FROM STDIN") as copy:
        for r, text in enumerate(texts):
            i = order[r]
            is_empty = text == "{}"
            copy.write_row(
                (
                    stamps.ids[r],
                    s.ids[i],
                    hashes[i],
                    "v2.1.0" if current[r] else "v2.0.0",
                    "{}",
                    text,
                    None if is_empty else templates[int(s.rec[i])],
                    0 if is_empty and not s.too_short[i] else 1000,
                    int(s.cache_hits[i]) if current[r] else 0,
                    stamps.accessed[r],
                    stamps.created[r],
                    stamps.expires[r],
                )
            )


def _write_settings(cur: psycopg.Cursor[Any], settings_rows: list[tuple[str, str, str, str]]) -> None:
    """The legacy session_settings rows (COPY)."""
    with cur.copy("COPY public.session_settings (user_id, session_id, params, updated_at) FROM STDIN") as copy:
        for row in settings_rows:
            copy.write_row(row)


def _write_manifest(
    cur: psycopg.Cursor[Any], s: Sessions, spoiled: _Spoiled, run: tuple[int, int, float, int, bool]
) -> None:
    """legacy_seed: the run's arguments (seed, sessions, bad_fraction, signal_samples, grounded) and each
    session's traps and spoiling, which later features' tests read."""
    cur.execute((legacy_sql_dir() / MANIFEST_SQL).read_text(encoding="utf-8").encode())
    cur.execute("TRUNCATE legacy_seed.manifest")
    cur.execute(
        "INSERT INTO legacy_seed.runs (seed, sessions, bad_fraction, signal_samples, grounded) "
        "VALUES (%s, %s, %s, %s, %s)",
        run,
    )
    with cur.copy(
        "COPY legacy_seed.manifest (c3d_metadata_id, ordinal, traps, spoiled_kind, spoiled_detail) FROM STDIN"
    ) as copy:
        for i in range(s.n):
            kind = SPOIL_KINDS[spoiled.kind[i]] if i in spoiled.kind else None
            copy.write_row((s.ids[i], i, "{" + ",".join(s.traps[i]) + "}", kind, spoiled.details.get(i)))


def _analyze(conn: psycopg.Connection, has_settings: bool) -> None:
    """A production legacy database has planner statistics (autovacuum keeps them); give the seeded one the same."""
    tables = ["c3d_metadata", "analysis_results", "patients", "therapists"]
    tables += ["session_settings"] if has_settings else []
    conn.execute("ANALYZE " + ", ".join(f"public.{t}" for t in tables))
    conn.commit()

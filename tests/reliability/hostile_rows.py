"""Hypothesis strategies for hostile legacy sessions, and a COPY writer that puts them into the legacy tables.

A session starts from a plausible, consistent legacy row (so that most sessions reach the deeper stages) and
Hypothesis replaces some of its fields with hostile values: deep nesting, huge and tiny numbers, NaN/Infinity
spellings, unicode and control characters, strings where numbers belong, channel keys repeated in another case or
literally twice in one JSON text, timestamps at infinity and at the ends of PostgreSQL's range. JSON is written as
raw text (never through json.dumps of a dict) so that duplicate keys and number tokens such as 1e400 reach the
database exactly as a hand-edited legacy row could hold them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from hypothesis import strategies as st

# ------------------------------------------------------------------------------------------------ raw JSON
Json = Any  # None | bool | int | float | str | Raw | Obj | list[Json]


@dataclass(frozen=True)
class Raw:
    """A JSON token written verbatim (number spellings json.dumps cannot produce, or pre-built deep nesting)."""

    text: str


@dataclass(frozen=True)
class Obj:
    """A JSON object as ordered pairs: keys may repeat (the database keeps the last one)."""

    pairs: tuple[tuple[str, Json], ...]


def to_json(value: Json) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Obj):
        return "{" + ", ".join(f"{to_json(k)}: {to_json(v)}" for k, v in value.pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)  # None, bool, int, str (control characters escaped)


# text PostgreSQL can store: no NUL (text and jsonb both refuse it), no lone surrogates (not UTF-8)
safe_characters = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])
hostile_text = st.one_of(
    st.text(safe_characters, max_size=30),
    st.sampled_from(["", " ", "Unknown", "NULL", "null", "\t\n\r", "\x01\x02\x1b[31m", "ümlaut ß 中文 🦵", "\u202etxt",
                     "'; DROP TABLE c3d_metadata; --", '"quoted"', "back\\slash", "\\N", "P001", "p001", "P 001"]),
)
NUMBER_TOKENS = ["1e400", "-1e400", "1e-400", "5e-324", "-0", "0.0", "12.0", "1E+1", "12.000000000000001",
                 "1.7976931348623157e308", "2.2250738585072014e-308", "123456789012345678901234567890", "-12"]
NUMBER_SPELLINGS = ["NaN", "nan", "-NaN", "Infinity", "-Infinity", "inf", "-inf", "INF", "1e999", "12", " 12 ", "12,5",
                    "twelve", "", "0x10", "null", "true"]
hostile_number: st.SearchStrategy[Json] = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(NUMBER_TOKENS).map(Raw),
    st.sampled_from(NUMBER_SPELLINGS),
    hostile_text,
    st.none(),
    st.booleans(),
    st.just([12.0]),
    st.just(Obj((("value", 12.0),))),
)
deep_nesting = st.integers(min_value=50, max_value=1000).flatmap(
    lambda depth: st.sampled_from([Raw("[" * depth + "1" + "]" * depth),
                                   Raw('{"a": ' * depth + "1" + "}" * depth)]))
json_scalar = st.one_of(st.none(), st.booleans(), hostile_number, hostile_text)
shallow_json: st.SearchStrategy[Json] = st.recursive(
    json_scalar,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.lists(st.tuples(hostile_text, children), max_size=3).map(
                                   lambda pairs: Obj(tuple(pairs)))),
    max_leaves=6,
)
any_json = shallow_json | deep_nesting

# ------------------------------------------------------------------------------------------------ channels
COUNT_FIELDS = ("contraction_count", "good_contraction_count", "mvc_contraction_count", "duration_contraction_count")
VALUE_FIELDS = ("avg_duration_ms", "min_duration_ms", "max_duration_ms", "total_time_under_tension_ms",
                "duration_threshold_actual_value", "avg_amplitude", "max_amplitude", "rms", "mav",
                "mvc_threshold_actual_value", "mpf", "mdf", "fatigue_index_fi_nsm5", "expected_contractions")
TEMPORAL = ("rms_temporal_stats", "mav_temporal_stats", "mpf_temporal_stats", "mdf_temporal_stats",
            "fatigue_index_temporal_stats")


def plausible_channel(n: int) -> dict[str, Json]:
    total = 10 + n % 5
    channel: dict[str, Json] = {
        "contraction_count": float(total), "good_contraction_count": float(total - 3),
        "mvc_contraction_count": float(total - 2), "duration_contraction_count": float(total - 1),
        "avg_duration_ms": 2500.0, "min_duration_ms": 1200.0, "max_duration_ms": 4000.0,
        "total_time_under_tension_ms": 30000.0, "duration_threshold_actual_value": 2000.0,
        "avg_amplitude": 2e-4, "max_amplitude": 9e-4, "rms": 1e-4, "mav": 8e-5, "mvc_threshold_actual_value": 3e-4,
        "mpf": 80.5, "mdf": 70.1, "fatigue_index_fi_nsm5": 3e-12, "expected_contractions": 12,
        "mvc_estimation_method": "backend_estimation",
        "signal_processing": Obj((
            ("processing_steps", ["highpass", "rectify"]),
            ("parameters_used", Obj((("highpass_cutoff_hz", 20.0), ("lowpass_cutoff_hz", 450.0),
                                     ("filter_order", 4), ("smoothing_window_ms", 50.0)))),
        )),
    }
    for name in TEMPORAL:
        channel[name] = Obj((("mean_value", 1e-4), ("std_value", 1e-5), ("valid_windows", 10)))
    return channel


channel_field = st.sampled_from(COUNT_FIELDS + VALUE_FIELDS + TEMPORAL + ("mvc_estimation_method",
                                                                          "signal_processing", "contractions"))
channel_override = st.tuples(channel_field, st.one_of(hostile_number, hostile_number, any_json))
channel_keys = st.sampled_from(["CH1", "CH2", "CH3", "ch1", "Ch1", "cH2", "CH01", "CH1 Raw", "CH 1", "CH-1", "CH0",
                                "CH99999999999999999999", "Left Quadriceps", "", "\x07CH1"]) | hostile_text


@st.composite
def analytics(draw: st.DrawFn, n: int) -> Json:
    """Mostly two channels with a few hostile fields; sometimes extra keys, repeats, or no object at all."""
    shape = draw(st.sampled_from(["channels"] * 8 + ["empty", "not_an_object", "deep"]))
    if shape == "empty":
        return Obj(())
    if shape == "not_an_object":
        return draw(any_json)
    if shape == "deep":
        return Obj((("CH1", draw(deep_nesting)), ("CH2", Obj(tuple(plausible_channel(n).items())))))
    pairs: list[tuple[str, Json]] = []
    for key in ("CH1", "CH2"):
        channel = plausible_channel(n)
        for name, value in draw(st.lists(channel_override, max_size=3)):
            channel[name] = value
        pairs.append((key, Obj(tuple(channel.items()))))
    for key in draw(st.lists(channel_keys, max_size=2)):  # another case of a key, a repeated key, a junk key
        extra = plausible_channel(n + 1)
        for name, value in draw(st.lists(channel_override, max_size=2)):
            extra[name] = value
        pairs.append((key, draw(st.one_of(st.just(Obj(tuple(extra.items()))), any_json))))
    return Obj(tuple(pairs))


# ------------------------------------------------------------------------------------------------ sessions
TIMESTAMPS = ["infinity", "-infinity", "4713-01-01 00:00:00 BC", "294276-12-31 23:59:59", "0001-01-01 00:00:00",
              "1970-01-01 00:00:00", "2023-03-21 17:50:17.123456", "2038-01-19 03:14:08", "9999-12-31 23:59:59.999999"]
FLOATS = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 5e-324, 1e308, -1.0, 33.0, 990.0, 1e-300]
C3D_OVERRIDES: dict[str, st.SearchStrategy[Any]] = {
    "file_hash": st.one_of(st.just("A" * 64), st.just("g" * 64), st.just("a" * 63), hostile_text),
    "file_size_bytes": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "patient_id": st.one_of(st.none(), hostile_text),
    "resolved_patient_id": st.one_of(st.none(), hostile_text),
    "therapist_id": st.one_of(st.none(), st.uuids().map(str), hostile_text),
    "resolved_therapist_id": st.one_of(st.none(), hostile_text),
    "session_id": st.one_of(st.none(), hostile_text),
    "session_date": st.one_of(st.none(), st.sampled_from(TIMESTAMPS)),
    "resolved_session_date": st.one_of(st.none(), st.sampled_from(TIMESTAMPS)),
    "session_type": st.one_of(st.none(), st.sampled_from(["baseline", "Training", "ASSESSMENT"]), hostile_text),
    "game_metadata": st.one_of(st.none(), any_json.map(to_json),
                               st.sampled_from([Obj((("game_points_achieved", "850"), ("game_points_maximum", "1000"))),
                                                Obj((("game_points_achieved", "NaN"), ("game_points_maximum", "0"))),
                                                Obj((("game_points_achieved", "1e400"),
                                                     ("game_points_maximum", "-1")))]).map(to_json)),
    "channel_names": st.one_of(st.none(), any_json.map(to_json)),
    "channel_count": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "sampling_rate": st.one_of(st.none(), st.sampled_from(FLOATS), st.floats()),
    "duration_seconds": st.one_of(st.none(), st.sampled_from(FLOATS), st.floats()),
    "frame_count": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "object_metadata": st.one_of(st.none(), any_json.map(to_json)),
    "processing_version": st.one_of(st.none(), hostile_text),
    "error_message": st.one_of(st.none(), hostile_text),
    "created_at": st.sampled_from(TIMESTAMPS),
    "updated_at": st.sampled_from(TIMESTAMPS),
    "processed_at": st.one_of(st.none(), st.sampled_from(TIMESTAMPS)),
}
ANALYSIS_OVERRIDES: dict[str, st.SearchStrategy[Any]] = {
    # part of a legacy unique index: a value too long for a btree entry could never have been stored
    "processing_params": st.one_of(st.none(), shallow_json.map(to_json)),
    "processing_time_ms": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "cache_hits": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "created_at": st.sampled_from(TIMESTAMPS),
    "expires_at": st.sampled_from(TIMESTAMPS),
    "last_accessed_at": st.sampled_from(TIMESTAMPS),
    "mvc_values": st.one_of(st.none(), any_json.map(to_json)),
}
SETTINGS_PARAMS = st.lists(
    st.tuples(st.sampled_from(["post_session_rpe", "bfr_parameters", "channel_muscle_mapping",
                               "session_expected_contractions_ch1", "mvc_threshold_percentage"]),
              st.one_of(hostile_number, any_json,
                        st.just(Obj((("left", Obj((("percentage_aop", "NaN"), ("aop_measured", Raw("1e400"))))),))))),
    max_size=4,
).map(lambda pairs: to_json(Obj((("post_session_rpe", 6), *pairs))))


def overrides(fields: dict[str, st.SearchStrategy[Any]], max_size: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.lists(st.sampled_from(sorted(fields)).flatmap(lambda f: fields[f].map(lambda v: (f, v))),
                    max_size=max_size).map(dict)


@dataclass
class Session:
    """One legacy session: its c3d_metadata row, its analysis_results rows and maybe a legacy session_settings row.

    Hypothesis draws the content; :meth:`numbered` gives it the ids, path and versions that must be unique.
    """

    c3d: dict[str, Any]
    analyses: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] | None = None
    path_tail: str | None = None
    link: str = "session_code"

    def numbered(self, n: int) -> Session:
        session_id = str(uuid.UUID(int=n + 1, version=4))
        code = f"P00{n % 5 + 1}"
        path = f"{code}/S{n}/Ghostly_Emg_{n}.c3d"
        c3d = {"id": session_id, "file_path": path if self.path_tail is None else f"{path}/{self.path_tail}",
               "file_hash": hashlib.sha256(path.encode()).hexdigest(), "patient_id": code,
               "resolved_patient_id": code, "session_id": f"S{n}", **self.c3d}
        analyses = [{**a, "id": str(uuid.UUID(int=(1 << 64) + n * 4 + k, version=4)), "c3d_metadata_id": session_id,
                     "file_hash": a.get("file_hash", c3d["file_hash"]),
                     # (file_hash, processing_version, processing_params) is unique in legacy: the suffix keeps it so
                     "processing_version": f"{a['processing_version']}#{n}.{k}"}
                    for k, a in enumerate(self.analyses)]
        settings = None
        if self.settings is not None:
            link = {"session_code": c3d["session_id"], "id": session_id, "none": "S-unlinked"}[self.link]
            settings = {**self.settings, "user_id": str(uuid.UUID(int=(2 << 64) + n, version=4)),
                        "session_id": link if isinstance(link, str) else f"S{n}"}
        return Session(c3d, analyses, settings)


@st.composite
def sessions(draw: st.DrawFn) -> Session:
    """A hostile session's content: a plausible row with a few fields replaced (see the module docstring)."""
    n = draw(st.integers(0, 99))
    c3d: dict[str, Any] = {
        "file_size_bytes": 2_000_000 + n, "therapist_id": None, "session_date": None, "session_type": None,
        "game_metadata": None, "channel_names": "[]", "channel_count": 0, "sampling_rate": 33.0,
        "duration_seconds": 175.0, "frame_count": 5775, "resolved_therapist_id": "Unknown",
        "resolved_session_date": "2023-03-21 00:00:00", "size_category": "medium", "bucket_name": "c3d-examples",
        "object_metadata": "{}",
        "processing_status": draw(st.sampled_from(["completed"] * 8 + ["pending", "processing", "failed"])),
        "processing_version": None, "error_message": None, "created_at": "2023-03-21 18:00:00+00",
        "updated_at": "2023-03-21 18:00:00+00", "processed_at": "2023-03-21 18:01:00+00",
    }
    c3d.update(draw(overrides(C3D_OVERRIDES, 3)))
    session = Session(c3d, path_tail=draw(st.one_of(st.none(), hostile_text)))
    for k in range(draw(st.sampled_from([1, 1, 1, 1, 2, 0, 3]))):
        analysis: dict[str, Any] = {
            "processing_version": draw(st.one_of(st.just("v2.1.0"), hostile_text)),
            "processing_params": "{}", "analytics_data": to_json(draw(analytics(n))), "emg_signals": None,
            "mvc_values": None, "processing_time_ms": 1000, "cache_hits": k,
            "created_at": f"2023-03-2{k + 1} 18:01:00+00", "expires_at": "2035-01-01 00:00:00+00",
            "last_accessed_at": "2023-03-21 18:01:00+00",
        }
        analysis.update(draw(overrides(ANALYSIS_OVERRIDES, 2)))
        if draw(st.integers(0, 20)) == 0:
            analysis["file_hash"] = draw(hostile_text)
        session.analyses.append(analysis)
    if draw(st.integers(0, 4)) == 0:
        session.link = draw(st.sampled_from(["session_code", "id", "none"]))
        session.settings = {"params": draw(SETTINGS_PARAMS), "updated_at": "2023-03-21 18:05:00+00"}
    return session


def expand(pool: list[Session], count: int, seed: int) -> list[Session]:
    """``count`` numbered sessions, each mixing the parts of four Hypothesis-drawn sessions (c3d row, analyses,
    settings, path) chosen by a seeded random: Hypothesis draws slowly (about 5 ms a session), mixing multiplies it."""
    import random

    rng = random.Random(seed)
    out = []
    for n in range(count):
        a, b, c, d = (rng.randrange(len(pool)) for _ in range(4))
        mixed = Session(pool[a].c3d, pool[b].analyses, pool[c].settings, pool[d].path_tail, pool[c].link)
        out.append(mixed.numbered(n))
    return out


# ------------------------------------------------------------------------------------------------ huge values
TEN_MB = 10 * 1024 * 1024


def make_huge(batch: list[Session]) -> list[str]:
    """Put a 10 MB value in a handful of sessions, each in a different place; returns what was made huge."""
    big_text = ("ß\x01\t\\ 中" * (TEN_MB // 8))[: TEN_MB // 2]  # multi-byte: ~10 MB of UTF-8
    done = []
    candidates = [s for s in batch if s.analyses and s.c3d["processing_status"] == "completed"]
    places = ["error_message", "game_metadata", "rms_string", "contractions_list", "emg_signals"]
    for place, session in zip(places, candidates, strict=False):
        analysis = session.analyses[0]
        if place == "error_message":
            session.c3d["error_message"] = big_text
        elif place == "game_metadata":
            session.c3d["game_metadata"] = to_json(Obj((("player_notes", big_text),)))
        elif place == "rms_string":  # a string where a number belongs, 10 MB long
            analysis["analytics_data"] = to_json(Obj((("CH1", Obj((("rms", big_text),))),)))
        elif place == "contractions_list":  # a per-contraction list the extraction must never pull out
            contraction = to_json(Obj((("start_time_ms", 1.0), ("is_good", True))))
            count = TEN_MB // len(contraction)
            analysis["analytics_data"] = '{"CH1": {"contractions": [' + ", ".join([contraction] * count) + "]}}"
        else:
            analysis["emg_signals"] = "[" + ", ".join(["0.000123456789"] * (TEN_MB // 16)) + "]"
        done.append(f"{place}:{session.c3d['id']}")
    return done


# ------------------------------------------------------------------------------------------------ loading
C3D_COLUMNS = ("id", "file_path", "file_hash", "file_size_bytes", "patient_id", "therapist_id", "session_id",
               "session_date", "session_type", "game_metadata", "channel_names", "channel_count", "sampling_rate",
               "duration_seconds", "frame_count", "resolved_patient_id", "resolved_therapist_id",
               "resolved_session_date", "size_category", "bucket_name", "object_metadata", "processing_status",
               "processing_version", "error_message", "created_at", "updated_at", "processed_at")
ANALYSIS_COLUMNS = ("id", "c3d_metadata_id", "file_hash", "processing_version", "processing_params",
                    "analytics_data", "emg_signals", "mvc_values", "processing_time_ms", "cache_hits", "created_at",
                    "expires_at", "last_accessed_at")
SETTINGS_COLUMNS = ("user_id", "session_id", "params", "updated_at")


def copy_rows(conn: psycopg.Connection, table: str, columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> None:
    statement = f"COPY public.{table} ({', '.join(columns)}) FROM STDIN"
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def insert_sessions(conn: psycopg.Connection, batch: list[Session]) -> None:
    with conn.transaction():
        copy_rows(conn, "c3d_metadata", C3D_COLUMNS, (s.c3d for s in batch))
        copy_rows(conn, "analysis_results", ANALYSIS_COLUMNS, (a for s in batch for a in s.analyses))
        copy_rows(conn, "session_settings", SETTINGS_COLUMNS, (s.settings for s in batch if s.settings))

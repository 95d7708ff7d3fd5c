"""How each target table is keyed and merged."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSpec:
    name: str
    conflict_key: tuple[str, ...]
    # extra parts of a deterministic id (md5 of table/session/parts) for tables whose id is not a legacy id
    derived_id_parts: tuple[str, ...] | None
    # columns whose old value is kept unless the row's other content changed (e.g. run-time stamps)
    sticky: dict[str, str] | None = None


TABLE_SPECS: tuple[TableSpec, ...] = (
    TableSpec("therapy_sessions", ("id",), None),
    TableSpec("emg_statistics", ("session_id", "channel_name"), ("channel_name",)),
    TableSpec("performance_scores", ("session_id",), ()),
    TableSpec("bfr_monitoring", ("session_id", "side"), ("side",)),
    TableSpec("session_settings", ("session_id",), ()),
    TableSpec("signal_processing_cache", ("id",), None, sticky={"invalidated_at": "invalidated_reason"}),
    TableSpec("processing_parameters", ("session_id",), ()),
)
CHILD_TABLES = tuple(spec for spec in TABLE_SPECS if spec.name != "therapy_sessions")

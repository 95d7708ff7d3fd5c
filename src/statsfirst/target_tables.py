"""The eight Statistics-First tables of sql/006, in load order: one home for every stage that names them."""

from __future__ import annotations

TARGET_TABLES = (
    "therapy_sessions",
    "emg_statistics",
    "performance_scores",
    "bfr_monitoring",
    "session_settings",
    "export_history",
    "signal_processing_cache",
    "processing_parameters",
)

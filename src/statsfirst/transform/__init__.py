"""Transform: legacy frames → one polars frame per target table, keyed by the preserved legacy ids."""

"""Load: COPY into temporary staging tables, then set-based upserts, one transaction per batch."""

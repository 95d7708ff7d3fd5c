"""Database access: connection resolution, the embedded server, the migration runner, COPY helpers."""

"""What every Prefect flow needs from the library, kept out of ``flows/`` so flows stay thin."""

from __future__ import annotations

from statsfirst.db.dsn import ResolvedDsn, resolve_dsn


def resolve_flow_dsn(dsn_secret_block: str | None = None) -> ResolvedDsn:
    """A Prefect Secret block when one is named, else ``DATABASE_URL``, else the embedded server."""
    if dsn_secret_block:
        from prefect.blocks.system import Secret

        secret: Secret = Secret.load(dsn_secret_block)  # type: ignore[assignment]
        return ResolvedDsn(str(secret.get()), f"Prefect Secret block {dsn_secret_block!r}")
    return resolve_dsn(None)

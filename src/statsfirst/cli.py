"""The ``statsfirst`` command line. Command names and options are a contract other tools rely on.

Every command takes ``--dsn`` (or ``DATABASE_URL``), else uses the embedded PostgreSQL server.
Errors print one line (``error: what is wrong — what to do``) and exit non-zero, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import psycopg
import typer
from rich.console import Console

from statsfirst.db.dsn import ResolvedDsn, redact, resolve_dsn
from statsfirst.errors import StatsfirstError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_show_locals=False)
legacy_app = typer.Typer(no_args_is_help=True, help="The legacy baseline for development, tests and the demo.")
schema_app = typer.Typer(no_args_is_help=True, help="Apply and inspect the Statistics-First schema migrations.")
embedded_app = typer.Typer(no_args_is_help=True, help="The embedded PostgreSQL server used when no DSN is given.")
app.add_typer(legacy_app, name="legacy")
app.add_typer(schema_app, name="schema")
app.add_typer(embedded_app, name="embedded")

console = Console()
err_console = Console(stderr=True)

DsnOption = Annotated[
    str | None,
    typer.Option(
        "--dsn",
        envvar="DATABASE_URL",
        show_envvar=True,
        show_default=False,
        help="PostgreSQL connection string (default: DATABASE_URL, else the embedded server).",
    ),
]

T = TypeVar("T")


def run_safely(action: Callable[[], T], dsn: ResolvedDsn | None = None) -> T:
    """Run a command body; turn known failures into one clear line and a non-zero exit."""
    try:
        return action()
    except StatsfirstError as exc:
        message = dsn.scrub(str(exc)) if dsn else redact(str(exc))
        err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except psycopg.Error as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        message = dsn.scrub(first_line) if dsn else redact(first_line)
        err_console.print(
            f"[bold red]error:[/] the database refused the operation: {message} — nothing was committed by "
            "the failing step; fix the cause and re-run the same command",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if os.environ.get("STATSFIRST_DEBUG"):
            raise
        detail = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
        message = dsn.scrub(detail) if dsn else redact(detail)
        err_console.print(
            f"[bold red]error:[/] unexpected failure ({message}) — this is a bug in statsfirst; re-run with "
            "STATSFIRST_DEBUG=1 for the traceback and report it",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None


def _resolve(dsn: str | None) -> ResolvedDsn:
    return run_safely(lambda: resolve_dsn(dsn))


# ----------------------------------------------------------------------------------------------- legacy
@legacy_app.command("init")
def legacy_init(
    dsn: DsnOption = None,
    with_session_settings: Annotated[
        bool, typer.Option("--with-session-settings", help="Also create the legacy session_settings table.")
    ] = False,
) -> None:
    """Create the legacy tables (dev/test/demo only); refuses a database that already has them."""
    from statsfirst.db.connection import connection
    from statsfirst.legacy.baseline import init_legacy

    resolved = _resolve(dsn)

    def action() -> None:
        with connection(resolved) as conn:
            created = init_legacy(conn, with_session_settings=with_session_settings)
        console.print(f"legacy baseline created in {resolved.redacted()}: {', '.join(created)}", highlight=False)

    run_safely(action, resolved)


@legacy_app.command("seed")
def legacy_seed(
    sessions: Annotated[int, typer.Option("--sessions", min=1, help="How many c3d_metadata rows to write.")],
    dsn: DsnOption = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same data.")] = 42,
    bad_fraction: Annotated[
        float, typer.Option("--bad-fraction", min=0.0, max=1.0, help="Share of sessions spoiled on purpose.")
    ] = 0.0,
    signal_samples: Annotated[
        int, typer.Option("--signal-samples", min=0, help="Samples per channel written to emg_signals (bloat).")
    ] = 0,
    c3d_dir: Annotated[
        Path | None, typer.Option("--c3d-dir", help="Real C3D files that ground names, sizes and durations.")
    ] = None,
) -> None:
    """Write deterministic, realistic synthetic legacy data (with every trap of the legacy spec)."""
    from statsfirst.db.connection import connection
    from statsfirst.legacy.generator import seed_legacy

    resolved = _resolve(dsn)

    def action() -> None:
        with connection(resolved) as conn:
            report = seed_legacy(
                conn,
                sessions=sessions,
                seed=seed,
                bad_fraction=bad_fraction,
                signal_samples=signal_samples,
                c3d_dir=c3d_dir,
            )
        console.print(report.summary(), highlight=False)

    run_safely(action, resolved)


# ----------------------------------------------------------------------------------------------- schema
@schema_app.command("apply")
def schema_apply(
    dsn: DsnOption = None,
    target_schema: Annotated[
        str | None,
        typer.Option("--target-schema", help="Schema for the eight tables (default: the recorded one, else public)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    lock_timeout: Annotated[
        float, typer.Option("--lock-timeout", min=0.0, help="Seconds to wait for a concurrent apply.")
    ] = 60.0,
) -> None:
    """Apply pending sql/ migrations in order, each in its own transaction, under an advisory lock."""
    from statsfirst.db.migrations import apply_migrations

    resolved = _resolve(dsn)

    def action() -> None:
        report = apply_migrations(
            resolved, target_schema=target_schema, dry_run=dry_run, lock_timeout_s=lock_timeout, log=console.print
        )
        console.print(report.summary(), highlight=False)

    run_safely(action, resolved)


@schema_app.command("status")
def schema_status(dsn: DsnOption = None) -> None:
    """Show applied and pending migrations, checksums and the recorded target schema."""
    from statsfirst.db.migrations import migration_status

    resolved = _resolve(dsn)

    def action() -> None:
        status = migration_status(resolved)
        console.print(status.render())
        if status.drifted:
            raise typer.Exit(1)

    run_safely(action, resolved)


# ----------------------------------------------------------------------------------------------- migrate
@app.command("migrate")
def migrate_command(
    dsn: DsnOption = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only legacy rows created on/after (YYYY-MM-DD).")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Only legacy rows created before (YYYY-MM-DD).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Legacy sessions per batch/transaction.")] = 5000,
    workers: Annotated[int, typer.Option("--workers", help="Batches processed in parallel.")] = 2,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Extract, normalize, validate; write nothing.")] = False,
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="compliance=0.40,symmetry=0.25,effort=0.20,game=0.15 (must sum to 1)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    incremental: Annotated[
        bool,
        typer.Option("--incremental", help="Only sessions changed since the last incremental run (the watermark)."),
    ] = False,
    dask_address: Annotated[
        str | None,
        typer.Option(
            "--dask-address",
            envvar="STATSFIRST_DASK_ADDRESS",
            help="Run the range as partitions on this Dask scheduler (tcp://host:8786) through Prefect.",
        ),
    ] = None,
) -> None:
    """Migrate legacy sessions into the Statistics-First tables (idempotent; re-run the same command to resume)."""
    import json

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from statsfirst.pipeline.options import MigrateOptions, parse_day
    from statsfirst.pipeline.run import migrate
    from statsfirst.transform.scoring import PerformanceWeights

    def build_options() -> MigrateOptions:
        return MigrateOptions(
            since=parse_day(since, "--since"),
            until=parse_day(until, "--until"),
            batch_size=batch_size,
            workers=workers,
            dry_run=dry_run,
            weights=PerformanceWeights.parse(weights) if weights else PerformanceWeights(),
            incremental=incremental,
        )

    options = run_safely(build_options)
    resolved = _resolve(dsn)
    if dask_address:
        from statsfirst.pipeline.partitions import check_partitionable, run_partitioned_flow

        run_safely(lambda: check_partitionable(options))

        def partitioned() -> None:
            totals = run_partitioned_flow(resolved, options, dask_address=dask_address)
            print(json.dumps(totals, indent=2))

        run_safely(partitioned, resolved)
        return

    def action() -> None:
        if console.is_terminal and not json_output:
            columns = (
                TextColumn("migrating"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("sessions"),
                TextColumn("{task.fields[rate]:>8}/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=console, transient=False) as progress:
                task = progress.add_task("migrate", total=None, rate="-")

                def on_start(done: int) -> None:
                    progress.update(task, completed=done)

                def on_progress(n: int) -> None:
                    progress.advance(task, n)
                    speed = progress.tasks[0].speed
                    progress.update(task, rate=f"{speed:,.0f}" if speed else "-")

                summary = migrate(
                    resolved,
                    options,
                    on_start=on_start,
                    on_progress=on_progress,
                    log=lambda line: progress.console.print(line, highlight=False),
                )
                progress.update(task, total=summary.sessions_in_range)
        else:
            counter = {"done": 0}

            def log_progress(n: int) -> None:
                counter["done"] += n
                err_console.print(f"migrated batch: {counter['done']:,} sessions processed", highlight=False)

            summary = migrate(
                resolved,
                options,
                on_progress=None if json_output else log_progress,
                log=lambda line: err_console.print(line, highlight=False),
            )
        if json_output:
            print(json.dumps(summary.as_json(), indent=2))
        else:
            console.print(summary.render())

    run_safely(action, resolved)


# ----------------------------------------------------------------------------------------------- reconcile
@app.command("reconcile")
def reconcile_command(
    dsn: DsnOption = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only legacy rows created on/after (YYYY-MM-DD).")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Only legacy rows created before (YYYY-MM-DD).")] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="text (terminal summary), json, html (for clinicians) or csv.")
    ] = "text",
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the report to this file instead of stdout.")
    ] = None,
) -> None:
    """Recompute from the legacy tables what the target should hold, and compare with the target and quarantine.

    Exit 0 when everything reconciles, 1 on any mismatch, 2 on a usage or connection error.
    """
    import sys

    from statsfirst.errors import UsageError
    from statsfirst.pipeline.options import parse_day
    from statsfirst.reconcile.formats import check_format, render
    from statsfirst.reconcile.options import ReconcileOptions
    from statsfirst.reconcile.render_text import summary_renderable
    from statsfirst.reconcile.run import reconcile

    def build_options() -> tuple[ReconcileOptions, str]:
        fmt = check_format(output_format)
        if output is not None and not output.parent.is_dir():
            raise UsageError(f"--output {output}: folder {output.parent} does not exist", "create it or pick another")
        return ReconcileOptions(since=parse_day(since, "--since"), until=parse_day(until, "--until")), fmt

    options, fmt = run_safely(build_options)
    resolved = _resolve(dsn)

    def action() -> bool:
        report = reconcile(resolved, options)
        if output is None and fmt == "text":
            console.print(summary_renderable(report))
        elif output is None:
            sys.stdout.write(render(report, fmt))
        else:
            try:
                output.write_text(render(report, fmt), encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot write --output {output}: {exc.strerror}", "pick a writable path") from None
            verdict = "reconciled" if report.reconciled else "NOT reconciled"
            err_console.print(f"{verdict}: {fmt} report written to {output}", highlight=False, soft_wrap=True)
        return report.reconciled

    reconciled = run_safely(action, resolved)
    raise typer.Exit(0 if reconciled else 1)


# ----------------------------------------------------------------------------------------------- embedded
@embedded_app.command("stop")
def embedded_stop() -> None:
    """Stop the embedded server (its data stays under STATSFIRST_HOME)."""
    from statsfirst.db.embedded import pgdata_dir, stop_embedded

    stopped = stop_embedded()
    console.print(f"embedded server {'stopped' if stopped else 'was not running'} ({pgdata_dir()})", highlight=False)


@embedded_app.command("dsn")
def embedded_dsn_command() -> None:
    """Start the embedded server if needed and print its DSN (it has no password)."""
    from statsfirst.db.embedded import embedded_dsn

    console.print(run_safely(embedded_dsn), highlight=False, soft_wrap=True)


# ----------------------------------------------------------------------------------------------- demo
@app.command("demo")
def demo(
    dsn: DsnOption = None,
    sessions: Annotated[int, typer.Option("--sessions", min=1, help="Synthetic sessions to seed.")] = 3000,
    seed: Annotated[int, typer.Option("--seed")] = 42,
) -> None:
    """The whole job on a fresh database: legacy init + seed (some bad rows), schema apply, migrate, summary."""
    from statsfirst.demo import run_demo

    resolved = _resolve(dsn)
    run_safely(lambda: run_demo(resolved, sessions=sessions, seed=seed, console=console), resolved)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

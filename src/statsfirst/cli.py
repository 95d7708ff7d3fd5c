"""statsfirst: migrate the GHOSTLY+ legacy EMG database into the Statistics-First schema, and check the result.

Every command takes --dsn (or DATABASE_URL), else uses the embedded PostgreSQL server. Errors print one line
(error: what is wrong — what to do) and exit non-zero: 2 for usage, connection and database-state errors.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import psycopg
import typer
from rich.console import Console

from statsfirst.db.dsn import ResolvedDsn, connection_advice, redact, resolve_dsn
from statsfirst.errors import ConnectionProblem, StatsfirstError, is_transient

HELP = (
    "Migrate the GHOSTLY+ legacy EMG database into the Statistics-First schema, and check the result.\n\n"
    "Every command takes --dsn (or DATABASE_URL), else uses the embedded PostgreSQL server. Errors print one line "
    "(error: what is wrong — what to do) and exit non-zero: 2 for usage, connection and database-state errors."
)
app = typer.Typer(no_args_is_help=True, add_completion=False, help=HELP, pretty_exceptions_show_locals=False)
legacy_app = typer.Typer(no_args_is_help=True, help="The legacy baseline for development, tests and the demo.")
schema_app = typer.Typer(no_args_is_help=True, help="Apply and inspect the Statistics-First schema migrations.")
embedded_app = typer.Typer(no_args_is_help=True, help="The embedded PostgreSQL server used when no DSN is given.")
app.add_typer(legacy_app, name="legacy")
app.add_typer(schema_app, name="schema")
app.add_typer(embedded_app, name="embedded")

# Piped or logged output is not cut at 80 columns (rich's default off a terminal): ids are never shortened.
PIPED_WIDTH = 240


def _console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=PIPED_WIDTH if wide else None)


console = _console()
err_console = _console(stderr=True)

DsnOption = Annotated[
    str | None,
    # not typer's envvar: resolve_dsn reads DATABASE_URL itself, so messages name where the string came from
    typer.Option(
        "--dsn",
        show_default=False,
        help="PostgreSQL connection string (default: the DATABASE_URL environment variable, else the embedded "
        "server).",
    ),
]

SINCE_HELP = "Only legacy sessions created on or after this day (YYYY-MM-DD; days start at 00:00 UTC)."
UNTIL_HELP = "Only legacy sessions created before this day (YYYY-MM-DD, exclusive; days start at 00:00 UTC)."

T = TypeVar("T")


RERUN_REMEDY = "nothing was committed by the failing step; fix the cause and re-run the same command"


def run_safely(
    action: Callable[[], T],
    dsn: ResolvedDsn | None = None,
    *,
    failure_exit: int = 1,
    database_remedy: str = RERUN_REMEDY,
) -> T:
    """Run a command body; turn known failures into one clear line and a non-zero exit.

    ``failure_exit`` is the exit code of a database error or an unexpected failure (``reconcile`` keeps 1 for its
    verdict, so it passes 2); errors that carry their own code (usage, connection, schema state: 2) keep it.
    """
    try:
        return action()
    except StatsfirstError as exc:
        text = str(exc)
        if isinstance(exc, ConnectionProblem) and dsn is not None:
            advice = connection_advice(exc.problem, dsn.source)
            text = f"{exc.problem} — {advice}" if advice else text
        message = dsn.scrub(text) if dsn else redact(text)
        err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(failure_exit if exc.exit_code == 1 else exc.exit_code) from None
    except psycopg.Error as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        message = dsn.scrub(first_line) if dsn else redact(first_line)
        # a lost connection (backend terminated, server restart, network) is not the database refusing anything;
        # what the client read first depends on timing (the server's reason, or only the closed socket)
        what = "the connection to the database was lost" if is_transient(exc) else "the database refused the operation"
        err_console.print(
            f"[bold red]error:[/] {what}: {message} — {database_remedy}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(failure_exit) from None
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
        raise typer.Exit(failure_exit) from None


def _resolve(dsn: str | None) -> ResolvedDsn:
    """The command's database: --dsn, else DATABASE_URL, else the embedded server (each named as such in errors)."""
    return run_safely(lambda: resolve_dsn(dsn))


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"statsfirst {version('statsfirst')}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """The statsfirst command line (its help is HELP)."""


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
    """Show applied and pending migrations, checksums, the recorded target schema and its configuration."""
    from statsfirst.db.migrations import migration_status

    resolved = _resolve(dsn)

    def action() -> None:
        status = migration_status(resolved)
        if status.target_schema:
            from statsfirst.db.connection import connection
            from statsfirst.pipeline.configuration import read_recorded_configuration

            with connection(resolved, autocommit=True) as conn:
                recorded = read_recorded_configuration(conn, status.target_schema)
            status.configuration = recorded.as_rows() if recorded else []
        console.print(status.render())
        if status.drifted:
            raise typer.Exit(1)

    run_safely(action, resolved)


# ----------------------------------------------------------------------------------------------- migrate
@app.command("migrate")
def migrate_command(
    dsn: DsnOption = None,
    since: Annotated[str | None, typer.Option("--since", help=SINCE_HELP)] = None,
    until: Annotated[str | None, typer.Option("--until", help=UNTIL_HELP)] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Legacy sessions per batch/transaction.")] = 5000,
    workers: Annotated[int, typer.Option("--workers", help="Batches processed in parallel.")] = 2,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Extract, normalize, validate; write nothing.")] = False,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            help="compliance=0.50,symmetry=0.25,effort=0.25,game=0 (must sum to 1). Recorded by the first migration "
            "of a target and used by every later run; other weights need --reweigh.",
        ),
    ] = None,
    reweigh: Annotated[
        bool,
        typer.Option("--reweigh", help="Rewrite every score with --weights and record them as the target's weights."),
    ] = False,
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
            help="Run the range as partitions on this Dask scheduler (tcp://host:8786).",
        ),
    ] = None,
) -> None:
    """Migrate legacy sessions into the Statistics-First tables (idempotent; re-run the same command to resume)."""
    import json

    from statsfirst.pipeline.options import MigrateOptions

    def build_options() -> MigrateOptions:
        return MigrateOptions.from_text(
            since=since, until=until, weights=weights, days_only=True, names=("--since", "--until"),
            batch_size=batch_size, workers=workers, dry_run=dry_run, reweigh=reweigh, incremental=incremental,
        )

    options = run_safely(build_options)
    resolved = _resolve(dsn)
    if dask_address:
        from statsfirst.pipeline.dask_backfill import check_scheduler, run_on_dask
        from statsfirst.pipeline.partitions import check_partitionable

        address = dask_address
        run_safely(lambda: check_partitionable(options))
        run_safely(lambda: check_scheduler(address))  # one line and exit 2, within seconds

        def partitioned() -> None:
            # exactly the DSN this command resolved (--dsn over DATABASE_URL); never a password in the log lines
            totals = run_on_dask(
                resolved, options, address, log=lambda line: err_console.print(line, highlight=False, markup=False)
            )
            print(json.dumps(totals, indent=2))

        run_safely(partitioned, resolved)
        return

    def action() -> None:
        from statsfirst.cli_progress import migrate_with_progress

        summary = migrate_with_progress(resolved, options, console, err_console, json_output=json_output)
        if json_output:
            print(json.dumps(summary.as_json(), indent=2))
        else:
            console.print(summary.render())

    run_safely(action, resolved)


# ----------------------------------------------------------------------------------------------- reconcile
@app.command("reconcile")
def reconcile_command(
    dsn: DsnOption = None,
    since: Annotated[str | None, typer.Option("--since", help=SINCE_HELP)] = None,
    until: Annotated[str | None, typer.Option("--until", help=UNTIL_HELP)] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="text (terminal summary), json, html (for clinicians) or csv.")
    ] = "text",
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the report to this file instead of stdout.")
    ] = None,
) -> None:
    """Recompute from the legacy tables what the target should hold, and compare with the target and quarantine.

    Exit 0: every legacy session in scope is accounted for and every check matches. Exit 1: not reconciled (a
    mismatch, or no legacy session in scope). Exit 2: a usage, connection or database error (nothing was checked).
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
        return ReconcileOptions(
            since=parse_day(since, "--since", days_only=True), until=parse_day(until, "--until", days_only=True)
        ), fmt

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
            if not report.found_legacy_sessions:
                verdict += " (no legacy session in scope)"
            err_console.print(f"{verdict}: {fmt} report written to {output}", highlight=False, soft_wrap=True)
        return report.reconciled

    reconciled = run_safely(
        action,
        resolved,
        failure_exit=2,
        database_remedy="nothing was checked (reconcile writes nothing); check that --dsn/DATABASE_URL is the legacy "
        "database with the schema applied, then re-run",
    )
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
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed of the synthetic data; the same seed gives the same data.")
    ] = 42,
) -> None:
    """The whole job on a fresh database: legacy init + seed (some bad rows), schema apply, migrate, reconcile.

    It ends with the commands that work on what it built, and how to stop the embedded server.
    """
    from statsfirst.demo import run_demo

    resolved = _resolve(dsn)
    run_safely(lambda: run_demo(resolved, sessions=sessions, seed=seed, console=console), resolved)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

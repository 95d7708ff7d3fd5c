"""How ``statsfirst migrate`` shows its progress: a live bar on a terminal, one line per batch otherwise (piped or
logged output, where a bar would be noise), nothing extra with ``--json`` (stdout is the JSON)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from statsfirst.db.dsn import ResolvedDsn
from statsfirst.pipeline.options import MigrateOptions
from statsfirst.pipeline.run import migrate
from statsfirst.pipeline.summary import MigrationSummary


def sessions_word(n: int) -> str:
    return "session" if n == 1 else "sessions"


def migrate_with_progress(dsn: ResolvedDsn, options: MigrateOptions, console: Console, err_console: Console, *,
                          json_output: bool) -> MigrationSummary:
    """Run the migration, showing progress the way the output is read."""
    if console.is_terminal and not json_output:
        return _with_bar(dsn, options, console)
    return _with_lines(dsn, options, err_console, quiet=json_output)


def _with_bar(dsn: ResolvedDsn, options: MigrateOptions, console: Console) -> MigrationSummary:
    columns = (
        TextColumn("checking (dry run)" if options.dry_run else "migrating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TextColumn("{task.fields[rate]:>8}/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("migrate", total=None, rate="-", unit="sessions")

        def on_start(done: int) -> None:
            progress.update(task, completed=done, unit=sessions_word(done))

        def on_progress(n: int) -> None:
            progress.advance(task, n)
            speed = progress.tasks[0].speed
            done = int(progress.tasks[0].completed)
            progress.update(task, rate=f"{speed:,.0f}" if speed else "-", unit=sessions_word(done))

        summary = migrate(dsn, options, on_start=on_start, on_progress=on_progress,
                          log=lambda line: progress.console.print(line, highlight=False))
        progress.update(task, total=summary.sessions_in_range)
    return summary


def _with_lines(dsn: ResolvedDsn, options: MigrateOptions, err_console: Console, *, quiet: bool) -> MigrationSummary:
    done = 0
    verb = "checked a batch (dry run, nothing written)" if options.dry_run else "migrated a batch"

    def log_progress(n: int) -> None:
        nonlocal done
        done += n
        err_console.print(f"{verb}: {done:,} {sessions_word(done)} processed so far", highlight=False)

    return migrate(dsn, options, on_progress=None if quiet else log_progress,
                   log=lambda line: err_console.print(line, highlight=False))

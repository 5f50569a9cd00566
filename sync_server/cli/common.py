"""What every `aipipe` command shares: consoles that stay readable when piped, the settings, the exit
statuses and how errors are told, and the database access of the few commands that run beside it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from ..context import UnitOfWork
    from ..settings import Settings

# Piped or captured output has no terminal width; rich would assume 80 columns and squeeze tables into
# one-character-wide columns. A wide fixed width keeps each row on one line for grep and less.
PIPE_WIDTH = 200

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (env AIPIPE_DATA_DIR).")]
DbUrl = Annotated[
    str | None, typer.Option("--database-url", help="SQLAlchemy URL (env AIPIPE_DATABASE_URL).")
]
Init = Annotated[
    bool, typer.Option("--init", help="Create a new, empty database if there is none (first set-up).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON only (on stdout).")]


class CliError(Exception):
    """Something to tell the user before exiting with `exit_code`."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def _console(stderr: bool) -> Console:
    console = Console(stderr=stderr, soft_wrap=True)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(stderr=stderr, soft_wrap=True, width=PIPE_WIDTH)
    return console


def out() -> Console:
    """The command's output (stdout)."""
    return _console(stderr=False)


def err() -> Console:
    """Status lines, warnings and errors (stderr), so stdout stays the command's result."""
    return _console(stderr=True)


def table(*columns: str, **options: Any) -> Table:
    """A table whose cells wrap (folding long paths) instead of being cut with an ellipsis."""
    made = Table(header_style="bold", **options)
    for column in columns:
        made.add_column(column, overflow="fold")
    return made


def print_json(data: Any) -> None:
    """`data` as JSON on stdout and nothing else."""
    import json

    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def die(message: str, exit_code: int = 1) -> NoReturn:
    """Tell the user on stderr (as plain text: paths and server words may hold brackets) and exit."""
    err().print(message, style="red", markup=False, highlight=False)
    raise typer.Exit(exit_code)


def fail(exc: Exception) -> typer.Exit:
    """A service's refusal (ApiError) or error told on stderr; the caller raises the returned Exit."""
    from ..errors import ApiError

    if isinstance(exc, ApiError):
        field = f" ({exc.errors[0]['field']})" if exc.errors else ""
        err().print(f"[red]Refused{field}:[/red] {exc.detail}")
    else:
        err().print(f"[red]Error:[/red] {exc}")
    return typer.Exit(1)


def size_text(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def load_settings(
    data_dir: Path | None = None, database_url: str | None = None, **overrides: object
) -> Settings:
    from ..settings import Settings

    values = {
        k: v
        for k, v in {"data_dir": data_dir, "database_url": database_url, **overrides}.items()
        if v is not None
    }
    try:
        return Settings(**values)
    except ValueError as exc:
        err().print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


@contextmanager
def system_uow(settings: Settings) -> Iterator[UnitOfWork]:
    """A unit of work acting as the system (CLI commands run on the server machine)."""
    from ..context import SYSTEM, UnitOfWork
    from ..db.engine import make_database

    db = make_database(settings.resolved_database_url)
    try:
        with db.write_sessions() as session:
            yield UnitOfWork(session=session, hub=None, actor=SYSTEM)
    finally:
        db.dispose()

"""`dlqa db upgrade|check`: the schema revision of the database, on purpose."""

from __future__ import annotations

import typer

from dlqa.cli.common import DbOption, load_project_config, stdout
from dlqa.store import (
    DatabaseStatus,
    check_database,
    resolve_database_url,
    upgrade_database,
)

app = typer.Typer(
    rich_markup_mode="markdown",
    help="The dlqa database: its schema revision, row counts and upgrades.",
    no_args_is_help=True,
)


def _database_url(db: str | None) -> str:
    """--db, else DLQA_DATABASE_URL, else [store] url of ./dlqa.toml, else SQLite in .dlqa/."""
    settings = load_project_config(None)
    return resolve_database_url(db, settings.store.url, settings.base_dir)


@app.command("upgrade")
def upgrade_command(db: DbOption = None) -> None:
    """Bring the database to the newest schema (creating it if needed); print the revisions."""
    outcome = upgrade_database(_database_url(db))
    before = outcome.from_revision or "(empty)"
    if outcome.changed:
        stdout.print(
            f"{outcome.url}: upgraded from {before} to {outcome.to_revision}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        stdout.print(
            f"{outcome.url}: already at {outcome.to_revision}", highlight=False, soft_wrap=True
        )


@app.command("check")
def check_command(db: DbOption = None) -> None:
    """Print the schema revision and row counts without changing anything. Exit code 0 when
    the schema is current, 1 when behind (run `dlqa db upgrade`), 2 when newer than this dlqa
    or the database cannot be reached."""
    status = check_database(_database_url(db))
    for line in _status_lines(status):
        stdout.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(status.exit_code)


def _status_lines(status: DatabaseStatus) -> list[str]:
    lines = [f"database:  {status.url}"]
    if status.state == "missing":
        lines.append("revision:  none (the database file does not exist yet)")
    else:
        lines.append(f"revision:  {status.revision or 'none (empty database)'}")
    lines.append(f"newest:    {status.head}")
    verdict = {
        "current": "current",
        "behind": "behind: run `dlqa db upgrade` (any dlqa command that opens it upgrades it)",
        "missing": "behind: run `dlqa db upgrade` to create it",
        "newer": "newer than this dlqa knows: upgrade dlqa to use this database",
    }[status.state]
    lines.append(f"schema:    {verdict}")
    for name, count in status.counts.items():
        lines.append(f"{name + ':':<11}{count}")
    return lines

"""``dlqa check``, ``dlqa init`` and ``dlqa checks``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from dlqa.cli.common import (
    FLAG,
    AddressOption,
    AllowInconclusiveOption,
    ConfigOption,
    DbOption,
    ExecutorOption,
    HtmlOption,
    JsonOption,
    JunitOption,
    QuietOption,
    WorkerRootOption,
    WorkersOption,
    progress_bars,
    show_report,
    stdout,
    with_executor,
)
from dlqa.config import CONFIG_FILENAME, load_config
from dlqa.core.errors import UsageError
from dlqa.core.registry import all_specs
from dlqa.report.catalog import checks_markdown, format_default
from dlqa.runner import run_configured_checks
from dlqa.sources.open import open_source
from dlqa.starter_config import starter_config_text, summarise_source


def check_command(
    config: ConfigOption = Path(CONFIG_FILENAME),
    db: DbOption = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    address: AddressOption = None,
    worker_root: WorkerRootOption = None,
    json_path: JsonOption = None,
    html: HtmlOption = None,
    junit: JunitOption = None,
    allow_inconclusive: AllowInconclusiveOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run every stage that dlqa.toml configures, store the results, write the reports.

    Exit code 0 when every gate passes, 1 when a gate fails (an inconclusive result fails its
    gate unless relaxed), 2 on a usage or config error, 3 on an internal error, 130 on Ctrl-C.
    """
    settings = with_executor(load_config(config), executor, address, worker_root)
    with progress_bars(quiet=quiet) as progress:
        run = run_configured_checks(
            settings,
            db=db,
            workers=workers,
            progress=progress,
            allow_inconclusive=allow_inconclusive,
            explicit_reports={"json": json_path, "html": html, "junit": junit},
        )
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)


def init_command(
    data: Annotated[str, typer.Argument(help="Folder tree or manifest of the dataset.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write.")] = Path(
        CONFIG_FILENAME
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing file.", metavar=FLAG)
    ] = False,
    text_column: Annotated[
        str | None,
        typer.Option(help="Manifest column with each sample's text: a text dataset."),
    ] = None,
) -> None:
    """Write a starter dlqa.toml for a data folder (or manifest) after inspecting it."""
    if output.exists() and not force:
        raise UsageError(f"{output} already exists", hint="pass --force to overwrite it")
    found = summarise_source(open_source(data, text_column=text_column))
    base = output.resolve().parent
    data_path = Path(data).resolve()
    try:
        relative = data_path.relative_to(base).as_posix()
    except ValueError:
        relative = data_path.as_posix()
    name = base.name or "dlqa-project"
    output.write_text(
        starter_config_text(
            relative, name=name, summary=found, specs=all_specs(), text_column=text_column
        ),
        encoding="utf-8",
    )
    summary = found.line()
    stdout.print(f"wrote {output} ({summary}); run `dlqa check` next", highlight=False)


def checks_command(
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Print docs/checks.md instead of a table.", metavar=FLAG),
    ] = False,
) -> None:
    """List every check id with its level and default parameters."""
    specs = all_specs()
    if markdown:
        typer.echo(checks_markdown(specs))
        return
    # Ids are what users copy into dlqa.toml: never wrapped, whatever the terminal's width.
    table = Table(
        Column("check id", no_wrap=True), "applies to", "level", "defaults", "what it flags"
    )
    for spec in specs:
        defaults = ", ".join(f"{k}={format_default(v)}" for k, v in spec.defaults.items())
        applies = ", ".join(sorted(spec.modalities)) if spec.modalities else "any"
        table.add_row(spec.check_id, applies, spec.level, defaults, spec.title)
    stdout.print(table)

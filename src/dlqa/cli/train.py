"""``dlqa train``: the sanity battery and the fast loop of the project's training."""

from __future__ import annotations

from pathlib import Path

import typer

from dlqa.cli.common import (
    AllowInconclusiveOption,
    ConfigOption,
    DbOption,
    HtmlOption,
    JsonOption,
    JunitOption,
    QuietOption,
    show_report,
)
from dlqa.config import CONFIG_FILENAME, load_config
from dlqa.core.errors import ConfigError
from dlqa.runner import run_configured_checks

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Training QA: the sanity battery and the fast loop (needs dlqa[torch]).",
    no_args_is_help=True,
)


@app.command("check")
def train_check_command(
    config: ConfigOption = Path(CONFIG_FILENAME),
    db: DbOption = None,
    json_path: JsonOption = None,
    html: HtmlOption = None,
    junit: JunitOption = None,
    allow_inconclusive: AllowInconclusiveOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run the sanity battery (and the fast loop, if configured) on the [train] model, loss,
    optimizer and batch of dlqa.toml. Exit code 0 pass, 1 a check failed, 2 bad config."""
    settings = load_config(config)
    run = run_configured_checks(
        settings,
        stages=("train",),
        kind="train.check",
        db=db,
        allow_inconclusive=allow_inconclusive,
        explicit_reports={"json": json_path, "html": html, "junit": junit},
    )
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)


@app.command("fast")
def train_fast_command(
    config: ConfigOption = Path(CONFIG_FILENAME),
    db: DbOption = None,
    json_path: JsonOption = None,
    quiet: QuietOption = False,
) -> None:
    """Run only the fast variant of training ([train] fast or fast_command) and check that
    it completes and that its loss drops."""
    settings = load_config(config)
    if not (settings.train.fast or settings.train.fast_command):
        raise ConfigError(
            "dlqa.toml: [train] names no fast variant",
            hint='set [train] fast = "module:function" or fast_command = "..."',
        )
    run = run_configured_checks(
        settings,
        stages=("train",),
        kind="train.fast",
        inputs={"train": {"only_fast": True}},
        checks=["train.fast_loop"],
        db=db,
        explicit_reports={"json": json_path},
    )
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)

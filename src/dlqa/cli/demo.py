"""``dlqa demo``: the whole process on a bundled example project, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dlqa.cli.common import QuietOption, WorkersOption, progress_bars, show_report, stdout
from dlqa.config import load_config
from dlqa.demo.run import prepare_training, run_monitored_training, unexpected_training_failures
from dlqa.demo.verify import verify_planted
from dlqa.runner import run_configured_checks
from dlqa.train import TORCH_HINT


def demo_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to materialise the demo project.")
    ] = Path("dlqa-demo"),
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Build the example project (digits with planted problems and a small CNN), run
    `dlqa check` on it (data checks, the training sanity battery, the fast loop), train the
    CNN with the training monitor, and say whether every planted problem was caught.

    Exit code 0 when every planted problem was caught and the correct CNN passed its
    training checks, 1 otherwise.
    """
    from dlqa.demo.build import build_demo_project  # scikit-learn loads only for the demo

    stdout.print(f"Building the demo project in {directory} ...", highlight=False)
    project = build_demo_project(directory.resolve())
    config = load_config(project.root / "dlqa.toml")
    with_training = prepare_training(project, config)
    if not with_training:
        stdout.print(f"torch is not installed: skipping the training part ({TORCH_HINT})")
    with progress_bars(quiet=quiet) as progress:
        run = run_configured_checks(config, workers=workers, progress=progress)
    show_report(run.report, {}, quiet=quiet)

    outcomes = verify_planted(run.results, project.planted)
    table = Table("planted problem", "check", "status", "caught", title="Planted problems")
    for outcome in outcomes:
        table.add_row(
            outcome.problem,
            outcome.check_id,
            outcome.status,
            "yes" if outcome.caught else f"NO (missed {', '.join(outcome.missed_ids)})",
        )
    stdout.print(table)
    missed = [o for o in outcomes if not o.caught]
    training_failures = unexpected_training_failures(run.results)
    if with_training:
        monitored = run_monitored_training(project, config)
        training_failures += unexpected_training_failures(monitored.results)
        train_results = [r for r in run.results if r.check_id.startswith("train.")]
        stdout.print(
            f"Training QA on the demo CNN: {len(train_results)} battery and fast-loop checks, "
            f"{len(monitored.results)} monitor checks over {len(monitored.test_accuracy)} "
            f"epochs (run {monitored.run_id}); "
            + (
                f"[red]unexpected failures: {', '.join(training_failures)}[/red]"
                if training_failures
                else "none failed."
            )
        )
    if missed:
        stdout.print(f"[red]{len(missed)} planted problems went unnoticed.[/red]")
    else:
        stdout.print(
            f"All {len(outcomes)} planted problems were caught by their gates "
            "(so `dlqa check` exits 1 on this project, as it should)."
        )
    for fmt, path in run.written.items():
        stdout.print(f"{fmt:>5} report: {path}", highlight=False, soft_wrap=True)
    stdout.print(
        f"Every run is stored: `cd {directory} && dlqa report {run.run_id} --html again.html` "
        "re-renders this one from the store alone, even after the data is gone.",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(1 if missed or training_failures else 0)

"""``dlqa demo``: the whole process on a bundled example project, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dlqa.cli.common import QuietOption, WorkersOption, progress_bars, show_report, stdout
from dlqa.config import load_config
from dlqa.demo.deploy_part import deploy_lines, run_deploy_part, unexpected_deploy_failures
from dlqa.demo.exp_part import ABLATION_PLANTED, exp_lines, run_exp_part
from dlqa.demo.exp_part import PLANTED as EXP_PLANTED
from dlqa.demo.gates import tightened_gates
from dlqa.demo.parts import part_run, run_data_parts
from dlqa.demo.run import (
    evaluation_line,
    prepare_training,
    run_monitored_training,
    unexpected_training_failures,
)
from dlqa.demo.ui_part import run_dashboard_part
from dlqa.runner import run_configured_checks
from dlqa.train import TORCH_HINT


def demo_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to materialise the demo project.")
    ] = Path("dlqa-demo"),
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Build the example project (digits with planted problems and a small CNN, plus synthetic
    audio clips and a text corpus with planted problems of their own), train the CNN with the
    training monitor, run `dlqa check` on it (data checks, the training sanity battery, the
    fast loop, and the evaluation of the trained CNN on its test, golden and regression sets),
    profile the audio and text parts as data runs of their own, and say whether every planted
    problem was caught. Then draw a spot-check sample for the dashboard's review queue and
    serve every page of `dlqa ui` once over the demo's store.

    Exit code 0 when every planted problem of every part was caught, no other data check
    failed, the correct CNN passed its training checks and every dashboard page was served,
    1 otherwise.
    """
    from dlqa.demo.build import build_demo_project  # scikit-learn loads only for the demo

    stdout.print(f"Building the demo project in {directory} ...", highlight=False)
    project = build_demo_project(directory.resolve())
    config = load_config(project.root / "dlqa.toml")
    with_training = prepare_training(project, config)
    if not with_training:
        stdout.print(f"torch is not installed: skipping the training part ({TORCH_HINT})")
    monitored = None
    if with_training:
        # First, so that `dlqa check` evaluates the trained CNN ([eval] weights).
        monitored = run_monitored_training(project, config)
        # The bundle's manifest names the training run its weights came from.
        config.deploy.training_run = f"dlqa run {monitored.run_id} (train.monitor)"
    with progress_bars(quiet=quiet) as progress:
        run = run_configured_checks(config, workers=workers, progress=progress)
        data_parts = run_data_parts(project, config, workers=workers, progress=progress)
        # After `dlqa check`, which exported the bundle: serve it, smoke-test it, evaluate
        # through it and write the model card.
        deployed = run_deploy_part(config, progress=progress) if monitored else None
        # Seed groups of the CNN: an ablation (a planted masked regression), one comparison
        # clean, one with a planted mistake, two releases.
        experiments = (
            run_exp_part(config, project.root, progress=progress, workers=workers)
            if monitored
            else None
        )
    planted = project.planted_by_part()
    parts = [part_run("image", run, planted["image"]), *data_parts]
    if "eval" in planted and monitored is not None:
        parts.append(part_run("eval", run, planted["eval"]))
    if experiments is not None:
        parts.append(part_run("exp", experiments.guarded, EXP_PLANTED))
        parts.append(part_run("ablation", experiments.ablation, ABLATION_PLANTED))
    for part in parts:
        show_report(part.report, {}, quiet=quiet)

    table = Table("part", "planted problem", "check", "status", "caught", title="Planted problems")
    for part in parts:
        for outcome in part.outcomes:
            table.add_row(
                part.part,
                outcome.problem,
                outcome.check_id,
                outcome.status,
                "yes" if outcome.caught else f"NO (missed {', '.join(outcome.missed_ids)})",
            )
    stdout.print(table)
    tightened = tightened_gates(config)
    if tightened:
        stdout.print(
            f"The demo's dlqa.toml changes {len(tightened)} default gates (each planted "
            "problem must fail its gate; one is loosened and says why):",
            highlight=False,
        )
        for change in tightened:
            stdout.print(f"  - {change.describe()}.", highlight=False)
    missed = [o for part in parts for o in part.missed]
    unexpected = [f"{part.part}: {c}" for part in parts for c in part.unexpected]
    training_failures = unexpected_training_failures(run.results)
    if monitored is not None:
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
        stdout.print(evaluation_line(monitored, run.results), highlight=False)
    deploy_failures = []
    if deployed is not None:
        for line in deploy_lines(run.results, deployed):
            stdout.print(line, highlight=False, soft_wrap=True)
        deploy_failures = unexpected_deploy_failures(
            run.results + [r for part_run in deployed.runs for r in part_run.results
                           if r.check_id.startswith("deploy.")]
        )  # fmt: skip
        if deploy_failures:
            stdout.print(f"[red]Deployment checks failed: {', '.join(deploy_failures)}[/red]")
    exp_failures = []
    if experiments is not None:
        for line in exp_lines(experiments):
            stdout.print(line, highlight=False, soft_wrap=True)
        exp_failures = experiments.unexpected()
        if exp_failures:
            stdout.print(f"[red]Experiment checks failed: {', '.join(exp_failures)}[/red]")
    # Last: the dashboard shows every run above, and its review queue a spot-check sample.
    assert run.run_id is not None
    dashboard = run_dashboard_part(config, run.run_id)
    stdout.print(dashboard.line(directory), highlight=False, soft_wrap=True)
    if unexpected:
        stdout.print(f"[red]Data checks failed with nothing planted: {', '.join(unexpected)}[/red]")
    total = sum(len(part.outcomes) for part in parts)
    if missed:
        stdout.print(f"[red]{len(missed)} of {total} planted problems went unnoticed.[/red]")
    else:
        counts = ", ".join(f"{part.part} {len(part.outcomes)}" for part in parts)
        stdout.print(
            f"All {total} planted problems ({counts}) were caught by their gates "
            "(so `dlqa check` exits 1 on this project, as it should)."
        )
    for part in parts:
        for fmt, path in part.written.items():
            stdout.print(
                f"{part.part:>5} {fmt:>5} report (run {part.run_id}): {path}",
                highlight=False,
                soft_wrap=True,
            )
    stdout.print(
        f"Every run is stored: `cd {directory} && dlqa report {run.run_id} --html again.html` "
        "re-renders this one from the store alone, even after the data is gone.",
        highlight=False,
        soft_wrap=True,
    )
    failed = (missed or unexpected or training_failures or deploy_failures or exp_failures
              or dashboard.broken)  # fmt: skip
    raise typer.Exit(1 if failed else 0)

"""``dlqa exp``: seed groups (run, record, list, show, rerun) and their comparison."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from dlqa.cli import exp_views
from dlqa.cli.common import (
    AddressOption,
    AllowInconclusiveOption,
    DbOption,
    ExecutorOption,
    HtmlOption,
    JsonOption,
    JunitOption,
    OptionalConfigOption,
    QuietOption,
    load_project_config,
    open_configured_store,
    progress_bars,
    show_report,
    stdout,
    with_executor,
)
from dlqa.cli.exp_parts import (
    NameArgument,
    parse_change,
    parse_override,
    read_records,
    seed_dot_lines,
    sequential_lines,
    sequential_options,
)
from dlqa.core.errors import UsageError
from dlqa.runner.exp import (
    ablation_exit_code,
    compare_groups,
    record_group,
    rerun_group,
    run_ablation,
    run_groups,
    run_sequential,
)

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Experiment QA: seed groups with provenance, comparisons with statistics and guards.",
    no_args_is_help=True,
)
app.command("list")(exp_views.list_command)
app.command("show")(exp_views.show_command)

MinEffectOption = Annotated[
    float | None, typer.Option(min=0.0, help="Smallest difference that matters.")
]
MaxSeedsOption = Annotated[
    int | None, typer.Option(min=2, help="Sequential: the most seeds per group ([exp] max_seeds).")
]
LowerOption = Annotated[
    list[str] | None, typer.Option("--lower-is-better", help="A metric where lower is better.")
]


@app.command("run")
def run_command(
    name: NameArgument,
    command: Annotated[list[str], typer.Argument(help="-- CMD ARGS...: what one seed runs.")],
    seeds: Annotated[int, typer.Option("--seeds", "-n", min=1, help="How many seeds.")] = 3,
    allow_dirty: Annotated[
        bool, typer.Option("--allow-dirty", help="Run from a dirty tree (marked non-reproducible).")
    ] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", min=1, help="Seeds at once.")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds before a seed is killed.")] = None,
    executor: ExecutorOption = None,
    address: AddressOption = None,
    gpus_per_seed: Annotated[
        float,
        typer.Option(
            "--gpus-per-seed", min=0, help="--executor dask: the GPU resources each seed holds."
        ),
    ] = 0,
    mode: Annotated[
        list[str] | None,
        typer.Option("--mode", help="NAME=V1,V2: run only these values of a mode ([exp] modes)."),
    ] = None,
    until_decided: Annotated[
        bool,
        typer.Option(
            "--until-decided", help="Run seeds in stages against the baseline until decided."
        ),
    ] = False,
    baseline: Annotated[
        str | None, typer.Option(help="--until-decided: the group to beat ([exp] baseline).")
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="--until-decided: the deciding metric.")
    ] = None,
    min_effect: MinEffectOption = None,
    max_seeds: MaxSeedsOption = None,
    lower: LowerOption = None,
    config: OptionalConfigOption = None,
    db: DbOption = None,
    json_path: JsonOption = None,
    allow_inconclusive: AllowInconclusiveOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run CMD once per seed (0..N-1), each in the project root with DLQA_SEED and its own
    DLQA_RUN_DIR, and store the group: every seed's metrics ($DLQA_RUN_DIR/metrics.json or
    dlqa.exp.current().log), fingerprints, resource use and log tail, with the provenance.
    With [exp] modes, every mode combination is its own group NAME@mode=value,...

    --until-decided: instead of N seeds, seeds of NAME and of the baseline in stages until a
    group-sequential comparison decides (at most --max-seeds each; needs --min-effect).

    --executor dask [--address tcp://HOST:PORT]: each seed is a task on a Dask worker, its
    command run there in the project folder (which the workers must share); with
    --gpus-per-seed N, only on workers started with --resources GPU=...

    Exit code 0 when every seed finished with metrics (--until-decided: improved or no
    difference), 1 when one failed (it is stored; or regressed / inconclusive), 2 on a dirty
    tree (without --allow-dirty), a command not found or bad options.
    """
    settings = with_executor(load_project_config(config), executor, address)
    reports = {"json": json_path}
    if until_decided:
        if settings.section("exp").modes:
            raise UsageError(
                "--until-decided runs one group, and [exp] modes declares a mode matrix",
                hint="run the modes with `dlqa exp run`, then compare a pair of mode groups: "
                "dlqa exp compare --sequential BASE@mode=x CAND@mode=x",
            )
        options = sequential_options(metric, min_effect, max_seeds, lower, timeout)
        with open_configured_store(db) as store, progress_bars(quiet=quiet) as progress:
            run = run_sequential(
                settings, store, baseline, name, candidate_command=command,
                allow_dirty=allow_dirty, options=options, db=db, progress=progress,
                allow_inconclusive=allow_inconclusive, explicit_reports=reports,
            )  # fmt: skip
        _show_comparison(run, quiet)
        raise typer.Exit(run.exit_code)
    with progress_bars(quiet=quiet) as progress:
        runs = run_groups(
            settings,
            name,
            command,
            modes=mode or (),
            seeds=seeds,
            allow_dirty=allow_dirty,
            workers=workers,
            timeout_s=timeout,
            gpus_per_seed=gpus_per_seed,
            db=db,
            progress=progress,
            explicit_reports=reports,
        )
    for run in runs:
        show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(max(run.exit_code for run in runs))


@app.command("record")
def record_command(
    name: NameArgument,
    files: Annotated[list[Path], typer.Argument(help="One metrics JSON per seed, or one CSV.")],
    commit: Annotated[str | None, typer.Option(help="The commit the runs came from.")] = None,
    config: OptionalConfigOption = None,
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """Import finished runs as a seed group (from another tracker's export): one flat JSON
    object of numbers per seed, or one CSV with a row per seed (an optional `seed` column,
    the rest metrics). The group is marked non-reproducible unless --commit is given."""
    seeds = read_records(files)
    provenance = {"git": {"commit": commit, "dirty": False}} if commit else None
    run = record_group(
        load_project_config(config), name, seeds, provenance=provenance, db=db, explicit_reports={}
    )
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)


@app.command("compare")
def compare_command(
    baseline: Annotated[str | None, typer.Argument(help="Default: [exp] baseline.")] = None,
    candidate: Annotated[str | None, typer.Argument(help="Default: [exp] candidate.")] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="Compare this metric (repeatable).")
    ] = None,
    lower: LowerOption = None,
    min_effect: MinEffectOption = None,
    all_modes: Annotated[
        bool, typer.Option("--all-modes", help="Compare on every combination of [exp] modes.")
    ] = False,
    sequential: Annotated[
        bool,
        typer.Option("--sequential", help="Run more seeds of both in stages until decided."),
    ] = False,
    max_seeds: MaxSeedsOption = None,
    override: Annotated[
        list[str] | None, typer.Option(help="GUARD=REASON: accept that guard's failure (recorded).")
    ] = None,
    config: OptionalConfigOption = None,
    db: DbOption = None,
    json_path: JsonOption = None,
    html: HtmlOption = None,
    junit: JunitOption = None,
    allow_inconclusive: AllowInconclusiveOption = False,
    quiet: QuietOption = False,
) -> None:
    """Compare two seed groups per metric (Welch's t-test, bootstrap interval, Holm over the
    metrics) with the guards (metric definitions, reproducibility, a fresh local baseline,
    code and data changed together); store the verdicts.

    --all-modes: the two groups on every combination of [exp] modes (GROUP@mode=value,...),
    Holm-corrected over all; fails if any combination regresses.

    --sequential: seeds of both groups are run in stages (each group's command at its
    commit) until a group-sequential design decides, at most --max-seeds per group; needs
    --min-effect and one metric.

    Exit code 0 for improved or no difference, 1 for regressed, a failed guard, or
    inconclusive (unless --allow-inconclusive), 2 on bad input.
    """
    overrides = dict(parse_override(item) for item in override or [])
    settings = load_project_config(config)
    reports = {"json": json_path, "html": html, "junit": junit}
    if sequential:
        if all_modes:
            raise UsageError(
                "--sequential decides one pair of groups, --all-modes compares many",
                hint="compare a pair of mode groups sequentially: BASE@mode=x CAND@mode=x",
            )
        if metric and len(metric) > 1:
            raise UsageError("--sequential decides on one --metric", hint="--metric accuracy")
        options = sequential_options(metric[0] if metric else None, min_effect, max_seeds,
                                      lower, None)  # fmt: skip
        options["overrides"] = overrides
        with open_configured_store(db) as store, progress_bars(quiet=quiet) as progress:
            run = run_sequential(
                settings, store, baseline, candidate, options=options, db=db, progress=progress,
                allow_inconclusive=allow_inconclusive, explicit_reports=reports,
            )  # fmt: skip
    else:
        run = compare_groups(
            settings,
            baseline,
            candidate,
            metrics=metric,
            lower_is_better=lower or (),
            min_effect=min_effect,
            overrides=overrides,
            all_modes=all_modes,
            db=db,
            allow_inconclusive=allow_inconclusive,
            explicit_reports=reports,
        )
    _show_comparison(run, quiet)
    raise typer.Exit(run.exit_code)


def _show_comparison(run: object, quiet: bool) -> None:
    show_report(run.report, run.written, quiet=quiet)  # type: ignore[attr-defined]
    if quiet:
        return
    for result in run.results:  # type: ignore[attr-defined]
        if result.check_id == "exp.compare":
            for line in seed_dot_lines(result) + sequential_lines(result):
                stdout.print(line, highlight=False, markup=False)


@app.command("ablate")
def ablate_command(
    name: NameArgument,
    command: Annotated[list[str], typer.Argument(help="-- CMD ARGS...: what one seed runs.")],
    change: Annotated[
        list[str] | None,
        typer.Option("--change", help='NAME="ARGS": one change and its arguments (repeatable).'),
    ] = None,
    seeds: Annotated[int, typer.Option("--seeds", "-n", min=1, help="Seeds per cell.")] = 3,
    metric: Annotated[str | None, typer.Option(help="The metric to judge.")] = None,
    lower_is_better: Annotated[bool, typer.Option(help="Lower values are better.")] = False,
    allow_dirty: Annotated[bool, typer.Option("--allow-dirty")] = False,
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=1)] = None,
    sequential: Annotated[
        bool,
        typer.Option(
            "--sequential",
            help="Run each cell against the baseline until its own comparison "
            "decides (needs --min-effect).",
        ),
    ] = False,
    min_effect: MinEffectOption = None,
    max_seeds: MaxSeedsOption = None,
    config: OptionalConfigOption = None,
    db: DbOption = None,
    json_path: JsonOption = None,
    html: HtmlOption = None,
    quiet: QuietOption = False,
) -> None:
    """Plan and run an ablation: the baseline, each change alone and their combinations
    (a fractional design above three changes, its aliasing stated), each cell a seed group
    NAME@CELL; then report each change's own effect, the interactions, and any masked
    regression (a change that hurts while the bundle improves). With --sequential, the
    baseline runs --seeds seeds and each other cell runs against it until decided.

    Exit code 0 when nothing is masked, 1 on a masked regression or a failed seed, 2 on bad
    input (no changes, a change without arguments).
    """
    changes = dict(parse_change(item) for item in change or [])
    if not changes:
        raise UsageError("an ablation needs changes", hint='--change A="--mixup 0.2" ...')
    settings = load_project_config(config)
    options = {"seeds": seeds, "metric": metric, "lower_is_better": lower_is_better,
               "allow_dirty": allow_dirty, "workers": workers, "db": db,
               "explicit_reports": {"json": json_path, "html": html}}  # fmt: skip
    with contextlib.ExitStack() as stack:
        progress = stack.enter_context(progress_bars(quiet=quiet))
        if sequential:
            store = stack.enter_context(open_configured_store(db))
            options["sequential"] = {"store": store, "min_effect": min_effect,
                                     "max_seeds": max_seeds}  # fmt: skip
        runs = run_ablation(settings, name, changes, command, progress=progress, **options)
    analysis = runs[-1]
    show_report(analysis.report, analysis.written, quiet=quiet)
    raise typer.Exit(ablation_exit_code(runs))


@app.command("rerun")
def rerun_command(
    name: NameArgument,
    config: OptionalConfigOption = None,
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """Run a group again at its recorded commit, in a clean git worktree, with its command
    and seeds: the fresh baseline a stale or foreign one asks for."""
    settings = load_project_config(config)
    with open_configured_store(db) as store, progress_bars(quiet=quiet) as progress:
        run = rerun_group(settings, store, name, db=db, progress=progress, explicit_reports={})
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)

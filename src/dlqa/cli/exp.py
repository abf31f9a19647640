"""``dlqa exp``: seed groups (run, record, list, show, rerun) and their comparison."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dlqa.cli.common import (
    AllowInconclusiveOption,
    DbOption,
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
)
from dlqa.core.errors import UsageError
from dlqa.exp.groups import SEED_OK, SeedRecord
from dlqa.runner.exp import (
    compare_groups,
    record_group,
    rerun_group,
    run_ablation,
    run_group,
    stored_group,
    stored_groups,
)

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Experiment QA: seed groups with provenance, comparisons with statistics and guards.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="The seed group's name.", show_default=False)]
DOT_WIDTH = 48


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
    config: OptionalConfigOption = None,
    db: DbOption = None,
    json_path: JsonOption = None,
    quiet: QuietOption = False,
) -> None:
    """Run CMD once per seed (0..N-1), each in the project root with DLQA_SEED and its own
    DLQA_RUN_DIR, and store the group: every seed's metrics ($DLQA_RUN_DIR/metrics.json or
    dlqa.exp.current().log), fingerprints, resource use and log tail, with the provenance.

    Exit code 0 when every seed finished with metrics, 1 when one failed (it is stored), 2 on
    a dirty tree (without --allow-dirty), a command not found or bad options.
    """
    settings = load_project_config(config)
    with progress_bars(quiet=quiet) as progress:
        run = run_group(
            settings,
            name,
            command,
            seeds=seeds,
            allow_dirty=allow_dirty,
            workers=workers,
            timeout_s=timeout,
            db=db,
            progress=progress,
            explicit_reports={"json": json_path},
        )
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)


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
    seeds = _read_records(files)
    provenance = {"git": {"commit": commit, "dirty": False}} if commit else None
    run = record_group(
        load_project_config(config), name, seeds, provenance=provenance, db=db, explicit_reports={}
    )
    show_report(run.report, run.written, quiet=quiet)
    raise typer.Exit(run.exit_code)


@app.command("list")
def list_command(db: DbOption = None) -> None:
    """The stored seed groups: name, seeds (finished / all), reproducible, latest run."""
    with open_configured_store(db) as store:
        groups = stored_groups(store)
        table = Table("group", "seeds ok", "reproducible", "metrics", "run", "created")
        for name in sorted(groups):
            group = stored_group(store, name)
            table.add_row(
                name,
                f"{len(group.ok)}/{len(group.seeds)}",
                "yes" if group.reproducible else "NO",
                ", ".join(group.metric_names()),
                str(group.run_id),
                group.created_at or "-",
            )
    stdout.print(table if groups else "no seed groups stored yet (dlqa exp run NAME -- CMD)")


@app.command("show")
def show_command(name: NameArgument, db: DbOption = None) -> None:
    """One group's seeds with their metrics, status, wall time and peak memory."""
    with open_configured_store(db) as store:
        group = stored_group(store, name)
    metrics = group.metric_names()
    table = Table(
        "seed",
        "status",
        *metrics,
        "wall s",
        "peak MB",
        "note",
        title=f"{group.name} (run {group.run_id}, {group.source})",
    )
    for seed in group.seeds:
        values = [f"{seed.metrics[m]:.4g}" if m in seed.metrics else "-" for m in metrics]
        table.add_row(
            str(seed.seed),
            seed.status,
            *values,
            _num(seed.wall_s),
            _num(seed.max_rss_mb),
            seed.reason or "",
        )
    stdout.print(table)
    git = group.git or {}
    stdout.print(
        f"commit {git.get('commit') or '-'}; reproducible: "
        + ("yes" if group.reproducible else f"NO ({group.why_not_reproducible})"),
        highlight=False,
    )


@app.command("compare")
def compare_command(
    baseline: Annotated[str | None, typer.Argument(help="Default: [exp] baseline.")] = None,
    candidate: Annotated[str | None, typer.Argument(help="Default: [exp] candidate.")] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="Compare this metric (repeatable).")
    ] = None,
    lower: Annotated[
        list[str] | None, typer.Option("--lower-is-better", help="A metric where lower is better.")
    ] = None,
    min_effect: Annotated[
        float | None, typer.Option(min=0.0, help="Smallest difference that matters.")
    ] = None,
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

    Exit code 0 for improved or no difference, 1 for regressed, a failed guard, or
    inconclusive (unless --allow-inconclusive), 2 on bad input.
    """
    overrides = dict(_pair(item) for item in override or [])
    run = compare_groups(
        load_project_config(config),
        baseline,
        candidate,
        metrics=metric,
        lower_is_better=lower or (),
        min_effect=min_effect,
        overrides=overrides,
        db=db,
        allow_inconclusive=allow_inconclusive,
        explicit_reports={"json": json_path, "html": html, "junit": junit},
    )
    show_report(run.report, run.written, quiet=quiet)
    if not quiet:
        for result in run.results:
            if result.check_id == "exp.compare":
                for line in seed_dot_lines(result):
                    stdout.print(line, highlight=False, markup=False)
    raise typer.Exit(run.exit_code)


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
    config: OptionalConfigOption = None,
    db: DbOption = None,
    json_path: JsonOption = None,
    html: HtmlOption = None,
    quiet: QuietOption = False,
) -> None:
    """Plan and run an ablation: the baseline, each change alone and their combinations
    (a fractional design above three changes, its aliasing stated), each cell a seed group
    NAME@CELL; then report each change's own effect, the interactions, and any masked
    regression (a change that hurts while the bundle improves).

    Exit code 0 when nothing is masked, 1 on a masked regression or a failed seed, 2 on bad
    input (no changes, a change without arguments).
    """
    changes = dict(_change(item) for item in change or [])
    if not changes:
        raise UsageError("an ablation needs changes", hint='--change A="--mixup 0.2" ...')
    settings = load_project_config(config)
    with progress_bars(quiet=quiet) as progress:
        runs = run_ablation(
            settings, name, changes, command, seeds=seeds, metric=metric,
            lower_is_better=lower_is_better, allow_dirty=allow_dirty, workers=workers, db=db,
            progress=progress, explicit_reports={"json": json_path, "html": html},
        )  # fmt: skip
    analysis = runs[-1]
    show_report(analysis.report, analysis.written, quiet=quiet)
    raise typer.Exit(max(run.exit_code for run in runs))


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


def seed_dot_lines(result: object) -> list[str]:
    """Each group's seeds as dots on one shared scale, with the means and the interval."""
    groups = next((e.items for e in result.evidence if e.kind == "seed_groups"), [])  # type: ignore[attr-defined]
    values = [v for g in groups for v in g["values"]]
    if not values:
        return []
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    lines = [f"{result.subject}: {low:.4g} .. {high:.4g}"]  # type: ignore[attr-defined]
    for group in groups:
        row = [" "] * DOT_WIDTH
        for value in group["values"]:
            row[round((value - low) / span * (DOT_WIDTH - 1))] = "o"
        mean = sum(group["values"]) / len(group["values"]) if group["values"] else float("nan")
        lines.append(
            f"  {group['role']:>9} |{''.join(row)}| mean {mean:.4g} (n={len(group['values'])})"
        )
    return lines


def _pair(text: str) -> tuple[str, str]:
    key, sep, reason = text.partition("=")
    if not sep or not reason.strip():
        raise UsageError(
            f"--override {text!r}: expected GUARD=REASON",
            hint='--override exp.baseline_fresh="why"',
        )
    return key.strip(), reason.strip()


def _change(text: str) -> tuple[str, str]:
    name, sep, args = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--change {text!r}: expected NAME=ARGS", hint='--change A="--mixup 0.2"')
    if not args.strip():
        raise UsageError(f"--change {text!r}: change {name.strip()!r} names no arguments")
    return name.strip(), args.strip()


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _read_records(files: list[Path]) -> list[SeedRecord]:
    if len(files) == 1 and files[0].suffix.lower() == ".csv":
        try:
            with files[0].open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as exc:
            raise UsageError(f"{files[0]}: {exc}") from None
        return [_record(i, row, str(files[0])) for i, row in enumerate(rows)]
    records = []
    for index, path in enumerate(files):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: not a readable JSON file: {exc}") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path}: expected a flat JSON object of metrics")
        records.append(_record(index, data, str(path)))
    return records


def _record(index: int, row: dict, where: str) -> SeedRecord:
    raw = row.pop("seed", None)  # a JSON seed of 0 is a seed, an empty CSV cell is not
    try:
        seed = index if raw in (None, "") else int(raw)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: seed = {raw!r} is not an integer") from None
    metrics = {}
    for key, value in row.items():
        try:
            metrics[key] = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"{where}: {key} = {value!r} is not a number") from None
    if not metrics:
        raise UsageError(f"{where}: no metrics")
    return SeedRecord(seed, SEED_OK, metrics=metrics)

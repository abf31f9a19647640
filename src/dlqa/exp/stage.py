"""The experiment stage: running a seed group, importing one, and comparing two.

``[exp]`` in dlqa.toml names the groups `dlqa check` compares and the comparison's settings::

    [exp]
    baseline = "resnet-main"
    candidate = "resnet-mixup"
    metrics = ["accuracy"]          # default: the metrics both groups logged
    lower_is_better = ["loss"]
    min_effect = 0.005              # > 0: "no difference" can be shown (equivalence)
    max_baseline_age_days = 30
    hourly_rate = 2.5               # the cost estimate of each seed's wall time
    overrides = { "exp.baseline_fresh" = "same machine, driver update only (ana, 2026-11-30)" }
    modes = { backbone = ["resnet", "vit"], precision = ["fp32", "amp"] }   # the mode matrix
    max_seeds = 20                  # sequential: the most seeds per arm
    power = 0.8                     # sequential: at a true difference of min_effect

What the commands hand the stage (``StageRun.inputs``): ``run`` (a group to run: name,
command, seeds, the git state and environment the runner recorded, a mode's environment),
``record`` (a group to import), ``compare`` (two group names, or ``all_modes``),
``sequential`` (two arms to extend seed by seed until decided), ``ablation`` or ``release``.
Registered through the ``dlqa.stages`` entry point ``exp``; importing it starts nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dlqa.core.errors import UsageError
from dlqa.core.stages import StageRun, StageSpec, register_stage
from dlqa.exp.checks import CHECK_ORDER, INPUT_HINTS, ExpContext, describe_seed_group
from dlqa.exp.groups import SeedGroup, group_runs, latest_group, new_group
from dlqa.exp.stage_compare import metrics_of, setup_compare, setup_sequential


class ExpConfig(BaseModel):
    """``[exp]``."""

    model_config = ConfigDict(extra="forbid")

    baseline: str | None = Field(None, description="the baseline seed group's name")
    candidate: str | None = Field(None, description="the candidate seed group's name")
    metrics: list[str] | None = Field(None, description="default: those both groups logged")
    lower_is_better: list[str] = Field(
        default_factory=list, description="metrics where lower is better (loss, error)"
    )
    min_effect: float = Field(0.0, ge=0.0, description="> 0: equivalence within it can be shown")
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    alternative: Literal["two-sided", "greater", "less"] = "two-sided"
    max_baseline_age_days: float = Field(30.0, gt=0.0)
    hourly_rate: float | None = Field(
        None, ge=0.0, description="cost per hour of a seed's wall time"
    )
    workers: int | None = Field(None, ge=1, description="seeds at once; default: one per core")
    runs_dir: str = Field(".dlqa/exp", description="where each seed's run folder is made")
    overrides: dict[str, str] = Field(
        default_factory=dict, description="guard id -> why its failure is accepted (recorded)"
    )
    modes: dict[str, list[str]] = Field(
        default_factory=dict, description="mode name -> its values: every combination is a group"
    )
    max_seeds: int = Field(20, ge=2, description="sequential: the most seeds per arm")
    power: float = Field(0.8, ge=0.5, lt=1.0, description="sequential: the power at min_effect")

    @field_validator("modes")
    @classmethod
    def _usable_modes(cls, modes: dict[str, list[str]]) -> dict[str, list[str]]:
        from dlqa.exp.modes import check_modes

        return check_modes(modes)


def build_exp_context(run: StageRun) -> ExpContext:
    section: ExpConfig = run.section
    from dlqa.exp.environment import environment_diff

    context = ExpContext(
        min_effect=section.min_effect,
        alpha=section.alpha,
        alternative=section.alternative,
        max_baseline_age_days=section.max_baseline_age_days,
        lower_is_better=set(section.lower_is_better),
        environment_diff=environment_diff,
        overrides=dict(section.overrides),
    )
    if "run" in run.inputs:
        context.group = _run_group(run, run.inputs["run"])
    elif "record" in run.inputs:
        context.group = run.inputs["record"]
    elif "ablation" in run.inputs:
        _ablation(run, context, run.inputs["ablation"])
        return context
    elif "release" in run.inputs:
        _release(run, context, run.inputs["release"])
        return context
    elif "sequential" in run.inputs:
        setup_sequential(run, context, run.inputs["sequential"])
        return context
    else:
        setup_compare(run, context, run.inputs.get("compare") or {})
        return context
    group = context.group
    group.run_id = run.run_id
    run.report_parts["exp"] = {"group": group.to_dict()}
    return context


def _run_group(run: StageRun, spec: dict[str, Any]) -> SeedGroup:
    from dlqa.exp.launch import SeedJob, run_seeds

    section: ExpConfig = run.section
    name, seeds = spec["name"], list(spec["seeds"])
    root = run.config.resolve(section.runs_dir) / name / f"run-{run.run_id}"
    cwd = Path(spec.get("cwd") or run.config.base_dir)  # a re-run: its clean worktree
    env = tuple(sorted((spec.get("env") or {}).items()))
    jobs = [
        SeedJob(seed, spec["command"], cwd, root / f"seed-{seed}", name, spec.get("timeout_s"),
                env=env)
        for seed in seeds
    ]  # fmt: skip
    advance = run.progress(len(jobs), f"Running {len(jobs)} seeds of {name}")
    group = new_group(name, spec["command"], spec)
    workers = spec.get("workers") or section.workers or run.workers or os.cpu_count() or 1
    try:
        with _seed_cluster(run, spec, workers) as cluster:
            group.seeds = run_seeds(
                jobs,
                workers=workers,
                hourly_rate=section.hourly_rate,
                on_done=lambda _record: advance(1),
                cluster=cluster,
                gpus_per_seed=spec.get("gpus_per_seed") or 0,
            )
    except KeyboardInterrupt as interrupted:
        # What finished is kept: the group goes on record with the unfinished seeds marked.
        group.seeds = list(getattr(interrupted, "records", []))
        group.run_id = run.run_id
        run.store.set_report_parts(run.run_id, {"exp": {"group": group.to_dict()}})
        raise
    return group


@contextmanager
def _seed_cluster(run: StageRun, spec: dict[str, Any], workers: int) -> Iterator[Any]:
    """The Dask cluster the seeds run on ([execute] backend = "dask", or --executor dask:
    the scheduler at its address, else a local cluster of ``workers`` processes); None
    for the local runner."""
    execute = run.config.execute
    if execute.backend != "dask":
        yield None
        return
    from dlqa.execute import get_executor

    with get_executor(workers, backend="dask", address=execute.address) as cluster:
        yield cluster


def _ablation(run: StageRun, context: ExpContext, spec: dict[str, Any]) -> None:
    """The analysis of an ablation's cells, read back from the store by their group names."""
    from dlqa.exp.ablation import analyze_ablation

    plan = spec["plan"]
    runs = group_runs(run.store)
    groups = {}
    for cell in plan.cells:
        group = latest_group(runs, cell.group)
        if group is None:
            raise UsageError(f"the ablation's cell {cell.group!r} has no stored group")
        groups[cell.name] = group
    base = groups[plan.cells[0].name]
    metric = spec.get("metric") or metrics_of(None, base, base)[0]
    values = {name: group.values(metric) for name, group in groups.items()}
    try:
        context.ablation = analyze_ablation(
            plan,
            values,
            higher_is_better=metric not in context.lower_is_better
            and not spec.get("lower_is_better"),
            alpha=context.alpha,
            min_effect=context.min_effect,
            metric=metric,
        )
    except ValueError as exc:
        raise UsageError(f"the ablation {plan.name!r} cannot be analysed: {exc}") from None
    run.report_parts["exp"] = {
        "ablation": {
            "plan": plan.to_dict(),
            "metric": metric,
            "groups": {name: g.run_id for name, g in groups.items()},
        }
    }


def stored_releases(store: Any) -> list[Any]:
    """The recorded releases, oldest first (``Release`` objects)."""
    from dlqa.exp.releases import Release

    runs = sorted(store.list_runs(kind="release"), key=lambda r: r.id)
    return [Release.from_dict(r.report["release"]) for r in runs if "release" in (r.report or {})]


def _release(run: StageRun, context: ExpContext, release: Any) -> None:
    """A new release, gated against the latest one recorded before it."""
    previous = stored_releases(run.store)
    if any(r.version == release.version for r in previous):
        raise UsageError(
            f"release {release.version!r} is already recorded",
            hint="a version is recorded once: give the new release a version of its own",
        )
    context.release = release
    context.previous_release = previous[-1] if previous else None
    run.report_parts["release"] = release.to_dict()


STAGE = register_stage(
    StageSpec(
        name="exp",
        title="Experiments",
        section=ExpConfig,
        build_context=build_exp_context,
        is_configured=lambda section: bool(section.baseline and section.candidate),
        order=50,
        check_order=CHECK_ORDER,
        inputs_of=lambda context: context.inputs(),
        input_hints=INPUT_HINTS,
        evidence_kinds={"seed_groups": describe_seed_group},
    )
)

__all__ = ["STAGE", "ExpConfig", "build_exp_context"]

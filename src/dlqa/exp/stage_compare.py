"""The experiment stage's comparisons: two stored groups, the same two on every mode
combination (``--all-modes``), or two arms extended seed by seed until a verdict
(``--sequential`` / ``dlqa exp run --until-decided``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.core.stages import StageRun
from dlqa.exp.checks import ExpContext
from dlqa.exp.groups import SeedGroup, group_runs, latest_group, new_group
from dlqa.exp.modes import combinations, mode_environment, mode_group, mode_label


def setup_compare(run: StageRun, context: ExpContext, wanted: dict[str, Any]) -> None:
    """Two stored groups (or, with ``all_modes``, each pair of their mode groups) into the
    context, with the comparison's options."""
    names = _names(run, wanted)
    runs = group_runs(run.store)
    # `dlqa check` (no command's input) compares every mode when modes are declared: with
    # them, `dlqa exp run` stores only the mode groups.
    if wanted.get("all_modes") or (not wanted and run.section.modes):
        modes = run.section.modes
        if not modes:
            raise UsageError(
                "--all-modes compares every combination of [exp] modes, and none is declared",
                hint='declare them in dlqa.toml: [exp] modes = { backbone = ["resnet", "vit"] }',
            )
        pairs = []
        for combination in combinations(modes):
            base, cand = (_find(runs, mode_group(name, combination)) for name in names)
            pairs.append((mode_label(combination), base, cand))
        context.mode_pairs = pairs
    else:
        context.baseline, context.candidate = (_find(runs, name) for name in names)
    chosen = [metrics_of(wanted.get("metrics") or run.section.metrics, b, c)
              for _, b, c in context.pairs()]  # fmt: skip
    if any(set(m) != set(chosen[0]) for m in chosen):
        raise UsageError(
            "the mode groups logged different metrics",
            hint="name the ones to compare with --metric (or [exp] metrics)",
        )
    context.metrics = chosen[0]
    _options(context, wanted)
    context_part: dict[str, Any] = {
        "baseline": {"name": names[0]},
        "candidate": {"name": names[1]},
        "metrics": context.metrics,
        "overrides": context.overrides,
    }
    if context.mode_pairs:
        context_part["modes"] = {
            label: {"baseline": b.run_id, "candidate": c.run_id} for label, b, c in context.pairs()
        }
    else:
        context_part["baseline"]["run_id"] = context.baseline.run_id  # type: ignore[union-attr]
        context_part["candidate"]["run_id"] = context.candidate.run_id  # type: ignore[union-attr]
    run.report_parts["exp"] = {"comparison": context_part}


def setup_sequential(run: StageRun, context: ExpContext, spec: dict[str, Any]) -> None:
    """Extend both arms seed by seed until :func:`compare_sequential` decides, store the two
    groups (every seed run, a failed one included) and the path of looks."""
    from dlqa.exp.sequential import NEEDS_MIN_EFFECT, compare_sequential
    from dlqa.exp.sequential_seeds import Arm, PairedSeeds, SeedFailed

    section = run.section
    names = _names(run, spec)
    _options(context, spec)
    if context.min_effect <= 0:
        raise UsageError(
            f"{NEEDS_MIN_EFFECT} (the power is for it, and 'no difference' means within it)",
            hint="--min-effect 0.005 (in the metric's units), or [exp] min_effect",
        )
    runs = group_runs(run.store)
    baseline = _find(runs, names[0])
    if spec.get("candidate_command"):  # dlqa exp run --until-decided: a new group
        candidate = new_group(names[1], spec["candidate_command"], spec)
    else:
        candidate = _find(runs, names[1])
    for group in (baseline, candidate):
        if not group.command:
            raise UsageError(
                f"{group.name!r} was imported: there is no command to run more of its seeds",
                hint="a sequential comparison extends groups run by `dlqa exp run`",
            )
    metric = _one_metric(spec.get("metric") or section.metrics, baseline)
    root = run.config.resolve(section.runs_dir) / "sequential" / f"run-{run.run_id}"
    cwd = spec.get("cwd") or {}
    arms = [
        Arm(group, Path(cwd.get(role) or run.config.base_dir), root / role, metric,
            env=tuple(sorted(mode_environment(group.mode or {}).items())),
            timeout_s=spec.get("timeout_s"), hourly_rate=section.hourly_rate)
        for role, group in (("baseline", baseline), ("candidate", candidate))
    ]  # fmt: skip
    max_seeds = int(spec.get("max_seeds") or section.max_seeds)
    advance = run.progress(2 * max_seeds, f"Seeds of {names[0]} and {names[1]} until decided")
    seeds = PairedSeeds(*arms, done=lambda: advance(1))
    context.baseline, context.candidate, context.metrics = baseline, candidate, [metric]
    try:
        context.sequential = compare_sequential(
            seeds.run_baseline,
            seeds.run_candidate,
            min_effect=context.min_effect,
            alpha=context.alpha,
            power=float(spec.get("power") or section.power),
            max_seeds=max_seeds,
            higher_is_better=metric not in context.lower_is_better,
        )
    except SeedFailed as failed:
        context.sequential_failure = failed
    except ValueError as exc:
        raise UsageError(f"the sequential comparison cannot run: {exc}") from None
    except KeyboardInterrupt:
        seeds.stop()
        seeds.close()
        run.store.set_report_parts(run.run_id, _stored(run, context, arms))
        raise
    finally:
        seeds.close()
    run.report_parts.update(_stored(run, context, arms))


def _stored(run: StageRun, context: ExpContext, arms: list[Any]) -> dict[str, Any]:
    for arm in arms:
        arm.group.run_id = run.run_id
    part: dict[str, Any] = {
        "groups": [arm.group.to_dict() for arm in arms],
        "comparison": {
            "baseline": {"name": arms[0].group.name, "run_id": run.run_id},
            "candidate": {"name": arms[1].group.name, "run_id": run.run_id},
            "metrics": context.metrics,
            "overrides": context.overrides,
            "ran": {arm.group.name: list(arm.ran) for arm in arms},
        },
    }
    if context.sequential is not None:
        part["sequential"] = context.sequential.to_dict()
    return {"exp": part}


def _names(run: StageRun, wanted: dict[str, Any]) -> tuple[str, str]:
    section = run.section
    names = (
        wanted.get("baseline") or section.baseline,
        wanted.get("candidate") or section.candidate,
    )
    if not all(names):
        raise UsageError(
            "name the two groups to compare",
            hint="dlqa exp compare BASELINE CANDIDATE, or [exp] baseline and candidate",
        )
    if names[0] == names[1]:
        raise UsageError(f"{names[0]!r} compared with itself: name two different groups")
    return names  # type: ignore[return-value]


def _find(runs: list[Any], name: str) -> SeedGroup:
    group = latest_group(runs, name)
    if group is None:
        raise UsageError(
            f"no seed group named {name!r} in the store",
            hint="`dlqa exp list` shows the groups; run one with `dlqa exp run`",
        )
    return group


def _options(context: ExpContext, wanted: dict[str, Any]) -> None:
    context.lower_is_better |= set(wanted.get("lower_is_better") or ())
    if wanted.get("min_effect") is not None:
        context.min_effect = float(wanted["min_effect"])
    context.overrides.update(wanted.get("overrides") or {})


def _one_metric(wanted: list[str] | str | None, baseline: SeedGroup) -> str:
    if isinstance(wanted, str):
        wanted = [wanted]
    logged = baseline.metric_names()
    if wanted:
        if len(wanted) > 1:
            raise UsageError(
                f"a sequential comparison decides on one metric, not {wanted}",
                hint="--metric NAME",
            )
        return wanted[0]
    if len(logged) != 1:
        raise UsageError(
            f"{baseline.name} logged {len(logged)} metrics ({', '.join(logged) or 'none'}): "
            "say which one decides",
            hint="--metric NAME (or [exp] metrics)",
        )
    return logged[0]


def metrics_of(wanted: list[str] | None, baseline: SeedGroup, candidate: SeedGroup) -> list[str]:
    """The metrics to compare: those asked for (each logged by both), else those both logged."""
    ours, theirs = baseline.metric_names(), candidate.metric_names()
    if wanted:
        for metric in wanted:
            missing = [
                g.name
                for g, names in ((baseline, ours), (candidate, theirs))
                if metric not in names
            ]
            if missing:
                raise UsageError(
                    f"metric {metric!r} was not logged by {', '.join(missing)}",
                    hint=f"{baseline.name}: {ours}; {candidate.name}: {theirs}",
                )
        return list(wanted)
    if set(ours) != set(theirs):
        raise UsageError(
            f"the groups logged different metrics: {baseline.name} {sorted(ours)}, "
            f"{candidate.name} {sorted(theirs)}",
            hint="name the ones to compare with --metric (or [exp] metrics)",
        )
    if not ours:
        raise UsageError(f"{baseline.name} has no finished seed with metrics to compare")
    return ours


__all__ = ["metrics_of", "setup_compare", "setup_sequential"]

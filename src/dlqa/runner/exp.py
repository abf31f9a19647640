"""`dlqa exp`: run a seed group, import one, list and show groups, compare two, re-run a
baseline at its recorded commit. Each is one stored run through the experiment stage."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dlqa.config import Config
from dlqa.core.errors import UsageError
from dlqa.exp.groups import SeedGroup, SeedRecord, group_names, group_runs, latest_group
from dlqa.runner.check import run_configured_checks
from dlqa.runner.provenance import git_state
from dlqa.runner.session import RunSession

GIT_TIMEOUT_S = 60


def tree_state(folder: Path, allow_dirty: bool, own_output: str = ".dlqa/") -> dict[str, Any]:
    """The git state a group runs from; a dirty tree (untracked source files count) is a
    UsageError unless ``allow_dirty``, which marks the group non-reproducible. dlqa's own
    output (``own_output``: the store, reports and seed run folders) does not count."""
    git = git_state(folder)
    if git is None:
        return {
            "git": None,
            "dirty": True,
            "why_not_reproducible": "not a git repository: no commit on record",
        }
    changed = list(git.get("changed") or [])[:10]
    untracked = [p for p in git.get("untracked_source") or [] if f"/{own_output}" not in f"/{p}"]
    if not git.get("dirty") and not untracked:
        return {"git": git, "dirty": False}
    listing = ", ".join(changed + [f"{p} (untracked)" for p in untracked[:10]])
    if not allow_dirty:
        raise UsageError(
            f"the working tree is dirty ({listing}): a run from it cannot be reproduced",
            hint="commit (or stash) the changes, or pass --allow-dirty to run anyway "
            "(every run of the group is then marked non-reproducible)",
        )
    return {
        "git": git,
        "dirty": True,
        "why_not_reproducible": f"ran from a dirty tree with --allow-dirty ({listing})",
    }


def run_group(
    config: Config,
    name: str,
    command: Sequence[str],
    *,
    seeds: int | Sequence[int],
    allow_dirty: bool = False,
    workers: int | None = None,
    timeout_s: float | None = None,
    cwd: Path | None = None,
    extra: dict[str, Any] | None = None,
    gpus_per_seed: float = 0,
    **session: Any,
) -> RunSession:
    """`dlqa exp run NAME --seeds N -- CMD`: run the seeds, store the group. With
    [execute] backend = "dask", each seed is a task on a Dask worker, holding
    ``gpus_per_seed`` of its GPU resources (see dlqa.exp.launch.run_seeds_on_cluster)."""
    from dlqa.exp.environment import environment_fingerprint
    from dlqa.exp.launch import check_command

    _check_name(name)
    root = cwd or config.base_dir
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise UsageError("--seeds must be at least 1")
    if gpus_per_seed and config.execute.backend != "dask":
        raise UsageError(
            "--gpus-per-seed is for seeds run on Dask workers",
            hint="add --executor dask --address of a cluster whose workers offer GPUs "
            "(dask worker ADDRESS --resources GPU=1)",
        )
    spec = {
        "name": name,
        "command": check_command(command, root),
        "seeds": seed_list,
        "workers": workers,
        "timeout_s": timeout_s,
        "environment": environment_fingerprint(),
        **tree_state(root, allow_dirty),
        **(extra or {}),
    }
    if cwd is not None:
        spec["cwd"] = str(cwd)
    if gpus_per_seed:
        spec["gpus_per_seed"] = gpus_per_seed
    return run_configured_checks(
        config,
        stages=("exp",),
        kind=spec.get("source", "exp.run"),
        inputs={"exp": {"run": spec}},
        **session,
    )


def run_groups(
    config: Config, name: str, command: Sequence[str], *, modes: Sequence[str] = (), **options: Any
) -> list[RunSession]:
    """`dlqa exp run`: one group, or, when ``[exp] modes`` declares modes, one group per mode
    combination (``NAME@backbone=resnet,precision=amp``: ``DLQA_MODE_*`` in the environment,
    ``{name}`` in the arguments replaced); ``modes`` (``--mode NAME=V1,V2``) narrows them."""
    from dlqa.exp.modes import (
        apply_mode,
        check_placeholders,
        combinations,
        mode_environment,
        mode_group,
        select_modes,
    )

    section = config.section("exp")
    declared = dict(section.modes) if section is not None else {}
    try:
        check_placeholders(command, declared)
        selected = select_modes(declared, modes)
    except ValueError as exc:
        raise UsageError(str(exc), hint='[exp] modes = { backbone = ["resnet", "vit"] }') from None
    if not declared:
        return [run_group(config, name, command, **options)]
    return [
        run_group(
            config,
            mode_group(name, combination),
            apply_mode(command, combination),
            extra={"env": mode_environment(combination), "mode": combination},
            **options,
        )
        for combination in combinations(selected)
    ]


def run_sequential(
    config: Config,
    store: Any,
    baseline: str | None,
    candidate: str | None,
    *,
    candidate_command: Sequence[str] | None = None,
    allow_dirty: bool = False,
    options: dict[str, Any] | None = None,
    **session: Any,
) -> RunSession:
    """`dlqa exp compare --sequential` and `dlqa exp run --until-decided`: both arms
    extended seed by seed until the comparison decides. A stored arm runs its own command
    at its recorded commit (in a clean worktree unless that is the checked-out tree); the
    candidate of --until-decided runs CMD from the working tree, as `dlqa exp run` would."""
    from dlqa.exp.environment import environment_fingerprint
    from dlqa.exp.launch import check_command
    from dlqa.exp.modes import check_placeholders

    spec: dict[str, Any] = {"baseline": baseline, "candidate": candidate, **(options or {})}
    section = config.section("exp")
    names = {"baseline": baseline or section.baseline, "candidate": candidate or section.candidate}
    if candidate_command is not None:
        if names["candidate"]:
            _check_name(names["candidate"])
        try:
            check_placeholders(candidate_command, {})
        except ValueError as exc:
            raise UsageError(
                f"{exc}: a mode runs as its own group",
                hint="compare mode groups by name: --sequential BASE@mode=x CAND@mode=x",
            ) from None
        spec["candidate_command"] = check_command(candidate_command, config.base_dir)
        spec["environment"] = environment_fingerprint()
        spec.update(tree_state(config.base_dir, allow_dirty))
    head = git_state(config.base_dir) or {}
    roles = ["baseline"] if candidate_command is not None else ["baseline", "candidate"]
    with contextlib.ExitStack() as stack:
        spec["cwd"] = {}
        for role in roles:
            group = latest_group(group_runs(store), names[role]) if names[role] else None
            commit = ((group.git if group else None) or {}).get("commit")
            if commit and (commit != head.get("commit") or head.get("dirty")):
                spec["cwd"][role] = str(stack.enter_context(_worktree(config.base_dir, commit)))
        return run_configured_checks(
            config,
            stages=("exp",),
            kind="exp.sequential",
            inputs={"exp": {"sequential": spec}},
            **session,
        )


def record_group(
    config: Config,
    name: str,
    seeds: list[SeedRecord],
    *,
    provenance: dict[str, Any] | None = None,
    **session: Any,
) -> RunSession:
    """`dlqa exp record`: a group imported from finished runs, with what is known of them."""
    _check_name(name)
    known = provenance or {}
    group = SeedGroup(
        name=name,
        seeds=seeds,
        source="exp.record",
        git=known.get("git"),
        environment=known.get("environment"),
        reproducible=bool((known.get("git") or {}).get("commit")),
        why_not_reproducible=None
        if (known.get("git") or {}).get("commit")
        else "imported without its commit",
    )
    return run_configured_checks(
        config, stages=("exp",), kind="exp.record", inputs={"exp": {"record": group}}, **session
    )


def compare_groups(
    config: Config,
    baseline: str | None,
    candidate: str | None,
    *,
    metrics: Sequence[str] | None = None,
    lower_is_better: Sequence[str] = (),
    min_effect: float | None = None,
    overrides: dict[str, str] | None = None,
    all_modes: bool = False,
    **session: Any,
) -> RunSession:
    """`dlqa exp compare BASELINE CANDIDATE [--all-modes]`: the comparison and its guards,
    stored."""
    wanted = {
        "all_modes": all_modes,
        "baseline": baseline,
        "candidate": candidate,
        "metrics": list(metrics or []),
        "lower_is_better": list(lower_is_better),
        "min_effect": min_effect,
        "overrides": overrides or {},
    }
    return run_configured_checks(
        config, stages=("exp",), kind="exp.compare", inputs={"exp": {"compare": wanted}}, **session
    )


def run_ablation(
    config: Config,
    name: str,
    changes: dict[str, str],
    command: Sequence[str],
    *,
    seeds: int = 3,
    metric: str | None = None,
    lower_is_better: bool = False,
    allow_dirty: bool = False,
    workers: int | None = None,
    sequential: dict[str, Any] | None = None,
    **session: Any,
) -> list[RunSession]:
    """`dlqa exp ablate`: each cell of the plan run as a seed group ``NAME@CELL`` (the
    command with the cell's changes' arguments appended), then one run that analyses them.
    With ``sequential`` (``store``, ``min_effect``, ``max_seeds``), the baseline cell runs
    ``seeds`` seeds and every other cell is run against it seed by seed until its own
    comparison decides (the baseline gains seeds where one asks for them).
    Returns the cells' runs and, last, the analysis run."""
    from dlqa.exp.design import plan_ablation

    _check_name(name)
    try:
        plan = plan_ablation(changes, name=name)
    except ValueError as exc:
        raise UsageError(f"ablation {name!r}: {exc}") from None
    base, *others = plan.cells
    fixed = plan.cells if sequential is None else [base]
    runs = [
        run_group(config, cell.group, [*command, *cell.args], seeds=seeds,
                  allow_dirty=allow_dirty, workers=workers, **session)
        for cell in fixed
    ]  # fmt: skip
    if sequential is not None:
        options = {
            "metric": metric,
            "min_effect": sequential.get("min_effect"),
            "max_seeds": sequential.get("max_seeds"),
            "lower_is_better": [metric] if lower_is_better and metric else [],
        }
        runs += [
            run_sequential(config, sequential["store"], base.group, cell.group,
                           candidate_command=[*command, *cell.args], allow_dirty=allow_dirty,
                           options=options, **session)
            for cell in others
        ]  # fmt: skip
    wanted = {"plan": plan, "metric": metric, "lower_is_better": lower_is_better}
    analysis = run_configured_checks(config, stages=("exp",), kind="exp.ablate",
                                     inputs={"exp": {"ablation": wanted}}, **session)  # fmt: skip
    return [*runs, analysis]


def ablation_exit_code(runs: Sequence[RunSession]) -> int:
    """The analysis's exit code, or 1 when a cell lost a seed. A cell's own verdict against
    the baseline (a sequential cell that "regressed") is what the analysis reads, not a
    failure of the ablation."""
    *cells, analysis = runs
    lost = any(
        r.check_id == "exp.seeds"
        and r.status.value == "fail"
        or r.check_id == "exp.compare"
        and "failed_seed" in (r.details or {})
        for run in cells
        for r in run.results
    )
    return max(analysis.exit_code, 1 if lost else 0)


def stored_groups(store: Any) -> dict[str, list[Any]]:
    """Group name -> its stored runs, newest first."""
    return group_names(group_runs(store))


def stored_group(store: Any, name: str) -> SeedGroup:
    """The latest stored group called ``name``; a UsageError when there is none."""
    group = latest_group(group_runs(store), name)
    if group is None:
        raise UsageError(f"no seed group named {name!r}", hint="`dlqa exp list` shows them")
    return group


def rerun_group(config: Config, store: Any, name: str, **session: Any) -> RunSession:
    """`dlqa exp rerun NAME`: the group's command and seeds again, at its recorded commit, in a
    clean git worktree; stored as the newest group of that name."""
    group = stored_group(store, name)
    commit = (group.git or {}).get("commit")
    if not commit:
        raise UsageError(
            f"{name!r} has no recorded commit to re-run it at",
            hint="only groups run by `dlqa exp run` in a git repository can be re-run",
        )
    if not group.command:
        raise UsageError(f"{name!r} was imported: there is no command to re-run")
    with _worktree(config.base_dir, commit) as worktree:
        return run_group(
            config,
            name,
            group.command,
            seeds=[s.seed for s in group.seeds],
            cwd=worktree,
            extra={"source": "exp.rerun", "rerun_of": group.run_id},
            **session,
        )


@contextlib.contextmanager
def _worktree(folder: Path, commit: str) -> Iterator[Path]:
    """A clean checkout of ``commit`` beside the project (a git worktree), removed after."""
    with tempfile.TemporaryDirectory(prefix="dlqa-worktree-") as temporary:
        worktree = Path(temporary) / "tree"
        _git(folder, "worktree", "add", "--detach", str(worktree), commit)
        try:
            yield worktree
        finally:
            _git(folder, "worktree", "remove", "--force", str(worktree))


def _git(folder: Path, *args: str) -> None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"git {' '.join(args[:2])} failed: {exc}") from None
    if done.returncode != 0:
        raise UsageError(f"git {' '.join(args[:2])} failed: {done.stderr.strip()[:300]}")


def _check_name(name: str) -> None:
    if not name or "/" in name or name.startswith(".") or len(name) > 120:
        raise UsageError(f"bad group name {name!r}: use letters, digits, '-', '_', '.', '@', '='")


__all__ = [
    "compare_groups",
    "ablation_exit_code",
    "run_ablation",
    "record_group",
    "rerun_group",
    "run_group",
    "run_groups",
    "run_sequential",
    "stored_group",
    "stored_groups",
    "tree_state",
]

"""The ``exp.*`` checks: the seeds of a group (``dlqa exp run``), and a comparison of two
groups with its guards (``dlqa exp compare``, or ``dlqa check`` with ``[exp]``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, Field

from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Status
from dlqa.exp import guards
from dlqa.exp.groups import SeedGroup

CHECK_ORDER = (
    "exp.seeds",
    "exp.compare",
    "exp.mode_matrix",
    "exp.ablation",
    "exp.masked_regression",
    "exp.release_regression",
    "exp.metric_definitions",
    "exp.reproducible",
    "exp.baseline_fresh",
    "exp.code_and_data",
)
INPUT_HINTS = {
    "seeds": "a seed group being run (dlqa exp run NAME --seeds N -- CMD)",
    "comparison": "two groups (dlqa exp compare BASELINE CANDIDATE, or [exp] baseline and "
    "candidate)",
    "mode_matrix": "two groups on every mode combination (dlqa exp compare --all-modes)",
    "ablation": "the cells of an ablation (dlqa exp ablate NAME --change A=ARGS ... -- CMD)",
    "release": "a release and the one before it (dlqa release record VERSION)",
}


@dataclass
class ExpContext:
    group: SeedGroup | None = None  # dlqa exp run: the group just run
    baseline: SeedGroup | None = None  # dlqa exp compare
    candidate: SeedGroup | None = None
    metrics: list[str] = field(default_factory=list)
    lower_is_better: set[str] = field(default_factory=set)
    min_effect: float = 0.0
    alpha: float = 0.05
    alternative: str = "two-sided"
    max_baseline_age_days: float = 30.0
    overrides: dict[str, str] = field(default_factory=dict)
    environment_diff: Any = None
    ablation: Any = None  # dlqa exp ablate: the AblationAnalysis of its cells
    release: Any = None  # dlqa release record: the new Release ...
    previous_release: Any = None  # ... and the one recorded before it
    # --all-modes: (mode label, baseline group, candidate group) per mode combination
    mode_pairs: list[tuple[str, SeedGroup, SeedGroup]] = field(default_factory=list)
    sequential: Any = None  # --sequential: the SequentialResult ...
    sequential_failure: Any = None  # ... or the SeedFailed that stopped it
    computed: Any = None  # the comparisons, computed once (compare_results.comparisons)

    def pairs(self) -> list[tuple[str | None, SeedGroup, SeedGroup]]:
        """What is compared: each mode's pair with --all-modes, else the one pair."""
        if self.mode_pairs:
            return list(self.mode_pairs)
        if self.baseline is not None and self.candidate is not None:
            return [(None, self.baseline, self.candidate)]
        return []

    def inputs(self) -> frozenset[str]:
        have = set()
        if self.group is not None:
            have.add("seeds")
        if self.pairs():
            have.add("comparison")
        if self.mode_pairs:
            have.add("mode_matrix")
        if self.ablation is not None:
            have.add("ablation")
        if self.release is not None and self.previous_release is not None:
            have.add("release")
        return frozenset(have)


@register_check(
    "exp.seeds",
    title="Seeds of a group",
    description=(
        "One result per seed of `dlqa exp run`: its final metrics, or why it failed (exit "
        "code, signal, no metrics), with the tail of its log. A failed seed is stored, never "
        "dropped, and fails the run."
    ),
    needs=("seeds",),
)
def check_seeds(context: ExpContext, params: dict[str, Any]) -> list[CheckResult]:
    group = context.group
    assert group is not None
    results = []
    for seed in group.seeds:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in seed.metrics.items())
        details = seed.to_dict()
        if seed.status == "ok":
            wall = "" if seed.wall_s is None else f" ({seed.wall_s:.1f} s)"
            summary = f"seed {seed.seed}: {metrics}{wall}"
            results.append(
                CheckResult(
                    "exp.seeds", Status.PASS, summary, details=details, subject=f"seed={seed.seed}"
                )
            )
        else:
            tail = seed.log_tail.splitlines()[-1:] or [""]
            summary = f"seed {seed.seed} failed: {seed.reason}" + (
                f" ({tail[0][:200]})" if tail[0] else ""
            )
            results.append(
                CheckResult(
                    "exp.seeds", Status.FAIL, summary, details=details, subject=f"seed={seed.seed}"
                )
            )
    return results


class CompareParams(BaseModel):
    allow_single_seed: bool = Field(
        True, description="single-run groups are compared (and always inconclusive)"
    )


@register_check(
    "exp.compare",
    title="Comparison of two seed groups",
    description=(
        "Per metric (its subject): Welch's t-test decides improved / regressed (two-sided at "
        "alpha 0.05 by default, Holm-corrected over the metrics), a bootstrap interval of the "
        "difference of means (candidate minus baseline), the probability of improvement and "
        "the effect size; no_difference only when min_effect > 0 and equivalence is shown "
        "(two one-sided tests); otherwise inconclusive, with the seeds per arm that would "
        "decide. Regressed fails; inconclusive fails unless relaxed."
    ),
    params=CompareParams,
    needs=("comparison",),
)
def check_compare(context: ExpContext, params: dict[str, Any]) -> list[CheckResult]:
    from dlqa.exp.compare_results import compare_results

    return compare_results(context)


@register_check(
    "exp.mode_matrix",
    title="Every mode combination",
    description=(
        "With `dlqa exp compare --all-modes`: per metric, baseline against candidate on every "
        "combination of [exp] modes (groups GROUP@mode=value,...), Holm-corrected over all of "
        "them; fails when any combination regresses (a change meant for one mode must not "
        "hurt the others), inconclusive when one cannot be decided."
    ),
    needs=("mode_matrix",),
)
def check_mode_matrix(context: ExpContext, params: dict[str, Any]) -> list[CheckResult]:
    from dlqa.exp.compare_results import mode_matrix_results

    return mode_matrix_results(context)


def _ablation_result(context: ExpContext, check_id: str) -> CheckResult:
    from dlqa.exp.ablation import ablation_results

    return next(r for r in ablation_results(context.ablation) if r.check_id == check_id)


@register_check(
    "exp.ablation",
    title="Ablation",
    description=(
        "The effects of an ablation's changes: each change's own effect against the "
        "baseline, its main effect over the design, their interactions, each with its "
        "interval (informative: passes once computed). Above three changes the design is a "
        "fractional factorial, with the aliasing stated."
    ),
    needs=("ablation",),
)
def check_ablation(context: ExpContext, params: dict[str, Any]) -> CheckResult:
    return _ablation_result(context, "exp.ablation")


@register_check(
    "exp.masked_regression",
    title="Masked regressions",
    description=(
        "A change that hurts on its own while the bundle that contains it improves, because "
        "another change helps more (pattern 3); or one whose removal from the full bundle "
        "would improve it. Inconclusive when a cell that decides cannot be judged."
    ),
    needs=("ablation",),
)
def check_masked_regression(context: ExpContext, params: dict[str, Any]) -> CheckResult:
    return _ablation_result(context, "exp.masked_regression")


@register_check(
    "exp.release_regression",
    title="No regression from the previous release",
    description=(
        "Per metric (its subject), the new release against the one recorded before it: "
        "seed groups by Welch's t-test, single eval-suite values by their intervals (Wilson "
        "for proportions with n), Holm over the metrics. Fails on a regression beyond noise, "
        "with the environment differences between the two releases."
    ),
    needs=("release",),
)
def check_release_regression(context: ExpContext, params: dict[str, Any]) -> list[CheckResult]:
    from dlqa.exp.releases import release_regression

    lower = {m: False for m in context.lower_is_better if m in context.release.metrics}
    return release_regression(
        context.previous_release, context.release, higher_is_better=lower or None,
        alpha=context.alpha, environment_diff=context.environment_diff,
    )  # fmt: skip


def _guard(name: str, title: str, description: str, level: str = "fail") -> Any:
    return register_check(
        name, title=title, description=description, level=level, needs=("comparison",)
    )


@_guard(
    "exp.metric_definitions",
    "Same metric definitions",
    "The metric fingerprints (dlqa.train.metric_fingerprint) and eval-set fingerprints "
    "the seeds logged are the same in both groups (pattern 10).",
)
def check_metric_definitions(context: ExpContext, params: dict[str, Any]) -> list[CheckResult]:
    return _per_pair(
        context, lambda b, c: guards.metric_definitions(b, c, context.metrics), override=True
    )


@_guard(
    "exp.reproducible",
    "Reproducible groups",
    "Both groups ran from a clean tree at a recorded commit; a group run with "
    "--allow-dirty or imported without its commit fails (pattern 4).",
)
def check_reproducible(context: ExpContext, params: dict[str, Any]) -> list[CheckResult]:
    return _per_pair(context, guards.reproducible, override=True)


@_guard(
    "exp.baseline_fresh",
    "A fresh, local baseline",
    "The baseline is younger than [exp] max_baseline_age_days and ran in the same "
    "environment (hardware, torch/CUDA, key packages) as the candidate; otherwise re-run "
    "it with `dlqa exp rerun` (pattern 9).",
)
def check_baseline_fresh(context: ExpContext, params: dict[str, Any]) -> list[CheckResult]:
    def fresh(baseline: SeedGroup, candidate: SeedGroup) -> CheckResult:
        return guards.baseline_fresh(
            baseline,
            candidate,
            max_age_days=context.max_baseline_age_days,
            environment_diff=context.environment_diff,
        )

    return _per_pair(context, fresh, override=True)


@_guard(
    "exp.code_and_data",
    "One change at a time",
    "Warns when both the code (commit) and the data (dataset fingerprint) changed between "
    "the groups.",
    level="warn",
)
def check_code_and_data(context: ExpContext, params: dict[str, Any]) -> list[CheckResult]:
    return _per_pair(context, guards.code_and_data, override=False)


def _per_pair(context: ExpContext, guard: Any, *, override: bool) -> list[CheckResult]:
    """A guard on every compared pair; each mode's result has the mode as its subject."""
    results = []
    for label, baseline, candidate in context.pairs():
        result = guard(baseline, candidate)
        if override:
            result = guards.apply_override(result, context.overrides)
        results.append(result if label is None else replace(result, subject=label))
    return results


def describe_seed_group(item: Any) -> str:
    """A "seed_groups" item as one line: 'base (baseline): 5 seeds, mean 0.9117, range
    0.9009 .. 0.9434', and the candidate's difference with its interval when it has one."""
    if not isinstance(item, dict) or not isinstance(item.get("values"), list):
        raise TypeError("not a seed group")  # the report's own describer shows it instead
    values = [float(v) for v in item["values"]]
    role = f" ({item['role']})" if item.get("role") else ""
    line = f"{item.get('group', '?')}{role}: {len(values)} seed{'s' if len(values) != 1 else ''}"
    if values:
        line += f", mean {sum(values) / len(values):.4g}"
    if len(values) > 1:
        line += f", range {min(values):.4g} .. {max(values):.4g}"
    if isinstance(item.get("difference"), (int, float)):
        line += f"; difference {item['difference']:+.4g}"
        ci = item.get("ci")
        if isinstance(ci, list) and len(ci) == 2:
            line += f" [{ci[0]:.4g}, {ci[1]:.4g}]"
    if item.get("reproducible") is False:
        line += "; not reproducible"
    return line


__all__ = ["CHECK_ORDER", "INPUT_HINTS", "ExpContext", "describe_seed_group"]

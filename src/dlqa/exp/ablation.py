"""Ablations: which of several changes helped, which hurt, and whether a bundle hides one that
hurts. A *masked regression* (pattern 3): A hurts on its own, B helps more, A+B improves, and A
ships unnoticed inside the bundle, because only the bundle was compared with the baseline.

:func:`plan_ablation` (the cells to run) is in :mod:`dlqa.exp.design`, re-exported here.

:func:`analyze_ablation` judges one metric over the seeds of every cell: each change's own
effect (its cell against the baseline, Welch via :func:`dlqa.exp.stats.compare`), its main
effect and the pairwise interactions over the design (contrasts of the cell means with a
Welch-Satterthwaite t interval, so unequal seed spreads are allowed), and the masked
regressions: a change whose own effect is a significant regression (Holm-corrected over the
changes) while a bundle containing it improves significantly over the baseline; and, where
the design has the cell, a change without which the full bundle would be better. A change
whose own effect is not significant is not flagged (pass); the check is inconclusive only
when a cell that decides cannot be judged (a single run) or Holm withdraws a regression.
"""

from __future__ import annotations

import itertools
import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import stdtr, stdtrit

from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.exp.design import BASE, AblationCell, AblationPlan, plan_ablation, term_namer
from dlqa.exp.stats import Comparison, compare, holm

ABLATION, MASKED = "exp.ablation", "exp.masked_regression"


@dataclass(frozen=True)
class Effect:
    """A contrast of the cell means over the design: a main effect (on minus off) or an
    interaction (A+B - A - B + base, averaged over the other changes). ``verdict``:
    improved / regressed for main effects, synergy / interference for interactions (the
    combination better or worse than the sum of its parts), else no_difference (shown
    within ``min_effect``) or inconclusive."""

    name: str
    estimate: float
    ci: tuple[float, float] | None
    p_value: float | None
    verdict: str
    reason: str
    n: int
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    change: str
    kind: str  # "masked_regression" or "hurts_in_bundle"
    message: str
    cell: str  # the bundle that hides it
    hidden_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class AblationAnalysis:
    plan: AblationPlan
    metric: str | None
    higher_is_better: bool
    alpha: float
    means: dict[str, float]
    counts: dict[str, int]
    own: dict[str, Comparison]
    versus_base: dict[str, Comparison]
    within_bundle: dict[str, Comparison]  # full bundle against the bundle without the change
    main: dict[str, Effect]
    interactions: dict[str, Effect]
    findings: tuple[Finding, ...]
    undecided: tuple[str, ...]
    values: dict[str, list[float]]  # cell -> its seeds' values


def analyze_ablation(
    plan: AblationPlan,
    values: Mapping[str, Sequence[float]],
    *,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    min_effect: float = 0.0,
    metric: str | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> AblationAnalysis:
    """Judge one metric, ``values`` holding its seed values per cell name of ``plan``.
    Raises ``ValueError`` on a missing, unknown or empty cell, or values that are not
    finite numbers."""
    runs = _runs(plan, values)
    opts: dict[str, Any] = {"higher_is_better": higher_is_better, "alpha": alpha}
    opts.update(min_effect=min_effect, n_resamples=n_resamples, seed=seed)
    vs_base = {c: compare(runs[BASE], runs[c], **opts) for c in runs if c != BASE}
    names = list(plan.changes)
    full = "+".join(names)
    within = {}
    for x in names if len(names) > 1 else []:
        rest = "+".join(n for n in names if n != x)
        if rest in runs:
            within[x] = compare(runs[rest], runs[full], **opts)
    design = [c for c in plan.cells if c.in_design]
    aliases = plan.alias_of or {}
    opts.update(runs=runs, aliases=aliases)
    del opts["n_resamples"], opts["seed"]
    main = {x: _effect(x, {c.name: (x in c.on) * 2 - 1 for c in design}, **opts) for x in names}
    term = term_namer(names)
    interactions = {}
    for i, j in itertools.combinations(range(len(names)), 2):
        a, b, t = names[i], names[j], term(1 << i | 1 << j)
        w = {c.name: 2 * ((a in c.on) == (b in c.on)) - 1 for c in design}
        interactions[t] = _effect(t, w, interaction=True, **opts)
    own = {x: vs_base[x] for x in names}
    findings, undecided = _masking(plan, own, vs_base, within, alpha)
    return AblationAnalysis(
        plan, metric, higher_is_better, alpha,
        {c: float(v.mean()) for c, v in runs.items()}, {c: len(v) for c, v in runs.items()},
        own, vs_base, within, main, interactions, tuple(findings), tuple(undecided),
        {c: [float(x) for x in v] for c, v in runs.items()},
    )  # fmt: skip


def _runs(plan: AblationPlan, values: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    wanted = [c.name for c in plan.cells]
    missing, unknown = set(wanted) - set(values), set(values) - set(wanted)
    if missing or unknown:
        raise ValueError(
            f"values per cell of the plan: missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    runs = {}
    for c in wanted:
        v = values[c]
        if isinstance(v, str | bytes) or any(isinstance(x, bool) for x in v):
            raise ValueError(f"cell {c}: values are numbers, one per seed, not {v!r}")
        arr = np.asarray(list(v), dtype=float)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"cell {c} has no values (did every seed fail?)")
        if not np.isfinite(arr).all():
            raise ValueError(f"cell {c} holds NaN or infinite values")
        runs[c] = arr
    return runs


def _effect(
    name: str,
    signs: dict[str, int],
    *,
    runs: dict[str, np.ndarray],
    aliases: Mapping[str, tuple[str, ...]],
    higher_is_better: bool,
    alpha: float,
    min_effect: float,
    interaction: bool = False,
) -> Effect:
    """The contrast of ``signs`` (+1/-1 per design cell) scaled to an effect: on minus off
    for a main effect (over half the cells each), twice the textbook 2^k interaction for an
    interaction (so that it is A+B - A - B + base), with a Welch-Satterthwaite t interval."""
    w = {c: sign / (len(signs) / (4 if interaction else 2)) for c, sign in signs.items()}
    est = float(sum(wc * runs[c].mean() for c, wc in w.items()))
    n, alias = sum(len(runs[c]) for c in w), tuple(aliases.get(name, ()))
    if min(len(runs[c]) for c in w) < 2:
        why = "a cell has a single run: no seed spread to judge the effect against"
        return Effect(name, est, None, None, "inconclusive", why, n, alias)
    q = {c: wc**2 * float(runs[c].var(ddof=1)) / len(runs[c]) for c, wc in w.items()}
    se, dof = math.sqrt(sum(q.values())), float(sum(len(runs[c]) - 1 for c in w))
    if se > 0:
        dof = se**4 / sum(qc**2 / (len(runs[c]) - 1) for c, qc in q.items() if qc > 0)
    p = min(1.0, 2.0 * _upper(abs(est), se, dof))
    half = float(stdtrit(dof, 1.0 - alpha / 2.0)) * se
    ci = (est - half, est + half)
    text = f"{est:+.3g} [{ci[0]:.3g}, {ci[1]:.3g}] over {len(w)} cells, p = {p:.3g}"
    # TOST for no_difference: above -min_effect and below +min_effect, each at alpha
    p_eq = max(_upper(est + min_effect, se, dof), _upper(min_effect - est, se, dof))
    if p < alpha:
        words = ("synergy", "interference") if interaction else ("improved", "regressed")
        verdict = words[0] if (est > 0) == higher_is_better else words[1]
    elif min_effect > 0 and p_eq < alpha:
        verdict, text = "no_difference", f"{text}; within ±{min_effect:g}"
    else:
        verdict = "inconclusive"
    return Effect(name, est, ci, p, verdict, text, n, alias)


def _upper(x: float, se: float, dof: float) -> float:
    """P(T > x / se) for a t with ``dof`` degrees of freedom; a zero ``se`` is the limit:
    certain either way, 0.5 for 0/0 (no evidence)."""
    if se == 0:
        return 0.5 if x == 0 else float(x < 0)
    return float(stdtr(dof, -x / se))


def _masking(
    plan: AblationPlan,
    own: dict[str, Comparison],
    vs_base: dict[str, Comparison],
    within: dict[str, Comparison],
    alpha: float,
) -> tuple[list[Finding], list[str]]:
    kept = _holm_kept(own, alpha)
    kept_within = _holm_kept(within, alpha)
    findings, undecided = [], []
    k = len(own)
    for x, o in own.items():
        bundles = [c for c in reversed(plan.cells) if x in c.on and len(c.on) > 1]
        better = [c for c in bundles if vs_base[c.name].verdict == "improved"]
        open_ = [c.name for c in bundles if vs_base[c.name].p_value is None]
        if o.p_value is None and (better or open_):
            undecided.append(f"{x} alone cannot be judged against {BASE}: {o.reason}")
        elif o.verdict == "regressed" and better and not kept[x]:
            undecided.append(
                f"{x} hurts on its own (p = {o.p_value:.3g}) but not after Holm correction "
                f"over {k} changes, while {better[0].name} improves"
            )
        elif o.verdict == "regressed" and better:
            bundle = better[0]
            others = [y for y in bundle.on if y != x]
            helpers = [y for y in others if own[y].verdict == "improved"]
            if helpers:
                why = f"because {' and '.join(helpers)} help{'s' * (len(helpers) == 1)} more ("
                why += "; ".join(f"{y} {_diff(own[y])} on its own" for y in helpers) + ")"
            else:
                why = f"through its combination with {' and '.join(others)}"
            message = (
                f"{x} hurts on its own ({_diff(o)}) but {bundle.name} improves "
                f"({_diff(vs_base[bundle.name])}) {why}"
            )
            findings.append(
                Finding(x, "masked_regression", message, bundle.name, tuple(helpers or others))
            )
        elif o.verdict == "regressed" and open_:
            undecided.append(f"{x} hurts on its own but whether {open_[0]} improves is undecided")
        w = within.get(x)
        if w is not None and w.p_value is None:
            undecided.append(f"whether {x} hurts within the bundle cannot be judged: {w.reason}")
        elif w is not None and w.verdict == "regressed":
            full, rest = plan.cells[-1].name, "+".join(y for y in own if y != x)
            message = (
                f"{x} hurts within the bundle: {full} is worse than {rest} ({_diff(w)}), so "
                f"removing {x} would improve it"
            )
            if kept_within[x]:
                findings.append(Finding(x, "hurts_in_bundle", message, full))
            else:
                undecided.append(f"{message}, but not after Holm correction over {len(within)}")
    return findings, undecided


def _holm_kept(comps: dict[str, Comparison], alpha: float) -> dict[str, bool]:
    if not comps:
        return {}
    ps = [1.0 if c.p_value is None else c.p_value for c in comps.values()]
    return dict(zip(comps, holm(ps, alpha), strict=True))


def _diff(c: Comparison | Effect) -> str:
    value = c.difference if isinstance(c, Comparison) else c.estimate
    return f"{value:+.3g}" + ("" if c.ci is None else f" [{c.ci[0]:.3g}, {c.ci[1]:.3g}]")


def ablation_results(analysis: AblationAnalysis) -> list[CheckResult]:
    """``exp.ablation`` (informative: passes once computed, the table of effects is the
    point) and ``exp.masked_regression`` (fails on a finding, inconclusive when a cell that
    decides cannot be judged, passes otherwise)."""
    a, plan = analysis, analysis.plan
    level = 1.0 - a.alpha
    rows = []
    for x, o in a.own.items():
        m = a.main[x]
        row = {"change": x, "own_effect": o.difference, "own_ci": _ci(o.ci), "own": o.verdict}
        row.update(main_effect=m.estimate, main_ci=_ci(m.ci), main=m.verdict)
        rows.append({**row, "aliases": ", ".join(m.aliases)})
    rows += [
        {"interaction": e.name, "estimate": e.estimate, "ci": _ci(e.ci), "verdict": e.verdict,
         "aliases": ", ".join(e.aliases)}
        for e in a.interactions.values()
    ]  # fmt: skip
    # The cells as the interaction plot draws them (report/ablation_svg.py).
    cells = [
        {"cell": c.name, "changes": list(c.on), "group": c.group, "args": shlex.join(c.args),
         "n": a.counts[c.name], "mean": a.means[c.name], "ci": _mean_ci(a.values[c.name], level),
         "values": a.values[c.name], "in_design": c.in_design, "metric": a.metric or "metric",
         "higher_is_better": a.higher_is_better}
        for c in plan.cells
    ]  # fmt: skip
    label = f"{a.metric}: " if a.metric else ""
    parts = [f"{x} {_diff(o)} on its own" for x, o in list(a.own.items())[:6]]
    parts += [f"{e.name} interaction {_diff(e)}" for e in list(a.interactions.values())[:3]]
    if len(a.own) > 6 or len(a.interactions) > 3:
        parts.append("the rest in the table")
    n = sum(a.counts.values())
    details = {"plan": plan.to_dict(), "undecided": list(a.undecided)}
    ablation = CheckResult(
        ABLATION,
        Status.PASS,
        f"{label}{plan.describe()}. {'; '.join(parts)}",
        evidence=[
            Evidence("table", rows, len(rows), f"effects against {BASE} at level {level:g}"),
            Evidence("ablation_cells", cells, len(cells), "the cells (seed groups), their means"),
        ],
        details={**details, "aliases": list(plan.aliases)},
        subject=a.metric,
        n=n,
    )
    items = [{"change": f.change, "kind": f.kind, "bundle": f.cell, "finding": f.message}
             for f in a.findings]  # fmt: skip
    if a.findings:
        status, summary = Status.FAIL, "; ".join(f.message for f in a.findings)
    elif a.undecided:
        status, summary = Status.INCONCLUSIVE, "undecided: " + "; ".join(a.undecided)
    else:
        status = Status.PASS
        summary = "no change hurts on its own while a bundle containing it improves ("
        summary += "; ".join(f"{x} {_diff(o)} alone: {o.verdict}" for x, o in a.own.items()) + ")"
    first = a.findings[0] if a.findings else None
    interval = None
    if first is not None and first.kind == "masked_regression":
        ci = a.own[first.change].ci
        interval = None if ci is None else Interval(min(ci), max(ci), level)
    masked = CheckResult(
        MASKED,
        status,
        f"{label}{summary}",
        value=float(len(a.findings)),
        evidence=[Evidence("table", items, len(items), "masked regressions")] if items else [],
        details={**details, "findings": [asdict(f) for f in a.findings]},
        subject=a.metric,
        n=n,
        interval=interval,
    )
    return [ablation, masked]


def _mean_ci(values: list[float], level: float) -> list[float] | None:
    """A cell mean's t interval (None below two seeds)."""
    n = len(values)
    if n < 2:
        return None
    v = np.asarray(values, dtype=float)
    half = float(stdtrit(n - 1, 0.5 + level / 2.0) * v.std(ddof=1) / math.sqrt(n))
    return [float(v.mean()) - half, float(v.mean()) + half]


def _ci(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [float(min(ci)), float(max(ci))]


__all__ = [
    "ABLATION",
    "BASE",
    "MASKED",
    "AblationAnalysis",
    "AblationCell",
    "AblationPlan",
    "Effect",
    "Finding",
    "ablation_results",
    "analyze_ablation",
    "plan_ablation",
]

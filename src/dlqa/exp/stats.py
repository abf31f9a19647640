"""Did a candidate beat its baseline, given one metric value per training seed of each?

One run each says nothing: two seeds of the *same* model differ, so "the candidate scored
higher" is a coin flip under no real change. :func:`compare` decides with **Welch's t-test**
(no equal-variance assumption: a change often changes the seed spread too), which keeps the
false claims ("improved" or "regressed" when nothing changed) at or under ``alpha`` for 3 to
20 seeds, normal or heavy-tailed seed noise (``benchmarks/verdict_calibration.py``).

Verdicts: ``improved`` / ``regressed`` when the test is significant (the sign of candidate
minus baseline, read through ``higher_is_better``); ``no_difference`` only when
``min_effect > 0`` and two one-sided tests (TOST, Welch-based) show the difference lies
within ``±min_effect``: "not significant" alone is ``inconclusive``, never "no difference".

``alternative`` is about the raw difference candidate minus baseline, as in scipy:
``"greater"`` asks whether the candidate's mean is higher (for a loss, pass ``"less"`` to
ask whether it improved). ``difference``, ``ci`` and ``effect_size`` are raw too;
``prob_improvement`` alone is read in the improvement direction.

Constant groups (every seed gave the same value, e.g. a deterministic run): the variance is
taken as exactly 0. One constant group leaves Welch defined (the other carries the noise).
Both constant and equal: p = 1, so ``inconclusive``, or ``no_difference`` with
``min_effect > 0``. Both constant and different: the limit of Welch's t (infinite), so
p = 0 and the difference decides, as the runs show no seed noise at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from numbers import Real
from typing import Any, Literal

import numpy as np
from scipy.special import stdtr

from dlqa.core.intervals import z_of

Verdict = Literal["improved", "regressed", "no_difference", "inconclusive"]
Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")
POWER = 0.8  # seeds_needed: the chance of deciding a true difference of the target size
MAX_SEEDS = 100_000  # beyond this no seed count is practical: seeds_needed says None
SINGLE_RUN = "a single run per group cannot separate a change from seed noise"


@dataclass(frozen=True)
class Comparison:
    """The verdict on one metric and the numbers behind it.

    ``ci``: studentised bootstrap (bootstrap-t) interval of candidate minus baseline at level
    ``1 - alpha`` (each group resampled on its own, seeded). It describes, the t-test decides;
    with 3 seeds it is wide, as it should be.
    ``prob_improvement``: the chance that one random candidate seed beats one random
    baseline seed in the improvement direction, ties counted half (the common-language
    effect size, "probability of improvement" of Agarwal et al. 2021). 0.5 is no change.
    ``effect_size``: Hedges' g (difference over the pooled sd, small-sample corrected).
    ``seeds_needed``: seeds per arm for an 80 % chance to decide a true difference of
    ``min_effect`` (or of the observed difference when ``min_effect`` is 0) at the observed
    spread; None once decided, and when no practical count would decide (``reason`` says).
    ``p_equivalence``: the TOST p-value, None without ``min_effect``.
    Single-run groups leave ``p_value``, ``ci``, ``effect_size``, ``seeds_needed`` None.
    """

    verdict: Verdict
    reason: str
    mean_baseline: float
    mean_candidate: float
    difference: float
    prob_improvement: float
    n_baseline: int
    n_candidate: int
    alpha: float
    alternative: Alternative
    higher_is_better: bool
    min_effect: float
    p_value: float | None = None
    ci: tuple[float, float] | None = None
    effect_size: float | None = None
    seeds_needed: int | None = None
    p_equivalence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``ci`` as a list or None; nothing is NaN)."""
        data = asdict(self)
        data["ci"] = list(self.ci) if self.ci is not None else None
        return data


def compare(
    baseline: Iterable[float],
    candidate: Iterable[float],
    *,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    min_effect: float = 0.0,
    alternative: Alternative = "two-sided",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Compare a metric over seeds of ``baseline`` and ``candidate`` (one value per run).

    The verdict does not depend on the bootstrap: ``n_resamples`` only sets the precision
    of ``ci`` (0 skips it, ``ci`` None). Raises ``ValueError`` on an empty group, NaN or
    infinite values, non-numbers, or the same object passed as both groups (a mistake that
    would otherwise read as a perfect tie); equal values in two objects are fine.
    """
    if baseline is candidate:
        raise ValueError("baseline and candidate are the same object: pass two groups of runs")
    _check_options(higher_is_better, alpha, min_effect, alternative, n_resamples)
    b, c = _as_runs(baseline, "baseline"), _as_runs(candidate, "candidate")
    nb, nc = len(b), len(c)
    diff = float(c.mean() - b.mean())
    fixed: dict[str, Any] = {
        "mean_baseline": float(b.mean()),
        "mean_candidate": float(c.mean()),
        "difference": diff,
        "prob_improvement": _prob_improvement(b, c, higher_is_better),
        "n_baseline": nb,
        "n_candidate": nc,
        "alpha": float(alpha),
        "alternative": alternative,
        "higher_is_better": bool(higher_is_better),
        "min_effect": float(min_effect),
    }
    counts = _counts(nb, nc)
    if min(nb, nc) < 2:
        return Comparison(verdict="inconclusive", reason=f"{counts}: {SINGLE_RUN}", **fixed)
    vb, vc = _variance(b), _variance(c)
    se, df = _welch_se_df(vb, nb, vc, nc)
    p = _p_value(_t(diff, se), df, alternative)
    p_eq = None
    if min_effect > 0:  # TOST: H0 diff <= -min_effect, and H0 diff >= +min_effect
        p_low = _p_value(_t(diff + min_effect, se), df, "greater")
        p_high = _p_value(_t(diff - min_effect, se), df, "less")
        p_eq = max(p_low, p_high)
    sd = _pooled_sd(vb, nb, vc, nc)
    g = None if sd == 0 else diff / sd * (1.0 - 3.0 / (4.0 * (nb + nc) - 9.0))
    ci = _bootstrap_ci(b, c, 1.0 - alpha, n_resamples, seed) if n_resamples else None
    needed = None
    if p < alpha:
        verdict: Verdict = "improved" if (diff > 0) == higher_is_better else "regressed"
        how = "better" if verdict == "improved" else "worse"
        if se == 0:
            reason = (
                f"{counts}: every seed gave the same value in each group, so the candidate "
                f"is {how} by exactly {abs(diff):.3g} (no seed noise)"
            )
        else:
            reason = f"{counts}: candidate {how} by {abs(diff):.3g} (p = {p:.3g} < {alpha:g})"
    elif p_eq is not None and p_eq < alpha:
        verdict = "no_difference"
        reason = (
            f"{counts}: p = {p:.3g} >= {alpha:g} and the difference {diff:.3g} lies within "
            f"±{min_effect:g} (equivalence p = {p_eq:.3g} < {alpha:g})"
        )
    else:
        verdict = "inconclusive"
        reason = f"{counts}: p = {p:.3g} >= {alpha:g}"
        if p_eq is not None:
            reason += f" and equivalence within ±{min_effect:g} is not shown (p = {p_eq:.3g})"
        needed, why = _seeds_clause(sd, diff, min_effect, alpha, alternative)
        reason += why
    fixed.update(p_value=p, ci=ci, effect_size=g, seeds_needed=needed, p_equivalence=p_eq)
    return Comparison(verdict=verdict, reason=reason, **fixed)


def holm(p_values: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Holm's step-down correction: which hypotheses to reject, keeping the chance of any
    false rejection among them at or under ``alpha`` (uniformly more powerful than
    Bonferroni, and valid under any dependence between the tests, as metrics of the same
    runs have). The smallest p is tested at ``alpha / m``, the next at ``alpha / (m - 1)``,
    and so on until one fails; it and all larger p-values are kept."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha lies in (0, 1), not {alpha!r}")
    ps = [float(p) for p in p_values]
    if any(not 0.0 <= p <= 1.0 for p in ps):  # NaN fails too
        raise ValueError(f"p-values lie in [0, 1], got {ps}")
    m = len(ps)
    reject = [False] * m
    for rank, i in enumerate(sorted(range(m), key=ps.__getitem__)):
        if ps[i] > alpha / (m - rank):
            break
        reject[i] = True
    return reject


def compare_metrics(
    baseline: Mapping[str, Iterable[float]],
    candidate: Mapping[str, Iterable[float]],
    *,
    higher_is_better: Mapping[str, bool] | bool = True,
    alpha: float = 0.05,
    min_effect: Mapping[str, float] | float = 0.0,
    alternative: Mapping[str, Alternative] | Alternative = "two-sided",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> dict[str, Comparison]:
    """:func:`compare` each metric, then Holm-correct the improved/regressed verdicts over
    all the metrics (testing ten metrics at 0.05 each would find a false change 40 % of the
    time). A metric significant alone but not after Holm becomes ``inconclusive``; a
    single-run metric counts as p = 1. ``no_difference`` verdicts are left as they are.
    The per-metric options take a mapping by metric name or one value for all."""
    missing = sorted(set(baseline) ^ set(candidate))
    if missing:
        raise ValueError(f"metrics on one side only (need both): {missing}")
    names = list(baseline)
    if not names:
        raise ValueError("no metrics to compare")

    def pick(option: Any, name: str) -> Any:
        if not isinstance(option, Mapping):
            return option
        if name not in option:
            raise ValueError(f"no value given for metric {name!r} in {sorted(option)}")
        return option[name]

    runs: dict[str, tuple[np.ndarray, ...]] = {}
    sides = (("baseline", baseline), ("candidate", candidate))
    for name in names:  # once, so that an iterator is read once
        if baseline[name] is candidate[name]:
            raise ValueError(f"metric {name!r}: baseline and candidate are the same object")
        runs[name] = tuple(_as_runs(g[name], f"{role} {name!r}") for role, g in sides)
    results: dict[str, Comparison] = {}
    options = {"higher_is_better": higher_is_better, "min_effect": min_effect}
    options.update(alternative=alternative, n_resamples=n_resamples, seed=seed)
    for name, (b, c) in runs.items():
        try:
            chosen = {key: pick(value, name) for key, value in options.items()}
            results[name] = compare(b, c, alpha=alpha, **chosen)
        except ValueError as exc:
            raise ValueError(f"metric {name!r}: {exc}") from exc
    k = len(names)
    keep = holm([1.0 if r.p_value is None else r.p_value for r in results.values()], alpha)
    for (name, r), kept in zip(list(results.items()), keep, strict=True):
        if r.verdict in ("improved", "regressed") and not kept:
            b, c = runs[name]
            sd = _pooled_sd(_variance(b), len(b), _variance(c), len(c))
            needed, why = _seeds_clause(
                sd, r.difference, r.min_effect, alpha / k, r.alternative, f" at {alpha:g}/{k}"
            )
            results[name] = replace(
                r,
                verdict="inconclusive",
                seeds_needed=needed,
                reason=f"{_counts(r.n_baseline, r.n_candidate)}: p = {r.p_value:.3g} < "
                f"{alpha:g} alone, but not after Holm correction over {k} metrics{why}",
            )
    return results


def _check_options(
    higher_is_better: Any, alpha: Any, min_effect: Any, alternative: Any, n_resamples: Any
) -> None:
    if not isinstance(higher_is_better, bool | np.bool_):
        raise ValueError(f"higher_is_better is True or False, not {higher_is_better!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha lies in (0, 0.5), not {alpha!r}")
    if isinstance(min_effect, bool) or not isinstance(min_effect, Real):
        raise ValueError(f"min_effect is a number >= 0, not {min_effect!r}")
    if not 0.0 <= min_effect < math.inf:
        raise ValueError(f"min_effect is a finite number >= 0, not {min_effect!r}")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative is one of {ALTERNATIVES}, not {alternative!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 0:
        raise ValueError(f"n_resamples is a count >= 0, not {n_resamples!r}")


def _as_runs(values: Any, name: str) -> np.ndarray:
    """The runs as a 1-D float array; ``ValueError`` naming what is wrong otherwise."""
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise ValueError(f"{name} is a sequence of numbers (one per run), not {values!r}")
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ValueError(f"{name} is a 1-D sequence of numbers, got shape {values.shape}")
    items = list(values)
    if not items:
        raise ValueError(f"{name} is empty: give at least one run's value")
    bad = [v for v in items if isinstance(v, bool | np.bool_) or not isinstance(v, Real)]
    if bad:
        raise ValueError(f"{name} holds values that are not numbers: {bad[:5]!r}")
    runs = np.asarray(items, dtype=float)
    nonfinite = np.flatnonzero(~np.isfinite(runs))
    if nonfinite.size:
        raise ValueError(f"{name} holds NaN or infinite values at positions {nonfinite.tolist()}")
    return runs


def _variance(x: np.ndarray) -> float:
    """The sample variance, exactly 0 for equal values (a mean's rounding would not be)."""
    return 0.0 if np.ptp(x) == 0 else float(x.var(ddof=1))


def _pooled_sd(vb: float, nb: int, vc: float, nc: int) -> float:
    return math.sqrt(((nb - 1) * vb + (nc - 1) * vc) / (nb + nc - 2))


def _welch_se_df(vb: float, nb: int, vc: float, nc: int) -> tuple[float, float]:
    """The standard error of the difference of means and the Welch-Satterthwaite degrees of
    freedom (``nb + nc - 2`` when both variances are 0 and the df is moot)."""
    qb, qc = vb / nb, vc / nc
    if qb + qc == 0:
        return 0.0, float(nb + nc - 2)
    rb, rc = qb / max(qb, qc), qc / max(qb, qc)  # scaled: tiny variances must not underflow
    return math.sqrt(qb + qc), (rb + rc) ** 2 / (rb**2 / (nb - 1) + rc**2 / (nc - 1))


def _t(numerator: float, se: float) -> float:
    """``numerator / se``, with a zero ``se`` read as its limit: 0/0 no evidence, else ±inf."""
    if se > 0:
        return numerator / se
    return 0.0 if numerator == 0 else math.copysign(math.inf, numerator)


def _p_value(t: float, df: float, alternative: str) -> float:
    if alternative == "greater":
        return float(stdtr(df, -t))
    if alternative == "less":
        return float(stdtr(df, t))
    return float(min(1.0, 2.0 * stdtr(df, -abs(t))))


def _prob_improvement(b: np.ndarray, c: np.ndarray, higher_is_better: bool) -> float:
    wins = (c[:, None] > b[None, :]).mean() + 0.5 * (c[:, None] == b[None, :]).mean()
    return float(wins if higher_is_better else 1.0 - wins)


def _bootstrap_ci(
    b: np.ndarray, c: np.ndarray, level: float, n_resamples: int, seed: int
) -> tuple[float, float]:
    """Studentised (bootstrap-t) interval of the difference of means, each group resampled
    on its own: the resampled differences are divided by their own Welch standard error, so
    the interval widens with few seeds as the t distribution does. (A percentile interval
    knows only the few observed values: with 3 seeds a nominal 95 % one covered the true
    difference about 80 % of the time in benchmarks/verdict_calibration.py; this one about
    95 %.) Resamples whose groups are both constant (no standard error) are left out; when
    every one is, the groups are constant and the interval is the difference itself."""
    rng = np.random.default_rng(seed)
    difference = float(c.mean() - b.mean())
    se = math.sqrt(_variance(b) / len(b) + _variance(c) / len(c))
    if se == 0.0:
        return difference, difference
    t_values = []
    chunk = max(1, 2_000_000 // (len(b) + len(c)))
    for start in range(0, n_resamples, chunk):
        rows = min(chunk, n_resamples - start)
        rb = b[rng.integers(0, len(b), (rows, len(b)))]
        rc = c[rng.integers(0, len(c), (rows, len(c)))]
        diffs = rc.mean(axis=1) - rb.mean(axis=1)
        ses = np.sqrt(rb.var(axis=1, ddof=1) / len(b) + rc.var(axis=1, ddof=1) / len(c))
        usable = ses > 0
        t_values.append((diffs[usable] - difference) / ses[usable])
    t = np.concatenate(t_values)
    if t.size == 0:
        return difference, difference
    low_t, high_t = np.quantile(t, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return difference - float(high_t) * se, difference - float(low_t) * se


def seeds_for_power(
    sd: float, delta: float, alpha: float = 0.05, alternative: str = "two-sided"
) -> int | None:
    """Seeds per arm for an 80 % chance that the t-test decides a true difference ``delta``
    at seed spread ``sd``: the normal formula plus Guenther's ``z²/4`` correction for the t
    distribution (within a seed of the exact noncentral-t answer). None when ``sd`` or
    ``delta`` is 0 or the answer exceeds ``MAX_SEEDS``."""
    if sd <= 0 or delta == 0:
        return None
    z_alpha = z_of(1.0 - alpha) if alternative == "two-sided" else z_of(1.0 - 2.0 * alpha)
    z_power = z_of(2.0 * POWER - 1.0)
    n = 2.0 * ((z_alpha + z_power) * sd / abs(delta)) ** 2 + z_alpha**2 / 4.0
    return max(2, math.ceil(n)) if n <= MAX_SEEDS else None


def _seeds_clause(
    sd: float, diff: float, min_effect: float, alpha: float, alternative: str, at: str = ""
) -> tuple[int | None, str]:
    """``seeds_needed`` and the clause of ``reason`` that explains it."""
    target = min_effect if min_effect > 0 else abs(diff)
    wrong_way = (alternative == "greater" and diff <= 0) or (alternative == "less" and diff >= 0)
    if min_effect == 0 and wrong_way:
        return None, f"; the difference points away from the alternative {alternative!r}"
    if sd == 0:
        hint = " (give min_effect > 0 to test equivalence)" if min_effect == 0 else ""
        return None, f"; every seed gave the same value, more would show nothing new{hint}"
    needed = seeds_for_power(sd, target, alpha, alternative)
    if needed is None:
        return None, (
            f"; the difference {diff:.3g} is too small against the seed spread {sd:.3g} for "
            "any practical number of seeds (give min_effect to test equivalence instead)"
        )
    return needed, f"; about {needed} seeds per arm would decide a difference of {target:.3g}{at}"


def _counts(nb: int, nc: int) -> str:
    if nb == nc:
        return f"{nb} seed{'s' if nb > 1 else ''} each"
    return f"{nb} baseline, {nc} candidate seeds"


__all__ = ["Comparison", "compare", "compare_metrics", "holm", "seeds_for_power"]

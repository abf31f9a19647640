"""Drift statistics between a reference dataset and a current one, on plain numpy arrays.

Three questions, each answered by an effect size with its noise (the checks in
``dlqa.data.checks.drift`` turn them into verdicts with :func:`judge`):

* class priors: Jensen-Shannon divergence of the class shares (bits), with a chi-square test
  of homogeneity for significance, and per-class share ratios;
* per property: Wasserstein-1 distance between the two distributions in units of the
  reference's robust spread, and the population stability index (PSI) over reference-decile
  bins;
* jointly: the cross-validated AUC of a classifier that tells reference rows from current ones.

Why effect sizes rather than p-values: on 200,000 rows a p-value calls a 0.01-sigma difference
"significant". Why not fixed limits on plug-in statistics: on 200 rows they trip on noise alone
(the PSI of two random halves of 100 samples is ~0.2 on average). So each effect is corrected
by its mean when nothing drifted (permutations of the pooled data, or draws from the pooled
class shares) and carries a 95 % interval, and :func:`judge` calls a drift only when the whole
interval is beyond the limit *and* the statistic is beyond the no-drift noise at a level the
check divides among the comparisons it makes. The per-property statistics are in
``dlqa.data.drift_properties``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Judgement = Literal["drift", "stable", "undecided"]

LEVEL = 0.95
_Z = 1.959964  # two-sided 95 %
# Resamples (and permutations) per statistic: enough for a null's mean and spread and a 95 %
# interval's ends; they are most of a property's cost (~20 ms at 2,000 values a side).
BOOTSTRAP = 200


def rng_of(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def corrected_interval(
    estimate: float, null: np.ndarray, resampled: np.ndarray
) -> tuple[float, float, float]:
    """(bias-corrected estimate, low, high), clipped at 0 (every statistic here is a
    distance). Plug-in distances are biased upwards by noise: two random halves are never at
    distance 0. The correction subtracts the statistic's mean under no drift (``null``: from
    permutations); the 95 % interval around it takes its spread from the bootstrap
    (``resampled``), or from the null where that is wider (a bootstrap of rare values
    underestimates the spread)."""
    centre = float(np.mean(null))
    effect = max(0.0, estimate - centre)
    low_q, high_q = np.quantile(resampled, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    null_low, null_high = np.quantile(null, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    below = max(float(np.mean(resampled) - low_q), centre - float(null_low))
    above = max(float(high_q - np.mean(resampled)), float(null_high) - centre)
    return effect, max(0.0, effect - above), effect + below


def judge(
    effect: float, low: float, limit: float, p_value: float, alpha: float, suggestive: float
) -> Judgement:
    """Drift when the whole interval lies beyond ``limit`` and the statistic is beyond what no
    drift gives (p < ``alpha``; the interval alone is a bootstrap's, optimistic on a few rare
    values). Undecided when the bias-corrected estimate is beyond the limit and the data are
    at least ``suggestive`` of a change, without that certainty. Stable otherwise.

    "Stable" does not wait for the whole interval to clear the limit: on a few hundred samples
    a 20-property comparison would then be undecided nearly always although nothing points
    at a shift. The interval's upper end, reported with it, says how large a shift the sample
    could still hide. The caller divides both levels by the number of comparisons.
    """
    if low > limit and p_value < alpha:
        return "drift"
    if effect > limit and p_value < suggestive:
        return "undecided"
    return "stable"


def wilson_interval(k: int, n: int) -> tuple[float, float]:
    """The 95 % Wilson interval of a proportion k / n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + _Z**2 / (2 * n)) / (1 + _Z**2 / n)
    half = _Z * math.sqrt(p * (1 - p) / n + _Z**2 / (4 * n * n)) / (1 + _Z**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# ---------------------------------------------------------------------------- class priors


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence in bits (0: same, 1: disjoint) of the rows of two arrays of
    distributions (or of two distributions)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0)
    return np.maximum(0.0, (kl_p.sum(axis=-1) + kl_q.sum(axis=-1)) / 2)


@dataclass(frozen=True)
class PriorShift:
    labels: list[str]
    reference_counts: np.ndarray
    current_counts: np.ndarray
    js: float  # plug-in JS divergence of the class shares, bits
    effect: float  # bias-corrected
    interval: tuple[float, float]
    chi2: float
    dof: int
    p_value: float  # chi-square test of homogeneity
    # per class: log of the share ratio current / reference (counts + 0.5), its standard
    # error, and the p-value of a two-proportion z-test
    log_ratio: np.ndarray
    log_ratio_se: np.ndarray
    class_p: np.ndarray

    @property
    def n_reference(self) -> int:
        return int(self.reference_counts.sum())

    @property
    def n_current(self) -> int:
        return int(self.current_counts.sum())

    def shifted_classes(self, max_ratio: float, alpha: float) -> np.ndarray:
        """Indices of the classes whose share moved by a factor beyond ``max_ratio`` (either
        way): the 95 % interval of |log ratio| (Bonferroni over the classes) beyond
        log(max_ratio), and the class's own test significant at ``alpha`` / classes. The
        first is the effect size, the second keeps a class of 3 samples from tripping it."""
        k = max(1, int(((self.reference_counts + self.current_counts) > 0).sum()))
        from scipy.stats import norm

        z = float(norm.isf((1 - LEVEL) / (2 * k)))
        low = np.abs(self.log_ratio) - z * self.log_ratio_se
        return np.flatnonzero((low > math.log(max_ratio)) & (self.class_p < alpha / k))


def prior_shift(
    labels: Sequence[str],
    reference_counts: np.ndarray,
    current_counts: np.ndarray,
    *,
    seed: int | np.random.Generator = 0,
) -> PriorShift:
    """Compare class counts (aligned with ``labels``): the JS divergence less its mean when
    both sides are drawn from the pooled shares, with an interval from multinomial resamples
    of both sides; a chi-square test; per-class share ratios."""
    from scipy import stats

    a = np.asarray(reference_counts, dtype=np.int64)
    b = np.asarray(current_counts, dtype=np.int64)
    n, m = int(a.sum()), int(b.sum())
    if n == 0 or m == 0:
        raise ValueError("prior_shift needs labelled samples on both sides")
    p, q = a / n, b / m
    js = float(js_divergence(p, q))
    rng = rng_of(seed)
    resampled = js_divergence(
        rng.multinomial(n, p, size=BOOTSTRAP) / n, rng.multinomial(m, q, size=BOOTSTRAP) / m
    )
    pooled_shares = (a + b) / (n + m)
    null = js_divergence(
        rng.multinomial(n, pooled_shares, size=BOOTSTRAP) / n,
        rng.multinomial(m, pooled_shares, size=BOOTSTRAP) / m,
    )
    effect, low, high = corrected_interval(js, null, resampled)
    present = (a + b) > 0
    if present.sum() >= 2:
        chi2, p_value, dof, _ = stats.chi2_contingency(np.stack([a[present], b[present]]))
    else:
        chi2, p_value, dof = 0.0, 1.0, 0
    k = len(a)
    # +0.5 per cell: a class absent on one side still has a finite ratio and error
    sa, sb = (a + 0.5) / (n + 0.5 * k), (b + 0.5) / (m + 0.5 * k)
    log_ratio = np.log(sb / sa)
    log_ratio_se = np.sqrt((1 - sa) / (sa * (n + 0.5 * k)) + (1 - sb) / (sb * (m + 0.5 * k)))
    pooled = (a + b) / (n + m)
    se = np.sqrt(np.maximum(pooled * (1 - pooled), 1e-300) * (1 / n + 1 / m))
    class_p = 2 * stats.norm.sf(np.abs(q - p) / se)
    return PriorShift(
        list(labels), a, b, js, effect, (low, high), float(chi2), int(dof), float(p_value),
        log_ratio, log_ratio_se, class_p,
    )  # fmt: skip


# ---------------------------------------------------------------------------- domain classifier


@dataclass(frozen=True)
class DomainShift:
    auc: float  # out-of-fold ROC AUC of telling current (1) from reference (0)
    interval: tuple[float, float]  # Hanley-McNeil 95 %
    n_reference: int  # rows used (a random subsample of at most max_per_side)
    n_current: int
    univariate_auc: dict[str, float]  # per feature, max(AUC, 1 - AUC): what separates
    current_rows: np.ndarray  # rows of the current data that were scored
    current_scores: np.ndarray  # their out-of-fold probability of being "current"
    p_value: float  # of AUC this high from one distribution (Mann-Whitney, normal)


def hanley_mcneil(auc: float, n_pos: int, n_neg: int) -> tuple[float, float]:
    """The 95 % interval of an AUC from its standard error (Hanley and McNeil, 1982)."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / max(
        1, n_pos * n_neg
    )
    half = _Z * math.sqrt(max(var, 0.0))
    return max(0.0, auc - half), min(1.0, auc + half)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by ranks (ties share their mean rank)."""
    from scipy.stats import rankdata

    ranks = rankdata(score)
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def domain_classifier(
    reference: np.ndarray,
    current: np.ndarray,
    names: Sequence[str],
    *,
    max_per_side: int = 20_000,
    folds: int = 5,
    seed: int = 0,
) -> DomainShift:
    """How well a gradient-boosted classifier tells current rows from reference rows: the AUC
    of its out-of-fold scores on random subsamples of both sides (NaN allowed: the trees
    route missing values). Cross-validated, so an overfit model scores ~0.5, not 1."""
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    ref_rows = _subsample(len(reference), max_per_side, rng)
    cur_rows = _subsample(len(current), max_per_side, rng)
    x = np.vstack([reference[ref_rows], current[cur_rows]]).astype(np.float32)
    y = np.concatenate([np.zeros(len(ref_rows), np.int8), np.ones(len(cur_rows), np.int8)])
    folds = max(2, min(folds, len(ref_rows), len(cur_rows)))
    scores = np.zeros(len(y))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    # One OpenMP thread: the boosting's parallel loops spin-wait for each other, and on a
    # machine whose cores are busy elsewhere two threads took 12-65 s for what one thread
    # does in 0.9 s (2 x 20,000 rows, 20 properties, measured).
    with threadpool_limits(1, user_api="openmp"):
        _fit_folds(x, y, splitter, scores, seed)
    auc = _auc(y, scores)
    univariate = {}
    for column, name in enumerate(names):
        values = np.nan_to_num(x[:, column], nan=-np.inf)  # missing ranks lowest
        one = _auc(y, values)
        univariate[name] = max(one, 1 - one)
    is_current = y == 1
    return DomainShift(
        auc, hanley_mcneil(auc, len(cur_rows), len(ref_rows)), len(ref_rows), len(cur_rows),
        univariate, cur_rows, scores[is_current], _auc_p_value(auc, len(cur_rows), len(ref_rows)),
    )  # fmt: skip


def _fit_folds(x: np.ndarray, y: np.ndarray, splitter: Any, scores: np.ndarray, seed: int) -> None:
    """Out-of-fold P(current) of every row, into ``scores``."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    for train, test in splitter.split(x, y):
        # Small trees and few rounds: the question is whether the sides separate, not the best
        # classifier. On 2 x 20,000 rows of 20 properties with a mean, variance, correlation
        # or joint shift planted, 60 rounds of 15 leaves matched 200 rounds of 31 (AUC within
        # 0.02, higher where they differed: less overfit) in a third of the time.
        model = HistGradientBoostingClassifier(
            max_iter=60, max_leaf_nodes=15, learning_rate=0.1, early_stopping=False,
            random_state=seed,
        )  # fmt: skip
        model.fit(x[train], y[train])
        scores[test] = model.predict_proba(x[test])[:, 1]


def _subsample(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= cap else np.sort(rng.choice(n, cap, replace=False))


def _auc_p_value(auc: float, n_pos: int, n_neg: int) -> float:
    """P(AUC >= auc) when both sides are one distribution: the Mann-Whitney statistic's
    normal approximation (an AUC's standard error under no difference)."""
    from scipy.stats import norm

    se = math.sqrt((n_pos + n_neg + 1) / (12 * n_pos * n_neg))
    return float(norm.sf((auc - 0.5) / se))


def current_looking_reasons(
    rows: np.ndarray,
    reference: np.ndarray,
    names: Sequence[str],
    separating: Sequence[tuple[str, float]],
    top: int = 3,
) -> list[str]:
    """Why each of some current rows looks current: of the ``top`` most separating
    properties, the one where the row is furthest from the reference (in reference
    quantile: the share of reference values on the other side of it), with that share."""
    columns = [list(names).index(name) for name, _ in separating[:top]]
    sorted_ref = {c: np.sort(reference[:, c][np.isfinite(reference[:, c])]) for c in columns}
    reasons = []
    for row in rows:
        best, text = -1.0, ""
        for c in columns:
            values, value = sorted_ref[c], row[c]
            if not len(values) or not np.isfinite(value):
                continue
            share = np.searchsorted(values, value, "right") / len(values)
            extreme = max(share, 1 - share)
            if extreme > best:
                side = "above" if share >= 0.5 else "below"
                share_beyond = 1 - share if share >= 0.5 else share
                best = extreme
                text = (
                    f"{names[c]} {value:.4g}: {side} every reference value"
                    if share_beyond == 0
                    else f"{names[c]} {value:.4g}: {side} all but {100 * share_beyond:.1f}% of "
                    "the reference"
                )
        reasons.append(text)
    return reasons

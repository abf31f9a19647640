"""Classes that split into well-separated clusters in a model's embedding space (the 2-D map is
in :mod:`dlqa.evaluate.embeddings`).

A label that means two things ("jaguar" the cat and the car) shows up in penultimate-layer
embeddings as a class whose samples form separate clouds. ``split_classes`` must find them
and stay quiet on one blob *however elongated*: scores computed in the embedding space
(silhouette, gap, BIC) grow with elongation, as a cigar cut in half looks like two clusters.
So the decision is made on a 1-D projection, with statistics invariant to its scale:

1. PCA of the class (at most ``MAX_COMPONENTS`` axes, one per 10 samples). 2-means (each axis
   cut at 0, then seeded k-means++ starts) on the PCA scores, where far-apart clusters hold
   most of the variance, then on the whitened scores, where two long clusters side by side
   (their gap along a short axis) stand out. Either may split the class.
2. Cross-fitting: each of ``N_FOLDS`` folds is projected on the line between the centroids
   2-means finds *without* it. On a line fitted to the same points any blob looks bimodal;
   on one fitted without them a blob whose projections are unimodal (a Gaussian of any
   shape, a uniform box, a Student-t) gives a unimodal sample.
3. Hartigan's dip of that projection, on the cut's smaller side and as many of the larger
   side's nearest values (a fifth of 100 samples far away has a dip of at most 0.1, under
   the critical value; balanced, up to 0.25; a unimodal law truncated stays unimodal). Its
   critical value is the uniform's (the least favourable unimodal law), simulated.
4. Separation: the distance between the two sides' means in pooled within-side sds. Many
   samples let the dip see clusters that touch; a person wants them apart. A unimodal blob
   cut in two gives a fixed value under ``MIN_SEPARATION`` (Gaussian 2.65, uniform 3.46).
5. Agreement: the share of samples the held-out cuts put where the cut on all samples does.
   With no preferred cut (heavy tails: each fold's cut isolates other outliers) the folds'
   projections, each on its own line, can stack into false modes.

A class splits when the dip exceeds its critical value at ``DIP_LEVEL``, separation and
agreement reach ``MIN_SEPARATION`` and ``MIN_AGREEMENT``, and both clusters hold
``min_cluster_size`` samples (2-means is fitted on scores clipped at 5 sds, so a far outlier
is never a centroid). A split cluster is examined again, up to ``max_clusters``. Two Gaussian
clusters are found from about 5 sds apart (equal halves of 300 samples; 6-8 sds for 20/80);
at 4 sds (valley density a quarter of the peaks') now and then.

Curved blobs: a banana whose mass sits at its bend (a Gaussian bent along a parabola) is one
blob and does not split. A thin 270-degree arc with its mass spread evenly along it does: on
the chord between its ends it projects as two lumps with a gap (arcs up to 180 degrees rarely
split). Its clusters are then its two ends, which is what a gallery of them shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from dlqa.evaluate.dip import (
    DIP_LEVEL,
    MIN_P_VALUE,
    dip_critical_value,
    dip_p_value,
    dip_statistic,
)
from dlqa.evaluate.embeddings import check_embeddings, check_labels, one_blas_thread

# Chosen in benchmarks/eval_clusters.py: at 4.0 a digit class whose clusters differ only by
# slant and position starts to split, and recall on planted merges gains little.
MIN_SEPARATION = 4.5
MIN_AGREEMENT = 0.9
MAX_COMPONENTS = 10
N_FOLDS = 5
N_INIT = 5
_CLIP = 5.0
_MAX_ITER = 100


@dataclass(frozen=True, eq=False)
class ClassSplit:
    """One class as ``split_classes`` found it. ``clusters``: index arrays into the arrays
    given, largest first; two or more when ``split``, else the whole class. Of the first cut:
    ``separation`` (between-side distance in within-side sds), ``dip`` and its critical
    value ``dip_threshold``, ``p_value`` (against the uniform, floored at 0.001); NaN for a
    class not examined. ``reason`` says in words why it split or not."""

    label: int
    name: str
    n: int
    split: bool
    clusters: list[np.ndarray] = field(repr=False)
    separation: float
    dip: float
    dip_threshold: float
    p_value: float
    reason: str


@dataclass(frozen=True)
class _Verdict:
    split: bool
    first: np.ndarray | None  # mask of the first cluster, when split
    numbers: tuple[float, float, float, float]  # separation, dip, its threshold, p-value
    reason: str


def _robust_sd(values: np.ndarray) -> float:
    mad = 1.4826 * float(np.median(np.abs(values - np.median(values))))
    return mad if mad > 0 else float(values.std())


def _reduce(x: np.ndarray, max_components: int) -> tuple[np.ndarray, np.ndarray] | None:
    """PCA scores (centred on their medians) on at most ``max_components`` axes and one per
    10 samples, and each axis's sd once clipped at 5 robust sds (an outlier would inflate
    it; the robust sd itself would not do: far-apart clusters give ~1.4 times the sd). None
    when all samples are equal."""
    n, d = x.shape
    centred = x - x.mean(axis=0)
    k = min(d, max_components, max(2, n // 10), n - 1)
    gram = centred.T @ centred if n > d else centred @ centred.T  # the smaller one
    values, vectors = np.linalg.eigh(gram)
    values, vectors = values[::-1][:k], vectors[:, ::-1][:, :k]
    if values[0] <= 0:
        return None
    scores = centred @ vectors if n > d else vectors * np.sqrt(np.clip(values, 0.0, None))
    scores = scores[:, values > values[0] * 1e-10]  # round-off axes would blow up if whitened
    centre = np.median(scores, axis=0)
    reach = _CLIP * np.array([_robust_sd(column) for column in scores.T])
    scales = np.clip(scores, centre - reach, centre + reach).std(axis=0)
    return scores - centre, np.where(scales > 0, scales, scales.max())


def _side(z: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """True where a row is nearer the second centre than the first."""
    return z @ (centres[1] - centres[0]) > 0.5 * (centres[1] @ centres[1] - centres[0] @ centres[0])


def _two_means(z: np.ndarray, rng: np.random.Generator, n_init: int) -> np.ndarray:
    """Centroids ``(2, p)`` of the best start by within-cluster sum of squares. Starts: each
    axis cut at 0 (whitened, k-means++ draws, led by distances the noise axes dominate,
    often settle on cutting noise), then ``n_init`` k-means++ draws."""
    n, p = z.shape
    starts = []
    for axis in range(p):
        upper = z[:, axis] > 0
        if 0 < upper.sum() < n:
            starts.append(np.stack([z[~upper].mean(axis=0), z[upper].mean(axis=0)]))
    for _ in range(n_init):
        first = int(rng.integers(n))
        d2 = ((z - z[first]) ** 2).sum(axis=1)
        second = int(rng.choice(n, p=d2 / d2.sum())) if d2.sum() > 0 else (first + 1) % n
        starts.append(z[[first, second]].copy())
    total, best, best_sse = z.sum(axis=0), starts[0], np.inf
    for centres in starts:
        side = _side(z, centres)
        for _ in range(_MAX_ITER):
            count = int(side.sum())
            if count in (0, n):
                break
            upper = z[side].sum(axis=0)
            centres = np.stack([(total - upper) / (n - count), upper / count])
            previous, side = side, _side(z, centres)
            if np.array_equal(side, previous):
                break
        sse = ((z - centres[side.astype(np.int64)]) ** 2).sum()
        if sse < best_sse:
            best, best_sse = centres, sse
    return best


def _cross_fitted_projection(
    z: np.ndarray, fit: np.ndarray, reference: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Each sample's position on the line 2-means finds on ``fit`` without its fold: centred
    on that cut (the sign is its side, oriented as ``reference``), in training-fold sds."""
    n = len(z)
    ref_dir = reference[1] - reference[0]
    position = np.empty(n)
    for fold in np.array_split(rng.permutation(n), N_FOLDS):
        train = np.ones(n, dtype=bool)
        train[fold] = False
        centres = _two_means(fit[train], rng, N_INIT)
        direction = centres[1] - centres[0]
        direction = -direction if direction @ ref_dir < 0 else direction
        scale = (fit[train] @ direction).std()
        cut = centres.mean(axis=0) @ direction
        position[fold] = (z[fold] @ direction - cut) / (scale if scale > 0 else 1.0)
    return position


def _nearest_balanced(position: np.ndarray) -> np.ndarray:
    """The smaller side of the cut and as many of the larger side's values, the nearest."""
    high = int((position > 0).sum())
    keep = 2 * min(high, len(position) - high)
    if keep >= len(position) or keep < 4:
        return position
    ordered = np.sort(position)
    return ordered[-keep:] if high < len(position) - high else ordered[:keep]


def _separation(position: np.ndarray) -> float:
    """Distance between the means of the two sides of 0, in pooled within-side sds."""
    low, high = position[position <= 0], position[position > 0]
    if len(low) < 2 or len(high) < 2:
        return 0.0
    within = (((low - low.mean()) ** 2).sum() + ((high - high.mean()) ** 2).sum()) / (
        len(position) - 2
    )
    gap = abs(high.mean() - low.mean())
    return float(gap / np.sqrt(within)) if within > 0 else float("inf")


def _test_split(x: np.ndarray, rng: np.random.Generator, options: dict) -> _Verdict:
    n = len(x)
    reduced = _reduce(x, options["max_components"])
    if reduced is None:
        return _Verdict(False, None, (0.0, 0.0, np.nan, 1.0), "all samples are identical")
    scores, scales = reduced
    best = None
    for space, scale in (("PCA", scales[0]), ("whitened PCA", scales)):
        z, bound = scores / scale, _CLIP * scales / scale
        fit = np.clip(z, -bound, bound)  # projected unclipped: clipping piles values up
        reference = _two_means(fit, rng, N_INIT)
        second = _side(fit, reference)
        position = _cross_fitted_projection(z, fit, reference, rng)
        near = _nearest_balanced(position)
        dip, threshold = dip_statistic(near), dip_critical_value(len(near), options["level"])
        p_value, separation = dip_p_value(dip, len(near)), _separation(position)
        agreement = float(np.mean((position > 0) == second))
        smaller = int(min(second.sum(), n - second.sum()))
        floor = p_value <= MIN_P_VALUE * 1.0001
        p_text = f"<= {p_value:.3f}" if floor else f"{p_value:.3f}"
        stats = (
            f"dip {dip:.4f} vs {threshold:.4f} (p {p_text}), separation {separation:.2f}, "
            f"agreement {agreement:.2f} in {space} space"
        )
        if dip <= threshold:
            reason = f"one mode: {stats}"
        elif separation < options["min_separation"]:
            reason = f"modes too close (separation under {options['min_separation']:g}): {stats}"
        elif agreement < MIN_AGREEMENT:
            reason = f"unstable cut (agreement under {MIN_AGREEMENT:g}): {stats}"
        elif smaller < options["min_cluster_size"]:
            reason = f"the smaller cluster has {smaller} samples: {stats}"
        else:
            reason = f"{n - smaller} and {smaller} samples: {stats}"
            return _Verdict(True, ~second, (separation, dip, threshold, p_value), reason)
        if best is None or dip > best.numbers[1]:
            best = _Verdict(False, None, (separation, dip, threshold, p_value), reason)
    return best


def split_classes(
    embeddings: ArrayLike,
    labels: ArrayLike,
    *,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
    min_cluster_size: int = 10,
    max_clusters: int = 3,
    min_separation: float = MIN_SEPARATION,
    level: float = DIP_LEVEL,
    max_components: int = MAX_COMPONENTS,
    seed: int = 0,
) -> list[ClassSplit]:
    """One ``ClassSplit`` per class of ``labels``, ascending: do its samples form two or more
    well-separated clusters in ``embeddings`` ``(n, d)``? (The module docstring says how it
    is decided.) Classes with fewer than ``2 * min_cluster_size`` samples are not examined.
    Deterministic from ``seed``. A few ms to tens of ms per class of a few hundred samples."""
    x = check_embeddings(embeddings)
    y = check_labels(labels, len(x))
    if isinstance(min_cluster_size, bool) or int(min_cluster_size) != min_cluster_size:
        raise ValueError(f"min_cluster_size must be an integer, got {min_cluster_size!r}")
    limits = {"min_cluster_size": (min_cluster_size, 2), "max_clusters": (max_clusters, 2)}
    for what, (value, least) in {**limits, "max_components": (max_components, 1)}.items():
        if value < least:
            raise ValueError(f"{what} must be at least {least}, got {value}")
    dip_critical_value(10, level)  # rejects a level with no tabulated quantile
    options = {"min_cluster_size": int(min_cluster_size), "min_separation": min_separation}
    options |= {"level": level, "max_components": int(max_components)}
    results = []
    with one_blas_thread():
        for label in (int(v) for v in np.unique(y)):
            name = str(label) if class_names is None else _name(class_names, label)
            members = np.flatnonzero(y == label)
            rng = np.random.default_rng([seed, label])
            if len(members) < 2 * min_cluster_size:
                nan = float("nan")
                why = f"not examined: {len(members)} samples, fewer than 2 x {min_cluster_size}"
                verdict = _Verdict(False, None, (nan, nan, nan, nan), why)
            else:
                verdict = _test_split(x[members], rng, options)
            clusters = [members]
            if verdict.split:
                clusters = [members[verdict.first], members[~verdict.first]]
                clusters = _split_further(x, clusters, rng, max_clusters, options)
            reason = verdict.reason
            if len(clusters) > 2:
                sizes = ", ".join(str(len(c)) for c in clusters)
                reason = f"{len(clusters)} clusters ({sizes}); first cut {reason}"
            split = ClassSplit(
                label, name, len(members), verdict.split, clusters, *verdict.numbers, reason
            )
            results.append(split)
    return results


def _split_further(x, clusters, rng, max_clusters: int, options: dict) -> list[np.ndarray]:
    """Cut clusters again, largest first, while one splits and there are < max_clusters."""
    settled: list[np.ndarray] = []
    pending = sorted(clusters, key=len, reverse=True)
    while pending and len(settled) + len(pending) < max_clusters:
        cluster = pending.pop(0)
        verdict = None
        if len(cluster) >= 2 * options["min_cluster_size"]:
            verdict = _test_split(x[cluster], rng, options)
        if verdict is not None and verdict.split:
            pending.extend([cluster[verdict.first], cluster[~verdict.first]])
            pending.sort(key=len, reverse=True)
        else:
            settled.append(cluster)
    return sorted(settled + pending, key=len, reverse=True)


def _name(class_names: Sequence[str] | Mapping[int, str], label: int) -> str:
    try:
        return str(class_names[label])
    except (IndexError, KeyError):
        return str(label)

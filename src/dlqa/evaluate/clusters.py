"""Classes that split into separate clusters in a model's embedding space, and a 2-D map.

A label that means two things ("jaguar" the cat and the car) shows up in a model's
penultimate-layer embeddings as a class whose samples form two well-separated clouds.
``split_classes`` finds such classes; ``embedding_map`` draws the whole eval set in 2-D.

The decision has to stay quiet on a class that is one blob, *however elongated*, because
almost every class in real embeddings is elongated. Cluster scores computed in the embedding
space (silhouette, gap, BIC) grow with the elongation: cutting a cigar in half looks like two
clusters. So the decision is made on a 1-D projection with a statistic that is invariant to
the projection's location and scale:

1. Within a class: PCA to a few components (embeddings have 64-512 dims and often fewer
   samples per class), then whitening, so that a long axis weighs no more than a short one.
2. 2-means (k-means++, several seeded restarts) gives the candidate split and its direction,
   the line between the two centroids.
3. **Cross-fitting**: the samples are cut into folds; each fold is projected on the direction
   2-means finds on the *other* folds. Projected on a direction chosen on the same points,
   any blob looks bimodal (the direction is picked to separate them: with 50 points in 10
   dims the picked split explains far more than a fixed one); projected on a direction chosen
   without them, a blob whose every 1-D projection is unimodal (a Gaussian of any shape, a
   uniform box, a Student-t) gives a unimodal sample, whatever the direction.
4. **Hartigan's dip** of the cross-fitted projection: the largest distance between its
   empirical CDF and the nearest unimodal CDF. It is invariant to affine maps of the line (so
   to the blob's length and scale), and calibrated on the uniform distribution, the least
   favourable unimodal one: ``dip_critical_value`` holds the uniform's quantiles of
   ``sqrt(n) * dip``, simulated (20,000 samples per n up to 300, 3,000-8,000 beyond).
5. **Separation**: with many samples the dip finds clusters that touch; a person asked
   whether the class is two things wants them apart. The separation is the distance between
   the two sides of the best 1-D 2-means cut of the cross-fitted projection, in pooled
   within-side standard deviations. Cutting any unimodal blob gives a fixed value well
   below the threshold (a Gaussian: 2.65; a uniform: 3.46); two equal Gaussians ``s`` sds
   apart give about ``s`` once ``s`` is over 4.

A class splits when the dip exceeds its critical value at ``DIP_LEVEL``, the separation is at
least ``MIN_SEPARATION`` and both 2-means clusters hold ``min_cluster_size`` samples (a few
outliers are not a cluster). A split cluster is examined again, up to ``max_clusters``.

A curved (banana-shaped) blob is one blob: its mass runs along a connected curve. Whitened
and projected, a parabola-shaped Gaussian banana stays unimodal and does not split; a thin
ring-like arc of half a circle or more, with its mass spread evenly along it, projects on the
chord between its ends as a U-shaped (bimodal) sample and can split, its two ends shown as
two clusters. That is what its samples look like from the model's point of view, and the
gallery shows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

# Level of the dip test. Calibrated on the uniform, the least favourable unimodal law, so the
# false-flag rate on Gaussian-like blobs is far below 1 - DIP_LEVEL (see the benchmark).
DIP_LEVEL = 0.999
# Least separation, in within-cluster sds along the line joining the two clusters. The
# value is set in benchmarks/eval_clusters.py and the tests (a unimodal blob cut in two
# gives at most 3.46; two Gaussian clusters are found reliably from about 5 sds apart).
MIN_SEPARATION = 4.5
# Share of samples that the cut found without them puts on the side the cut on all samples
# does. Clusters give ~1; a blob with no preferred cut (a heavy-tailed one, whose cuts each
# isolate a few outliers) gives folds cut along unrelated lines, whose projections, each on
# its own line, can stack into spurious modes.
MIN_AGREEMENT = 0.9
MAX_COMPONENTS = 10
N_FOLDS = 5
N_INIT = 5
_MAX_ITER = 100

# Quantiles of sqrt(n) * dip for n uniform samples, from simulation: n, then the quantiles at
# _DIP_PROBS. Between rows the critical value is interpolated in log n; beyond, the nearest.
_DIP_PROBS = np.array([0.5, 0.9, 0.95, 0.99, 0.999])
_DIP_TABLE = np.array(
    [
        [10, 0.3089, 0.4116, 0.4415, 0.5039, 0.5676],
        [15, 0.3243, 0.4259, 0.4597, 0.5256, 0.6078],
        [20, 0.3283, 0.4355, 0.4695, 0.5431, 0.6240],
        [30, 0.3366, 0.4463, 0.4845, 0.5619, 0.6384],
        [50, 0.3465, 0.4612, 0.4972, 0.5705, 0.6654],
        [75, 0.3522, 0.4667, 0.5049, 0.5821, 0.6871],
        [100, 0.3552, 0.4724, 0.5122, 0.5938, 0.6907],
        [150, 0.3584, 0.4774, 0.5159, 0.5991, 0.7049],
        [200, 0.3619, 0.4803, 0.5207, 0.6026, 0.6997],
        [300, 0.3657, 0.4868, 0.5276, 0.6095, 0.6975],
        [500, 0.3675, 0.4872, 0.5267, 0.6069, 0.7229],
        [1000, 0.3736, 0.4944, 0.5335, 0.6143, 0.7139],
        [2000, 0.3734, 0.4984, 0.5401, 0.6301, 0.7394],
        [5000, 0.3761, 0.5000, 0.5403, 0.6197, 0.7065],
        [10000, 0.3784, 0.5028, 0.5472, 0.6207, 0.7111],
    ]
)
# Sampling noise makes the simulated quantiles wobble with n; the running maximum over n
# keeps each critical value at least as strict as those of smaller samples.
_DIP_QUANTILES = np.maximum.accumulate(_DIP_TABLE[:, 1:], axis=0)
_DIP_LOG_N = np.log(_DIP_TABLE[:, 0])


@dataclass(frozen=True, eq=False)
class ClassSplit:
    """What ``split_classes`` found in one class.

    ``clusters`` holds index arrays into the arrays given to ``split_classes``, largest
    first: two or more when ``split``, else one (the whole class). ``separation`` is the
    distance between the two sides of the first cut in within-side sds along the line
    joining them, ``dip`` Hartigan's dip of the cross-fitted projection, ``dip_threshold``
    its critical value for ``n`` samples and ``p_value`` the dip's p-value against the
    uniform (floored at 0.001, the last tabulated quantile). They are NaN for a class not
    examined. ``reason`` says in words why the class split or not."""

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


@dataclass(frozen=True, eq=False)
class EmbeddingMap:
    """A 2-D map of an eval set: ``coords[i]`` is the position of sample ``indices[i]``.
    ``method`` is ``"pca"`` or ``"umap"``; ``explained_variance`` the share of the total
    variance each PCA axis holds (None for UMAP, whose axes have no such meaning)."""

    coords: np.ndarray = field(repr=False)
    indices: np.ndarray = field(repr=False)
    method: str
    explained_variance: tuple[float, float] | None


@dataclass(frozen=True)
class _Verdict:
    split: bool
    first: np.ndarray | None  # boolean mask of the first cluster, when split
    separation: float
    dip: float
    dip_threshold: float
    p_value: float
    reason: str


def _check_embeddings(embeddings: ArrayLike) -> np.ndarray:
    array = np.asarray(embeddings, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (samples x dims), got shape {array.shape}")
    if array.shape[0] < 2 or array.shape[1] < 1:
        raise ValueError(f"embeddings need at least 2 samples and 1 dim, got {array.shape}")
    finite = np.all(np.isfinite(array), axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise ValueError(
            f"embeddings hold {int((~finite).sum())} row(s) with NaN or inf; the first is {row}"
        )
    return array


def _check_labels(labels: ArrayLike, n: int) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class ids, got shape {array.shape}")
    if len(array) != n:
        raise ValueError(f"labels and embeddings differ in length: {len(array)} != {n}")
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
        array = array.astype(np.int64)  # ids read from CSV or a float tensor arrive as 3.0
    if array.dtype.kind not in "iu":
        raise ValueError(f"labels must hold integer class ids, got dtype {array.dtype}")
    if np.any(array < 0):
        raise ValueError(f"labels must be non-negative class ids, got {int(array.min())}")
    return array.astype(np.int64, copy=False)


def dip_statistic(values: ArrayLike) -> float:
    """Hartigan's dip of a 1-D sample: the sup distance between its empirical CDF and the
    closest unimodal CDF, in [0, 0.25]. Invariant to any increasing affine map of the
    values. Algorithm AS 217 (Hartigan 1985): the greatest convex minorant and least concave
    majorant of the CDF, narrowed towards the modal interval; O(n) after the sort. 0 for
    fewer than 4 samples or a constant sample."""
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n = len(x)
    if n < 4 or x[-1] == x[0]:
        return 0.0
    # Ties would divide by zero; a spread of 1e-12 of the range keeps their order and adds
    # nothing a dip could see (tied values stay a spike of n / 1e12 width).
    x = x + np.arange(n) * ((x[-1] - x[0]) * 1e-12)
    xs = x.tolist()
    # mn[j]: the previous vertex of the convex minorant of points 0..j; mj: the concave
    # majorant's next vertex from the right.
    mn = [0] * n
    for j in range(1, n):
        m = j - 1
        while m != 0:
            mm = mn[m]
            if (xs[j] - xs[m]) * (m - mm) < (xs[m] - xs[mm]) * (j - m):
                break
            m = mm
        mn[j] = m
    mj = [n - 1] * n
    for k in range(n - 2, -1, -1):
        m = k + 1
        while m != n - 1:
            mm = mj[m]
            if (xs[k] - xs[m]) * (m - mm) < (xs[m] - xs[mm]) * (k - m):
                break
            m = mm
        mj[k] = m
    low, high, best = 0, n - 1, 0.0
    while True:
        gcm = [high]
        while gcm[-1] > low:
            gcm.append(mn[gcm[-1]])
        lcm = [low]
        while lcm[-1] < high:
            lcm.append(mj[lcm[-1]])
        ig, ih, d = _widest_gap(xs, gcm, lcm)
        if d < best:
            break
        best = max(best, _hull_dip(x, gcm, ig, lower=True), _hull_dip(x, lcm, ih, lower=False))
        if low == gcm[ig] and high == lcm[ih]:
            break
        low, high = gcm[ig], lcm[ih]
    # The loop works in units of 1/(2n): the dip is half the sup distance, in counts.
    return best / (2 * n)


def _widest_gap(xs: list[float], gcm: list[int], lcm: list[int]) -> tuple[int, int, float]:
    """The largest vertical distance between the minorant and the majorant over the current
    interval, and the minorant and majorant vertices where it is reached."""
    l_gcm, l_lcm = len(gcm) - 1, len(lcm) - 1
    ig, ih, ix, iv, d = l_gcm, l_lcm, l_gcm - 1, 1, 0.0
    if l_gcm == 1 and l_lcm == 1:
        return ig, ih, d
    while True:
        g, h = gcm[ix], lcm[iv]
        if g > h:  # the next vertex is the majorant's: distance from the minorant there
            g1 = gcm[ix + 1]
            dx = (h - g1 + 1) - (xs[h] - xs[g1]) * (g - g1) / (xs[g] - xs[g1])
            iv += 1
            if dx >= d:
                d, ig, ih = dx, ix + 1, iv - 1
        else:  # the minorant's: distance from the majorant there
            h1 = lcm[iv - 1]
            dx = (xs[g] - xs[h1]) * (h - h1) / (xs[h] - xs[h1]) - (g - h1 - 1)
            ix -= 1
            if dx >= d:
                d, ig, ih = dx, ix + 1, iv
        ix, iv = max(ix, 0), min(iv, l_lcm)
        if gcm[ix] == lcm[iv]:
            return ig, ih, d


def _hull_dip(x: np.ndarray, hull: list[int], start: int, *, lower: bool) -> float:
    """The largest distance, in counts, between the CDF and one hull outside the modal
    interval: the convex minorant's segments from ``start`` (``lower``) or the concave
    majorant's."""
    best = 0.0
    for j in range(start, len(hull) - 1):
        jb, je = (hull[j + 1], hull[j]) if lower else (hull[j], hull[j + 1])
        worst = 1.0
        if je - jb > 1:
            rise = (x[jb : je + 1] - x[jb]) * ((je - jb) / (x[je] - x[jb]))
            steps = np.arange(je - jb + 1, dtype=np.float64)
            gaps = steps + 1 - rise if lower else rise - (steps - 1)
            worst = max(worst, float(gaps.max()))
        best = max(best, worst)
    return best


def dip_critical_value(n: int, level: float = DIP_LEVEL) -> float:
    """The dip a sample of ``n`` uniform values exceeds with probability ``1 - level``:
    ``level`` one of 0.5, 0.9, 0.95, 0.99, 0.999. Interpolated in log n from simulated
    quantiles of ``sqrt(n) * dip`` (n = 10 to 10,000; the nearest row beyond)."""
    column = np.flatnonzero(np.isclose(_DIP_PROBS, level))
    if len(column) == 0:
        raise ValueError(f"level must be one of {_DIP_PROBS.tolist()}, got {level}")
    scaled = np.interp(np.log(max(n, 1)), _DIP_LOG_N, _DIP_QUANTILES[:, column[0]])
    return float(scaled / np.sqrt(n))


def dip_p_value(dip: float, n: int) -> float:
    """The share of uniform samples of size ``n`` whose dip exceeds ``dip``, interpolated
    between the tabulated quantiles (linearly from p = 1 at dip 0 to the median). Floored at
    0.001: beyond the last quantile the table says only that p is below it."""
    row = np.array([np.interp(np.log(max(n, 1)), _DIP_LOG_N, col) for col in _DIP_QUANTILES.T])
    scaled = np.concatenate([[0.0], row])
    upper = np.concatenate([[1.0], 1.0 - _DIP_PROBS])
    return float(np.interp(dip * np.sqrt(n), scaled, upper, right=1.0 - _DIP_PROBS[-1]))


def _reduce(x: np.ndarray, max_components: int) -> tuple[np.ndarray, np.ndarray] | None:
    """PCA scores of ``x`` on at most ``max_components`` axes (and one per 10 samples, at
    least 2: fewer samples cannot place more axes), centred on their medians, and each
    axis's sd once its values are clipped at 5 robust sds (one far outlier would inflate
    the sd; the robust sd itself would not do: two clusters far apart give an axis a robust
    sd ~1.4 times its sd). None when the samples are all equal."""
    n, d = x.shape
    centred = x - x.mean(axis=0)
    k = min(d, max_components, max(2, n // 10), n - 1)
    # Eigen-decompose the smaller Gram matrix: d x d when n > d, else n x n.
    if n > d:
        values, vectors = np.linalg.eigh(centred.T @ centred)
        values, vectors = values[::-1][:k], vectors[:, ::-1][:, :k]
        scores = centred @ vectors
    else:
        values, vectors = np.linalg.eigh(centred @ centred.T)
        values, vectors = values[::-1][:k], vectors[:, ::-1][:, :k]
        scores = vectors * np.sqrt(np.clip(values, 0.0, None))
    if values[0] <= 0:
        return None
    # Axes with no variance beyond round-off would be blown up by whitening: drop them.
    scores = scores[:, values > values[0] * 1e-10]
    centre = np.median(scores, axis=0)
    reach = 5.0 * np.array([_robust_sd(column) for column in scores.T])
    scales = np.clip(scores, centre - reach, centre + reach).std(axis=0)
    scales = np.where(scales > 0, scales, scales.max())
    return scores - centre, scales


def _two_means(z: np.ndarray, rng: np.random.Generator, n_init: int) -> np.ndarray:
    """The two centroids of the best start (least within-cluster sum of squares), as a
    ``(2, p)`` array. Starts: each axis cut at 0, then ``n_init`` k-means++ draws. In
    whitened space every axis has unit variance, so k-means++ draws, led by distances that
    the noise axes dominate, often settle on cutting noise; the axis cuts start 2-means on
    the clusters whenever they lie along a principal axis, as they do when they are far
    apart. With two centroids the assignment is a side of their bisecting hyperplane."""
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
    best, best_sse = starts[0], np.inf
    for centres in starts:
        for _ in range(_MAX_ITER):
            side = _side(z, centres)
            if side.all() or not side.any():
                break
            new = np.stack([z[~side].mean(axis=0), z[side].mean(axis=0)])
            converged = np.allclose(new, centres, rtol=0, atol=1e-10)
            centres = new
            if converged:
                break
        sse = ((z - centres[_side(z, centres).astype(np.int64)]) ** 2).sum()
        if sse < best_sse:
            best, best_sse = centres, sse
    return best


def _side(z: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """True where a row is nearer the second centre than the first."""
    return z @ (centres[1] - centres[0]) > 0.5 * (centres[1] @ centres[1] - centres[0] @ centres[0])


def _cross_fitted_projection(
    z: np.ndarray,
    fit: np.ndarray,
    reference: np.ndarray,
    rng: np.random.Generator,
    n_folds: int,
    n_init: int,
) -> np.ndarray:
    """Each sample's position on the line 2-means finds on ``fit`` *without* its fold,
    centred on that 2-means cut (so its sign is the side the held-out cut puts it on,
    oriented as ``reference``, the centroids found on all samples) and in units of the
    training folds' sd along the line."""
    n = len(z)
    ref_dir = reference[1] - reference[0]
    position = np.empty(n)
    for fold in np.array_split(rng.permutation(n), n_folds):
        train = np.ones(n, dtype=bool)
        train[fold] = False
        centres = _two_means(fit[train], rng, n_init)
        direction = centres[1] - centres[0]
        if direction @ ref_dir < 0:  # one orientation for every fold
            direction = -direction
        cut = centres.mean(axis=0) @ direction
        scale = (fit[train] @ direction).std()
        position[fold] = (z[fold] @ direction - cut) / (scale if scale > 0 else 1.0)
    return position


def _robust_sd(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation (the sd for a Gaussian); the sd where more
    than half the values are equal."""
    mad = 1.4826 * float(np.median(np.abs(values - np.median(values))))
    return mad if mad > 0 else float(values.std())


def _nearest_balanced(position: np.ndarray) -> np.ndarray:
    """The smaller side of the cut and as many of the larger side's samples, those nearest
    the cut. The dip of two clusters is at most half the smaller one's share: a fifth of
    100 samples gives 0.1 at best, under the critical value. Balanced, the same clusters
    give up to 0.25. The test stays calibrated: the values above (or below) an order
    statistic are a sample of the distribution truncated there, and a unimodal
    distribution truncated to an interval is unimodal."""
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


def _test_split(
    x: np.ndarray,
    rng: np.random.Generator,
    *,
    min_cluster_size: int,
    min_separation: float,
    level: float,
    max_components: int,
) -> _Verdict:
    """Test the class in PCA space, then (unless it split there) whitened. PCA space finds
    clusters whose separation dominates the variance even when the smaller one is a fifth
    of the class, where whitening would raise the noise axes to its level; whitened space
    finds two long clusters side by side, whose gap lies along a short axis. Both are
    honest tests; taking either at most doubles the false-flag rate at ``level``."""
    n = len(x)
    reduced = _reduce(x, max_components)
    if reduced is None:
        return _Verdict(False, None, 0.0, 0.0, np.nan, 1.0, "all samples are identical")
    scores, scales = reduced
    best = None
    for space, z, bound in (
        ("PCA", scores / scales[0], 5.0 * scales / scales[0]),
        ("whitened PCA", scores / scales, np.full(len(scales), 5.0)),
    ):
        # 2-means is fitted on scores clipped at ``bound`` (5 sds), so that a far outlier
        # cannot be a centroid; projected are the unclipped scores (clipping piles values
        # up, which the dip would see as a mode).
        fit = np.clip(z, -bound, bound)
        reference = _two_means(fit, rng, N_INIT)
        second = _side(fit, reference)
        position = _cross_fitted_projection(z, fit, reference, rng, N_FOLDS, N_INIT)
        agreement = float(np.mean((position > 0) == second))
        near = _nearest_balanced(position)
        dip = dip_statistic(near)
        threshold = dip_critical_value(len(near), level)
        p_value = dip_p_value(dip, len(near))
        separation = _separation(position)
        first = ~second
        smaller = int(min(first.sum(), n - first.sum()))
        stats = (
            f"dip {dip:.4f} vs {threshold:.4f} (p {_p_text(p_value)}), "
            f"separation {separation:.2f} in {space} space"
        )
        if dip <= threshold:
            reason = f"one mode: {stats}"
        elif agreement < MIN_AGREEMENT:
            reason = f"unstable cut (agreement {agreement:.2f} < {MIN_AGREEMENT:g}): {stats}"
        elif separation < min_separation:
            reason = f"modes too close (separation under {min_separation:g}): {stats}"
        elif smaller < min_cluster_size:
            reason = f"the smaller cluster has {smaller} < {min_cluster_size} samples: {stats}"
        else:
            sizes = f"{n - smaller} and {smaller} samples"
            return _Verdict(True, first, separation, dip, threshold, p_value, f"{sizes}: {stats}")
        if best is None or dip > best.dip:
            best = _Verdict(False, None, separation, dip, threshold, p_value, reason)
    return best


def _p_text(p_value: float) -> str:
    return f"<= {p_value:.3f}" if p_value <= 1.0 - _DIP_PROBS[-1] + 1e-12 else f"{p_value:.3f}"


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
    """One ``ClassSplit`` per class in ``labels`` (ascending): whether its samples form two
    or more well-separated clusters in ``embeddings`` ``(n, d)`` (the module docstring says
    how it is decided). A class with fewer than ``2 * min_cluster_size`` samples is reported
    with ``split=False`` and not examined. A split cluster with enough samples is examined
    again, until ``max_clusters``. Deterministic from ``seed``.

    Cost: a few ms per class of a few hundred samples (an eigen-decomposition of the class's
    d x d or n x n Gram matrix, then 2-means in at most ``max_components`` dims)."""
    x = _check_embeddings(embeddings)
    y = _check_labels(labels, len(x))
    if isinstance(min_cluster_size, bool) or int(min_cluster_size) != min_cluster_size:
        raise ValueError(f"min_cluster_size must be an integer, got {min_cluster_size!r}")
    if min_cluster_size < 2:
        raise ValueError(f"min_cluster_size must be at least 2, got {min_cluster_size}")
    if max_clusters < 2:
        raise ValueError(f"max_clusters must be at least 2, got {max_clusters}")
    if max_components < 1:
        raise ValueError(f"max_components must be at least 1, got {max_components}")
    dip_critical_value(2, level)  # rejects a level with no tabulated quantile
    options = {
        "min_cluster_size": int(min_cluster_size),
        "min_separation": float(min_separation),
        "level": level,
        "max_components": int(max_components),
    }
    results = []
    for label in np.unique(y):
        label = int(label)
        name = _class_name(class_names, label)
        members = np.flatnonzero(y == label)
        n = len(members)
        if n < 2 * min_cluster_size:
            reason = f"not examined: {n} samples, fewer than 2 x {min_cluster_size}"
            nan = float("nan")
            results.append(ClassSplit(label, name, n, False, [members], nan, nan, nan, nan, reason))
            continue
        rng = np.random.default_rng([seed, label])
        verdict = _test_split(x[members], rng, **options)
        clusters = [members]
        if verdict.split:
            clusters = [members[verdict.first], members[~verdict.first]]
            clusters = _split_further(x, clusters, rng, max_clusters, options)
        clusters.sort(key=len, reverse=True)
        reason = verdict.reason
        if len(clusters) > 2:
            reason = f"{len(clusters)} clusters ({', '.join(str(len(c)) for c in clusters)})"
            reason += f"; first cut {verdict.reason}"
        results.append(
            ClassSplit(
                label,
                name,
                n,
                verdict.split,
                clusters,
                verdict.separation,
                verdict.dip,
                verdict.dip_threshold,
                verdict.p_value,
                reason,
            )
        )
    return results


def _split_further(
    x: np.ndarray,
    clusters: list[np.ndarray],
    rng: np.random.Generator,
    max_clusters: int,
    options: dict,
) -> list[np.ndarray]:
    """Cut the clusters again, largest first, while one splits and there are fewer than
    ``max_clusters``."""
    settled: list[np.ndarray] = []
    pending = sorted(clusters, key=len, reverse=True)
    while pending and len(settled) + len(pending) < max_clusters:
        cluster = pending.pop(0)
        if len(cluster) < 2 * options["min_cluster_size"]:
            settled.append(cluster)
            continue
        verdict = _test_split(x[cluster], rng, **options)
        if verdict.split:
            pending.extend([cluster[verdict.first], cluster[~verdict.first]])
            pending.sort(key=len, reverse=True)
        else:
            settled.append(cluster)
    return settled + pending


def _class_name(class_names: Sequence[str] | Mapping[int, str] | None, label: int) -> str:
    if class_names is None:
        return str(label)
    try:
        return str(class_names[label])
    except (IndexError, KeyError):
        return str(label)


def embedding_map(
    embeddings: ArrayLike,
    *,
    labels: ArrayLike | None = None,
    method: str = "auto",
    max_points: int = 5000,
    seed: int = 0,
) -> EmbeddingMap:
    """A 2-D map of ``embeddings`` ``(n, d)`` for a scatter plot. ``method``: ``"pca"`` (the
    top two principal axes, from the d x d covariance: 1e5 x 128 takes well under a second),
    ``"umap"`` (needs the ``umap-learn`` package) or ``"auto"`` (UMAP when importable, else
    PCA). With more than ``max_points`` samples a seeded subsample is drawn; with ``labels``
    every class keeps at least one point and the rest is shared in proportion to class
    size (so ``n_shown`` can pass ``max_points`` by a point per class beyond it). PCA axes
    are fitted on all samples; UMAP on the subsample shown."""
    x = _check_embeddings(embeddings)
    y = None if labels is None else _check_labels(labels, len(x))
    if method not in ("auto", "pca", "umap"):
        raise ValueError(f"method must be 'auto', 'pca' or 'umap', got {method!r}")
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    umap = _import_umap()
    if method == "umap" and umap is None:
        raise ValueError("method='umap' needs the umap-learn package; use 'pca' or 'auto'")
    rng = np.random.default_rng(seed)
    shown = _subsample(len(x), y, max_points, rng)
    if method == "umap" or (method == "auto" and umap is not None):
        reducer = umap.UMAP(n_components=2, random_state=seed)
        coords = np.asarray(reducer.fit_transform(x[shown]), dtype=np.float64)
        return EmbeddingMap(coords, shown, "umap", None)
    mean = x.mean(axis=0)
    covariance = np.cov(x, rowvar=False, bias=True).reshape(x.shape[1], x.shape[1])
    values, vectors = np.linalg.eigh(covariance)
    values, vectors = values[::-1], vectors[:, ::-1]
    axes = np.zeros((x.shape[1], 2))
    axes[:, : min(2, x.shape[1])] = vectors[:, :2]
    # An eigenvector's sign is arbitrary: fix it so that its largest loading is positive.
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), [0, 1]])
    axes *= np.where(signs == 0, 1.0, signs)
    total = values.sum()
    top = np.concatenate([values, [0.0, 0.0]])[:2]
    explained = (float(top[0] / total), float(top[1] / total)) if total > 0 else (0.0, 0.0)
    return EmbeddingMap((x[shown] - mean) @ axes, shown, "pca", explained)


def _import_umap():
    try:
        import umap  # noqa: PLC0415 - optional dependency, imported only when asked for
    except ImportError:
        return None
    return umap


def _subsample(
    n: int, labels: np.ndarray | None, max_points: int, rng: np.random.Generator
) -> np.ndarray:
    """Sorted indices of at most ``max_points`` samples (all when n <= max_points); with
    labels, at least one per class and each class's share in proportion to its size."""
    if n <= max_points:
        return np.arange(n)
    if labels is None:
        return np.sort(rng.choice(n, size=max_points, replace=False))
    order = rng.permutation(n)
    classes, inverse, counts = np.unique(labels[order], return_inverse=True, return_counts=True)
    quota = np.maximum(1, np.floor(max_points * counts / n)).astype(np.int64)
    # Rank of each sample within its class in the shuffled order: the first quota[c] stay.
    by_class = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[by_class] = np.arange(n) - np.repeat(starts, counts)
    keep = rank < quota[inverse]
    spare = max_points - int(keep.sum())
    if spare > 0:  # floor() left a few slots: fill them from the rest, in shuffled order
        keep[np.flatnonzero(~keep)[:spare]] = True
    return np.sort(order[keep])

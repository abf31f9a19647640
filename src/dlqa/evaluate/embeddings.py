"""Penultimate-layer embeddings: their validation, and the 2-D map of an eval set (PCA, or
UMAP where installed) that ``eval.embedding_clusters`` draws. The cluster test itself is in
:mod:`dlqa.evaluate.clusters`."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from dlqa.evaluate.metrics import class_ids


@dataclass(frozen=True, eq=False)
class EmbeddingMap:
    """``coords[i]`` is where sample ``indices[i]`` goes on the map. ``method``: "pca" or
    "umap"; ``explained_variance``: each PCA axis's share of the variance (None for UMAP)."""

    coords: np.ndarray = field(repr=False)
    indices: np.ndarray = field(repr=False)
    method: str
    explained_variance: tuple[float, float] | None


def check_embeddings(embeddings: ArrayLike) -> np.ndarray:
    """``embeddings`` as a finite float64 ``(n, d)`` array with n >= 2; ValueError otherwise."""
    array = np.asarray(embeddings, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (samples x dims), got shape {array.shape}")
    if array.shape[0] < 2 or array.shape[1] < 1:
        raise ValueError(f"embeddings need at least 2 samples and 1 dim, got {array.shape}")
    finite = np.all(np.isfinite(array), axis=1)
    if not finite.all():
        bad = int((~finite).sum())
        first = int(np.argmin(finite))
        raise ValueError(f"embeddings hold {bad} row(s) with NaN or inf; the first is {first}")
    return array


def check_labels(labels: ArrayLike, n: int) -> np.ndarray:
    """``labels`` as n non-negative int64 class ids; ValueError otherwise."""
    array = class_ids(labels, "labels")
    if len(array) != n:
        raise ValueError(f"labels and embeddings differ in length: {len(array)} != {n}")
    if np.any(array < 0):
        raise ValueError(f"labels must be non-negative class ids, got {int(array.min())}")
    return array


def one_blas_thread() -> Any:
    """BLAS threads only cost on these small matrices: on a loaded 2-core machine a 64 x 64
    eigh took 56 ms with two threads and 0.4 ms with one."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def embedding_map(
    embeddings: ArrayLike,
    *,
    labels: ArrayLike | None = None,
    method: str = "auto",
    max_points: int = 5000,
    seed: int = 0,
) -> EmbeddingMap:
    """A 2-D map of ``embeddings`` ``(n, d)``. ``method``: "pca" (top two principal axes,
    from the d x d covariance: 1e5 x 128 in well under a second), "umap" (needs umap-learn)
    or "auto" (UMAP when importable, else PCA). Over ``max_points`` samples a seeded
    subsample is shown; with ``labels`` every class keeps a point at least and the rest is
    shared by class size (so a point per class beyond ``max_points`` at most). PCA axes are
    fitted on all samples, UMAP on those shown. Each axis's sign is fixed (largest loading
    positive) so that maps of the same data agree."""
    x = check_embeddings(embeddings)
    y = None if labels is None else check_labels(labels, len(x))
    if method not in ("auto", "pca", "umap"):
        raise ValueError(f"method must be 'auto', 'pca' or 'umap', got {method!r}")
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    umap = importlib.import_module("umap") if importlib.util.find_spec("umap") else None
    if method == "umap" and umap is None:
        raise ValueError("method='umap' needs the umap-learn package; use 'pca' or 'auto'")
    shown = _subsample(len(x), y, max_points, np.random.default_rng(seed))
    if umap is not None and method != "pca":
        coords = umap.UMAP(n_components=2, random_state=seed).fit_transform(x[shown])
        return EmbeddingMap(np.asarray(coords, dtype=np.float64), shown, "umap", None)
    mean = x.mean(axis=0)
    with one_blas_thread():  # 1e5 x 128: 0.05 s on one thread, seconds on a busy machine
        centred = x - mean
        values, vectors = np.linalg.eigh(centred.T @ centred / len(x))
    values, vectors = values[::-1], vectors[:, ::-1]
    axes = np.zeros((x.shape[1], 2))
    axes[:, : min(2, x.shape[1])] = vectors[:, :2]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), [0, 1]])
    axes *= np.where(signs == 0, 1.0, signs)
    top, total = np.concatenate([values, [0.0, 0.0]])[:2], values.sum()
    explained = (float(top[0] / total), float(top[1] / total)) if total > 0 else (0.0, 0.0)
    return EmbeddingMap(centred[shown] @ axes, shown, "pca", explained)


def _subsample(n: int, labels, max_points: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of about ``max_points`` samples, all when n <= max_points; with labels
    at least one per class, each class's share in proportion to its size."""
    if n <= max_points:
        return np.arange(n)
    if labels is None:
        return np.sort(rng.choice(n, size=max_points, replace=False))
    order = rng.permutation(n)
    _, inverse, counts = np.unique(labels[order], return_inverse=True, return_counts=True)
    quota = np.maximum(1, np.floor(max_points * counts / n)).astype(np.int64)
    # Rank of each sample within its class in the shuffled order: the first quota[c] stay.
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(inverse, kind="stable")] = np.arange(n) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    keep = rank < quota[inverse]
    spare = max_points - int(keep.sum())
    if spare > 0:  # floor() left slots: fill them from the rest, in shuffled order
        keep[np.flatnonzero(~keep)[:spare]] = True
    return np.sort(order[keep])

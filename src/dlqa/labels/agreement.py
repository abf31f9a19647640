"""Agreement between annotators on a long table (item, annotator, label), as plain functions.

Nominal labels. Every statistic uses only items with at least two ratings (an item rated once
says nothing about agreement). Items may be rated by different numbers of annotators:

- Krippendorff's alpha handles that by construction (the coincidence matrix weighs each
  item's pairs by 1 / (m - 1));
- Fleiss' kappa assumes a fixed number of raters per item; here each item's agreement is
  normalised by its own number of raters (P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1))), the
  usual generalisation, and the category shares p_j are taken over all ratings. With equal
  numbers of raters it is Fleiss' kappa exactly;
- Cohen's kappa is computed per pair of annotators, on the items both rated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError


@dataclass(frozen=True)
class Ratings:
    """A long table of ratings as integer codes: ``items[r]``, ``annotators[r]``, ``labels[r]``
    index ``item_names``, ``annotator_names`` and ``label_names``."""

    items: np.ndarray
    annotators: np.ndarray
    labels: np.ndarray
    item_names: list[str]
    annotator_names: list[str]
    label_names: list[str]

    @classmethod
    def from_rows(
        cls, items: Sequence[Any], annotators: Sequence[Any], labels: Sequence[Any]
    ) -> Ratings:
        """Codes of three aligned sequences (values become strings). A repeated (item,
        annotator) pair, fewer than two annotators or fewer than one item rated twice is a
        usage error: agreement cannot be measured."""
        if not len(items) == len(annotators) == len(labels):
            raise UsageError("items, annotators and labels must have the same length")
        item_names, item_codes = _codes(items)
        annotator_names, annotator_codes = _codes(annotators)
        label_names, label_codes = _codes(labels)
        ratings = cls(item_codes, annotator_codes, label_codes, item_names, annotator_names,
                      label_names)  # fmt: skip
        ratings._validate()
        return ratings

    def _validate(self) -> None:
        pairs = self.items.astype(np.int64) * len(self.annotator_names) + self.annotators
        unique, counts = np.unique(pairs, return_counts=True)
        if (counts > 1).any():
            first = int(unique[np.argmax(counts > 1)])
            item, annotator = divmod(first, len(self.annotator_names))
            raise UsageError(
                f"annotator {self.annotator_names[annotator]!r} rated item "
                f"{self.item_names[item]!r} more than once",
                hint="keep one label per item and annotator",
            )
        if len(self.annotator_names) < 2:
            raise UsageError(
                f"agreement needs at least two annotators; the table has "
                f"{len(self.annotator_names)}",
                hint="check the annotator column",
            )
        if not (self.ratings_per_item() >= 2).any():
            raise UsageError(
                "no item was rated by two annotators: there is no agreement to measure",
                hint="check the item column (each item should appear once per annotator)",
            )

    def ratings_per_item(self) -> np.ndarray:
        return np.bincount(self.items, minlength=len(self.item_names))

    def counts(self) -> np.ndarray:
        """(items, labels) matrix: how many annotators gave each item each label."""
        matrix = np.zeros((len(self.item_names), len(self.label_names)), dtype=np.int64)
        np.add.at(matrix, (self.items, self.labels), 1)
        return matrix


def _codes(values: Sequence[Any]) -> tuple[list[str], np.ndarray]:
    texts = np.array([str(v) for v in values], dtype=object)
    names, codes = np.unique(texts, return_inverse=True)
    return [str(n) for n in names], codes.astype(np.int64)


def krippendorff_alpha(counts: np.ndarray) -> float:
    """Krippendorff's alpha for nominal labels from an (items, labels) count matrix.

    alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k, with the coincidence
    matrix o_ck = sum_u n_uc n_uk / (m_u - 1) (c != k) over items with m_u >= 2 ratings.
    NaN when every pairable rating has the same label (no variation to judge).
    """
    counts = np.asarray(counts, dtype=np.float64)
    m = counts.sum(axis=1)
    keep = m >= 2
    counts, m = counts[keep], m[keep]
    n_c = counts.sum(axis=0)
    n = n_c.sum()
    # Off-diagonal coincidences: sum over items of (m_u^2 - sum_c n_uc^2) / (m_u - 1).
    observed = float(((m**2 - (counts**2).sum(axis=1)) / (m - 1)).sum())
    expected = float(n**2 - (n_c**2).sum())
    if expected == 0:
        return float("nan")
    return 1.0 - (n - 1) * observed / expected


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from an (items, labels) count matrix, each item's agreement normalised
    by its own number of raters (see the module docstring); items rated once are left out.
    NaN when chance agreement is 1 (a single label throughout)."""
    counts = np.asarray(counts, dtype=np.float64)
    m = counts.sum(axis=1)
    keep = m >= 2
    counts, m = counts[keep], m[keep]
    per_item = (counts * (counts - 1)).sum(axis=1) / (m * (m - 1))
    observed = float(per_item.mean())
    shares = counts.sum(axis=0) / counts.sum()
    chance = float((shares**2).sum())
    if chance == 1.0:
        return float("nan")
    return (observed - chance) / (1.0 - chance)


def cohen_kappa(a: np.ndarray, b: np.ndarray, n_labels: int) -> float:
    """Cohen's kappa of two aligned label-code arrays; NaN when chance agreement is 1."""
    a, b = np.asarray(a), np.asarray(b)
    if not len(a):
        return float("nan")
    observed = float((a == b).mean())
    pa = np.bincount(a, minlength=n_labels) / len(a)
    pb = np.bincount(b, minlength=n_labels) / len(b)
    chance = float((pa * pb).sum())
    if chance == 1.0:
        return float("nan")
    return (observed - chance) / (1.0 - chance)


def pairwise_cohen(ratings: Ratings) -> list[dict[str, Any]]:
    """Cohen's kappa of every pair of annotators on the items both rated (with ``n``)."""
    by_annotator = {}
    for code in range(len(ratings.annotator_names)):
        mine = ratings.annotators == code
        by_annotator[code] = dict(zip(ratings.items[mine].tolist(), ratings.labels[mine].tolist(),
                                      strict=True))  # fmt: skip
    rows = []
    for first, second in combinations(range(len(ratings.annotator_names)), 2):
        shared = sorted(set(by_annotator[first]) & set(by_annotator[second]))
        a = np.array([by_annotator[first][i] for i in shared], dtype=np.int64)
        b = np.array([by_annotator[second][i] for i in shared], dtype=np.int64)
        rows.append(
            {
                "annotators": [ratings.annotator_names[first], ratings.annotator_names[second]],
                "n": len(shared),
                "cohen_kappa": _rounded(cohen_kappa(a, b, len(ratings.label_names))),
            }
        )
    return rows


def agreement_with_majority(ratings: Ratings) -> list[dict[str, Any]]:
    """Per annotator: on the items where the OTHER annotators have a strict majority label,
    how often this annotator gave it (``n``: such items)."""
    counts = ratings.counts()
    rows = []
    for code, name in enumerate(ratings.annotator_names):
        mine = ratings.annotators == code
        items, labels = ratings.items[mine], ratings.labels[mine]
        others = counts[items].copy()
        others[np.arange(len(items)), labels] -= 1
        top = others.max(axis=1)
        strict = (top > 0) & ((others == top[:, None]).sum(axis=1) == 1)
        majority = others.argmax(axis=1)
        n = int(strict.sum())
        agreed = int((majority[strict] == labels[strict]).sum())
        rows.append({"annotator": name, "n": n, "agreement": _rounded(agreed / n) if n else None})
    return rows


def disagreements(ratings: Ratings) -> list[dict[str, Any]]:
    """Items whose annotators disagree, most contested first: the share of ratings outside the
    most common label, then the number of ratings; each with its labels by annotator."""
    counts = ratings.counts()
    m = counts.sum(axis=1)
    contested = np.flatnonzero((m >= 2) & (counts.max(axis=1) < m))
    share_outside = 1.0 - counts[contested].max(axis=1) / m[contested]
    order = np.lexsort((-m[contested], -share_outside))
    rows = []
    for position in order:
        item = int(contested[position])
        mine = ratings.items == item
        votes = {
            ratings.annotator_names[a]: ratings.label_names[lab]
            for a, lab in zip(ratings.annotators[mine], ratings.labels[mine], strict=True)
        }
        rows.append(
            {
                "item": ratings.item_names[item],
                "disagreement": _rounded(float(share_outside[position])),
                "labels": votes,
            }
        )
    return rows


def _rounded(value: float) -> float | None:
    return None if value != value else round(float(value), 4)


def bootstrap_alpha(
    counts: np.ndarray, *, resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """A percentile bootstrap interval of Krippendorff's alpha, items resampled with
    replacement (seeded: the same table gives the same interval)."""
    counts = np.asarray(counts, dtype=np.float64)
    counts = counts[counts.sum(axis=1) >= 2]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(counts), size=(resamples, len(counts)))
    values = np.array([krippendorff_alpha(counts[rows]) for rows in draws])
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def coincidences(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's coincidence matrix (labels x labels): how often label c was paired with
    label k by two annotators of one item, each item's pairs weighed by 1 / (m_u - 1), so that
    every pairable rating counts once. Off the diagonal: which classes annotators confuse."""
    counts = np.asarray(counts, dtype=np.float64)
    m = counts.sum(axis=1)
    keep = m >= 2
    counts, m = counts[keep], m[keep]
    pairs = np.einsum("uc,uk->ck", counts / (m - 1)[:, None], counts)
    return pairs - np.diag((counts / (m - 1)[:, None]).sum(axis=0))

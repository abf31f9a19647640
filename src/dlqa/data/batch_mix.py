"""Whether batches mix classes the way a shuffled loader's do: a permutation test.

Under shuffling, which batch a sample lands in is independent of its class: the batch x
class table of the observed batches is one random split of the pooled labels into batches
of the observed sizes. The test statistic is Pearson's chi-square of that table; its null
distribution comes from splitting the same pooled labels at random ``permutations`` times
(exact for any batch size, no large-sample approximation). An unshuffled loader over a
sorted dataset puts one or two classes in each batch: a chi-square far beyond every
permutation's. The effect size puts the excess on a 0..1 scale (0: shuffled, 1: one class
per batch), so that a huge number of samples cannot turn a trifling order into a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln


@dataclass(frozen=True)
class ClassMix:
    batches: int
    samples: int
    classes: np.ndarray  # the class values, in table column order
    table: np.ndarray  # batches x classes counts
    statistic: float  # chi-square of the observed table
    null_mean: float  # its mean over the random splits
    null_max: float  # and its largest value there
    p_value: float  # (1 + splits at least as extreme) / (1 + splits)

    @property
    def scale(self) -> float:
        """The chi-square of a table with one class per batch (Cramér's V = 1)."""
        return float(self.samples * (min(self.table.shape) - 1))

    @property
    def effect(self) -> float:
        """Chi-square beyond what shuffling gives, as a fraction of its largest possible."""
        return (self.statistic - self.null_mean) / self.scale if self.scale > 0 else 0.0

    def detectable(self, effect: float) -> bool:
        """Whether clustering of size ``effect`` would have stood out of every random split:
        with few samples even a sorted loader can look shuffled, so a pass means nothing."""
        return self.scale > 0 and self.null_mean + effect * self.scale > self.null_max


def class_table(
    batches: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """(class values, batches x classes counts) of per-batch (values, counts)."""
    classes = np.unique(np.concatenate([values for values, _ in batches]))
    table = np.zeros((len(batches), len(classes)), dtype=np.int64)
    for row, (values, counts) in enumerate(batches):
        table[row, np.searchsorted(classes, values)] = counts
    return classes, table


def class_mix(
    batches: Sequence[tuple[np.ndarray, np.ndarray]], permutations: int, seed: int = 0
) -> ClassMix:
    classes, table = class_table(batches)
    rows, columns = table.sum(axis=1), table.sum(axis=0)
    total = int(table.sum())
    # Margins are the same for every split, so E is fixed and chi2 = sum(O^2 / E) - N.
    expected = np.outer(rows, columns) / max(total, 1)
    weight = np.where(expected > 0, 1.0 / np.where(expected > 0, expected, 1.0), 0.0).ravel()
    observed = float((table.ravel() ** 2 * weight).sum() - total)
    labels = np.repeat(np.tile(np.arange(len(classes)), len(rows)), table.ravel())
    batch_of = np.repeat(np.arange(len(rows)), rows)
    rng = np.random.default_rng(seed)  # the same batches give the same verdict
    null = np.empty(permutations)
    for i in range(permutations):
        cells = batch_of * len(classes) + rng.permutation(labels)
        counts = np.bincount(cells, minlength=table.size)
        null[i] = (counts.astype(np.float64) ** 2 * weight).sum() - total
    extreme = int((null >= observed - 1e-9 * max(1.0, abs(observed))).sum())
    return ClassMix(
        batches=len(rows),
        samples=total,
        classes=classes,
        table=table,
        statistic=observed,
        null_mean=float(null.mean()) if permutations else 0.0,
        null_max=float(null.max()) if permutations else 0.0,
        p_value=(1 + extreme) / (1 + permutations),
    )


def expected_classes(batch_size: int, class_counts: np.ndarray) -> float:
    """Expected number of distinct classes in a batch of ``batch_size`` drawn without
    replacement from a pool with ``class_counts`` (hypergeometric: a class is missing with
    probability C(N - n_k, b) / C(N, b))."""
    total = int(class_counts.sum())
    b = min(batch_size, total)
    others = total - class_counts
    log_missing = (
        gammaln(others + 1) - gammaln(np.maximum(others - b, 0) + 1)
        - gammaln(total + 1) + gammaln(total - b + 1)
    )  # fmt: skip
    missing = np.where(others >= b, np.exp(log_missing), 0.0)
    return float((1.0 - missing).sum())


def batch_rows(
    mix: ClassMix, indices: Sequence[int], names: Sequence[str] | None, limit: int = 20
) -> list[dict]:
    """The least mixed batches (``indices``: the batch index of each table row): observed
    against expected distinct classes, and the share of the top class."""
    pool = mix.table.sum(axis=0)
    rows = []
    for row, counts in enumerate(mix.table):
        size = int(counts.sum())
        top = int(counts.argmax())
        value = int(mix.classes[top])
        rows.append(
            {
                "batch": int(indices[row]),
                "samples": size,
                "classes": int((counts > 0).sum()),
                "expected_classes": round(expected_classes(size, pool), 2),
                "top_class": names[value] if names and 0 <= value < len(names) else value,
                "top_share": round(float(counts[top]) / max(size, 1), 3),
            }
        )
    rows.sort(key=lambda r: (r["classes"] - r["expected_classes"], -r["top_share"]))
    return rows[:limit]

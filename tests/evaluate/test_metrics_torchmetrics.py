"""The metrics against torchmetrics (a dev dependency), on random and edge-case inputs."""

from __future__ import annotations

import numpy as np
import pytest

from dlqa.evaluate import (
    accuracy,
    confusion_counts,
    f1_per_class,
    macro_f1,
    precision_per_class,
    recall_per_class,
)

torch = pytest.importorskip("torch")
tm = pytest.importorskip("torchmetrics.classification")


def cases():
    rng = np.random.default_rng(11)
    out = []
    for n, c, acc in ((500, 5, 0.7), (2000, 12, 0.4), (50, 3, 0.95)):
        y = rng.integers(0, c, n)
        y[:c] = np.arange(c)  # every class present, so "macro" means the same everywhere
        p = np.where(rng.random(n) < acc, y, rng.integers(0, c, n))
        out.append((y, p, c))
    ties = np.array([0, 1, 2, 0, 1, 2]), np.array([0, 0, 0, 0, 0, 0]), 3  # one class predicted
    out.append(ties)
    return out


@pytest.mark.parametrize(("labels", "predicted", "n_classes"), cases())
def test_metrics_agree_with_torchmetrics(labels, predicted, n_classes):
    counts = confusion_counts(labels, predicted, n_classes)
    t_pred, t_true = torch.from_numpy(predicted), torch.from_numpy(labels)

    def expected(metric, average):
        return metric(num_classes=n_classes, average=average)(t_pred, t_true).numpy()

    np.testing.assert_allclose(accuracy(counts), expected(tm.MulticlassAccuracy, "micro"))
    np.testing.assert_allclose(macro_f1(counts), expected(tm.MulticlassF1Score, "macro"), atol=1e-6)
    for ours, metric in (
        (precision_per_class, tm.MulticlassPrecision),
        (recall_per_class, tm.MulticlassRecall),
        (f1_per_class, tm.MulticlassF1Score),
    ):
        np.testing.assert_allclose(ours(counts), expected(metric, None), atol=1e-6)
    matrix = tm.MulticlassConfusionMatrix(num_classes=n_classes)(t_pred, t_true).numpy()
    np.testing.assert_array_equal(counts, matrix)

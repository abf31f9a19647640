"""Reference implementations (scikit-learn) that a user's metric is compared with.

Each reference takes ``(y_true, y_pred_or_scores)`` and an optional ``n_classes``. With
``n_classes`` the metric is defined over the classes ``0 .. n_classes - 1`` (a class absent from
both arrays still counts in a macro average); without it, over the classes present in either
array (scikit-learn's default). Division by zero counts as 0 (``zero_division=0``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# What a metric reads: hard class labels, one score per sample (higher = class 1), or class
# probabilities (the probability of class 1 in the binary case, one row per sample otherwise).
KINDS = ("labels", "scores", "probabilities")


def to_numpy(values: Any) -> np.ndarray:
    """A numpy array from a list, an array or a torch tensor (detached, on the CPU)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def _labels(n_classes: int | None) -> list[int] | None:
    return list(range(n_classes)) if n_classes is not None else None


def accuracy(y_true: Any, y_pred: Any, n_classes: int | None = None) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(to_numpy(y_true), to_numpy(y_pred)))


def _averaged(score_name: str, average: str) -> Callable[..., float]:
    def reference(y_true: Any, y_pred: Any, n_classes: int | None = None) -> float:
        from sklearn import metrics

        score = getattr(metrics, f"{score_name}_score")
        y_true, y_pred = to_numpy(y_true), to_numpy(y_pred)
        if average == "binary":
            return float(score(y_true, y_pred, average="binary", pos_label=1, zero_division=0))
        return float(
            score(y_true, y_pred, average=average, labels=_labels(n_classes), zero_division=0)
        )

    reference.__name__ = reference.__qualname__ = f"{score_name}_{average}"
    reference.__doc__ = f"scikit-learn's {score_name}_score(average={average!r}, zero_division=0)"
    return reference


def roc_auc(y_true: Any, y_score: Any, n_classes: int | None = None) -> float:
    """Binary ROC-AUC of 1-D scores; one-vs-rest macro ROC-AUC of a probability matrix."""
    from sklearn.metrics import roc_auc_score

    y_true, scores = to_numpy(y_true), to_numpy(y_score).astype(float)
    if scores.ndim == 2:
        return float(roc_auc_score(y_true, scores, multi_class="ovr", labels=_labels(n_classes)))
    return float(roc_auc_score(y_true, scores))


def log_loss(y_true: Any, y_prob: Any, n_classes: int | None = None) -> float:
    """Mean negative log-likelihood; 1-D input is the probability of class 1."""
    from sklearn.metrics import log_loss as sklearn_log_loss

    y_true, probabilities = to_numpy(y_true), to_numpy(y_prob).astype(float)
    classes = n_classes if n_classes is not None else 2
    if probabilities.ndim == 2:
        classes = probabilities.shape[1]
    return float(sklearn_log_loss(y_true, probabilities, labels=list(range(classes))))


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int | None = None) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

    return sklearn_confusion_matrix(to_numpy(y_true), to_numpy(y_pred), labels=_labels(n_classes))


@dataclass(frozen=True)
class ReferenceInfo:
    """How to feed a reference: the kind of prediction it reads and whether it is binary only."""

    kind: str
    binary: bool = False  # defined on the classes 0 and 1 only
    counts: bool = False  # an array of counts: all zeros is an acceptable answer on empty input


REFERENCES: dict[str, Callable[..., Any]] = {"accuracy": accuracy}
REFERENCE_INFO: dict[str, ReferenceInfo] = {"accuracy": ReferenceInfo("labels")}
for _score in ("precision", "recall", "f1"):
    for _average in ("macro", "micro", "weighted", "binary"):
        REFERENCES[f"{_score}_{_average}"] = _averaged(_score, _average)
        REFERENCE_INFO[f"{_score}_{_average}"] = ReferenceInfo("labels", _average == "binary")
REFERENCES.update(roc_auc=roc_auc, log_loss=log_loss, confusion_matrix=confusion_matrix)
REFERENCE_INFO.update(
    roc_auc=ReferenceInfo("scores"),
    log_loss=ReferenceInfo("probabilities"),
    confusion_matrix=ReferenceInfo("labels", counts=True),
)

"""Evaluation QA: metrics of a model on an eval set, with the uncertainty the set's size
leaves them. :func:`evaluate` runs the ``eval.*`` checks on plain arrays; ``metrics``,
``calibration``, ``slices`` and ``clusters`` hold the pure functions under them."""

from dlqa.evaluate.api import evaluate
from dlqa.evaluate.metrics import (
    PROB_SUM_TOLERANCE,
    BootstrapIntervals,
    accuracy,
    accuracy_interval,
    bootstrap_accuracy,
    bootstrap_f1_per_class,
    bootstrap_intervals,
    bootstrap_macro_f1,
    confusion_counts,
    f1_per_class,
    macro_f1,
    precision_intervals,
    precision_per_class,
    predictions_from_probs,
    present_classes,
    recall_intervals,
    recall_per_class,
    resample_counts,
)

__all__ = [
    "evaluate",
    "PROB_SUM_TOLERANCE",
    "BootstrapIntervals",
    "accuracy",
    "accuracy_interval",
    "bootstrap_accuracy",
    "bootstrap_f1_per_class",
    "bootstrap_intervals",
    "bootstrap_macro_f1",
    "confusion_counts",
    "f1_per_class",
    "macro_f1",
    "precision_intervals",
    "precision_per_class",
    "predictions_from_probs",
    "present_classes",
    "recall_intervals",
    "recall_per_class",
    "resample_counts",
]

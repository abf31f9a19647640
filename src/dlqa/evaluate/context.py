"""What the ``eval.*`` checks read: one model's probabilities on the samples of its eval sets.

Every sample of every set is one row (the stage concatenates ``test``, ``golden`` and
``regression``); ``sets`` says which rows belong to which set. The headline metrics
(accuracy, macro F1, per class, confusion, calibration, slices) are those of the ``test``
rows; the case sets have checks of their own. Derived arrays (predictions, the test
confusion matrix, its bootstrap) are computed once, on first use, whichever check asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from dlqa.evaluate.inputs import TEST_SET
from dlqa.evaluate.metrics import BootstrapIntervals, bootstrap_intervals, confusion_counts

DEFAULT_RESAMPLES = 1000


@dataclass
class EvalContext:
    labels: np.ndarray  # (n,) int64 class indices
    probs: np.ndarray  # (n, C) float probabilities (float32 kept as it came)
    class_names: tuple[str, ...]
    sample_ids: Sequence[str]  # a tuple, or RowIds for the default "0".."n-1"
    # Set name -> sorted row indices; always has "test".
    sets: dict[str, np.ndarray]
    slices: dict[str, np.ndarray] = field(default_factory=dict)
    embeddings: np.ndarray | None = None
    guardrails: Any = None  # dlqa.evaluate.guardrails.Guardrails
    # Set name -> {sample id: whether the previous stored run got it right}.
    previous: dict[str, dict[str, bool]] = field(default_factory=dict)
    previous_run: int | None = None
    # Sample id -> a note on the case (the user report a regression case came from).
    notes: dict[str, str] = field(default_factory=dict)
    # Samples the model could not predict: {"id", "set", "reason"}; they have no row.
    failures: list[dict[str, Any]] = field(default_factory=list)
    # Set name -> content fingerprint (the stage's; stored so that comparisons can refuse
    # a different set).
    fingerprints: dict[str, str] = field(default_factory=dict)
    # Sample id -> its file, for galleries (the stage's; None from plain arrays).
    paths: dict[str, str] = field(default_factory=dict)
    modality: str | None = None
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = 0

    @property
    def n_classes(self) -> int:
        return int(self.probs.shape[1])

    @cached_property
    def predictions(self) -> np.ndarray:
        return np.argmax(self.probs, axis=1).astype(np.int64)

    @cached_property
    def confidence(self) -> np.ndarray:
        return self.probs.max(axis=1)

    @cached_property
    def correct(self) -> np.ndarray:
        return self.predictions == self.labels

    @property
    def test_index(self) -> np.ndarray:
        return self.sets[TEST_SET]

    @cached_property
    def test_counts(self) -> np.ndarray:
        index = self.test_index
        return confusion_counts(self.labels[index], self.predictions[index], self.n_classes)

    @cached_property
    def test_bootstrap(self) -> BootstrapIntervals:
        return bootstrap_intervals(self.test_counts, n_resamples=self.n_resamples, seed=self.seed)

    def inputs(self) -> frozenset[str]:
        """The optional inputs this evaluation has (for checks registered with ``needs``)."""
        have = {name for name, rows in self.sets.items() if name != TEST_SET and rows.size}
        if self.slices:
            have.add("slices")
        if self.embeddings is not None:
            have.add("embeddings")
        if self.guardrails is not None:
            have.add("guardrails")
        return frozenset(have)

    def sample(self, row: int, **extra: Any) -> dict[str, Any]:
        """One row as a ``samples`` evidence item: id, true label, prediction and confidence."""
        predicted = int(self.predictions[row])
        item: dict[str, Any] = {
            "id": self.sample_ids[row],
            "label": self.class_names[int(self.labels[row])],
            "predicted": self.class_names[predicted],
            "confidence": round(float(self.probs[row, predicted]), 4),
        }
        note = self.notes.get(self.sample_ids[row])
        if note:
            item["note"] = note
        item.update(extra)
        return item

"""The monitor's per-epoch confusion matrix, counted in bulk."""

from __future__ import annotations

from typing import Any

from dlqa.core.errors import UsageError
from dlqa.train import require_torch

torch = require_torch()


def predicted_labels(outputs: torch.Tensor) -> torch.Tensor:
    """Class indices from logits (class dimension 1), binary logits (threshold 0) or labels."""
    if not outputs.is_floating_point():
        return outputs.long()
    if outputs.dim() >= 2 and outputs.shape[1] > 1:
        return outputs.argmax(dim=1)
    if outputs.dim() >= 2:
        outputs = outputs.squeeze(1)
    return (outputs > 0).long()


def target_labels(targets: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """Class indices from integer targets, one-hot / soft targets, or binary float targets."""
    if not targets.is_floating_point():
        return targets.long()
    if targets.shape == outputs.shape and targets.dim() >= 2 and targets.shape[1] > 1:
        return targets.argmax(dim=1)
    if targets.dim() >= 2 and targets.shape[1] == 1:
        targets = targets.squeeze(1)
    return (targets >= 0.5).long()


def _count_of_predictions(outputs: torch.Tensor) -> int:
    """How many labels ``predicted_labels(outputs)`` gives, from the shape alone."""
    if outputs.is_floating_point() and outputs.dim() >= 2 and outputs.shape[1] > 1:
        return outputs.numel() // outputs.shape[1]
    return outputs.numel()


def _count_of_targets(targets: torch.Tensor, outputs: torch.Tensor) -> int:
    if (
        targets.is_floating_point()
        and targets.shape == outputs.shape
        and targets.dim() >= 2
        and targets.shape[1] > 1
    ):
        return targets.numel() // targets.shape[1]
    return targets.numel()


class ConfusionCounter:
    """Counts of (true class, predicted class) over one epoch, kept on the outputs' device.

    A step only keeps (detached) references to its outputs and targets; labels are taken and
    counted in bulk, every ``PENDING_STEPS`` steps, when ``PENDING_ELEMENTS`` output elements
    are waiting, and when the epoch closes: each tensor operation right after ``backward()``
    is slow, and one argmax over many batches costs what one over a single batch does. Outputs
    bigger than ``PENDING_ELEMENTS`` (segmentation maps) are reduced to labels at once, so
    the memory held stays bounded.
    """

    PENDING_STEPS = 128
    PENDING_ELEMENTS = 1 << 20

    def __init__(self, num_classes: int | None) -> None:
        self.fixed_classes = num_classes
        self.num_classes = num_classes or 0
        self.counts: torch.Tensor | None = None
        self._pending: list[tuple[torch.Tensor, torch.Tensor, bool]] = []  # (.., .., raw?)
        self._pending_elements = 0
        self._least_classes = 0  # from the outputs' class dimension
        self._checked: tuple | None = None  # the shapes and dtypes of the last checked batch
        self._elements = 0  # output elements of a batch of that shape

    def add(self, outputs: Any, targets: Any) -> None:
        # Batches of one shape were checked with the first of them: no per-step repetition
        # (this runs on every step, between backward() and the optimizer step).
        try:
            signature = (outputs.shape, outputs.dtype, targets.shape, targets.dtype)
        except AttributeError:
            signature = None
        if signature is None or signature != self._checked:
            self._check(outputs, targets)
            self._checked, self._elements = signature, outputs.numel()
        if self._elements > self.PENDING_ELEMENTS:
            outputs = outputs.detach()
            labels = (predicted_labels(outputs), target_labels(targets.detach(), outputs), False)
            self._pending.append(labels)
        else:
            self._pending.append((outputs.detach(), targets.detach(), True))
            self._pending_elements += self._elements
        if (
            len(self._pending) >= self.PENDING_STEPS
            or self._pending_elements >= self.PENDING_ELEMENTS
        ):
            self._count_pending()

    def _check(self, outputs: Any, targets: Any) -> None:
        if not isinstance(outputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
            raise UsageError(
                "step(outputs=..., targets=...) needs tensors: the model's outputs (logits or "
                f"labels) and the targets, not {type(outputs).__name__} and "
                f"{type(targets).__name__}"
            )
        predictions, labels = _count_of_predictions(outputs), _count_of_targets(targets, outputs)
        if predictions != labels:
            raise UsageError(
                f"step(): outputs give {predictions} predictions but targets hold {labels} labels",
                hint="pass the logits of shape (N, C, ...) and class-index targets (N, ...)",
            )
        if outputs.is_floating_point():
            has_class_dim = outputs.dim() >= 2 and outputs.shape[1] > 1
            least = outputs.shape[1] if has_class_dim else 2
            self._least_classes = max(self._least_classes, least)

    def _pending_labels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted and true labels of every pending step, flat, in one pass per shape."""
        groups: dict[tuple, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        labels: list[tuple[torch.Tensor, torch.Tensor]] = []
        for outputs, targets, raw in self._pending:
            if not raw:
                labels.append((outputs, targets))
                continue
            # Batches concatenate when all but their first dimension agree.
            key = (
                outputs.dim(), outputs.shape[1:], outputs.dtype, outputs.device,
                targets.dim(), targets.shape[1:], targets.dtype, targets.device,
            )  # fmt: skip
            groups.setdefault(key, []).append((outputs, targets))
        for members in groups.values():
            if len(members) > 1 and members[0][0].dim() >= 1 and members[0][1].dim() >= 1:
                outputs = torch.cat([o for o, _ in members])
                targets = torch.cat([t for _, t in members])
                members = [(outputs, targets)]
            labels += [(predicted_labels(o), target_labels(t, o)) for o, t in members]
        predicted = torch.cat([p.reshape(-1) for p, _ in labels])
        actual = torch.cat([a.reshape(-1).to(predicted.device) for _, a in labels])
        return predicted, actual

    def _count_pending(self) -> None:
        if not self._pending:
            return
        predicted, actual = self._pending_labels()
        self._pending, self._pending_elements = [], 0
        keep = actual >= 0  # negative targets are ignore_index (CrossEntropyLoss's -100)
        predicted, actual = predicted[keep], actual[keep]
        if actual.numel() == 0:
            return
        from_labels = int(torch.maximum(predicted.max(), actual.max())) + 1
        needed = max(from_labels, self._least_classes)
        if self.fixed_classes is not None and needed > self.fixed_classes:
            raise UsageError(
                f"step(outputs=, targets=): a label or prediction of the last "
                f"{self.PENDING_STEPS} steps reaches class {needed - 1} but num_classes is "
                f"{self.fixed_classes}",
                hint="pass the right num_classes to dlqa.monitor(), or leave it out",
            )
        self._grow(max(needed, self.num_classes), actual.device)
        size = self.num_classes
        flat = torch.bincount(actual * size + predicted, minlength=size * size)
        self.counts += flat.reshape(size, size)

    def _grow(self, size: int, device: torch.device) -> None:
        if self.counts is not None and size == self.num_classes:
            return
        grown = torch.zeros((size, size), dtype=torch.long, device=device)
        if self.counts is not None:
            old = self.num_classes
            grown[:old, :old] = self.counts
        self.counts, self.num_classes = grown, size

    def close(self):
        """The epoch's matrix (rows: true class, columns: predicted) and a fresh count."""
        self._count_pending()
        if self.counts is None:
            return None
        matrix = self.counts.cpu().numpy()
        # The class count carries over, so every epoch's matrix has at least the same size.
        self.counts = None
        return matrix

"""Which loss the user trains with, and the loss a fresh model should start from."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlqa.core.errors import UsageError

LOSS_KINDS = ("cross_entropy", "nll", "bce_with_logits", "bce")

_LOSS_CLASSES = {
    nn.CrossEntropyLoss: "cross_entropy",
    nn.NLLLoss: "nll",
    nn.BCEWithLogitsLoss: "bce_with_logits",
    nn.BCELoss: "bce",
}
_LOSS_FUNCTIONS = {
    F.cross_entropy: "cross_entropy",
    F.nll_loss: "nll",
    F.binary_cross_entropy_with_logits: "bce_with_logits",
    F.binary_cross_entropy: "bce",
}


def resolve_loss_kind(loss_fn: Any, loss_kind: str | None) -> str | None:
    """The declared ``loss_kind``, or the one recognised from the loss object; None if unknown."""
    if loss_kind is not None:
        if loss_kind not in LOSS_KINDS:
            raise UsageError(
                f"loss_kind {loss_kind!r} is not known", hint=f"choose from {list(LOSS_KINDS)}"
            )
        return loss_kind
    for loss_class, kind in _LOSS_CLASSES.items():
        if isinstance(loss_fn, loss_class):
            return kind
    target = loss_fn.func if isinstance(loss_fn, functools.partial) else loss_fn
    return _LOSS_FUNCTIONS.get(target)


def loss_reduction(loss_fn: Any) -> str:
    if isinstance(loss_fn, nn.Module):
        return str(getattr(loss_fn, "reduction", "mean"))
    if isinstance(loss_fn, functools.partial):
        return str(loss_fn.keywords.get("reduction", "mean"))
    return "mean"


@dataclass(frozen=True)
class ExpectedLoss:
    """The band a fresh model's loss should fall in.

    ``uniform`` is the loss of uniform predictions (what a standard initialisation gives);
    ``prior`` is the loss of the best constant prediction, the entropy of the batch's class
    prior (what an output bias initialised to the log prior gives). On a balanced batch the
    two coincide at ln C (or ln 2)."""

    uniform: float
    prior: float
    classes: int
    formula: str


def _entropy(probabilities: torch.Tensor) -> float:
    p = probabilities.double()
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def _binary_entropy(rates: torch.Tensor) -> float:
    p = rates.double().clamp(1e-12, 1 - 1e-12)
    return float((-(p * p.log()) - (1 - p) * (1 - p).log()).mean())


def expected_initial_loss(
    kind: str, outputs: torch.Tensor, targets: torch.Tensor, loss_fn: Any = None
) -> ExpectedLoss:
    if kind in ("cross_entropy", "nll"):
        if outputs.ndim < 2:
            raise UsageError(
                f"a {kind} loss needs outputs of shape (batch, classes, ...), "
                f"got {tuple(outputs.shape)}"
            )
        classes = int(outputs.shape[1])
        if targets.is_floating_point() and targets.shape == outputs.shape:
            # Soft labels: the prior is the mean target distribution.
            prior = targets.detach().movedim(1, -1).reshape(-1, classes).double().mean(0)
        else:
            labels = targets.detach().reshape(-1).long()
            ignore_index = getattr(loss_fn, "ignore_index", -100)
            labels = labels[labels != ignore_index]
            labels = labels[(labels >= 0) & (labels < classes)]
            counts = torch.bincount(labels.cpu(), minlength=classes).double()
            prior = counts / counts.sum().clamp(min=1)
        return ExpectedLoss(
            uniform=math.log(classes),
            prior=_entropy(prior.cpu()),
            classes=classes,
            formula=f"ln {classes} = {math.log(classes):.3f} for uniform predictions",
        )
    # Binary: each output is an independent yes/no; the prior is each output's positive rate.
    rates = targets.detach().double().reshape(targets.shape[0], -1).mean(0)
    return ExpectedLoss(
        uniform=math.log(2),
        prior=_binary_entropy(rates.cpu()),
        classes=2,
        formula=f"ln 2 = {math.log(2):.3f} for predictions of 0.5",
    )


def initial_loss_tolerance(uniform: float, batch_size: int, params: dict[str, Any]) -> float:
    """How far outside the expected band a healthy fresh model's loss may lie.

    A freshly initialised network does not output exactly uniform predictions: with logits of
    per-class spread sigma the expected cross-entropy rises by about sigma^2 / 2 above ln C
    (second-order expansion of log-sum-exp), and default fan-in scaled initialisations give
    sigma of roughly 0.3-0.6, hence ``init_allowance`` (a fraction of the uniform loss). On top
    of that, per-sample losses at initialisation scatter by about ``per_sample_std`` nats around
    their mean, so the batch mean has a standard error of per_sample_std / sqrt(B); ``sigmas``
    of those are allowed, which makes the band wider for small batches."""
    allowance = params["init_allowance"] * uniform
    noise = params["sigmas"] * params["per_sample_std"] / math.sqrt(max(batch_size, 1))
    return allowance + noise


def looks_like_probabilities(kind: str, outputs: torch.Tensor) -> str | None:
    """Why the outputs look already squashed for a loss that squashes itself, or None."""
    if outputs.numel() == 0:
        return None
    if kind == "cross_entropy" and outputs.ndim >= 2:
        sums = outputs.double().sum(1)
        in_unit = bool(((outputs >= 0) & (outputs <= 1)).all())
        if in_unit and bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-4)):
            return (
                "the outputs are already probabilities (non-negative, summing to 1 per sample): "
                "CrossEntropyLoss applies log-softmax itself and expects raw logits; remove "
                "the softmax at the end of the model"
            )
    if kind == "nll" and bool((outputs > 0).any()):
        return (
            "some outputs are positive: NLLLoss expects log-probabilities (<= 0); end the "
            "model with log_softmax"
        )
    # With 16 or more logits, all of them in (0, 1) at initialisation is very unlikely for
    # zero-centred logits (about 2^-16), but certain after a sigmoid.
    in_unit_interval = bool(((outputs > 0) & (outputs < 1)).all())
    if kind == "bce_with_logits" and outputs.numel() >= 16 and in_unit_interval:
        return (
            "every output lies in (0, 1), as after a sigmoid: BCEWithLogitsLoss applies "
            "the sigmoid itself and expects raw logits"
        )
    return None


def predicted_labels(kind: str | None, outputs: torch.Tensor) -> torch.Tensor | None:
    """Predicted classes for accuracy, or None for losses that are not classification."""
    if kind in ("cross_entropy", "nll") and outputs.ndim >= 2:
        return outputs.argmax(1)
    if kind == "bce_with_logits":
        return (outputs > 0).long()
    if kind == "bce":
        return (outputs > 0.5).long()
    return None


def accuracy(kind: str | None, outputs: torch.Tensor, targets: torch.Tensor) -> float | None:
    predicted = predicted_labels(kind, outputs)
    if predicted is None:
        return None
    if kind in ("cross_entropy", "nll"):
        if targets.is_floating_point() and targets.shape == outputs.shape:
            targets = targets.argmax(1)
    else:
        targets = (targets > 0.5).long()
    if predicted.shape != targets.shape:
        return None
    return float((predicted == targets.long()).double().mean())

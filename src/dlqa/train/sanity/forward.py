"""Checks of the first forward pass: output shape, finiteness, the initial loss."""

from __future__ import annotations

import math
from typing import Any

import torch

from dlqa.core.gates import verdict
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.train.sanity.context import SanityContext
from dlqa.train.sanity.losses import (
    expected_initial_loss,
    initial_loss_tolerance,
    looks_like_probabilities,
    loss_reduction,
)


def _shape_text(shape: Any) -> str:
    return "(" + ", ".join("*" if d is None else str(d) for d in shape) + ")"


def _declared_shape_problems(actual: tuple[int, ...], declared: tuple[Any, ...]) -> list[str]:
    if len(actual) != len(declared):
        return [f"has {len(actual)} dimensions, declared {len(declared)}"]
    return [
        f"dimension {i} is {a}, declared {d}"
        for i, (a, d) in enumerate(zip(actual, declared, strict=True))
        if d is not None and d != -1 and a != d
    ]


def _derived_shape_problems(ctx: SanityContext, outputs: torch.Tensor) -> list[str]:
    """What the batch and the loss type say the output shape must be."""
    problems = []
    shape, targets = tuple(outputs.shape), ctx.targets
    if not shape or shape[0] != ctx.batch_size:
        problems.append(f"first dimension should be the batch size {ctx.batch_size}")
    kind = ctx.loss_kind
    if kind in ("cross_entropy", "nll"):
        if len(shape) < 2:
            problems.append("a classification loss needs (batch, classes, ...) outputs")
        elif not targets.is_floating_point():
            expected = (shape[0], *shape[2:])
            if tuple(targets.shape) != expected:
                problems.append(
                    f"class-index targets of shape {tuple(targets.shape)} need outputs "
                    f"(batch, classes{', ...' if len(shape) > 2 else ''}) matching them"
                )
            elif targets.numel() and int(targets.max()) >= shape[1]:
                problems.append(
                    f"the largest target class is {int(targets.max())} but there are only "
                    f"{shape[1]} output classes"
                )
    elif kind in ("bce_with_logits", "bce"):
        if tuple(targets.shape) != shape:
            problems.append(f"binary losses need outputs shaped like the targets {targets.shape}")
    elif targets.is_floating_point() and tuple(targets.shape) != shape:
        # The classic regression bug: (B, 1) outputs against (B,) targets broadcast to (B, B).
        try:
            combined = torch.broadcast_shapes(outputs.shape, targets.shape)
        except RuntimeError:
            combined = None
        if combined is not None and math.prod(combined) > max(outputs.numel(), targets.numel()):
            problems.append(
                f"outputs {shape} and targets {tuple(targets.shape)} broadcast to "
                f"{tuple(combined)}, mixing every sample with every target"
            )
    return problems


def check_output_shape(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    outputs = ctx.first_pass.outputs
    actual = tuple(outputs.shape)
    if ctx.expected_output_shape is not None:
        expectation = f"declared {_shape_text(ctx.expected_output_shape)}"
        problems = _declared_shape_problems(actual, tuple(ctx.expected_output_shape))
    else:
        expectation = "derived from the batch and the loss"
        problems = _derived_shape_problems(ctx, outputs)
    summary = f"output shape {actual} ({expectation})"
    summary += ": " + "; ".join(problems) if problems else " is as expected"
    return CheckResult(
        "train.output_shape",
        verdict(bool(problems), params),
        summary,
        value=float(len(problems)),
        threshold=0.0,
        details={
            "shape": list(actual),
            "expected": None
            if ctx.expected_output_shape is None
            else list(ctx.expected_output_shape),
            "targets_shape": list(ctx.targets.shape),
            "problems": problems,
        },
    )


def check_finite_outputs(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    first = ctx.first_pass
    per_sample = first.outputs.reshape(first.outputs.shape[0], -1) if first.outputs.ndim else None
    items = []
    if per_sample is not None:
        nan = torch.isnan(per_sample).sum(1)
        inf = torch.isinf(per_sample).sum(1)
        for index in torch.nonzero((nan + inf) > 0).flatten().tolist():
            items.append({"id": index, "nan": int(nan[index]), "inf": int(inf[index])})
    loss_finite = math.isfinite(first.loss)
    bad = bool(items) or not loss_finite or not bool(torch.isfinite(first.outputs).all())
    if not bad:
        summary = (
            f"outputs of all {ctx.batch_size} samples and the loss {first.loss:.4g} are finite"
        )
    elif items:
        summary = (
            f"{len(items)} of {ctx.batch_size} samples have NaN or infinite outputs "
            "(look for log, sqrt or division of values that can be <= 0)"
        )
    else:
        summary = f"the outputs are finite but the loss is {first.loss}"
    return CheckResult(
        "train.finite_outputs",
        verdict(bad, params),
        summary,
        value=float(len(items)),
        threshold=0.0,
        evidence=[Evidence("samples", items, len(items), "samples with non-finite outputs")]
        if items
        else [],
        details={"loss": first.loss if loss_finite else str(first.loss)},
    )


def check_initial_loss(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.initial_loss"
    if (skipped := ctx.skip_if_not_finite(check_id)) is not None:
        return skipped
    if ctx.loss_kind is None:
        return CheckResult(
            check_id,
            Status.SKIP,
            f"no expectation for a loss of type {type(ctx.loss_fn).__name__}: pass loss_kind "
            "(cross_entropy, nll, bce_with_logits or bce) to check the initial loss",
        )
    if (reduction := loss_reduction(ctx.loss_fn)) != "mean":
        return CheckResult(
            check_id, Status.SKIP, f"the loss uses reduction={reduction!r}; expected 'mean'"
        )
    first = ctx.first_pass
    expected = expected_initial_loss(ctx.loss_kind, first.outputs, ctx.targets, ctx.loss_fn)
    tolerance = initial_loss_tolerance(expected.uniform, ctx.batch_size, params)
    low, high = min(expected.prior, expected.uniform), max(expected.prior, expected.uniform)
    deviation = max(low - first.loss, first.loss - high, 0.0)
    squashed = looks_like_probabilities(ctx.loss_kind, first.outputs)
    violated = deviation > tolerance or squashed is not None
    band = (
        f"{expected.uniform:.3f}"
        if math.isclose(low, high, abs_tol=1e-3)
        else f"{low:.3f} (entropy of the batch's class prior) to {high:.3f}"
    )
    summary = (
        f"initial loss {first.loss:.3f}, expected {band} ({expected.formula}), "
        f"tolerance {tolerance:.3f} for a batch of {ctx.batch_size}"
    )
    if squashed is not None:
        summary += f": {squashed}"
    elif deviation > tolerance:
        summary += f": off by {deviation:.3f} (check the output layer's initialisation and scale)"
    return CheckResult(
        check_id,
        verdict(violated, params),
        summary,
        value=deviation,
        threshold=tolerance,
        evidence=[
            Evidence(
                "table",
                [
                    {"quantity": "measured initial loss", "value": first.loss},
                    {"quantity": "uniform-prediction loss", "value": expected.uniform},
                    {"quantity": "class-prior entropy", "value": expected.prior},
                    {"quantity": "tolerance", "value": tolerance},
                ],
                4,
                "the initial loss against its expectation",
            )
        ],
        details={
            "loss": first.loss,
            "loss_kind": ctx.loss_kind,
            "classes": expected.classes,
            "expected_uniform": expected.uniform,
            "expected_prior": expected.prior,
            "tolerance": tolerance,
            "batch_size": ctx.batch_size,
            "outputs_look_like_probabilities": squashed is not None,
        },
    )

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
from dlqa.train.sanity.shapes import declared_shape_problems, shape_text

_SHAPE = "train.output_shape"


def check_output_shape(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = _SHAPE
    first = ctx.first_pass
    if first.error is not None:
        # The model raised: an error finding that names the module, not a usage error.
        return CheckResult(
            check_id, Status.ERROR, first.error.message, details=first.error.details()
        )
    listing = {"outputs": list(first.listing)} if first.listing else {}
    if first.outputs is None:
        return CheckResult(
            check_id,
            verdict(True, params),
            str(first.output_problem),
            value=1.0,
            threshold=0.0,
            details={**listing, "problems": [first.output_problem]},
        )
    outputs = first.outputs
    actual = tuple(outputs.shape)
    if ctx.expected_output_shape is not None:
        expectation = f"declared {shape_text(ctx.expected_output_shape)}"
    else:
        expectation = "derived from the batch and the loss"
    problems = [first.rows_problem] if first.rows_problem else []
    if first.rows_problem is None:
        problems += ctx.shape_problems(outputs)
    elif ctx.expected_output_shape is not None:
        problems += declared_shape_problems(actual, tuple(ctx.expected_output_shape))
    if first.loss_error is not None:
        problems.append(first.loss_error)
    summary = f"output shape {actual} ({expectation})"
    summary += ": " + "; ".join(problems) if problems else " is as expected"
    return CheckResult(
        check_id,
        verdict(bool(problems), params),
        summary,
        value=float(len(problems)),
        threshold=0.0,
        details={
            "shape": list(actual),
            "batch_size": ctx.batch_size,
            "expected": None
            if ctx.expected_output_shape is None
            else list(ctx.expected_output_shape),
            "targets_shape": list(ctx.targets.shape),
            "problems": problems,
            **listing,
        },
    )


def check_finite_outputs(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.finite_outputs"
    first = ctx.first_pass
    if first.error is not None or first.outputs is None:
        what = "forward pass raised" if first.error is not None else "output is not one tensor"
        return CheckResult(check_id, Status.SKIP, f"skipped: the model's {what} (see {_SHAPE})")
    # Outputs that are not one row per sample are judged as a whole (no per-sample evidence).
    by_sample = first.outputs.ndim > 0 and first.rows_problem is None
    per_sample = first.outputs.reshape(first.outputs.shape[0], -1) if by_sample else None
    items = []
    if per_sample is not None:
        nan = torch.isnan(per_sample).sum(1)
        inf = torch.isinf(per_sample).sum(1)
        for index in torch.nonzero((nan + inf) > 0).flatten().tolist():
            items.append({"id": index, "nan": int(nan[index]), "inf": int(inf[index])})
    loss_finite = first.loss is None or math.isfinite(first.loss)
    bad = bool(items) or not loss_finite or not bool(torch.isfinite(first.outputs).all())
    if not bad and first.loss is None:
        summary = "the outputs are finite (the loss was not computed: see train.output_shape)"
    elif not bad:
        summary = (
            f"outputs of all {ctx.batch_size} samples and the loss {first.loss:.4g} are finite"
        )
    elif items:
        summary = (
            f"{len(items)} of {ctx.batch_size} samples have NaN or infinite outputs "
            "(look for log, sqrt or division of values that can be <= 0)"
        )
    elif loss_finite:
        summary = "some outputs are NaN or infinite"
    else:
        summary = f"the outputs are finite but the loss is {first.loss}"
    return CheckResult(
        check_id,
        verdict(bad, params),
        summary,
        value=float(len(items)),
        threshold=0.0,
        evidence=[Evidence("samples", items, len(items), "samples with non-finite outputs")]
        if items
        else [],
        details={"loss": first.loss if first.loss is None or loss_finite else str(first.loss)},
    )


def check_initial_loss(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.initial_loss"
    if (skipped := ctx.skip_unless(check_id, "loss")) is not None:
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

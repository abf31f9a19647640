"""Reproducibility: seeded runs agree, eval mode is deterministic and differs from train mode
when the model has mode-dependent layers."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from dlqa.core.gates import verdict
from dlqa.core.results import CheckResult, Evidence
from dlqa.train.sanity.context import SanityContext, relative_difference


def check_determinism(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.determinism"
    if (skipped := ctx.skip_unless(check_id, "training")) is not None:
        return skipped
    steps = int(params["steps"])
    first = ctx.training_curve(steps)
    second = ctx.run_training(steps)
    tolerance = params["cuda_tolerance"] if ctx.on_cuda else params["tolerance"]
    rows, worst = [], 0.0
    for step, (a, b) in enumerate(zip(first, second, strict=True)):
        if math.isnan(a) and math.isnan(b):
            difference = 0.0
        else:
            difference = abs(a - b) / max(abs(a), 1e-12) if a != b else 0.0
        if math.isnan(difference):
            difference = math.inf
        worst = max(worst, difference)
        rows.append({"step": step, "first_run": a, "second_run": b, "value": difference})
    device = "CUDA" if ctx.on_cuda else "CPU"
    violated = worst > tolerance
    if violated:
        step = next(r["step"] for r in rows if r["value"] > tolerance)
        summary = (
            f"two runs with seed {ctx.seed} differ from step {step} (relative difference up to "
            f"{worst:.2g}, tolerance {tolerance:g} on {device}): look for unseeded randomness"
        )
    else:
        summary = (
            f"two runs of {steps} steps with seed {ctx.seed} give the same losses "
            f"(largest relative difference {worst:.2g}, tolerance {tolerance:g} on {device})"
        )
    return CheckResult(
        check_id,
        verdict(violated, params),
        summary,
        value=worst,
        threshold=tolerance,
        evidence=[Evidence("table", rows, len(rows), "loss per step in the two runs")],
        details={"device": ctx.device.type, "steps": steps},
    )


def mode_dependent_layers(model: nn.Module) -> list[str]:
    """Modules that compute differently in train and eval mode: dropout (p > 0), BatchNorm."""
    names = []
    for name, module in model.named_modules():
        is_dropout = isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0
        if is_dropout or isinstance(module, nn.modules.batchnorm._BatchNorm):
            names.append(name or type(module).__name__)
    return names


def check_modes(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.modes"
    if (skipped := ctx.skip_unless(check_id, "outputs")) is not None:
        return skipped
    model = ctx.fresh_model(train=False)
    layers = mode_dependent_layers(model)
    with torch.no_grad():
        first_eval = ctx.forward(model).detach().clone()
        second_eval = ctx.forward(model).detach().clone()
        model.train()
        train_outputs = ctx.forward(model).detach()
    eval_difference = relative_difference(first_eval, second_eval)
    mode_difference = relative_difference(first_eval, train_outputs)
    eval_deterministic = eval_difference <= params["tolerance"]
    problems = []
    if not eval_deterministic:
        problems.append(f"two eval-mode passes differ (relative {eval_difference:.2g})")
    if layers and mode_difference == 0.0:
        problems.append(
            f"the model has {len(layers)} dropout/BatchNorm layers yet train and eval outputs "
            "are identical (is the mode forced inside forward?)"
        )
    if problems:
        summary = "; ".join(problems)
    elif layers:
        summary = (
            f"eval mode is deterministic and differs from train mode (relative "
            f"{mode_difference:.2g}), as expected with {len(layers)} dropout/BatchNorm layers"
        )
    else:
        summary = (
            "eval mode is deterministic; the model has no dropout or BatchNorm, so train and "
            "eval mode are not expected to differ"
        )
    evidence = []
    if not eval_deterministic:
        moved = (first_eval.double() - second_eval.double()).abs()
        per_sample = moved.reshape(moved.shape[0], -1).amax(1) if moved.ndim else moved[None]
        items = [
            {"id": i, "value": float(per_sample[i])}
            for i in torch.nonzero(per_sample > 0).flatten().tolist()
        ]
        evidence.append(Evidence("samples", items, len(items), "samples whose eval output varies"))
    return CheckResult(
        check_id,
        verdict(bool(problems), params),
        summary,
        value=eval_difference,
        threshold=params["tolerance"],
        evidence=evidence,
        details={
            "mode_dependent_layers": layers,
            "train_eval_difference": mode_difference,
            "eval_eval_difference": eval_difference,
        },
    )

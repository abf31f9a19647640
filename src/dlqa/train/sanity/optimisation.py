"""Checks that train on the batch: the loss decreases, the batch can be overfitted, and the
inputs carry information the model uses."""

from __future__ import annotations

import math
from typing import Any

import torch

from dlqa.core.gates import verdict
from dlqa.core.results import CheckResult, Evidence
from dlqa.train.sanity.context import SanityContext
from dlqa.train.sanity.losses import accuracy


def _json_number(value: float | None) -> float | str | None:
    """NaN and infinity as text: strict JSON has no literal for them."""
    return value if value is None or math.isfinite(value) else str(value)


def _curve_table(losses: list[float], **other: list[float | None]) -> list[dict[str, Any]]:
    rows = []
    for step, loss in enumerate(losses):
        row: dict[str, Any] = {"step": step, "loss": _json_number(loss)}
        for name, values in other.items():
            row[name] = _json_number(values[step]) if step < len(values) else None
        rows.append(row)
    return rows


def _json_ratio(numerator: float, denominator: float | None) -> float | None:
    if not denominator or not math.isfinite(numerator) or not math.isfinite(denominator):
        return None
    return numerator / denominator


def _first_non_finite(losses: list[float]) -> int | None:
    return next((i for i, loss in enumerate(losses) if not math.isfinite(loss)), None)


def check_loss_decreases(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.loss_decreases"
    if (skipped := ctx.skip_if_not_finite(check_id)) is not None:
        return skipped
    steps = int(params["steps"])
    losses = ctx.training_curve(steps)
    first, last = losses[0], losses[-1]
    broken_at = _first_non_finite(losses)
    drop = (first - last) / abs(first) if first != 0 and broken_at is None else 0.0
    violated = broken_at is not None or drop < params["min_relative_drop"]
    if broken_at is not None:
        summary = f"the loss became {losses[broken_at]} at step {broken_at} of {steps}"
    else:
        summary = (
            f"loss {first:.4g} -> {last:.4g} over {steps} steps ({drop:+.1%} drop, at least "
            f"{params['min_relative_drop']:.1%} required)"
        )
    return CheckResult(
        check_id,
        verdict(violated, params),
        summary,
        value=drop,
        threshold=params["min_relative_drop"],
        evidence=[Evidence("table", _curve_table(losses), len(losses), "loss per step")],
        details={"losses": [_json_number(x) for x in losses]},
    )


def _eval_loss_and_accuracy(ctx: SanityContext, model: torch.nn.Module) -> tuple[float, Any]:
    """Loss and accuracy with dropout off, restoring train mode afterwards."""
    model.eval()
    try:
        with torch.no_grad():
            outputs = ctx.forward(model)
            loss = float(ctx.loss(outputs))
    finally:
        model.train()
    return loss, accuracy(ctx.loss_kind, outputs, ctx.targets)


def check_overfit_batch(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.overfit_batch"
    if (skipped := ctx.skip_if_not_finite(check_id)) is not None:
        return skipped
    model = ctx.fresh_model()
    optimizer = ctx.fresh_optimizer(model)
    max_steps, eval_every = int(params["max_steps"]), int(params["eval_every"])
    losses: list[float] = []
    eval_losses: dict[int, float] = {}
    target = math.nan
    reached_at: int | None = None
    for step in range(1, max_steps + 1):
        loss = ctx.train_step(model, optimizer)
        losses.append(loss)
        if not math.isfinite(loss):
            break
        if step == 1:
            target = params["target_fraction"] * loss
        if loss <= target:
            reached_at = step
            break
        # Dropout keeps the train-mode loss noisy; the eval-mode loss shows what was learnt.
        if step % eval_every == 0:
            eval_losses[step], _ = _eval_loss_and_accuracy(ctx, model)
            if eval_losses[step] <= target:
                reached_at = step
                break
    final_eval, final_accuracy = _eval_loss_and_accuracy(ctx, model)
    best = min([*losses, *eval_losses.values(), final_eval], default=math.nan)
    if reached_at is None and math.isfinite(final_eval) and final_eval <= target:
        reached_at = len(losses)
    broken_at = _first_non_finite(losses)
    accuracy_text = "" if final_accuracy is None else f", accuracy {final_accuracy:.0%}"
    if broken_at is not None:
        summary = f"the loss became {losses[broken_at]} at step {broken_at + 1} while overfitting"
    elif reached_at is not None:
        summary = (
            f"overfitted the batch in {reached_at} steps: loss {losses[0]:.4g} -> {best:.4g} "
            f"(target {target:.4g}){accuracy_text}"
        )
    else:
        summary = (
            f"did not overfit the batch in {max_steps} steps: best loss {best:.4g}, target "
            f"{target:.4g} ({params['target_fraction']:g} of the first loss){accuracy_text}"
        )
    rows = _curve_table(losses, eval_loss=[eval_losses.get(i + 1) for i in range(len(losses))])
    return CheckResult(
        check_id,
        verdict(reached_at is None, params),
        summary,
        value=_json_ratio(best, losses[0] if losses else None),
        threshold=params["target_fraction"],
        evidence=[Evidence("table", rows, len(rows), "train-mode (and eval-mode) loss per step")],
        details={
            "steps": reached_at,
            "max_steps": max_steps,
            "first_loss": _json_number(losses[0]) if losses else None,
            "best_loss": best if math.isfinite(best) else None,
            "target_loss": target if math.isfinite(target) else None,
            "accuracy": final_accuracy,
        },
    )


def check_input_dependence(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.input_dependence"
    if (skipped := ctx.skip_if_not_finite(check_id)) is not None:
        return skipped
    steps = int(params["steps"])
    real = ctx.training_curve(steps)
    zeroed = ctx.training_curve(steps, zero_inputs=True)
    # The mean of the last few losses: dropout makes any single step noisy.
    tail = min(3, steps)
    real_end, zero_end = sum(real[-tail:]) / tail, sum(zeroed[-tail:]) / tail
    finite = math.isfinite(real_end) and math.isfinite(zero_end)
    gap = (zero_end - real_end) / abs(zero_end) if finite and zero_end != 0 else 0.0
    violated = not finite or gap < params["min_relative_gap"]
    summary = (
        f"after {steps} steps the loss is {real_end:.4g} on the real inputs and {zero_end:.4g} "
        f"on zeroed inputs ({gap:.1%} lower, at least {params['min_relative_gap']:.0%} required)"
    )
    if violated and finite:
        summary += ": the model does not seem to use its inputs"
    return CheckResult(
        check_id,
        verdict(violated, params),
        summary,
        value=gap,
        threshold=params["min_relative_gap"],
        evidence=[
            Evidence(
                "table",
                _curve_table(real, zeroed_inputs=zeroed),
                len(real),
                "loss per step on real and on zeroed inputs",
            )
        ],
        details={
            "real_final_loss": _json_number(real_end),
            "zeroed_final_loss": _json_number(zero_end),
            "steps": steps,
        },
    )

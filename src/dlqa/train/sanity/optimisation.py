"""Checks that train on the batch: the loss decreases, the batch can be overfitted (its step
budget cut short on a plateau: see overfit.py), and the inputs carry information the model
uses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from dlqa.core.gates import verdict
from dlqa.core.results import CheckResult, Evidence
from dlqa.train.sanity.context import SanityContext
from dlqa.train.sanity.losses import accuracy
from dlqa.train.sanity.overfit import PLATEAU_SPEEDUP, PLATEAU_WINDOW, Plateau, Progress


def _json_number(value: float | None) -> float | str | None:
    """NaN and infinity as text: strict JSON has no literal for them."""
    return value if value is None or math.isfinite(value) else str(value)


def _curve_table(
    losses: list[float], *, first_step: int = 0, **other: list[float | None]
) -> list[dict[str, Any]]:
    rows = []
    for index, loss in enumerate(losses):
        row: dict[str, Any] = {"step": first_step + index, "loss": _json_number(loss)}
        for name, values in other.items():
            row[name] = _json_number(values[index]) if index < len(values) else None
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


def _plateau_params(params: dict[str, Any]) -> tuple[int, float]:
    """The early stop's window and speedup: the check's parameters when it declares them,
    otherwise this module's defaults."""
    window = int(params.get("plateau_window", PLATEAU_WINDOW))
    return window, float(params.get("plateau_speedup", PLATEAU_SPEEDUP))


@dataclass
class _OverfitRun:
    losses: list[float]  # train-mode loss of each step, measured before its update
    eval_losses: dict[int, float]  # eval-mode loss after the step, every eval_every steps
    target: float
    reached_at: int | None = None
    plateau: Plateau | None = None
    final_eval: float = math.nan
    final_accuracy: float | None = None

    @property
    def best(self) -> float:
        return min([*self.losses, *self.eval_losses.values(), self.final_eval], default=math.nan)


def _overfit(ctx: SanityContext, params: dict[str, Any]) -> _OverfitRun:
    """Train a fresh model on the batch until the target is met, the loss is not finite, the
    run plateaus above the target (see overfit.py) or the budget is spent."""
    model = ctx.fresh_model()
    optimizer = ctx.fresh_optimizer(model)
    max_steps, eval_every = int(params["max_steps"]), int(params["eval_every"])
    window, speedup = _plateau_params(params)
    run = _OverfitRun([], {}, math.nan)
    last_eval: tuple[int, float, Any] | None = None  # step, eval-mode loss, accuracy
    progress: Progress | None = None
    for step in range(1, max_steps + 1):
        loss = ctx.train_step(model, optimizer)
        run.losses.append(loss)
        if not math.isfinite(loss):
            break
        if progress is None:
            run.target = params["target_fraction"] * loss
            progress = Progress(loss, run.target, max_steps, window, speedup)
        progress.record(step, loss)
        if loss <= run.target:
            run.reached_at = step
            break
        # Dropout keeps the train-mode loss noisy; the eval-mode loss shows what was learnt.
        if step % eval_every == 0:
            eval_loss, eval_accuracy = _eval_loss_and_accuracy(ctx, model)
            run.eval_losses[step], last_eval = eval_loss, (step, eval_loss, eval_accuracy)
            progress.record(step, eval_loss)
            if eval_loss <= run.target:
                run.reached_at = step
                break
            # Judged at the eval points only, where the best loss includes the eval-mode one.
            if (plateau := progress.plateau(step)) is not None:
                run.plateau = plateau
                break
    if last_eval is not None and last_eval[0] == len(run.losses):
        # No update since the last eval-mode pass: the same weights give the same loss.
        run.final_eval, run.final_accuracy = last_eval[1], last_eval[2]
    else:
        run.final_eval, run.final_accuracy = _eval_loss_and_accuracy(ctx, model)
    if run.reached_at is None and run.final_eval <= run.target:
        run.reached_at = len(run.losses)
    return run


def _overfit_summary(run: _OverfitRun, params: dict[str, Any]) -> str:
    losses, target, best = run.losses, run.target, run.best
    broken_at = _first_non_finite(losses)
    accuracy = run.final_accuracy
    accuracy_text = "" if accuracy is None else f", accuracy {accuracy:.0%}"
    target_text = f"{target:.4g} ({params['target_fraction']:g} of the first loss)"
    if broken_at is not None:
        return f"the loss became {losses[broken_at]} at step {broken_at + 1} while overfitting"
    if run.reached_at is not None:
        return (
            f"overfitted the batch in {run.reached_at} steps: loss {losses[0]:.4g} -> "
            f"{best:.4g} (target {target:.4g}){accuracy_text}"
        )
    if run.plateau is not None:
        accuracy_note = "" if accuracy is None else f" (accuracy {accuracy:.0%})"
        return f"did not overfit the batch{accuracy_note}: {run.plateau.describe(target_text)}"
    return (
        f"did not overfit the batch in {params['max_steps']} steps: best loss {best:.4g}, "
        f"target {target_text}{accuracy_text}"
    )


def check_overfit_batch(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.overfit_batch"
    if (skipped := ctx.skip_if_not_finite(check_id)) is not None:
        return skipped
    run = _overfit(ctx, params)
    losses, best = run.losses, run.best
    rows = _curve_table(
        losses, first_step=1, eval_loss=[run.eval_losses.get(i + 1) for i in range(len(losses))]
    )
    return CheckResult(
        check_id,
        verdict(run.reached_at is None, params),
        _overfit_summary(run, params),
        value=_json_ratio(best, losses[0] if losses else None),
        threshold=params["target_fraction"],
        evidence=[Evidence("table", rows, len(rows), "train-mode (and eval-mode) loss per step")],
        details={
            "steps": run.reached_at,
            "steps_run": len(losses),
            "max_steps": int(params["max_steps"]),
            "plateau": None if run.plateau is None else run.plateau.to_dict(),
            "first_loss": _json_number(losses[0]) if losses else None,
            "best_loss": best if math.isfinite(best) else None,
            "target_loss": run.target if math.isfinite(run.target) else None,
            "accuracy": run.final_accuracy,
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

"""Checks of one backward pass and one optimizer step: gradients, updates, frozen state."""

from __future__ import annotations

from typing import Any

import torch

from dlqa.core.gates import verdict
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.train.sanity.context import SanityContext


def _norm(tensor: torch.Tensor) -> float:
    return float(tensor.detach().double().norm())


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_gradient_flow(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    """``train.gradients``: every trainable parameter gets a finite, non-zero gradient."""
    check_id = "train.gradients"
    if (skipped := ctx.skip_unless(check_id, "loss")) is not None:
        return skipped
    model = ctx.fresh_model()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        return CheckResult(check_id, verdict(True, params), "the model has no trainable parameters")
    outputs = ctx.forward(model)
    loss = ctx.loss(outputs)
    if loss.grad_fn is None:
        return _detached(check_id, params, outputs, len(trainable))
    loss.backward()
    rows, failing = [], []
    for name, parameter in trainable:
        grad = parameter.grad
        if grad is None:
            norm, problem = None, "no gradient (unused in forward, or cut by .detach()/.data)"
        elif not bool(torch.isfinite(grad).all()):
            norm, problem = None, "non-finite gradient"
        else:
            norm = _norm(grad)
            problem = "zero gradient" if norm <= params["min_norm"] else None
        row = {"name": name, "value": norm}
        if problem:
            row["problem"] = problem
            failing.append(name)
        rows.append(row)
    rows.sort(key=lambda r: ("problem" not in r, r["value"] or 0.0))
    if failing:
        summary = f"{len(failing)} of {len(trainable)} trainable parameters get no usable "
        summary += f"gradient: {_listing(failing)}"
    else:
        summary = f"all {len(trainable)} trainable parameters get finite, non-zero gradients"
    return CheckResult(
        check_id,
        verdict(bool(failing), params),
        summary,
        value=float(len(failing)),
        threshold=0.0,
        evidence=[Evidence("parameters", rows, len(rows), "gradient norm per parameter")],
        details={"failing": failing, "gradient_norms": {r["name"]: r["value"] for r in rows}},
    )


def _detached(
    check_id: str, params: dict[str, Any], outputs: torch.Tensor, trainable: int
) -> CheckResult:
    """A loss without grad_fn: backward() cannot reach any parameter, so nothing trains."""
    if outputs.grad_fn is None:
        cause = (
            "the model's outputs are already detached: look for .detach(), .data, .item() or "
            "torch.no_grad() in forward"
        )
    else:
        cause = (
            "loss_fn cuts it from the outputs: look for .detach(), .item() wrapped back in a "
            "tensor, or torch.no_grad() in the loss"
        )
    return CheckResult(
        check_id,
        verdict(True, params),
        f"the loss is detached from the model: it has no grad_fn, so backward() reaches none "
        f"of the {trainable} trainable parameters ({cause})",
        value=float(trainable),
        threshold=0.0,
        details={"loss_detached": True, "outputs_detached": outputs.grad_fn is None},
    )


def check_updates(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.updates"
    if (skipped := ctx.skip_unless(check_id, "training")) is not None:
        return skipped
    model = ctx.fresh_model()
    optimizer = ctx.fresh_optimizer(model)
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    before = {name: p.detach().clone() for name, p in trainable}
    ctx.train_step(model, optimizer)
    rows, failing, not_held = [], [], []
    for name, parameter in trainable:
        delta = parameter.detach() - before[name]
        weight = _norm(before[name])
        change = _norm(delta)
        # The update-to-weight ratio; a zero weight (a bias initialised to 0) takes the raw size.
        ratio = change / weight if weight > 0 else change
        row: dict[str, Any] = {"name": name, "value": ratio, "held_by_optimizer": True}
        if id(parameter) not in held:
            row["held_by_optimizer"] = False
            row["problem"] = "not held by the optimizer (optimizer_factory left it out)"
            not_held.append(name)
        elif not bool(torch.isfinite(parameter).all()):
            row["problem"] = "became non-finite"
        elif change == 0.0:
            row["problem"] = "unchanged after one step"
        if "problem" in row:
            failing.append(name)
        rows.append(row)
    rows.sort(key=lambda r: ("problem" not in r, r["value"]))
    if failing:
        summary = f"{len(failing)} of {len(trainable)} trainable parameters do not update"
        if not_held:
            summary += f" ({len(not_held)} not held by the optimizer)"
        summary += f": {_listing(failing)}"
    else:
        ratios = [r["value"] for r in rows]
        summary = (
            f"all {len(trainable)} trainable parameters change after one step "
            f"(update-to-weight ratio {min(ratios):.2g} to {max(ratios):.2g})"
            if ratios
            else "the model has no trainable parameters"
        )
    return CheckResult(
        check_id,
        verdict(bool(failing) or not trainable, params),
        summary,
        value=float(len(failing)),
        threshold=0.0,
        evidence=[Evidence("parameters", rows, len(rows), "update-to-weight ratio per parameter")],
        details={
            "failing": failing,
            "not_held_by_optimizer": not_held,
            "update_to_weight_ratios": {r["name"]: r["value"] for r in rows},
        },
    )


def check_frozen(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.frozen"
    model = ctx.fresh_model()
    watched = {
        f"parameter {name}": p for name, p in model.named_parameters() if not p.requires_grad
    }
    buffers = dict(model.named_buffers())
    watched.update({f"buffer {name}": buffers[name] for name in ctx.frozen_buffers})
    if not watched:
        return CheckResult(
            check_id,
            Status.SKIP,
            "the model has no frozen parameters (requires_grad=False) and no buffers were "
            "declared constant (frozen_buffers)",
        )
    if (skipped := ctx.skip_unless(check_id, "training")) is not None:
        return skipped
    before = {name: tensor.detach().clone() for name, tensor in watched.items()}
    optimizer = ctx.fresh_optimizer(model)
    for _ in range(params["steps"]):
        ctx.train_step(model, optimizer)
    rows, changed = [], []
    for name, tensor in watched.items():
        now, then = tensor.detach(), before[name]
        # NaN != NaN: a watched tensor that holds NaN from the start has not changed.
        same = bool(((now == then) | (now.isnan() & then.isnan())).all())
        gaps = torch.nan_to_num((now.double() - then.double()).abs())
        difference = float(gaps.max()) if gaps.numel() else 0.0
        rows.append({"name": name, "value": 0.0 if same else difference})
        if not same:
            changed.append(name)
    rows.sort(key=lambda r: -r["value"])
    if changed:
        summary = (
            f"{len(changed)} of {len(watched)} frozen tensors changed during "
            f"{params['steps']} training steps: {_listing(changed)}"
        )
    else:
        summary = f"all {len(watched)} frozen tensors unchanged after {params['steps']} steps"
    return CheckResult(
        check_id,
        verdict(bool(changed), params),
        summary,
        value=float(len(changed)),
        threshold=0.0,
        evidence=[Evidence("parameters", rows, len(rows), "largest change per frozen tensor")],
        details={"changed": changed, "watched": sorted(watched)},
    )

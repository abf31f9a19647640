"""Batch independence: no sample's output may depend on another sample's input."""

from __future__ import annotations

from typing import Any

import torch

from dlqa.core.gates import verdict
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.train.sanity.context import SanityContext

_TINY = 1e-30


def probe_indices(batch_size: int, max_probes: int) -> list[int]:
    """Samples spread evenly over the batch, first and last included."""
    count = max(1, min(batch_size, max_probes))
    if count == 1:
        return [0]
    return sorted({round(i * (batch_size - 1) / (count - 1)) for i in range(count)})


def _gradient_dependence(
    ctx: SanityContext, model: torch.nn.Module, probes: list[int]
) -> dict[int, torch.Tensor] | None:
    """For each probe i: how strongly each sample's input moves sample i's output, measured by
    the largest |d output_i / d input_j|, relative to sample i's own. None when the outputs
    are cut from the graph (a .detach() in forward: train.gradients reports it)."""
    inputs = ctx.inputs.detach().clone().requires_grad_(True)
    outputs = ctx.forward(model, inputs)
    if not outputs.requires_grad:
        return None
    # A random projection of the output: a plain sum can cancel (softmax outputs sum to 1).
    generator = torch.Generator().manual_seed(ctx.seed)
    projection = torch.randn(outputs.shape[1:], generator=generator, dtype=torch.float64)
    projection = projection.to(device=outputs.device, dtype=outputs.dtype)
    dependence = {}
    for i in probes:
        (grad,) = torch.autograd.grad(
            (outputs[i] * projection).sum(), inputs, retain_graph=True, allow_unused=True
        )
        if grad is None:
            grad = torch.zeros_like(inputs)
        per_sample = grad.detach().abs().reshape(grad.shape[0], -1).amax(1).double()
        dependence[i] = per_sample / max(float(per_sample[i]), _TINY)
    return dependence


def _perturbation_dependence(
    ctx: SanityContext, model: torch.nn.Module, probes: list[int]
) -> dict[int, torch.Tensor]:
    """For integer inputs (token ids) there is no input gradient: replace sample i's input
    with another sample's and measure how much every other sample's output moves."""
    with torch.no_grad():
        base = ctx.forward(model).double()
        scale = max(float(base.abs().max()), _TINY)
        dependence = {}
        for i in probes:
            perturbed = ctx.inputs.clone()
            donor = (i + ctx.batch_size // 2) % ctx.batch_size
            if torch.equal(ctx.inputs[donor], ctx.inputs[i]):
                perturbed[i] = torch.zeros_like(perturbed[i])
            else:
                perturbed[i] = ctx.inputs[donor]
            moved = (ctx.forward(model, perturbed).double() - base).abs()
            dependence[i] = moved.reshape(moved.shape[0], -1).amax(1) / scale
    return dependence


def check_batch_independence(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.batch_independence"
    if (skipped := ctx.skip_unless(check_id, "loss")) is not None:
        return skipped
    if ctx.batch_size < 2:
        return CheckResult(check_id, Status.SKIP, "needs a batch of at least 2 samples")
    model = ctx.fresh_model(train=False)
    probes = probe_indices(ctx.batch_size, int(params["max_probes"]))
    dependence = (
        _gradient_dependence(ctx, model, probes) if ctx.inputs.is_floating_point() else None
    )
    by_gradient = dependence is not None
    if dependence is not None:
        method = "gradient of each probed sample's output with respect to every other input"
    else:
        dependence = _perturbation_dependence(ctx, model, probes)
        method = "change of every other output when one sample's input is replaced"
    tolerance = params["tolerance"]
    items, worst = [], 0.0
    for i, row in dependence.items():
        others = row.clone()
        others[i] = 0.0
        leaking = torch.nonzero(others > tolerance).flatten().tolist()
        strength = float(others.max())
        worst = max(worst, strength)
        if leaking:
            item_key = "depends_on" if by_gradient else "moves_outputs_of"
            items.append({"id": i, item_key: leaking, "value": strength})
    items.sort(key=lambda item: -item["value"])
    mode_note = (
        "measured in eval mode, where BatchNorm uses running statistics instead of the batch's"
    )
    if items:
        summary = (
            f"{len(items)} of {len(probes)} probed samples are coupled to other samples "
            f"({mode_note}): look for a view/reshape/transpose that mixes the batch dimension"
        )
    else:
        summary = f"the {len(probes)} probed samples are independent of the rest of the batch "
        summary += f"({mode_note})"
    return CheckResult(
        check_id,
        verdict(bool(items), params),
        summary,
        value=worst,
        threshold=tolerance,
        evidence=[Evidence("samples", items, len(items), "probed samples coupled to others")]
        if items
        else [],
        details={"probes": probes, "method": method, "mode": "eval"},
    )

"""Input mutation: a forward pass that writes into its input corrupts the caller's batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

from dlqa.core.gates import verdict
from dlqa.core.results import CheckResult, Evidence

if TYPE_CHECKING:
    from dlqa.train.sanity.context import SanityContext


def _tensors(value: Any, path: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """(label, tensor) for an input that is a tensor, or a tuple/list/dict of them."""
    if isinstance(value, torch.Tensor):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _tensors(item, f"{path}[{key!r}]")
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            yield from _tensors(item, f"{path}[{index}]")


def _number(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _changes(label: str, before: torch.Tensor, after: torch.Tensor) -> dict[str, Any] | None:
    """How ``after`` differs from ``before`` (same shape expected), or None if it does not."""
    if before.shape != after.shape or before.dtype != after.dtype:
        return {
            "name": label or "inputs",
            "changed": before.numel(),
            "total": before.numel(),
            "example": f"shape {tuple(before.shape)} -> {tuple(after.shape)}",
        }
    same = before == after
    if before.is_floating_point() or before.is_complex():
        same |= before.isnan() & after.isnan()  # NaN != NaN: an unchanged NaN is no change
    changed = int((~same).sum())
    if not changed:
        return None
    first = tuple(int(i) for i in torch.nonzero(~same)[0].tolist())
    old, new = before[first].item(), after[first].item()
    return {
        "name": label or "inputs",
        "changed": changed,
        "total": before.numel(),
        "index": list(first),
        "before": old,
        "after": new,
        "example": f"{_number(old)} -> {_number(new)} at {list(first)}",
    }


def input_changes(before: Any, after: Any) -> list[dict[str, Any]]:
    """One row per input (a tensor, or each tensor of a tuple/dict) that ``after`` changed."""
    kept = dict(_tensors(before))
    return [
        change
        for label, tensor in _tensors(after)
        if label in kept and (change := _changes(label, kept[label], tensor.detach())) is not None
    ]


def check_input_mutation(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.input_mutation"
    if (skipped := ctx.skip_unless(check_id, "forward")) is not None:
        return skipped
    # The first pass runs the model (train mode, gradients on, as in a training step) on a
    # copy of the batch it may write into; every other forward pass gets a fresh copy, so a
    # mutation shows here and cannot spill over into the other checks.
    rows = list(ctx.first_pass.input_changes)
    if rows:
        parts = [
            f"{'' if row['name'] == 'inputs' else row['name'] + ': '}{row['changed']:,} of "
            f"{row['total']:,} values, e.g. {row['example']}"
            for row in rows
        ]
        summary = (
            f"the forward pass changed its input in place: {'; '.join(parts)} (look for "
            "x.mul_(), x += ..., or an inplace=True activation applied to the input; the "
            "caller's batch is corrupted)"
        )
    else:
        summary = f"the forward pass leaves its input unchanged ({ctx.inputs.numel():,} values)"
    return CheckResult(
        check_id,
        verdict(bool(rows), params),
        summary,
        value=float(sum(row["changed"] for row in rows)),
        threshold=0.0,
        evidence=[Evidence("inputs", rows, len(rows), "inputs the forward pass changed")]
        if rows
        else [],
        details={"changed": {row["name"]: row["changed"] for row in rows}},
    )

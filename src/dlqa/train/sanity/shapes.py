"""What the batch, the declared shape and the loss say the model's output shape must be, and
a diagnosis of outputs whose rows are not one per sample."""

from __future__ import annotations

import math
from typing import Any

import torch


def shape_text(shape: Any) -> str:
    return "(" + ", ".join("*" if d is None else str(d) for d in shape) + ")"


def declared_shape_problems(actual: tuple[int, ...], declared: tuple[Any, ...]) -> list[str]:
    if len(actual) != len(declared):
        return [f"has {len(actual)} dimensions, declared {len(declared)}"]
    return [
        f"dimension {i} is {a}, declared {d}"
        for i, (a, d) in enumerate(zip(actual, declared, strict=True))
        if d is not None and d != -1 and a != d
    ]


def derived_shape_problems(
    outputs: torch.Tensor, targets: torch.Tensor, batch_size: int, kind: str | None
) -> list[str]:
    """What the batch and the loss type say the output shape must be."""
    problems = []
    shape = tuple(outputs.shape)
    if not shape or shape[0] != batch_size:
        problems.append(f"first dimension should be the batch size {batch_size}")
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


def _rows(count: int) -> str:
    return f"{count} output row{'' if count == 1 else 's'}"


def rows_problem(
    shape: tuple[int, ...], batch_size: int, probe: tuple[int, tuple[int, ...]] | None
) -> str:
    """Why outputs of ``shape`` do not have one row per sample of a batch of ``batch_size``.

    ``probe`` is (k, the output shape for the first k samples): how the rows follow the batch
    tells a reshape that folds features into the batch axis (rows grow with the batch, several
    per sample) from a reduction over the batch axis (rows that do not depend on it)."""
    if not shape:
        return (
            f"the model returned a scalar for a batch of {batch_size}: every axis, the batch "
            "axis included, is reduced (a mean or sum without dim=...?)"
        )
    rows, head = shape[0], f"{_rows(shape[0])} for a batch of {batch_size}"
    sub, sub_shape = probe if probe is not None else (None, None)
    if sub is not None and sub_shape is not None and len(sub_shape) == len(shape):
        moved = [d for d in range(1, len(shape)) if shape[d] == batch_size and sub_shape[d] == sub]
        if moved and sub_shape[0] == rows:
            return (
                f"{head}: the batch is axis {moved[0]} of the output {shape}, not the first; "
                f"the battery and the usual losses take (batch, ...) outputs (batch_first=True, "
                f"or .transpose(0, {moved[0]}))"
            )
    scales = (
        sub_shape is not None and len(sub_shape) > 0 and sub_shape[0] * batch_size == rows * sub
    )
    fixed = sub_shape is not None and len(sub_shape) > 0 and sub_shape[0] == rows
    if fixed or (rows == 1 and not scales):
        extra = f", and {sub_shape[0]} for a sub-batch of {sub} too" if fixed else ""
        return (
            f"{head}{extra}: the rows do not follow the batch, so the batch axis is reduced "
            "(a mean, sum or pooling over dim 0 instead of the sequence or spatial axes?)"
        )
    if rows > batch_size and rows % batch_size == 0 and (sub_shape is None or scales):
        return (
            f"{head}: a reshape moves features into the batch axis ({rows // batch_size} rows "
            "per sample; keep the batch axis with x.view(x.size(0), -1) or x.flatten(1), not "
            "x.view(-1, n))"
        )
    if scales:
        return (
            f"{head} ({sub_shape[0]} for a sub-batch of {sub}): the rows grow with the batch but "
            f"are not one per sample ({rows / batch_size:.3g} per sample), so a reshape mixes "
            "samples and features (keep the batch axis: x.view(x.size(0), -1))"
        )
    return f"{head}: look for a reshape, transpose or reduction that moves the batch axis"

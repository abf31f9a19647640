"""The monitor's options, checked at the boundary with messages that say what to pass."""

from __future__ import annotations

from typing import Any

from dlqa.core.errors import UsageError
from dlqa.train import require_torch
from dlqa.train.monitor_rules import MIN_HISTORY

torch = require_torch()


def validate_options(
    model: Any,
    optimizer: Any,
    activation_every: Any,
    window: Any,
    num_classes: Any,
    max_dead_fraction: Any,
    update_ratio_range: Any,
    factors: dict[str, Any],
    positives: dict[str, Any],
) -> None:
    """``factors``: options that must be numbers above 1; ``positives``: numbers >= 0."""

    def fail(message: str) -> None:
        raise UsageError(f"dlqa.monitor(): {message}")

    if not isinstance(model, torch.nn.Module):
        fail(f"model must be a torch.nn.Module, not {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        fail(f"optimizer must be a torch.optim.Optimizer or None, not {type(optimizer).__name__}")
    if not isinstance(activation_every, int) or activation_every < 0:
        fail(f"activation_every must be an int >= 0 (0 turns scans off), not {activation_every!r}")
    for name, factor in factors.items():
        if not _is_number(factor) or not factor > 1:
            fail(f"{name} must be a number above 1, not {factor!r}")
    for name, value in positives.items():
        if not _is_number(value) or not value >= 0:
            fail(f"{name} must be a number >= 0, not {value!r}")
    if not isinstance(window, int) or window < MIN_HISTORY:
        fail(f"window must be an int >= {MIN_HISTORY}, not {window!r}")
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
        fail(f"num_classes must be an int >= 2 or None, not {num_classes!r}")
    if not _is_number(max_dead_fraction) or not 0 <= max_dead_fraction <= 1:
        fail(f"max_dead_fraction must be between 0 and 1, not {max_dead_fraction!r}")
    try:
        low, high = update_ratio_range
        ok = 0 <= low < high
    except (TypeError, ValueError):
        ok = False
    if not ok:
        fail(f"update_ratio_range must be (low, high), 0 <= low < high: {update_ratio_range!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def loss_tensor(loss: Any) -> tuple[torch.Tensor | None, float]:
    """The scalar loss as a detached tensor (read later, with the gradient norm, in one go) or
    as a float when it came as a number."""
    if isinstance(loss, torch.Tensor):
        if loss.numel() != 1:
            raise UsageError(
                f"step() needs the scalar loss, got a tensor of shape {tuple(loss.shape)}",
                hint="reduce the loss (mean or sum) before calling backward() and step()",
            )
        return loss.detach(), 0.0
    if _is_number(loss):
        return None, float(loss)
    raise UsageError(f"step() needs the loss as a tensor or a number, not {type(loss).__name__}")

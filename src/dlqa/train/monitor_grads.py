"""The monitor's per-step reads: the total gradient norm, the scalars read in one go, and what
an AMP ``GradScaler`` does to the gradients.

A ``GradScaler`` multiplies the loss (and so every gradient) by its scale; when a gradient
overflows it skips that optimizer step and halves the scale, and after a run of good steps it
doubles it. Passed to ``step(scaler=)``, the monitor divides the norm it reads by the scale
(unless ``scaler.unscale_(optimizer)`` already did) and counts a step whose gradients are
non-finite while the loss is finite as a skipped step, not as a NaN finding; only a run of
``max_consecutive_skips`` skipped steps is a finding (the gradients are non-finite at any
scale).
"""

from __future__ import annotations

import math
from typing import Any

from dlqa.train import require_torch

torch = require_torch()

DEFAULT_MAX_CONSECUTIVE_SKIPS = 16  # by then the scale has fallen 65536-fold


# Up to this many values on the CPU are read one by one: a read there is a cheap copy, cheaper
# than the stack() that gathers them; more (or any on an accelerator, where every read waits
# for the device) are stacked and read at once.
FEW_VALUES = 16


def read_values(tensors: list[torch.Tensor]) -> list[float]:
    """The values of 0-dim tensors, with as few device waits and operations as possible."""
    if not tensors:
        return []
    if len(tensors) <= FEW_VALUES and all(t.device.type == "cpu" for t in tensors):
        return [t.item() for t in tensors]
    try:
        return torch.stack(tensors).tolist()
    except RuntimeError:  # tensors on several devices
        device = tensors[0].device
        return torch.stack([t.to(device) for t in tensors]).tolist()


def gradient_norms(grads: list[torch.Tensor]) -> list[torch.Tensor]:
    """The 2-norm of each gradient, in one fused call where possible (what clip_grad_norm_
    uses): right after backward() every tensor operation is slow (cold caches)."""
    if not grads:
        return []
    try:
        return list(torch._foreach_norm(grads))
    except (AttributeError, RuntimeError):  # no foreach support (mixed devices, old torch)
        return [torch.linalg.vector_norm(g) for g in grads]


def read_step(
    loss: torch.Tensor | None, grads: list[torch.Tensor], scale: torch.Tensor | None
) -> tuple[float | None, float, float | None]:
    """The loss, the total gradient norm and the scale (None where not given), read at once."""
    norms = gradient_norms(grads)
    extra = [t for t in (loss, scale) if t is not None]
    if len(norms) + len(extra) > FEW_VALUES or any(
        t.device.type != "cpu" for t in extra + norms[:1]
    ):
        # One wait for the device: the norms combined on it, then read with the rest.
        if len(norms) > 1:
            try:
                norms = [torch.linalg.vector_norm(torch.stack(norms))]
            except RuntimeError:  # parameters on several devices
                device = norms[0].device
                norms = [torch.linalg.vector_norm(torch.stack([n.to(device) for n in norms]))]
        device = (norms or extra)[0].device
        values = read_values([t.reshape(()).to(device) for t in norms + extra])
    else:
        values = read_values(norms + extra)
    total = math.hypot(*values[: len(norms)]) if norms else 0.0
    rest = iter(values[len(norms) :])
    return (
        None if loss is None else next(rest),
        total,
        None if scale is None else next(rest),
    )


def scale_tensor(scaler: Any) -> tuple[torch.Tensor | None, float | None]:
    """The scaler's current scale, as its tensor (read with the others) or as a number; both
    None for no scaler or a disabled one."""
    if scaler is None or not callable(getattr(scaler, "get_scale", None)):
        return None, None
    enabled = getattr(scaler, "is_enabled", lambda: True)()
    if not enabled:
        return None, None
    scale = getattr(scaler, "_scale", None)
    if isinstance(scale, torch.Tensor):
        return scale, None
    return None, float(scaler.get_scale())


def grads_unscaled(scaler: Any, optimizer: Any) -> bool:
    """Whether ``scaler.unscale_(optimizer)`` ran this step (Lightning and clipping code do),
    read from the scaler's per-optimizer state: the gradients are then the true ones."""
    states = getattr(scaler, "_per_optimizer_states", None) or {}
    if optimizer is not None:
        chosen = [states[id(optimizer)]] if id(optimizer) in states else []
    else:
        chosen = list(states.values())
    return any(getattr(state.get("stage"), "name", None) == "UNSCALED" for state in chosen)


class ScalerWatch:
    """Skipped steps and scale changes of a GradScaler, as the monitor sees them."""

    def __init__(self, max_consecutive_skips: int = DEFAULT_MAX_CONSECUTIVE_SKIPS) -> None:
        self.max_consecutive_skips = max_consecutive_skips
        self.steps = 0  # steps seen with an enabled scaler
        self.skipped_steps: list[int] = []
        self.scale_history: list[tuple[int, float]] = []  # (step, scale) at every change
        self.run_start: int | None = None  # first step of the current run of skips
        self.run_length = 0

    def observe(
        self, step: int, scale: float, gradients_finite: bool, loss_finite: bool
    ) -> str | None:
        """``None`` (an ordinary step), ``"skipped"`` (the scaler skips this step) or
        ``"stuck"`` (this skip completes a run of ``max_consecutive_skips``: a finding)."""
        self.steps += 1
        if not self.scale_history or self.scale_history[-1][1] != scale:
            self.scale_history.append((step, scale))
        if gradients_finite or not loss_finite:
            # A non-finite loss is a real NaN, whatever the scaler does with its gradients.
            self.run_start, self.run_length = None, 0
            return None
        self.skipped_steps.append(step)
        if self.run_start is None:
            self.run_start = step
        self.run_length += 1
        return "stuck" if self.run_length == self.max_consecutive_skips else "skipped"

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "skipped_steps": self.skipped_steps[:10_000],
            "skipped": len(self.skipped_steps),
            "scale_history": [(s, v if math.isfinite(v) else None) for s, v in self.scale_history],
        }

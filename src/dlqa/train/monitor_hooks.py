"""The monitor's torch-side pieces: sampled activation scans, the replay of a failing forward
pass, and the per-epoch confusion counter."""

from __future__ import annotations

import math
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.train import require_torch
from dlqa.train.monitor_checks import MIN_HISTORY

torch = require_torch()

ROOT_NAME = "(model)"
MODEL_INPUTS = "(model inputs)"
LOSS_FUNCTION = "(loss function)"
RELU_TYPES = (torch.nn.ReLU, torch.nn.ReLU6)


def module_label(name: str) -> str:
    return name or ROOT_NAME


def iter_tensors(value: Any):
    """Every floating-point or complex tensor inside a (nested) tuple, list or dict."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex():
            yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from iter_tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_tensors(item)


def all_finite(value: Any) -> bool:
    # A finite sum proves every element finite (NaN and inf propagate through a sum); only a
    # non-finite sum, which overflow can also cause, needs the exact element-wise test.
    for tensor in iter_tensors(value):
        if (
            tensor.numel()
            and not math.isfinite(float(tensor.detach().sum().abs()))
            and not bool(torch.isfinite(tensor).all())
        ):
            return False
    return True


def total_norm(grads: list[torch.Tensor]) -> float:
    """The 2-norm of all gradients together, with as few tensor operations as possible: right
    after backward() every operation is slow (cold caches), so this is most of a step's cost."""
    if not grads:
        return 0.0
    try:
        norms = torch._foreach_norm(grads)  # what clip_grad_norm_ uses; one fused call
    except (AttributeError, RuntimeError):  # no foreach support (mixed devices, old torch)
        norms = [torch.linalg.vector_norm(g) for g in grads]
    if grads[0].device.type == "cpu":
        return math.hypot(*(float(n) for n in norms))
    return float(torch.linalg.vector_norm(torch.stack([n.to(grads[0].device) for n in norms])))


def dead_fraction(output: torch.Tensor) -> float:
    """Fraction of units (all dimensions but the batch) that are zero for every sample."""
    if output.dim() < 1 or output.shape[0] == 0:
        return 0.0
    # ReLU outputs are never negative: a unit is dead when its largest value is zero.
    largest = output.detach().reshape(output.shape[0], -1).amax(dim=0)
    return float((largest <= 0).float().mean())


class ActivationScan:
    """Forward hooks on every module for one step: non-finite outputs and dead-ReLU fractions.

    Hooks fire as modules finish, so children report before their parents and the first module
    whose output is non-finite while its inputs are finite is where the value was produced.
    Installed only on sampled steps: hooks on every module slow every forward pass down.
    """

    def __init__(self, model: torch.nn.Module, *, training_forwards_only: bool = True) -> None:
        self.culprit: dict[str, Any] | None = None
        self.nonfinite_seen = False
        self.saw_forward = False
        self.dead_fractions: dict[str, float] = {}
        self._training_forwards_only = training_forwards_only
        self._relu_calls: dict[str, int] = {}
        self._handles = [
            module.register_forward_hook(self._hook_for(name, module))
            for name, module in model.named_modules()
        ]

    def _hook_for(self, name: str, module: torch.nn.Module):
        label = module_label(name)
        is_relu = isinstance(module, RELU_TYPES)

        def hook(mod: torch.nn.Module, inputs: Any, output: Any) -> None:
            # Validation passes run under no_grad; they are not the training step's forward.
            if self._training_forwards_only and not torch.is_grad_enabled():
                return
            self.saw_forward = True
            if is_relu and isinstance(output, torch.Tensor):
                # A ReLU module called several times in one forward gets one entry per call.
                calls = self._relu_calls[label] = self._relu_calls.get(label, 0) + 1
                key = label if calls == 1 else f"{label}#{calls}"
                self.dead_fractions[key] = dead_fraction(output)
            if self.culprit is None and not all_finite(output):
                self.nonfinite_seen = True
                if all_finite(inputs):
                    self.culprit = {"module": label, "module_type": type(mod).__name__}

        return hook

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def nonfinite_culprit(self) -> dict[str, Any] | None:
        """Where the first non-finite activation came from, or None if all were finite."""
        if self.culprit is not None:
            return self.culprit
        if self.nonfinite_seen:
            # Every module that saw a non-finite output also had a non-finite input.
            return {"module": MODEL_INPUTS, "module_type": None}
        return None


def replay_forward(
    model: torch.nn.Module, captured: tuple[tuple, dict] | None
) -> tuple[dict[str, Any] | None, bool]:
    """Run the step's forward pass again with a scan to find where a non-finite value appeared.

    Called only after a non-finite loss, before the optimizer changed the weights. Runs under
    no_grad, restores the buffers (BatchNorm statistics) and the RNG state afterwards, so the
    user's training is unchanged; dropout masks differ from the original pass. Returns the
    culprit and whether the replay ran.
    """
    if captured is None:
        return None, False
    args, kwargs = captured
    buffers = {name: buf.detach().clone() for name, buf in model.named_buffers()}
    devices = sorted({p.device.index for p in model.parameters() if p.device.type == "cuda"})
    scan = ActivationScan(model, training_forwards_only=False)
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            model(*args, **kwargs)
    except Exception:  # the replay is best effort: a model that cannot run twice is reported
        return None, False
    finally:
        scan.remove()
        with torch.no_grad():
            for name, buf in model.named_buffers():
                if name in buffers:
                    buf.copy_(buffers[name])
    return scan.nonfinite_culprit(), True


def predicted_labels(outputs: torch.Tensor) -> torch.Tensor:
    """Class indices from logits (class dimension 1), binary logits (threshold 0) or labels."""
    if not outputs.is_floating_point():
        return outputs.long()
    if outputs.dim() >= 2 and outputs.shape[1] > 1:
        return outputs.argmax(dim=1)
    if outputs.dim() >= 2:
        outputs = outputs.squeeze(1)
    return (outputs > 0).long()


def target_labels(targets: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """Class indices from integer targets, one-hot / soft targets, or binary float targets."""
    if not targets.is_floating_point():
        return targets.long()
    if targets.shape == outputs.shape and targets.dim() >= 2 and targets.shape[1] > 1:
        return targets.argmax(dim=1)
    if targets.dim() >= 2 and targets.shape[1] == 1:
        targets = targets.squeeze(1)
    return (targets >= 0.5).long()


class ConfusionCounter:
    """Counts of (true class, predicted class) over one epoch, kept on the outputs' device.

    A step only stores its predicted and true labels; they are counted in bulk every
    ``PENDING_STEPS`` steps and when the epoch closes, because each tensor operation right
    after ``backward()`` is slow and counting costs several of them.
    """

    PENDING_STEPS = 32

    def __init__(self, num_classes: int | None) -> None:
        self.fixed_classes = num_classes
        self.num_classes = num_classes or 0
        self.counts: torch.Tensor | None = None
        self._pending: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._least_classes = 0  # from the outputs' class dimension

    def add(self, outputs: Any, targets: Any) -> None:
        if not isinstance(outputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
            raise UsageError(
                "step(outputs=..., targets=...) needs tensors: the model's outputs (logits or "
                f"labels) and the targets, not {type(outputs).__name__} and "
                f"{type(targets).__name__}"
            )
        predicted = predicted_labels(outputs.detach()).reshape(-1)
        actual = target_labels(targets.detach(), outputs).reshape(-1)
        if predicted.numel() != actual.numel():
            raise UsageError(
                f"step(): outputs give {predicted.numel()} predictions but targets hold "
                f"{actual.numel()} labels",
                hint="pass the logits of shape (N, C, ...) and class-index targets (N, ...)",
            )
        if outputs.is_floating_point():
            has_class_dim = outputs.dim() >= 2 and outputs.shape[1] > 1
            least = outputs.shape[1] if has_class_dim else 2
            self._least_classes = max(self._least_classes, least)
        self._pending.append((predicted, actual))
        if len(self._pending) >= self.PENDING_STEPS:
            self._count_pending()

    def _count_pending(self) -> None:
        if not self._pending:
            return
        predicted = torch.cat([p for p, _ in self._pending])
        actual = torch.cat([a.to(predicted.device) for _, a in self._pending])
        self._pending = []
        keep = actual >= 0  # negative targets are ignore_index (CrossEntropyLoss's -100)
        predicted, actual = predicted[keep], actual[keep]
        if actual.numel() == 0:
            return
        from_labels = int(torch.maximum(predicted.max(), actual.max())) + 1
        needed = max(from_labels, self._least_classes)
        if self.fixed_classes is not None and needed > self.fixed_classes:
            raise UsageError(
                f"step(outputs=, targets=): a label or prediction of the last "
                f"{self.PENDING_STEPS} steps reaches class {needed - 1} but num_classes is "
                f"{self.fixed_classes}",
                hint="pass the right num_classes to dlqa.monitor(), or leave it out",
            )
        self._grow(max(needed, self.num_classes), actual.device)
        size = self.num_classes
        flat = torch.bincount(actual * size + predicted, minlength=size * size)
        self.counts += flat.reshape(size, size)

    def _grow(self, size: int, device: torch.device) -> None:
        if self.counts is not None and size == self.num_classes:
            return
        grown = torch.zeros((size, size), dtype=torch.long, device=device)
        if self.counts is not None:
            old = self.num_classes
            grown[:old, :old] = self.counts
        self.counts, self.num_classes = grown, size

    def close(self):
        """The epoch's matrix (rows: true class, columns: predicted) and a fresh count."""
        self._count_pending()
        if self.counts is None:
            return None
        matrix = self.counts.cpu().numpy()
        # The class count carries over, so every epoch's matrix has at least the same size.
        self.counts = None
        return matrix


def loss_value(loss: Any) -> float:
    if isinstance(loss, torch.Tensor):
        if loss.numel() != 1:
            raise UsageError(
                f"step() needs the scalar loss, got a tensor of shape {tuple(loss.shape)}",
                hint="reduce the loss (mean or sum) before calling backward() and step()",
            )
        return loss.item()
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return float(loss)
    raise UsageError(f"step() needs the loss as a tensor or a number, not {type(loss).__name__}")


def validate_options(
    model: Any,
    optimizer: Any,
    activation_every: Any,
    grad_norm_factor: Any,
    spike_factor: Any,
    window: Any,
    num_classes: Any,
    max_dead_fraction: Any,
    update_ratio_range: Any,
) -> None:
    def fail(message: str) -> None:
        raise UsageError(f"dlqa.monitor(): {message}")

    if not isinstance(model, torch.nn.Module):
        fail(f"model must be a torch.nn.Module, not {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        fail(f"optimizer must be a torch.optim.Optimizer or None, not {type(optimizer).__name__}")
    if not isinstance(activation_every, int) or activation_every < 0:
        fail(f"activation_every must be an int >= 0 (0 turns scans off), not {activation_every!r}")
    for name, factor in (("grad_norm_factor", grad_norm_factor), ("spike_factor", spike_factor)):
        if not isinstance(factor, (int, float)) or not factor > 1:
            fail(f"{name} must be a number above 1, not {factor!r}")
    if not isinstance(window, int) or window < MIN_HISTORY:
        fail(f"window must be an int >= {MIN_HISTORY}, not {window!r}")
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
        fail(f"num_classes must be an int >= 2 or None, not {num_classes!r}")
    if not isinstance(max_dead_fraction, (int, float)) or not 0 <= max_dead_fraction <= 1:
        fail(f"max_dead_fraction must be between 0 and 1, not {max_dead_fraction!r}")
    try:
        low, high = update_ratio_range
        ok = 0 <= low < high
    except (TypeError, ValueError):
        ok = False
    if not ok:
        fail(f"update_ratio_range must be (low, high), 0 <= low < high: {update_ratio_range!r}")

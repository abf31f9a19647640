"""The monitor's torch-side pieces on the forward pass: sampled activation scans (non-finite
outputs, dead units of ReLU-like activations, modules and functions alike) and the replay of
a failing forward pass."""

from __future__ import annotations

import math
from typing import Any

from dlqa.train import require_torch

torch = require_torch()
F = torch.nn.functional

ROOT_NAME = "(model)"
MODEL_INPUTS = "(model inputs)"
LOSS_FUNCTION = "(loss function)"
# Activation modules: a dead-unit measurement made inside one is named after the module.
ACTIVATION_MODULES = (torch.nn.ReLU, torch.nn.ReLU6, torch.nn.GELU, torch.nn.Hardtanh)
# Modules whose output is finite whenever their input is: the sampled scan skips the norm of
# their output (the module before them was tested; a ReLU's output is as large as its input).
# The exact test of the replay still looks at them.
nn = torch.nn
FINITE_PRESERVING = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardtanh,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.Flatten, nn.Unflatten,
    nn.Identity, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
)  # fmt: skip
# Where an activation's unit is dead: its input at or below this for every sample of the batch.
# ReLU (and ReLU6): the output is zero and so is the gradient. GELU: below -3 the output is
# within 0.004 of zero and the gradient below 0.012, so nothing passes either way. Leaky ReLU,
# ELU and SiLU are left out: below zero they still pass a gradient, so a unit cannot die.
_RELU = ("relu", 0.0)
DEAD_BELOW: dict[Any, tuple[str, float]] = {
    F.relu: _RELU,
    F.relu_: _RELU,
    torch.relu: _RELU,
    torch.relu_: _RELU,
    torch.Tensor.relu: _RELU,
    torch.Tensor.relu_: _RELU,
    F.relu6: ("relu6", 0.0),
    F.gelu: ("gelu", -3.0),
}


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


def dead_count(pre_activation: torch.Tensor, below: float) -> tuple[torch.Tensor, int] | None:
    """How many units (all dimensions but the batch) have their input to the activation at or
    below ``below`` for every sample, as a tensor not read yet, and how many units there are;
    None for an input without a batch."""
    if pre_activation.dim() < 1 or pre_activation.shape[0] == 0:
        return None
    flat = pre_activation.detach().reshape(pre_activation.shape[0], -1)
    return (flat.amax(dim=0) <= below).sum(dtype=torch.float32), flat.shape[1]


def _dead_cutoff(func: Any, args: tuple, kwargs: dict) -> tuple[str, float] | None:
    found = DEAD_BELOW.get(func)
    if found is None and func is F.hardtanh:  # nn.ReLU6 is hardtanh(x, 0, 6)
        low = args[1] if len(args) > 1 else kwargs.get("min_val", -1.0)
        found = ("relu6", 0.0) if low == 0 else None
    return found


def _norm(tensor: torch.Tensor) -> torch.Tensor:
    # In float32 at least: a float16 norm overflows long before its values do.
    low_precision = tensor.dtype in (torch.float16, torch.bfloat16)
    return torch.linalg.vector_norm(tensor.detach(), dtype=torch.float32 if low_precision else None)


class _ActivationCalls(torch.overrides.TorchFunctionMode):
    """Sees every torch function called during a sampled forward pass and measures the dead
    units of the ReLU-like ones, named after the innermost module running at the time."""

    def __init__(self, scan: ActivationScan) -> None:
        super().__init__()
        self.scan = scan

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        found = _dead_cutoff(func, args, kwargs)
        if found is not None and args and isinstance(args[0], torch.Tensor):
            # Before the call: an in-place activation overwrites its input.
            self.scan.record_activation(found[0], args[0], dead_count(args[0], found[1]))
        return func(*args, **kwargs)


class ActivationScan:
    """Hooks on every module for one forward pass: non-finite outputs and dead-unit fractions.

    Hooks fire as modules finish, so children report before their parents and the first module
    whose output is non-finite while its inputs are finite is where the value was produced.
    Dead units are measured on the inputs of ReLU-like activations, called as modules
    (``nn.ReLU``) or as functions (``F.relu``, ``torch.relu``, ``x.relu()``, ``F.gelu``),
    through a torch function mode active during the model's forward pass. Installed only on
    sampled steps: hooks on every module slow every forward pass down.

    ``exact`` (the replay) tests every module's inputs and output as it finishes. Otherwise
    (the sampled training step) each module costs one norm, not read until the forward pass
    ends, and holds no tensor: all of them and the dead-unit counts are read at once, and only
    a non-finite norm (rare) calls for the exact test, by the monitor's replay.
    ``first_nonfinite`` is then the first module whose output norm was not finite.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        training_forwards_only: bool = True,
        exact: bool = False,
    ) -> None:
        self.exact = exact
        self.culprit: dict[str, Any] | None = None
        self.nonfinite_seen = False
        self.saw_forward = False
        self.dead_fractions: dict[str, float] = {}
        self.first_nonfinite: dict[str, Any] | None = None
        self._training_forwards_only = training_forwards_only
        self._calls: dict[str, int] = {}
        self._stack: list[tuple[str, bool]] = []  # (label, is an activation module)
        self._norms: list[tuple[str, str, torch.Tensor]] = []  # (label, type, output norm)
        self._counts: list[tuple[str, torch.Tensor, int]] = []  # (key, dead units, units)
        self._last_output: Any = None
        self._producer: str | None = None  # the module that finished last, and its output
        self._producer_output: Any = None
        self._mode = _ActivationCalls(self)
        self._handles = []
        for name, module in model.named_modules():
            label, is_activation = module_label(name), isinstance(module, ACTIVATION_MODULES)
            tested = exact or not isinstance(module, FINITE_PRESERVING)
            self._handles.append(
                module.register_forward_pre_hook(self._enter(label, is_activation))
            )
            self._handles.append(
                module.register_forward_hook(self._hook_for(label, tested), always_call=True)
            )

    def _watching(self) -> bool:
        # Validation passes run under no_grad; they are not the training step's forward.
        return not self._training_forwards_only or torch.is_grad_enabled()

    def _enter(self, label: str, is_activation: bool):
        def pre_hook(module: torch.nn.Module, inputs: Any) -> None:
            if not self._watching():
                return
            if not self._stack:
                self._mode.__enter__()  # the outermost module: functions are watched from now
                if not self.exact:
                    self._record_norms(MODEL_INPUTS, "", inputs)
            self._stack.append((label, is_activation))

        return pre_hook

    def _hook_for(self, label: str, tested: bool):
        def hook(mod: torch.nn.Module, inputs: Any, output: Any) -> None:
            if not self._stack or self._stack[-1][0] != label:
                return  # not entered (a no_grad pass), or the stack is out of step
            self._stack.pop()
            self.saw_forward = True
            if self.exact:
                if self.culprit is None and not all_finite(output):
                    self.nonfinite_seen = True
                    if all_finite(inputs):
                        self.culprit = {"module": label, "module_type": type(mod).__name__}
            elif output is not self._last_output:  # (a container returns its last child's)
                if tested:
                    self._record_norms(label, type(mod).__name__, output)
                self._last_output = output
            self._producer, self._producer_output = label, output
            if not self._stack:
                self._mode.__exit__(None, None, None)
                self._settle()

        return hook

    def _record_norms(self, label: str, module_type: str, value: Any) -> None:
        for tensor in iter_tensors(value):
            if tensor.is_floating_point() and tensor.numel():
                self._norms.append((label, module_type, _norm(tensor)))

    def record_activation(
        self, function: str, pre_activation: Any, counted: tuple[torch.Tensor, int] | None
    ) -> None:
        if counted is None or not self._stack:
            return
        label, is_activation = self._stack[-1]
        if is_activation:
            key = label
        else:
            # Named after the module whose output it takes (`fc2/relu` for F.relu(self.fc2(x)))
            # where there is one, else after the module whose forward called it.
            producer = self._producer if self._producer_output is pre_activation else label
            key = f"{producer}/{function}"
        # One entry per call: an activation used twice in one forward gets "#2", "#3", ...
        calls = self._calls[key] = self._calls.get(key, 0) + 1
        self._counts.append((key if calls == 1 else f"{key}#{calls}", *counted))

    def _settle(self) -> None:
        """Read the forward pass's norms and dead-unit counts, all in one go."""
        norms, counts = self._norms, self._counts
        self._norms, self._counts, self._last_output = [], [], None
        self._producer = self._producer_output = None  # hold no tensor past the forward
        if not norms and not counts:
            return
        tensors = [count for _, count, _ in counts]
        if norms:
            total = torch.stack([n for _, _, n in norms])
            tensors.append(total.sum(dtype=torch.float32))  # finite only if every norm is
        values = torch.stack([t.to(tensors[0].device) for t in tensors]).tolist()
        for (key, _, units), dead in zip(counts, values, strict=False):
            self.dead_fractions[key] = dead / units
        if norms and not math.isfinite(values[-1]) and self.first_nonfinite is None:
            self.nonfinite_seen = True
            finite = torch.isfinite(total).tolist()
            label, module_type, _ = norms[finite.index(False)] if False in finite else norms[0]
            self.first_nonfinite = {"module": label, "module_type": module_type or None}

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self._stack:  # a forward pass that raised: leave no function mode behind
            self._stack = []
            self._mode.__exit__(None, None, None)

    def resolve(self, exact: dict[str, Any] | None) -> dict[str, Any] | None:
        """Take the exact test's culprit (from a replay) over the norms' guess."""
        self.culprit, self.first_nonfinite = exact, None
        self.nonfinite_seen = exact is not None
        return exact

    def nonfinite_culprit(self) -> dict[str, Any] | None:
        """Where the first non-finite activation came from, or None if all were finite."""
        if self.culprit is not None:
            return self.culprit
        if self.first_nonfinite is not None:
            return self.first_nonfinite
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
    scan = ActivationScan(model, training_forwards_only=False, exact=True)
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

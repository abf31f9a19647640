"""Finite-difference gradient check of a custom layer or autograd.Function, in float64.

The check compares the analytic gradient of a random projection of the outputs,
``L = sum_k <w_k, output_k>``, with central differences ``(L(x + eps) - L(x - eps)) / 2 eps``,
element by element, for every floating-point input and every trainable parameter. A random
projection checks the vector-Jacobian product that backward computes (torch's "fast mode"):
a wrong backward disagrees with it for almost every ``w``, at the cost of one backward pass
instead of one per output element.

Modules are deep-copied and converted to float64; the user's module, its weights and the
global RNG state are left as they were. The RNG is re-seeded before every forward pass so
that a module with dropout sees the same mask on every evaluation.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dlqa.core.errors import UsageError
from dlqa.core.gates import verdict
from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.train import require_torch

if TYPE_CHECKING:
    import torch

CHECK_ID = "train.gradcheck"
DEFAULT_MAX_ELEMENTS = 1000


@dataclass(frozen=True)
class GradcheckReport:
    """``worst``: the element closest to (or furthest past) the tolerance, with keys ``name``,
    ``kind`` ("input" or "parameter"), ``index``, ``analytic``, ``numeric``, ``abs_err`` and
    ``rel_err``. ``failing`` names every input/parameter with an element out of tolerance."""

    passed: bool
    worst: dict[str, Any]
    checked: int
    failed: int = 0
    failing: tuple[str, ...] = field(default_factory=tuple)

    def to_result(self) -> CheckResult:
        details = {
            "worst": self.worst,
            "checked": self.checked,
            "failed": self.failed,
            "failing": list(self.failing),
        }
        worst = self.worst
        label = "parameter " if worst.get("kind") == "parameter" else ""
        where = f"{label}{worst.get('name')}{worst.get('index')}"
        if self.passed:
            return CheckResult(
                CHECK_ID,
                Status.PASS,
                f"analytic gradients match finite differences on {self.checked} elements "
                f"(largest relative error {worst.get('rel_err', 0.0):.2g} at {where})",
                value=worst.get("abs_err"),
                details=details,
            )
        kind = "parameters" if worst.get("kind") == "parameter" else "inputs"
        return CheckResult(
            CHECK_ID,
            Status.FAIL,
            f"gradient of {where} is wrong: analytic "
            f"{worst.get('analytic', float('nan')):.6g}, finite differences "
            f"{worst.get('numeric', float('nan')):.6g} ({self.failed} of {self.checked} "
            f"elements out of tolerance in {', '.join(self.failing)})",
            value=worst.get("abs_err"),
            evidence=[Evidence(kind, [worst], self.failed, "the element that disagrees most")],
            details=details,
        )


@dataclass
class _Leaf:
    name: str
    kind: str
    tensor: Any


def gradcheck(
    module_or_fn: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    max_elements: int | None = DEFAULT_MAX_ELEMENTS,
) -> GradcheckReport:
    """Check analytic against finite-difference gradients w.r.t. inputs and parameters.

    Each input is a tensor (floating ones are checked, others passed through unchanged), a
    shape such as ``(4, 3)`` (a random float64 input), or any other value (passed through).
    An element fails when ``|analytic - numeric| > atol + rtol * |numeric|``. Tensors with more
    than ``max_elements`` elements are checked on a random sample of that many (None: all).
    """
    torch = require_torch()
    if not callable(module_or_fn):
        raise UsageError(f"gradcheck needs a module or a function, got {type(module_or_fn)}")
    if eps <= 0 or atol < 0 or rtol < 0:
        raise UsageError("gradcheck: eps must be positive, atol and rtol 0 or more")
    with torch.random.fork_rng(devices=[]):
        generator = torch.Generator().manual_seed(seed)
        target, parameters, device = _double_copy(torch, module_or_fn)
        args, leaves = _prepare_inputs(torch, inputs, generator, device)
        leaves += parameters
        if not leaves:
            raise UsageError(
                "gradcheck: nothing to check, no floating-point input and no trainable parameter",
                hint="pass tensors or shapes such as (4, 3) as inputs",
            )
        objective = _Objective(torch, target, args, seed, generator)
        analytic = objective.gradients([leaf.tensor for leaf in leaves])
        return _compare(
            torch, leaves, analytic, objective, eps, atol, rtol, generator, max_elements
        )


def _double_copy(torch: Any, module_or_fn: Any) -> tuple[Any, list[_Leaf], Any]:
    if not isinstance(module_or_fn, torch.nn.Module):
        return module_or_fn, [], None
    try:
        module = copy.deepcopy(module_or_fn).double()
    except Exception as exc:
        raise UsageError(f"gradcheck: cannot copy the module to float64: {exc}") from None
    parameters = [
        _Leaf(name, "parameter", parameter)
        for name, parameter in module.named_parameters()
        if parameter.requires_grad
    ]
    device = parameters[0].tensor.device if parameters else None
    return module, parameters, device


def _is_shape(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value
    )


def _prepare_inputs(
    torch: Any, inputs: Sequence[Any], generator: Any, device: Any
) -> tuple[list[Any], list[_Leaf]]:
    args: list[Any] = []
    leaves: list[_Leaf] = []
    for position, value in enumerate(inputs):
        if _is_shape(value) and not isinstance(value, torch.Tensor):
            value = torch.randn(tuple(value), dtype=torch.float64, generator=generator)
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            value = value.detach().to(dtype=torch.float64, device=device or value.device)
            value = value.clone().requires_grad_(True)
            leaves.append(_Leaf(f"input[{position}]", "input", value))
        args.append(value)
    return args, leaves


class _Objective:
    """``L = sum_k <w_k, output_k>`` with fixed random ``w_k`` and a fixed RNG per evaluation."""

    def __init__(self, torch: Any, target: Any, args: list[Any], seed: int, generator: Any):
        self.torch, self.target, self.args, self.seed = torch, target, args, seed
        self.generator = generator
        self.weights: list[Any] | None = None

    def _outputs(self, value: Any) -> list[Any]:
        torch = self.torch
        if isinstance(value, torch.Tensor):
            return [value] if value.is_floating_point() else []
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, (tuple, list)):
            return [t for item in value for t in self._outputs(item)]
        return []

    def __call__(self) -> torch.Tensor:
        torch = self.torch
        torch.manual_seed(self.seed)
        outputs = self._outputs(self.target(*self.args))
        if not outputs:
            raise UsageError("gradcheck: the output holds no floating-point tensor to check")
        if self.weights is None:
            self.weights = [
                torch.randn(o.shape, dtype=torch.float64, generator=self.generator).to(o.device)
                for o in outputs
            ]
        return sum((o.double() * w).sum() for o, w in zip(outputs, self.weights, strict=True))

    def gradients(self, tensors: list[Any]) -> list[Any]:
        torch = self.torch
        value = self()
        if not value.requires_grad:  # nothing autograd can follow: every gradient is zero
            return [torch.zeros_like(t) for t in tensors]
        grads = torch.autograd.grad(value, tensors, allow_unused=True)
        pairs = zip(grads, tensors, strict=True)
        return [torch.zeros_like(t) if g is None else g.detach() for g, t in pairs]


def _indices(torch: Any, shape: Any, generator: Any, max_elements: int | None) -> list[tuple]:
    total = math.prod(shape)
    flat = range(total)
    if max_elements is not None and total > max_elements:
        flat = sorted(torch.randperm(total, generator=generator)[:max_elements].tolist())
    result = []
    for position in flat:
        index = []
        for size in reversed(shape):
            position, rest = divmod(position, size)
            index.append(rest)
        result.append(tuple(reversed(index)))
    return result


def _compare(
    torch: Any,
    leaves: list[_Leaf],
    analytic: list[Any],
    objective: _Objective,
    eps: float,
    atol: float,
    rtol: float,
    generator: Any,
    max_elements: int | None,
) -> GradcheckReport:
    worst: dict[str, Any] = {}
    worst_score, checked, failed = -1.0, 0, 0
    failing: list[str] = []
    with torch.no_grad():
        for leaf, gradient in zip(leaves, analytic, strict=True):
            values = leaf.tensor.detach()  # shares storage: nudging it nudges the leaf
            for index in _indices(torch, tuple(values.shape), generator, max_elements):
                original = values[index].item()
                values[index] = original + eps
                plus = objective().item()
                values[index] = original - eps
                minus = objective().item()
                values[index] = original
                numeric = (plus - minus) / (2 * eps)
                exact = gradient[index].item()
                abs_err = abs(exact - numeric)
                score = abs_err / (atol + rtol * abs(numeric)) if atol or rtol else abs_err
                checked += 1
                if not math.isfinite(score) or score > 1.0:
                    failed += 1
                    if leaf.name not in failing:
                        failing.append(leaf.name)
                if score > worst_score or not math.isfinite(score):
                    worst_score = score if math.isfinite(score) else math.inf
                    worst = {
                        "name": leaf.name,
                        "kind": leaf.kind,
                        "index": list(index),
                        "analytic": exact,
                        "numeric": numeric,
                        "abs_err": abs_err,
                        "rel_err": abs_err / max(abs(numeric), eps),
                    }
    return GradcheckReport(failed == 0, worst, checked, failed, tuple(failing))


# Its own stage: it reads a layer and its inputs from the Python API, not the train stage's
# context (the battery's model and batch), so `dlqa train check` does not run it.
@register_check(
    CHECK_ID,
    stage="gradcheck",
    title="Gradient check",
    description=(
        "Analytic gradients of a custom layer or autograd.Function match float64 central "
        "finite differences, for every input and trainable parameter."
    ),
    defaults={
        "eps": Param(1e-6, doc="finite-difference step", gt=0),
        "atol": Param(1e-5, doc="absolute tolerance on each gradient element", ge=0),
        "rtol": Param(1e-3, doc="tolerance relative to the finite-difference value", ge=0),
    },
)
def check_gradcheck(target: tuple[Any, Sequence[Any]], params: dict[str, Any]) -> CheckResult:
    """``target`` is ``(module_or_fn, inputs)``, inputs as accepted by ``gradcheck``."""
    module_or_fn, inputs = target
    report = gradcheck(
        module_or_fn, *inputs, eps=params["eps"], atol=params["atol"], rtol=params["rtol"]
    )
    return replace(report.to_result(), status=verdict(not report.passed, params))

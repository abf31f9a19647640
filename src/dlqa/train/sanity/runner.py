"""Validate the user's setup, build the shared context and run the battery as a Suite."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from dlqa.core.errors import UsageError
from dlqa.core.registry import get_spec
from dlqa.core.results import CheckResult
from dlqa.core.suite import Suite
from dlqa.train.checks import CHECK_ORDER
from dlqa.train.sanity.context import RandomState, SanityContext
from dlqa.train.sanity.losses import resolve_loss_kind


def resolve_device(device: str | torch.device) -> torch.device:
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}", hint='use "cpu", "cuda" or "auto"') from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            f"device {name!r} was asked for but CUDA is not available",
            hint='use device="auto" to fall back to the CPU',
        )
    return resolved


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    raise UsageError(
        f"the batch's {what} must be a tensor (or a NumPy array), got {type(value).__name__}",
        hint="a batch is a pair (inputs, targets) of tensors, as a DataLoader yields them",
    )


def split_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, targets)`` as tensors of the same length, or one UsageError saying why not."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        found = f"{type(batch).__name__}"
        if isinstance(batch, (tuple, list)):
            found += f" of {len(batch)} items"
        raise UsageError(
            f"a batch must be a pair (inputs, targets), got a {found}",
            hint="pass one batch as a DataLoader yields it: (inputs, targets)",
        )
    inputs, targets = _as_tensor(batch[0], "inputs"), _as_tensor(batch[1], "targets")
    if inputs.ndim == 0 or targets.ndim == 0:
        raise UsageError("the batch's inputs and targets need a batch dimension, got scalars")
    if inputs.shape[0] != targets.shape[0]:
        raise UsageError(
            f"the batch has {inputs.shape[0]} inputs but {targets.shape[0]} targets",
            hint="inputs and targets must have the same first (batch) dimension",
        )
    if inputs.shape[0] == 0:
        raise UsageError("the batch is empty")
    return inputs, targets


def _output_key(key: Any) -> int | str | None:
    if key is None or isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool)):
        return key
    raise UsageError(
        f"output_key must be an index (int) or a key (str), got {type(key).__name__}",
        hint="output_key names which of the model's outputs is the logits the loss takes",
    )


def _selected_ids(checks: Iterable[str] | None) -> list[str]:
    if checks is None:
        return list(CHECK_ORDER)
    wanted = list(checks)
    unknown = sorted(set(wanted) - set(CHECK_ORDER))
    if unknown:
        raise UsageError(
            f"unknown training check id(s) {unknown}", hint=f"choose from {list(CHECK_ORDER)}"
        )
    return [check_id for check_id in CHECK_ORDER if check_id in wanted]


def _loss_on_device(loss_fn: Any, device: torch.device) -> Any:
    """A loss module with tensors (class weights) moved to the device: a copy, so the user's
    object is left where it was."""
    if device.type == "cpu" or not isinstance(loss_fn, torch.nn.Module):
        return loss_fn
    import copy

    return copy.deepcopy(loss_fn).to(device)


def _validate_setup(context: SanityContext) -> None:
    """Run the first forward pass and loss and build the optimizer once, so that the caller's
    mistakes (a factory that returns no module, a loss that is not a scalar, an output_key
    the outputs lack) are one clear UsageError rather than crashed checks. The model's own
    bugs (its forward pass raises, its outputs have the wrong shape) are not: the first pass
    keeps them for train.output_shape to report, and the checks that can still run do."""
    first = context.first_pass
    unknown = sorted(set(context.frozen_buffers) - set(first.buffer_names))
    if unknown:
        raise UsageError(
            f"frozen_buffers names buffers the model does not have: {unknown}",
            hint=f"the model's buffers: {list(first.buffer_names)}",
        )
    context.fresh_optimizer(context.fresh_model())


@contextmanager
def battery_context(
    model_factory: Callable[[], torch.nn.Module],
    loss_fn: Callable[[Any, Any], Any],
    optimizer_factory: Callable[[Any], torch.optim.Optimizer],
    batch: Any,
    *,
    device: str | torch.device = "cpu",
    expected_output_shape: Sequence[int | None] | None = None,
    frozen_buffers: Sequence[str] = (),
    seed: int = 0,
    loss_kind: str | None = None,
    output_key: int | str | None = None,
) -> Iterator[SanityContext]:
    """The context the battery's checks read, validated (one UsageError for a setup that
    cannot run at all); on exit the global random state and the user's model are restored."""
    for what, value in (
        ("model_factory", model_factory),
        ("loss_fn", loss_fn),
        ("optimizer_factory", optimizer_factory),
    ):
        if not callable(value):
            raise UsageError(f"{what} must be callable, got {type(value).__name__}")
    inputs, targets = split_batch(batch)
    resolved_device = resolve_device(device)
    if isinstance(frozen_buffers, str):
        frozen_buffers = (frozen_buffers,)
    random_state = RandomState.capture()
    grad_enabled = torch.is_grad_enabled()
    context: SanityContext | None = None
    try:
        torch.set_grad_enabled(True)
        context = SanityContext(
            model_factory=model_factory,
            loss_fn=_loss_on_device(loss_fn, resolved_device),
            optimizer_factory=optimizer_factory,
            # Copies, cut from any graph: a model that writes into its inputs cannot change
            # the user's batch, and a batch that requires grad is no parameter of the model.
            inputs=inputs.detach().to(resolved_device).clone(),
            targets=targets.detach().to(resolved_device).clone(),
            device=resolved_device,
            loss_kind=resolve_loss_kind(loss_fn, loss_kind),
            expected_output_shape=None
            if expected_output_shape is None
            else tuple(expected_output_shape),
            frozen_buffers=tuple(frozen_buffers),
            seed=int(seed),
            output_key=_output_key(output_key),
        )
        _validate_setup(context)
        yield context
    finally:
        if context is not None:
            context.restore_user_model()
        torch.set_grad_enabled(grad_enabled)
        random_state.restore()


def run_battery(
    model_factory: Callable[[], torch.nn.Module],
    loss_fn: Callable[[Any, Any], Any],
    optimizer_factory: Callable[[Any], torch.optim.Optimizer],
    batch: Any,
    *,
    gates: dict[str, dict[str, Any]] | None = None,
    checks: Iterable[str] | None = None,
    **context_options: Any,
) -> list[CheckResult]:
    """The battery's checks (``checks``, default all) under ``gates``, on the context that
    ``battery_context`` builds with ``context_options`` (device, expected_output_shape, ...)."""
    gates = dict(gates or {})
    for check_id in gates:
        if check_id.startswith("train."):
            get_spec(check_id)  # an unknown id is a ConfigError naming it
    suite = Suite([get_spec(check_id) for check_id in _selected_ids(checks)], gates)
    with battery_context(
        model_factory, loss_fn, optimizer_factory, batch, **context_options
    ) as context:
        return suite.run(context).results

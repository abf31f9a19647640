"""The training sanity battery: fourteen checks of a model, loss, optimizer and one batch.

``run`` builds every check's model from the user's factory under a fixed seed, so the checks
are independent of one another and repeatable; the global random state (torch, NumPy, random)
is restored afterwards. Importing this package does not import torch; ``run`` does, and says
how to install it when it is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from dlqa.core.results import CheckResult
from dlqa.train import require_torch
from dlqa.train.checks import CHECK_ORDER

__all__ = ["CHECK_ORDER", "run", "run_setup"]


def run(
    model_factory: Callable[[], Any],
    loss_fn: Callable[[Any, Any], Any],
    optimizer_factory: Callable[[Any], Any],
    batch: Any,
    *,
    device: str = "cpu",
    gates: dict[str, dict[str, Any]] | None = None,
    expected_output_shape: Sequence[int | None] | None = None,
    frozen_buffers: Sequence[str] = (),
    seed: int = 0,
    loss_kind: str | None = None,
    checks: Iterable[str] | None = None,
    output_key: int | str | None = None,
) -> list[CheckResult]:
    """Run the sanity battery and return one CheckResult per check, in battery order.

    ``model_factory()`` returns a fresh ``torch.nn.Module``; ``optimizer_factory(params)`` an
    optimizer over the given parameters; ``loss_fn(outputs, targets)`` a scalar; ``batch`` is
    ``(inputs, targets)``. ``device`` is "cpu", "cuda" or "auto". ``gates`` overrides check
    parameters by check id (``level``, ``enabled`` and each check's documented parameters).
    ``expected_output_shape`` may use None for any size; ``frozen_buffers`` names buffers that
    must stay constant; ``loss_kind`` ("cross_entropy", "nll", "bce_with_logits", "bce") sets
    the loss type when it cannot be recognised from ``loss_fn``; ``checks`` runs a subset.
    ``output_key`` says which output of a model that returns a tuple (an index) or a dict (a
    key) is the logits the loss takes; without it such a model fails ``train.output_shape``,
    which lists the outputs (the battery never guesses).

    The caller's mistakes (a batch that is not a pair of tensors, a factory that does not
    return a module, an optimizer factory that raises, a loss that is not a scalar, an
    ``output_key`` the outputs lack) are one ``UsageError``. The model's bugs are findings:
    a forward pass that raises is an ``error`` result of ``train.output_shape`` naming the
    module, outputs without one row per sample fail it, and the checks that can still run do
    (the others are skipped and say why). A check that crashes is an ``error`` result.
    """
    require_torch()
    from dlqa.train.sanity.runner import run_battery

    return run_battery(
        model_factory,
        loss_fn,
        optimizer_factory,
        batch,
        device=device,
        gates=gates,
        expected_output_shape=expected_output_shape,
        frozen_buffers=frozen_buffers,
        seed=seed,
        loss_kind=loss_kind,
        checks=checks,
        output_key=output_key,
    )


def run_setup(setup: Any, **options: Any) -> list[CheckResult]:
    """``run`` on a :class:`dlqa.train.setup.TrainingSetup` (its device and output_key unless
    given)."""
    options.setdefault("device", setup.device)
    options.setdefault("output_key", getattr(setup, "output_key", None))
    return run(setup.model_factory, setup.loss_fn, setup.optimizer_factory, setup.batch, **options)

"""The setup every sanity check reads, and the work they share (the first forward pass, seeded
training runs). Every check starts from a fresh model built by the user's factory under the
same seed, so checks do not influence one another."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult, Status
from dlqa.train.sanity.first_pass import FirstPass, run_first_pass
from dlqa.train.sanity.outputs import OutputKey, model_error, pick_output
from dlqa.train.sanity.shapes import declared_shape_problems, derived_shape_problems
from dlqa.train.sanity.state import ModelSnapshot, RandomState

__all__ = ["FirstPass", "ModelSnapshot", "RandomState", "SanityContext", "relative_difference"]

# What a check needs from the first forward pass, from least to most (see skip_unless).
NEEDS = ("forward", "outputs", "loss", "training")


@dataclass
class SanityContext:
    model_factory: Callable[[], nn.Module]
    loss_fn: Callable[[Any, Any], Any]
    optimizer_factory: Callable[[Any], torch.optim.Optimizer]
    inputs: torch.Tensor
    targets: torch.Tensor
    device: torch.device
    loss_kind: str | None = None
    expected_output_shape: tuple[int | None, ...] | None = None
    frozen_buffers: tuple[str, ...] = ()
    seed: int = 0
    output_key: OutputKey = None
    _first_pass: FirstPass | None = field(default=None, repr=False)
    _curves: dict[bool, list[float]] = field(default_factory=dict, repr=False)
    # A factory that hands out the same module every time (``lambda: model``) would let the
    # checks train the user's model: its first state is kept, put back before each check and
    # at the end. Once the factory returns a different object it is known to build fresh ones.
    _snapshot: ModelSnapshot | None = field(default=None, repr=False)
    _factory_builds_fresh: bool = field(default=False, repr=False)

    @property
    def batch_size(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def on_cuda(self) -> bool:
        return self.device.type == "cuda"

    def seed_everything(self) -> None:
        torch.manual_seed(self.seed)  # seeds CUDA generators too
        np.random.seed(self.seed % 2**32)
        random.seed(self.seed)

    def fresh_model(self, *, train: bool = True) -> nn.Module:
        """A new model from the factory, built right after seeding (same weights every time)."""
        self.seed_everything()
        try:
            model = self.model_factory()
        except Exception as exc:
            raise UsageError(f"model_factory() raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(model, nn.Module):
            raise UsageError(
                f"model_factory() must return a torch.nn.Module, got {type(model).__name__}"
            )
        self._remember(model)
        model.to(self.device)
        model.train(train)
        return model

    def _remember(self, model: nn.Module) -> None:
        if self._factory_builds_fresh:
            return
        if self._snapshot is None:
            self._snapshot = ModelSnapshot.take(model)
        elif model is self._snapshot.module:
            self._snapshot.restore()
        else:
            self._snapshot, self._factory_builds_fresh = None, True

    def restore_user_model(self) -> None:
        """Put back a model the factory returned more than once (see ``_snapshot``)."""
        if self._snapshot is not None:
            self._snapshot.restore()

    def fresh_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        try:
            optimizer = self.optimizer_factory(model.parameters())
        except Exception as exc:
            raise UsageError(
                f"optimizer_factory(model.parameters()) raised {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise UsageError(
                "optimizer_factory(params) must return a torch.optim.Optimizer, "
                f"got {type(optimizer).__name__}"
            )
        return optimizer

    def call_model(
        self, model: nn.Module, inputs: torch.Tensor | None = None, *, copy: bool = True
    ) -> Any:
        """The model's return value on a copy of the inputs; an exception inside the model is
        a ModelError naming the module it came from (a finding, not a usage error)."""
        given = self.inputs if inputs is None else inputs
        if copy:
            # A model that writes into its input (train.input_mutation reports it) must not
            # change the batch the next forward pass and the next check see.
            given = given.clone()
        try:
            return model(given)
        except Exception as exc:
            raise model_error(exc, model) from exc

    def forward(self, model: nn.Module, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """The output the loss takes (``output_key`` picks it from a tuple or dict)."""
        outputs, problem = pick_output(self.call_model(model, inputs), self.output_key)
        if outputs is None:  # the checks skip before this (see skip_unless)
            raise UsageError(str(problem))
        return outputs

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        loss = self.loss_fn(outputs, self.targets if targets is None else targets)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise UsageError(
                f"loss_fn(outputs, targets) must return a scalar tensor, got {shape}",
                hint="reduce the loss over the batch, e.g. reduction='mean'",
            )
        return loss.reshape(())

    def train_step(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor | None = None
    ) -> float:
        """One optimisation step; returns the loss measured before the update."""
        optimizer.zero_grad(set_to_none=True)
        loss = self.loss(self.forward(model, inputs))
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def run_training(self, steps: int, *, zero_inputs: bool = False) -> list[float]:
        """Losses of a seeded run of ``steps`` steps on the batch (or on zeroed inputs)."""
        model = self.fresh_model()
        optimizer = self.fresh_optimizer(model)
        inputs = torch.zeros_like(self.inputs) if zero_inputs else self.inputs
        return [self.train_step(model, optimizer, inputs) for _ in range(steps)]

    def training_curve(self, steps: int, *, zero_inputs: bool = False) -> list[float]:
        """Like run_training, but shared between checks: a longer cached run serves shorter
        requests with its prefix (the run is seeded, so the prefix is the same run)."""
        cached = self._curves.get(zero_inputs, [])
        if len(cached) < steps:
            cached = self.run_training(steps, zero_inputs=zero_inputs)
            self._curves[zero_inputs] = cached
        return cached[:steps]

    @property
    def first_pass(self) -> FirstPass:
        if self._first_pass is None:
            self._first_pass = run_first_pass(self)
        return self._first_pass

    def shape_problems(self, outputs: torch.Tensor) -> list[str]:
        """What is wrong with the outputs' shape: against the declared shape when there is
        one, else against what the batch and the loss type imply."""
        if self.expected_output_shape is not None:
            return declared_shape_problems(tuple(outputs.shape), self.expected_output_shape)
        return derived_shape_problems(outputs, self.targets, self.batch_size, self.loss_kind)

    def skip_unless(self, check_id: str, needs: str) -> CheckResult | None:
        """A SKIP result naming the check that reports why, when the first pass lacks what a
        check ``needs``: "forward" (the forward pass ran), "outputs" (one finite output
        tensor), "loss" (one row per sample and a finite loss), "training" (and a loss
        attached to the model, so that backward() reaches its parameters)."""
        first, level = self.first_pass, NEEDS.index(needs)
        reason = None
        if first.error is not None:
            reason = "the model's forward pass raised (see train.output_shape)"
        elif level >= 1 and first.outputs is None:
            reason = "the model's output is not one tensor (see train.output_shape)"
        elif level >= 1 and not bool(torch.isfinite(first.outputs).all()):
            reason = "the model's first outputs are not finite (see train.finite_outputs)"
        elif level >= 2 and first.rows_problem is not None:
            reason = "the outputs do not have one row per sample (see train.output_shape)"
        elif level >= 2 and first.loss is None:
            reason = "the loss could not be computed on the outputs (see train.output_shape)"
        elif level >= 2 and not math.isfinite(first.loss):
            reason = "the model's first outputs or loss are not finite (see train.finite_outputs)"
        elif level >= 3 and first.loss_detached:
            reason = "the loss is detached from the model (see train.gradients)"
        return None if reason is None else CheckResult(check_id, Status.SKIP, f"skipped: {reason}")

    def skip_if_not_finite(self, check_id: str) -> CheckResult | None:
        """The guard of the checks that train: a SKIP result when they cannot run for a
        reason another check already reports (forward error, output shape, non-finite
        outputs or loss, a detached loss); ``skip_unless(check_id, "training")``."""
        return self.skip_unless(check_id, "training")


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference, relative to the largest magnitude of ``a``."""
    if a.numel() == 0:
        return 0.0
    diff = float((a.double() - b.double()).abs().max())
    scale = float(a.double().abs().max())
    return diff / scale if scale > 0 else diff

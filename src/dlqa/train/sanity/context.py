"""The setup every sanity check reads, and the work they share (the first forward pass, seeded
training runs). Every check starts from a fresh model built by the user's factory under the
same seed, so checks do not influence one another."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult, Status


@dataclass(frozen=True)
class FirstPass:
    """The fresh model's outputs and loss on the batch, in train mode, without gradients."""

    outputs: torch.Tensor
    loss: float
    buffer_names: tuple[str, ...]


@dataclass(frozen=True)
class RandomState:
    """The global random generators' state, captured so the battery can leave them as found."""

    torch_cpu: torch.Tensor
    torch_cuda: list[torch.Tensor] | None
    numpy: Any
    python: Any

    @classmethod
    def capture(cls) -> RandomState:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        return cls(torch.get_rng_state(), cuda, np.random.get_state(), random.getstate())

    def restore(self) -> None:
        torch.set_rng_state(self.torch_cpu)
        if self.torch_cuda is not None:
            torch.cuda.set_rng_state_all(self.torch_cuda)
        np.random.set_state(self.numpy)
        random.setstate(self.python)


@dataclass
class ModelSnapshot:
    """A model's weights, buffers, mode, requires_grad flags and device, to put them back."""

    module: nn.Module
    state: dict[str, torch.Tensor]
    training: bool
    requires_grad: dict[str, bool]
    device: torch.device | None

    @classmethod
    def take(cls, module: nn.Module) -> ModelSnapshot:
        first = next(iter(module.parameters()), None)
        return cls(
            module=module,
            state={k: v.detach().clone() for k, v in module.state_dict().items()},
            training=module.training,
            requires_grad={n: p.requires_grad for n, p in module.named_parameters()},
            device=None if first is None else first.device,
        )

    def restore(self) -> None:
        if self.device is not None:
            self.module.to(self.device)
        with torch.no_grad():
            self.module.load_state_dict(self.state)
        for name, parameter in self.module.named_parameters():
            parameter.requires_grad_(self.requires_grad.get(name, parameter.requires_grad))
            parameter.grad = None
        self.module.train(self.training)


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

    def forward(self, model: nn.Module, inputs: torch.Tensor | None = None) -> torch.Tensor:
        outputs = model(self.inputs if inputs is None else inputs)
        if not isinstance(outputs, torch.Tensor):
            raise UsageError(
                f"the model returned a {type(outputs).__name__}, expected a tensor",
                hint="wrap the model so that forward() returns the tensor the loss takes",
            )
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
            model = self.fresh_model()
            with torch.no_grad():
                outputs = self.forward(model)
                loss = self.loss(outputs)
            buffers = tuple(name for name, _ in model.named_buffers())
            self._first_pass = FirstPass(outputs.detach(), float(loss), buffers)
        return self._first_pass

    def skip_if_not_finite(self, check_id: str) -> CheckResult | None:
        """A SKIP result when the first forward pass is not finite: every training check would
        fail for that one reason, which train.finite_outputs already reports."""
        first = self.first_pass
        if bool(torch.isfinite(first.outputs).all()) and np.isfinite(first.loss):
            return None
        return CheckResult(
            check_id,
            Status.SKIP,
            "skipped: the model's first outputs or loss are not finite (see train.finite_outputs)",
        )


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference, relative to the largest magnitude of ``a``."""
    if a.numel() == 0:
        return 0.0
    diff = float((a.double() - b.double()).abs().max())
    scale = float(a.double().abs().max())
    return diff / scale if scale > 0 else diff

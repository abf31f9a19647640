"""State the battery puts back when it is done: the global random generators and a model the
factory hands out more than once."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn


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

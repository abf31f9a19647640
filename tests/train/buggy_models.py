"""Small correct models and deliberately buggy ones for the sanity battery's tests.

Each ``Setup`` is what ``dlqa.train.sanity.run`` takes, plus the check ids that must fail
(empty for a correct model). Every model is tiny so the whole battery runs in about a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

CLASSES = 10
BATCH = 32


@dataclass
class Setup:
    model_factory: Callable[[], nn.Module]
    loss_fn: Any
    optimizer_factory: Callable[[Any], torch.optim.Optimizer]
    batch: tuple[torch.Tensor, torch.Tensor]
    options: dict[str, Any] = field(default_factory=dict)
    expected_failures: frozenset[str] = frozenset()

    def run_kwargs(self) -> dict[str, Any]:
        return {
            "model_factory": self.model_factory,
            "loss_fn": self.loss_fn,
            "optimizer_factory": self.optimizer_factory,
            "batch": self.batch,
            **self.options,
        }


def adam(lr: float = 1e-2) -> Callable[[Any], torch.optim.Optimizer]:
    return lambda params: torch.optim.Adam(params, lr=lr)


def image_batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(BATCH, 1, 8, 8, generator=generator)
    targets = torch.arange(BATCH) % CLASSES  # balanced: the initial loss should be ln 10
    return inputs, targets


def vector_batch(features: int = 16, seed: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, features, generator=generator), torch.arange(BATCH) % CLASSES


def token_batch(vocabulary: int = 50, length: int = 12, seed: int = 3):
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, vocabulary, (BATCH, length), generator=generator)
    return tokens, torch.arange(BATCH) % CLASSES


# ---------------------------------------------------------------- correct models


class SmallCNN(nn.Module):
    def __init__(self, mix_batch: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()
        )
        self.head = nn.Linear(8 * 8 * 8, CLASSES)
        self.mix_batch = mix_batch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if self.mix_batch:
            # The bug: channels moved in front of the batch before flattening, so every row of
            # the flattened tensor holds pieces of several samples; the shape still fits.
            return self.head(x.permute(1, 0, 2, 3).reshape(x.shape[0], -1))
        return self.head(x.flatten(1))


class BatchNormDropoutMLP(nn.Module):
    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(features, 64),
            nn.BatchNorm1d(64),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(64, CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class TinyTransformerClassifier(nn.Module):
    def __init__(self, vocabulary: int = 50, width: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width)
        layer = nn.TransformerEncoderLayer(
            width, nhead=4, dim_feedforward=64, dropout=0.1, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.head = nn.Linear(width, CLASSES)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)).mean(1))


class PlainMLP(nn.Module):
    def __init__(self, features: int = 16, squash: str = "") -> None:
        super().__init__()
        self.hidden = nn.Linear(features, 64)
        self.out = nn.Linear(64, CLASSES)
        self.squash = squash

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.hidden(x)
        # The "log" bug: a log of pre-activations, half of which are negative -> NaN.
        hidden = torch.log(hidden) if self.squash == "log" else torch.relu(hidden)
        logits = self.out(hidden)
        if self.squash == "softmax":
            # The bug: CrossEntropyLoss applies log-softmax itself.
            return torch.softmax(logits, dim=1)
        return logits


class DriftingFrozenMLP(nn.Module):
    """A frozen input projection that is nevertheless modified in place while training."""

    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.frozen_projection = nn.Linear(features, features)
        self.frozen_projection.requires_grad_(False)
        self.body = PlainMLP(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            # The bug: an in-place "calibration" of a layer meant to stay frozen.
            self.frozen_projection.weight.mul_(0.99)
        return self.body(self.frozen_projection(x))


class ScaledMLP(nn.Module):
    """A constant buffer (a fixed input scale), optionally overwritten in forward (the bug)."""

    def __init__(self, features: int = 16, overwrite: bool = False) -> None:
        super().__init__()
        self.register_buffer("input_scale", torch.ones(features))
        self.body = PlainMLP(features)
        self.overwrite = overwrite

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.overwrite and self.training:
            self.input_scale.copy_(x.detach().abs().mean(0))
        return self.body(x * self.input_scale)


class FoldedReshapeMLP(nn.Module):
    """The bug: ``view(-1, 8)`` where ``view(x.size(0), -1)`` was meant: features fold into
    the batch axis, four rows per sample."""

    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.hidden = nn.Linear(features, 32)
        self.out = nn.Linear(8, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x)).view(-1, 8))


class BatchPooledEncoder(nn.Module):
    """The bug: a mean over dim 0 (the batch) where the sequence (dim 1) was meant."""

    def __init__(self, vocabulary: int = 50, width: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width)
        self.head = nn.Linear(width, CLASSES)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(tokens).mean(0))


class Attention(nn.Module):
    def __init__(self, width: int, broken: bool) -> None:
        super().__init__()
        self.query = nn.Linear(width, width)
        self.broken = broken

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        query = self.query(x)
        # The bug: scores of (B, W) @ (B, W) instead of (B, W) @ (W, B): a shape error.
        scores = query @ x if self.broken else query @ x.T
        return torch.softmax(scores, dim=-1) @ x


class Block(nn.Module):
    def __init__(self, width: int, broken: bool) -> None:
        super().__init__()
        self.attn = Attention(width, broken)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.attn(x)


class RaisingEncoder(nn.Module):
    """Its second block's attention raises: the finding must name ``blocks.1.attn``."""

    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Block(features, False), Block(features, True)])
        self.head = nn.Linear(features, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class PlainListMLP(nn.Module):
    """The bug: hidden layers kept in a plain list, so they are not registered and never train
    (the registered input and output layers still learn the batch)."""

    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.inp = nn.Linear(features, 64)
        self.blocks = [nn.Linear(64, 64), nn.Linear(64, 64)]
        self.out = nn.Linear(64, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.inp(x))
        for block in self.blocks:
            x = x + torch.relu(block(x))
        return self.out(x)


class TensorAttributeMLP(PlainMLP):
    """The bug: a learnable scale created with requires_grad=True, not as an nn.Parameter."""

    def __init__(self, features: int = 16) -> None:
        super().__init__(features)
        self.scale = torch.ones(64, requires_grad=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x)) * self.scale)


class InPlaceInputMLP(nn.Module):
    """The bug: an in-place ReLU as the first operation writes into the caller's batch."""

    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.ReLU(inplace=True), nn.Linear(features, 64), nn.ReLU(), nn.Linear(64, CLASSES)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class TupleOutputMLP(PlainMLP):
    """Returns (logits, hidden features), as many detection and language models do."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = torch.relu(self.hidden(x))
        return self.out(hidden), hidden


class DictOutputMLP(PlainMLP):
    """Returns {"embedding": ..., "logits": ...}: the logits are not the first entry."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden = torch.relu(self.hidden(x))
        return {"embedding": hidden, "logits": self.out(hidden)}


def detached_cross_entropy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # The bug: the loss is cut from the graph (a "logging" detach left in place).
    return nn.functional.cross_entropy(outputs, targets).detach()


# ---------------------------------------------------------------- setups


def correct_setups() -> dict[str, Setup]:
    cross_entropy = nn.CrossEntropyLoss()
    return {
        "cnn": Setup(SmallCNN, cross_entropy, adam(), image_batch()),
        "mlp_batchnorm_dropout": Setup(BatchNormDropoutMLP, cross_entropy, adam(), vector_batch()),
        "transformer": Setup(TinyTransformerClassifier, cross_entropy, adam(3e-3), token_batch()),
    }


def _skip_first_layer(params: Any) -> torch.optim.Optimizer:
    # The bug: the first layer's weight and bias are left out of the optimizer.
    return torch.optim.Adam(list(params)[2:], lr=1e-2)


def buggy_setups() -> dict[str, Setup]:
    cross_entropy = nn.CrossEntropyLoss()
    return {
        "view_mixes_batch": Setup(
            lambda: SmallCNN(mix_batch=True),
            cross_entropy,
            adam(),
            image_batch(),
            expected_failures=frozenset({"train.batch_independence"}),
        ),
        "layer_left_out_of_optimizer": Setup(
            PlainMLP,
            cross_entropy,
            _skip_first_layer,
            vector_batch(),
            expected_failures=frozenset({"train.updates"}),
        ),
        "frozen_layer_updates": Setup(
            DriftingFrozenMLP,
            cross_entropy,
            adam(),
            vector_batch(),
            expected_failures=frozenset({"train.frozen"}),
        ),
        "constant_buffer_overwritten": Setup(
            lambda: ScaledMLP(overwrite=True),
            cross_entropy,
            adam(),
            vector_batch(),
            options={"frozen_buffers": ("input_scale",)},
            expected_failures=frozenset({"train.frozen"}),
        ),
        "softmax_before_cross_entropy": Setup(
            lambda: PlainMLP(squash="softmax"),
            cross_entropy,
            adam(),
            vector_batch(),
            expected_failures=frozenset({"train.initial_loss", "train.overfit_batch"}),
        ),
        **model_bug_setups(),
        "nan_producing_log": Setup(
            lambda: PlainMLP(squash="log"),
            cross_entropy,
            adam(),
            vector_batch(),
            expected_failures=frozenset({"train.finite_outputs"}),
        ),
    }


def model_bug_setups() -> dict[str, Setup]:
    """Bugs of the model itself (issue 15): findings of their own check, never usage errors."""
    cross_entropy = nn.CrossEntropyLoss()
    shape = frozenset({"train.output_shape"})
    return {
        "reshape_folds_features_into_batch": Setup(
            FoldedReshapeMLP, cross_entropy, adam(), vector_batch(), expected_failures=shape
        ),
        "pooling_over_the_batch_axis": Setup(
            BatchPooledEncoder, cross_entropy, adam(), token_batch(), expected_failures=shape
        ),
        "submodule_forward_raises": Setup(
            RaisingEncoder, cross_entropy, adam(), vector_batch(), expected_failures=shape
        ),
        "layers_in_a_plain_list": Setup(
            PlainListMLP,
            cross_entropy,
            adam(),
            vector_batch(),
            expected_failures=frozenset({"train.unregistered_parameters"}),
        ),
        "requires_grad_tensor_attribute": Setup(
            TensorAttributeMLP,
            cross_entropy,
            adam(),
            vector_batch(),
            expected_failures=frozenset({"train.unregistered_parameters"}),
        ),
        "forward_mutates_its_input": Setup(
            InPlaceInputMLP,
            cross_entropy,
            adam(),
            vector_batch(),
            expected_failures=frozenset({"train.input_mutation"}),
        ),
        "tuple_output_without_output_key": Setup(
            TupleOutputMLP, cross_entropy, adam(), vector_batch(), expected_failures=shape
        ),
        "dict_output_without_output_key": Setup(
            DictOutputMLP, cross_entropy, adam(), vector_batch(), expected_failures=shape
        ),
        "detached_loss": Setup(
            PlainMLP,
            detached_cross_entropy,
            adam(),
            vector_batch(),
            options={"loss_kind": "cross_entropy"},
            expected_failures=frozenset({"train.gradients"}),
        ),
    }


class LogOfShifted(nn.Module):
    """log(x + shift): finite while shift keeps the argument positive, NaN once it does not."""

    def __init__(self) -> None:
        super().__init__()
        self.shift = 100.0

    def forward(self, x):
        return torch.log(x + self.shift)

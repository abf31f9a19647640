"""Small real models for the ONNX variant and parity tests: a CNN on 1 x 16 x 16 inputs (with
its batch size baked into a reshape on request), one whose activations overflow fp16, and
their export as the bundle exporter does it."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

EXPORT_BATCH = 8


class SmallCnn(torch.nn.Module):
    """1 x 16 x 16 images, 10 classes. ``baked=True`` flattens with ``reshape(8, -1)``: the
    export bakes its batch size into the graph."""

    def __init__(self, baked: bool = False) -> None:
        super().__init__()
        self.baked = baked
        self.conv1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.fc = torch.nn.Linear(16 * 4 * 4, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        return torch.nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.fc(h.reshape(EXPORT_BATCH, -1) if self.baked else h.flatten(1))


class OverflowCnn(SmallCnn):
    """Fine in fp32, not in fp16: a layer lifts the activations to ~1e4 for faint inputs and
    beyond fp16's 65504 for most full-contrast ones (up to ~8e4), and the next two
    multiplications bring them back down."""

    def __init__(self) -> None:
        super().__init__()
        self.up = torch.nn.Linear(16 * 4 * 4, 32)
        self.down = torch.nn.Linear(32, 10)
        with torch.no_grad():
            self.up.weight.mul_(1e5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.up(self.features(x).flatten(1)))
        return self.down(h * 1e-3 * 1e-3)


def images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy copies of ten fixed class templates, and their classes."""
    templates = np.random.default_rng(123).standard_normal((10, 1, 16, 16))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    x = templates[labels] + 0.8 * rng.standard_normal((n, 1, 16, 16))
    return x.astype(np.float32), labels


def trained(model: SmallCnn, steps: int = 60) -> SmallCnn:
    """A few Adam steps on the templates: confident logits, so int8 keeps the decisions."""
    torch.manual_seed(0)
    optimiser = torch.optim.Adam(model.parameters(), 1e-2)
    for step in range(steps):
        x, y = images(64, seed=1000 + step)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def export(
    model: torch.nn.Module, path: Path, batch: int = EXPORT_BATCH, *,
    example: torch.Tensor | None = None, input_axes: dict[int, str] | None = None,
) -> Path:  # fmt: skip
    """The legacy exporter, as the bundle exporter uses it (its deprecation notice hushed)."""
    example = torch.zeros(batch, 1, 16, 16) if example is None else example
    axes = {"input": input_axes or {0: "batch"}, "output": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model.eval(), (example,), str(path), input_names=["input"],
            output_names=["output"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )  # fmt: skip
    return path


def eager(model: torch.nn.Module):
    """The reference: the eager model as a function of a numpy batch."""

    def reference(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(batch)).numpy()

    return reference


def if_model() -> onnx.ModelProto:
    """``output = input`` through an If node: control flow, which the fp16 forms refuse."""
    make = onnx.helper
    then = make.make_graph(
        [make.make_node("Identity", ["input"], ["y"])], "then", [],
        [make.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
    )  # fmt: skip
    true = make.make_tensor("c", onnx.TensorProto.BOOL, [], [True])
    graph = make.make_graph(
        [
            make.make_node("Constant", [], ["c"], value=true),
            make.make_node("If", ["c"], ["output"], then_branch=then, else_branch=then),
        ],
        "g", [make.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["n", 4])],
        [make.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["n", 4])],
    )  # fmt: skip
    return make.make_model(graph, opset_imports=[make.make_opsetid("", 17)])

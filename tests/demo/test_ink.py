"""The demo's ink extraction as torch layers: close to the numpy path it replaces in the
bundle, and exportable to ONNX."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlqa.demo.digit_render import render_digit  # noqa: E402
from dlqa.demo.ink import InkFrontEnd, raw_input  # noqa: E402
from dlqa.demo.training import model_input  # noqa: E402


def photos(n: int = 12) -> list:
    from PIL import Image
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(0)
    digits = load_digits().images[:n]
    return [
        Image.fromarray(np.clip(render_digit(digit, rng), 0, 255).astype(np.uint8))
        for digit in digits
    ]


def test_front_end_matches_the_numpy_ink_extraction() -> None:
    torch.set_num_threads(1)
    images = photos()
    reference = np.stack([model_input(image) for image in images])
    with torch.no_grad():
        ours = InkFrontEnd()(torch.stack([raw_input(image) for image in images]))[:, 0].numpy()
    assert ours.shape == reference.shape
    # Same steps; only the centring's resampling differs (grid_sample against Pillow's
    # antialiased resize), so the inputs agree closely without being equal.
    correlation = [
        np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(ours, reference, strict=True)
    ]
    assert min(correlation) > 0.8, correlation
    assert np.allclose(ours.mean(axis=(1, 2)), 0, atol=1e-4)
    assert np.allclose(ours.std(axis=(1, 2)), 1, atol=1e-3)


def test_front_end_exports_to_onnx(tmp_path) -> None:
    import onnxruntime as ort

    images = photos(4)
    batch = torch.stack([raw_input(image) for image in images])
    path = tmp_path / "ink.onnx"
    torch.onnx.export(InkFrontEnd(), (batch,), str(path), input_names=["x"], dynamo=False,
                      dynamic_axes={"x": {0: "n"}}, opset_version=17)  # fmt: skip
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        eager = InkFrontEnd()(batch).numpy()
    np.testing.assert_allclose(session.run(None, {"x": batch.numpy()})[0], eager, atol=1e-4)

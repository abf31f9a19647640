"""Small real bundles for the deployment tests: a tiny CNN on 16 x 16 grayscale images and a
few natural-looking image files (gradients, shapes and noise) to feed it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

CLASSES = ["circle", "square", "stripe"]


class TinyCnn(torch.nn.Module):
    def __init__(self, classes: int = len(CLASSES), in_channels: int = 1) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(in_channels, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
        )
        self.head = torch.nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def natural_image(seed: int, size: tuple[int, int] = (40, 52), mode: str = "RGB"):
    """A photograph-like image: a lit gradient, a shape, texture noise."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = 90 + 80 * (xx / w) + 40 * np.sin(yy / (3 + seed % 5))
    rgb = np.stack([base + rng.normal(0, 12, base.shape) + 30 * c for c in range(3)], axis=-1)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    box = (w // 5, h // 5, w // 5 + w // 2, h // 5 + h // 2)
    (draw.ellipse if seed % 2 else draw.rectangle)(box, fill=(20 + seed * 7 % 200, 30, 60))
    return image.convert(mode)


@pytest.fixture
def image_files(tmp_path: Path) -> list[Path]:
    files = []
    for seed in range(12):
        path = tmp_path / "images" / f"img{seed:02d}.png"
        path.parent.mkdir(exist_ok=True)
        natural_image(seed, (36 + 3 * seed, 48 + 2 * (seed % 4))).save(path)
        files.append(path)
    return files


@pytest.fixture
def tiny_model() -> TinyCnn:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    return TinyCnn().eval()


SPEC = {"resize": [16, 16], "interpolation": "bilinear", "color_mode": "L", "mean": [0.5],
        "std": [0.25]}  # fmt: skip


@pytest.fixture
def tiny_bundle(tmp_path: Path, tiny_model: TinyCnn, image_files: list[Path]) -> Path:
    """A bundle of :class:`TinyCnn` with three golden inputs and guardrails."""
    from dlqa.deploy.exporter import export

    return export(
        tiny_model, tmp_path / "bundle", example_input=torch.randn(4, 1, 16, 16),
        preprocessing=SPEC, class_names=CLASSES, golden_inputs=image_files[:3],
        guardrails={"min_confidence": 0.34, "forbidden": [{"classes": ["stripe"],
                    "slice": "audience", "values": ["kids"]}]},
    )  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models on a shared machine: extra threads only spin and wait."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A briefly trained :class:`~tests.deploy.onnx_models.SmallCnn` and its ONNX export."""
    from tests.deploy.onnx_models import SmallCnn, export, trained

    torch.manual_seed(0)
    model = trained(SmallCnn())
    return model, export(model, tmp_path_factory.mktemp("small") / "model.onnx")

"""A small real project for the deployment commands: a tiny CNN (``deploy_model_def.py``, its
weights), a labelled test set of circles and squares, and a dlqa.toml with [eval] and
[deploy]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

MODEL_CODE = """
import numpy as np
import torch
from PIL import Image


class TinyCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        )
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.features(x))


def build():
    return TinyCnn()


def transform(image):
    small = image.convert("L").resize((16, 16), Image.BILINEAR)
    pixels = np.asarray(small, dtype=np.float32) / 255.0
    return torch.from_numpy((pixels - 0.5) / 0.25)[None]
"""

CONFIG = """
[eval]
model = "deploy_model_def:build"
weights = "model.pt"
transform = "deploy_model_def:transform"
class_names = ["circle", "square"]
test = "evalset/test"
slices = ["brightness"]

[deploy]
bundle = "bundle"
max_files = 24

[deploy.preprocessing]
resize = [16, 16]
interpolation = "bilinear"
color_mode = "L"
mean = [0.5]
std = [0.25]
"""


def shape_image(path: Path, label: str, rng: np.random.Generator) -> None:
    level = int(rng.integers(60, 200))
    image = Image.new("L", (20, 20), level)
    draw = ImageDraw.Draw(image)
    box = (4, 4, 15, 15)
    (draw.ellipse if label == "circle" else draw.rectangle)(box, fill=255 - level)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def make_project(tmp_path: Path) -> Path:
    """Write the project into ``tmp_path``."""
    (tmp_path / "deploy_model_def.py").write_text(MODEL_CODE, encoding="utf-8")
    (tmp_path / "dlqa.toml").write_text(CONFIG, encoding="utf-8")
    namespace: dict = {}
    exec(MODEL_CODE, namespace)
    torch.manual_seed(0)
    torch.save(namespace["build"]().state_dict(), tmp_path / "model.pt")
    rng = np.random.default_rng(0)
    for label in ("circle", "square"):
        for i in range(12):
            shape_image(tmp_path / "evalset/test" / label / f"{i:02d}.png", label, rng)
    return tmp_path

"""The demo project's training: a small CNN on the digit images, named in the demo's dlqa.toml.

Everything here is reachable by an import path ``dlqa.demo.training:<name>``, the way a project
names its own training pieces in ``[train]``: :func:`build_model`, :data:`loss_fn`,
:func:`make_optimizer`, :func:`one_batch` and :func:`fast_train`; :func:`train` is the full
(still short) training with the dlqa monitor attached when it is available.

The images are read from the demo's ``data`` folder (``<split>/<class>/<file>``), found in this
order: the ``data_dir`` argument, the ``DLQA_DEMO_DATA`` environment variable,
:data:`DEFAULT_DATA_DIR` (set it before running the battery from elsewhere), and ``data`` in the
current working folder (the project root when ``dlqa check`` runs there). Each image is decoded
once with Pillow as grayscale 32x32 and cleaned up as digit pipelines do (:func:`model_input`:
the ink lifted off the uneven background, cropped and centred at one size, standardised); files
that do not decode (the demo plants a truncated JPEG) are skipped, since data QA is the place
that reports them.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dlqa.core.errors import UsageError
from dlqa.demo.build import CLASS_NAMES

IMAGE_SIZE = 32
INK_BOX = 24  # the ink's longer side after centring, in pixels of the model's input
STROKE_FILTER = 7  # top-hat window: wider than most strokes (the thickest come out hollow)
DATA_DIR_ENV = "DLQA_DEMO_DATA"
DEFAULT_DATA_DIR: Path | None = None  # set by a caller that runs the demo from another folder
SEED = 0
# train(): a one-cycle schedule up to this learning rate, and inputs shifted at random by up to
# this many pixels each step (the demo's 480 training images are few; see run.py's epochs).
MAX_LR = 3e-3
MAX_SHIFT = 2

loss_fn = nn.CrossEntropyLoss()

_decoded: dict[tuple[str, str, tuple], tuple[np.ndarray, np.ndarray, list[str]]] = {}


class DigitsCNN(nn.Module):
    """Three conv blocks with BatchNorm, then dropout and a linear head over 10 classes.

    BatchNorm and dropout are there on purpose: they make train and eval mode differ, which is
    what ``train.modes`` and the eval-mode batch-independence check look at.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = len(CLASS_NAMES)) -> None:
        super().__init__()

        def block(inputs: int, outputs: int) -> list[nn.Module]:
            # No conv bias: the BatchNorm shift that follows would make it a dead parameter
            # (zero gradient), which train.gradients rightly reports.
            return [
                nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
                nn.BatchNorm2d(outputs),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]

        self.features = nn.Sequential(*block(in_channels, 16), *block(16, 32), *block(32, 64))
        self.dropout = nn.Dropout(0.25)
        self.head = nn.Linear(64 * (IMAGE_SIZE // 8) ** 2, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # flatten(1) keeps samples apart (a view(-1, ...) with the wrong size would mix them).
        return self.head(self.dropout(self.features(images).flatten(1)))


def build_model(in_channels: int = 1) -> nn.Module:
    """A fresh, untrained :class:`DigitsCNN` for ``in_channels`` x 32 x 32 inputs."""
    return DigitsCNN(in_channels=in_channels)


def make_optimizer(params: Any) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=1e-3)


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The demo's data folder (see the module docstring for the order of the places tried)."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR or "data"
    path = Path(chosen).expanduser().resolve()
    if not (path / "train").is_dir():
        raise UsageError(
            f"{path} holds no train/ folder of demo images",
            hint=f"build the demo with `dlqa demo`, or set {DATA_DIR_ENV} to its data folder",
        )
    return path


def load_split(
    data_dir: str | Path | None = None, split: str = "train"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images (N, 1, 32, 32) float32, labels (N,) int64 and sample ids of one split, in file
    order; decoded once per folder content and cached."""
    root = resolve_data_dir(data_dir)
    files = sorted(
        path
        for class_name in CLASS_NAMES
        for path in (root / split / class_name).glob("*")
        if path.is_file()
    )
    signature = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    key = (str(root), split, signature)
    if key not in _decoded:
        images, labels, ids = [], [], []
        for path in files:
            pixels = decode_image(path)
            if pixels is None:
                continue
            images.append(pixels)
            labels.append(CLASS_NAMES.index(path.parent.name))
            ids.append(path.relative_to(root).as_posix())
        if not images:
            raise UsageError(f"{root / split} holds no decodable images of the demo's classes")
        _decoded.clear()  # one folder at a time: the demo never needs more
        _decoded[key] = (np.stack(images)[:, None], np.asarray(labels, dtype=np.int64), ids)
    return _decoded[key]


def decode_image(path: Path) -> np.ndarray | None:
    """The model's input for one file: (32, 32) float32, or None when it does not decode."""
    try:
        with Image.open(path) as image:
            image.draft("L", (2 * IMAGE_SIZE, 2 * IMAGE_SIZE))  # JPEG: decode at reduced size
            return model_input(image)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def model_input(image: Image.Image) -> np.ndarray:
    """A decoded image as the model sees it: grayscale 32 x 32, the ink alone, centred at one
    size and standardised.

    The demo's photos vary in tint, lighting and pose; what tells digits apart is the ink. A
    morphological top-hat keeps what is thinner than :data:`STROKE_FILTER` pixels (strokes)
    and drops the slowly varying background; the ink is whichever of the light and dark
    top-hats holds more (chalkboards have light ink on dark). The ink's bounding box is then
    scaled to :data:`INK_BOX` pixels on its longer side and centred, as MNIST's digits are.
    """
    small = image.convert("L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    pixels = np.asarray(small, dtype=np.float32) / 255.0
    window = (STROKE_FILTER, STROKE_FILTER)
    light = pixels - ndimage.grey_opening(pixels, size=window)
    dark = ndimage.grey_closing(pixels, size=window) - pixels
    ink = light if float(light.sum()) > float(dark.sum()) else dark
    ink = _centred(ink / max(float(ink.max()), 1e-3))
    return ((ink - ink.mean()) / max(float(ink.std()), 1e-3)).astype(np.float32)


def _centred(ink: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """``ink`` (0..1) cropped to where it exceeds ``threshold`` (half the strongest ink: a
    narrow shadow in the background stays out of the box), scaled to :data:`INK_BOX` on its
    longer side and centred on an empty canvas; unchanged when there is next to no ink."""
    mask = ink > threshold
    if mask.sum() < 3:
        return ink
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = INK_BOX / max(crop.shape)
    height, width = (max(1, round(side * scale)) for side in crop.shape)
    resized = Image.fromarray(crop, "F").resize((width, height), Image.Resampling.BILINEAR)
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    top, left = (IMAGE_SIZE - height) // 2, (IMAGE_SIZE - width) // 2
    canvas[top : top + height, left : left + width] = np.asarray(resized)
    return canvas


def eval_transform(image: Image.Image) -> torch.Tensor:
    """``[eval] transform``: one decoded image as the model's (1, 32, 32) input tensor."""
    return torch.from_numpy(model_input(image))[None]


def make_loader(
    data_dir: str | Path | None = None,
    batch_size: int = 32,
    *,
    split: str = "train",
    shuffle: bool = True,
    seed: int = SEED,
) -> DataLoader:
    """A DataLoader of ``(images, labels)`` over one split; the shuffle order depends on
    ``seed`` only, so the same call always yields the same batches."""
    images, labels, _ = load_split(data_dir, split)
    dataset = TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def one_batch(
    data_dir: str | Path | None = None, batch_size: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first batch ``(inputs, targets)`` of the training loader, the same on every call."""
    return next(iter(make_loader(data_dir, batch_size)))


def fast_train(
    steps: int = 30, data_dir: str | Path | None = None, batch_size: int = 32
) -> list[float]:
    """The fast variant of training: ``steps`` optimizer steps from a fresh model (seeded,
    without touching the global RNG state), returning the loss of each step."""
    loader = make_loader(data_dir, batch_size)
    losses: list[float] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = build_model()
        optimizer = make_optimizer(model.parameters())
        model.train()
        while len(losses) < steps:
            for inputs, targets in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(inputs), targets)
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
                if len(losses) == steps:
                    break
    return losses


@dataclass
class TrainingRun:
    """What :func:`train` returns: the trained model, losses, test accuracy and the monitor's
    findings (``monitor`` is the ``TrainingMonitor`` when it was attached, else ``None``)."""

    model: nn.Module
    losses: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)  # one per epoch
    monitor: Any = None
    monitor_results: list[Any] = field(default_factory=list)  # CheckResults, monitor.* ids


def train(
    epochs: int = 8,
    monitor: bool = True,
    data_dir: str | Path | None = None,
    batch_size: int = 32,
    max_lr: float = MAX_LR,
    max_shift: int = MAX_SHIFT,
    seed: int = SEED,
    flip: float = 0.0,
) -> TrainingRun:
    """Train the CNN for ``epochs`` epochs, with the dlqa training monitor attached when
    ``monitor`` is true and ``dlqa.train.monitor`` is importable; accuracy on the test split
    after each epoch. The optimizer is :func:`make_optimizer`'s, its learning rate driven by a
    one-cycle schedule up to ``max_lr``; each batch is shifted at random by up to
    ``max_shift`` pixels, and mirrored left to right with chance ``flip`` (the demo
    ablation's change that hurts: a mirrored 2 is no 2). ``seed`` decides the initial
    weights, the batch order, the shifts and the flips."""
    open_monitor = _monitor_factory() if monitor else None
    loader = make_loader(data_dir, batch_size, seed=seed)
    test_images, test_labels, _ = load_split(data_dir, "test")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        shifts = torch.Generator().manual_seed(seed + 1)
        model = build_model()
        optimizer = make_optimizer(model.parameters())
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=max_lr, total_steps=max(1, epochs * len(loader))
        )
        run = TrainingRun(model=model)
        watcher = open_monitor(model, optimizer) if open_monitor is not None else None
        with watcher if watcher is not None else contextlib.nullcontext():
            for _ in range(epochs):
                model.train()
                for inputs, targets in loader:
                    optimizer.zero_grad()
                    inputs = random_flip(random_shift(inputs, max_shift, shifts), flip, shifts)
                    outputs = model(inputs)
                    loss = loss_fn(outputs, targets)
                    loss.backward()
                    if watcher is not None:  # after backward, before the step: it reads grads
                        watcher.step(loss, outputs=outputs, targets=targets)
                    optimizer.step()
                    schedule.step()
                    run.losses.append(float(loss.detach()))
                if watcher is not None:
                    watcher.end_epoch()
                run.test_accuracy.append(_accuracy(model, test_images, test_labels))
        if watcher is not None:
            run.monitor = watcher
            run.monitor_results = watcher.results()
    return run


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image of ``(N, C, H, W)`` moved by up to ``max_shift`` pixels in each direction,
    the edge pixels repeated where it moves away from the border."""
    if max_shift <= 0:
        return images
    n, _, height, width = images.shape
    padded = nn.functional.pad(images, (max_shift,) * 4, mode="replicate")
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    rows = (dy[:, None] + torch.arange(height))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(width))[:, None, None, :]
    batch = torch.arange(n)[:, None, None, None]
    channel = torch.arange(images.shape[1])[None, :, None, None]
    return padded[batch, channel, rows, cols]


def random_flip(images: torch.Tensor, chance: float, generator: torch.Generator) -> torch.Tensor:
    """Each image of ``(N, C, H, W)`` mirrored left to right with probability ``chance``."""
    if chance <= 0:
        return images
    chosen = torch.rand(images.shape[0], generator=generator) < chance
    return torch.where(chosen[:, None, None, None], images.flip(-1), images)


def _accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(images)).argmax(dim=1).numpy()
    return float((predicted == labels).mean())


def _monitor_factory() -> Any:
    try:
        from dlqa.train.monitor import monitor as open_monitor
    except ImportError:
        return None
    return open_monitor

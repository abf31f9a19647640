"""Real images for the DataLoader batch tests: scikit-learn's handwritten digits, blown up
to 16 x 16 RGB with Pillow, sorted by class (as a folder-per-class dataset lists them), and
a torch Dataset whose plain-torch transform scales, augments (a random flip) and normalises
them with the data's own statistics, as a training pipeline would."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, Dataset

PER_CLASS = 40
CLASS_NAMES = [str(digit) for digit in range(10)]


def _digit_images() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    keep = np.concatenate([np.flatnonzero(digits.target == c)[:PER_CLASS] for c in range(10)])
    images = []
    for pixels in digits.images[keep]:
        grey = Image.fromarray((pixels * 255 / 16).astype(np.uint8)).resize(
            (16, 16), Image.Resampling.BILINEAR
        )
        a = np.asarray(grey, dtype=np.float64)
        # three channels that differ, so that per-channel statistics matter
        rgb = np.stack([a, a * 0.8, a * 0.6 + 40], axis=-1)
        images.append(np.clip(rgb, 0, 255).astype(np.uint8))
    return np.stack(images), digits.target[keep].astype(np.int64)


IMAGES, LABELS = _digit_images()  # (400, 16, 16, 3) uint8, sorted by label
_SCALED = IMAGES.astype(np.float64) / 255.0
MEAN = tuple(float(v) for v in _SCALED.mean(axis=(0, 1, 2)))
STD = tuple(float(v) for v in _SCALED.std(axis=(0, 1, 2)))


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """HWC uint8 -> CHW float32 in [0, 1] (what torchvision's ToTensor does)."""
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255.0


def normalize(x: torch.Tensor, mean=MEAN, std=STD) -> torch.Tensor:
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def standard_transform(image: np.ndarray) -> torch.Tensor:
    x = to_tensor(image)
    if torch.rand(()) < 0.5:  # the augmentation: a random horizontal flip
        x = x.flip(-1)
    return normalize(x)


class DigitImages(Dataset):
    """(transform(image), label) pairs; ``label_offset`` shifts labels (1..C instead of
    0..C-1); ``nan_at`` puts a NaN pixel into one sample; ``raise_at`` fails one sample."""

    def __init__(
        self,
        transform: Callable[[np.ndarray], torch.Tensor] = standard_transform,
        *,
        label_offset: int = 0,
        nan_at: int | None = None,
        odd_size_at: int | None = None,
        raise_at: int | None = None,
    ) -> None:
        self.transform = transform
        self.label_offset = label_offset
        self.nan_at = nan_at
        self.odd_size_at = odd_size_at
        self.raise_at = raise_at

    def __len__(self) -> int:
        return len(IMAGES)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if index == self.raise_at:
            raise OSError(f"image {index} is truncated")
        x = self.transform(IMAGES[index])
        if index == self.nan_at:
            x = x.clone()
            x[0, 3, 3] = float("nan")
        if index == self.odd_size_at:  # a transform that forgot to resize this one
            x = x[:, :12, :12]
        return x, int(LABELS[index]) + self.label_offset


def loader(dataset: Dataset | None = None, *, shuffle: bool = True, seed: int = 0,
           batch_size: int = 20) -> DataLoader:  # fmt: skip
    return DataLoader(
        dataset or DigitImages(),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed) if shuffle else None,
    )


DECLARED = {"class_names": CLASS_NAMES, "mean": MEAN, "std": STD}

"""In-memory images: a uint8 array (N, H, W) / (N, H, W, C) or a list of per-image arrays."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.sources.base import Sample

_CHANNEL_COUNTS = (1, 3, 4)


class ArraySource:
    """Samples held in memory; ids default to the positions ``"0"``, ``"1"``, ...

    Images must be uint8, each (H, W) or (H, W, C) with C in 1, 3 or 4. ``labels``, ``splits``
    and ``ids`` are any sequences of the same length as ``images`` (values become strings).
    """

    kind = "arrays"
    modality = "image"
    root = "<arrays>"

    def __init__(
        self,
        images: np.ndarray | Sequence[np.ndarray],
        labels: Sequence[Any] | np.ndarray | None = None,
        splits: Sequence[Any] | np.ndarray | None = None,
        ids: Sequence[Any] | np.ndarray | None = None,
    ) -> None:
        self._images = _validated_images(images)
        count = len(self._images)
        self._labels = _as_optional_strings(labels, "labels", count)
        self._splits = _as_optional_strings(splits, "splits", count)
        if ids is None:
            self._ids = [str(i) for i in range(count)]
        else:
            self._ids = [str(value) for value in _checked_length(ids, "ids", count)]
            if len(set(self._ids)) != count:
                raise UsageError(
                    "ArraySource: ids must be unique, but some repeat",
                    hint="pass one distinct id per image, or leave ids out to use positions",
                )

    def __len__(self) -> int:
        return len(self._images)

    def __iter__(self) -> Iterator[Sample]:
        for index, image in enumerate(self._images):
            yield Sample(
                sample_id=self._ids[index],
                index=index,
                path=None,
                label=self._labels[index],
                split=self._splits[index],
                array=image,
            )

    def __repr__(self) -> str:
        return f"ArraySource(samples={len(self)})"


def _validated_images(images: np.ndarray | Sequence[np.ndarray]) -> Sequence[np.ndarray]:
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise UsageError(
                f"ArraySource: images array has shape {images.shape}; expected (N, H, W) "
                "or (N, H, W, C)",
                hint="stack the images along a first axis, or pass a list of (H, W[, C]) arrays",
            )
        if images.ndim == 4 and images.shape[3] not in _CHANNEL_COUNTS:
            raise UsageError(
                f"ArraySource: images have {images.shape[3]} channels (shape {images.shape}); "
                "expected 1, 3 or 4 in the last axis",
                hint="move channels last: np.moveaxis(images, 1, -1)",
            )
        _require_uint8(images.dtype, "images array")
        return images  # indexing yields views, so no copy of a large array is made
    checked = list(images)
    for position, image in enumerate(checked):
        if not isinstance(image, np.ndarray):
            raise UsageError(
                f"ArraySource: image {position} is a {type(image).__name__}, not a numpy array",
                hint="convert it with np.asarray(image, dtype=np.uint8)",
            )
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in _CHANNEL_COUNTS):
            raise UsageError(
                f"ArraySource: image {position} has shape {image.shape}; expected (H, W) or "
                "(H, W, C) with C in 1, 3, 4",
            )
        _require_uint8(image.dtype, f"image {position}")
    return checked


def _require_uint8(dtype: np.dtype, what: str) -> None:
    if dtype != np.uint8:
        raise UsageError(
            f"ArraySource: {what} has dtype {dtype}; expected uint8 (0..255)",
            hint="scale and convert first, e.g. (np.clip(x, 0, 1) * 255).astype(np.uint8)",
        )


def _checked_length(values: Sequence[Any] | np.ndarray, name: str, count: int) -> list[Any]:
    as_list = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if len(as_list) != count:
        raise UsageError(
            f"ArraySource: {len(as_list)} {name} for {count} images; the lengths must match",
        )
    return as_list


def _as_optional_strings(
    values: Sequence[Any] | np.ndarray | None, name: str, count: int
) -> list[str | None]:
    if values is None:
        return [None] * count
    return [None if v is None else str(v) for v in _checked_length(values, name, count)]

"""In-memory images and audio clips: a stacked array or a list of per-sample arrays."""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.sources.base import Sample
from dlqa.sources.memory import Values, as_list, checked_length, optional_strings, sample_ids

IMAGE_CHANNEL_COUNTS = (1, 3, 4)
# More "channels" than this in a (frames, channels) waveform is a (channels, frames) one.
MAX_AUDIO_CHANNELS = 64
AUDIO_DTYPES = (np.float16, np.float32, np.float64, np.int16, np.int32)


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
        labels: Values | None = None,
        splits: Values | None = None,
        ids: Values | None = None,
    ) -> None:
        self._images = _validated_images(images)
        count = len(self._images)
        self._labels = optional_strings(labels, "labels", count, "ArraySource", "image")
        self._splits = optional_strings(splits, "splits", count, "ArraySource", "image")
        self._ids = sample_ids(ids, count, "ArraySource", "image")

    def __len__(self) -> int:
        return len(self._images)

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self._images)):
            yield self.sample_at(index)

    def sample_at(self, index: int) -> Sample:
        """The sample at ``index`` (views take the evidence's thumbnails from it)."""
        return Sample(
            sample_id=self._ids[index],
            index=index,
            path=None,
            label=self._labels[index],
            split=self._splits[index],
            array=self._images[index],
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
        if images.ndim == 4 and images.shape[3] not in IMAGE_CHANNEL_COUNTS:
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
        if image.ndim not in (2, 3) or (
            image.ndim == 3 and image.shape[2] not in IMAGE_CHANNEL_COUNTS
        ):
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


class AudioArraySource:
    """Audio clips held in memory; ids default to the positions ``"0"``, ``"1"``, ...

    ``waveforms`` is a list of arrays, each (frames,) or (frames, channels), of floats (-1..1)
    or 16/32-bit integer PCM; or one stacked array, (N, frames) or (N, frames, channels).
    ``sample_rate`` is one rate in Hz for every clip, or a sequence of one per clip.
    ``labels``, ``splits`` and ``ids`` are as for :class:`ArraySource`.
    """

    kind = "arrays"
    modality = "audio"
    root = "<arrays>"

    def __init__(
        self,
        waveforms: np.ndarray | Sequence[np.ndarray],
        sample_rate: int | Sequence[int] | np.ndarray,
        labels: Values | None = None,
        splits: Values | None = None,
        ids: Values | None = None,
    ) -> None:
        owner = "AudioArraySource"
        self._waveforms = _validated_waveforms(waveforms)
        count = len(self._waveforms)
        if isinstance(sample_rate, (numbers.Integral, str, float)):
            rates: list[object] = [sample_rate] * count
        else:
            rates = checked_length(sample_rate, "sample rates", count, owner, "waveform")
        self._rates = [checked_sample_rate(rate, owner) for rate in rates]
        self._labels = optional_strings(labels, "labels", count, owner, "waveform")
        self._splits = optional_strings(splits, "splits", count, owner, "waveform")
        self._ids = sample_ids(ids, count, owner, "waveform")

    def __len__(self) -> int:
        return len(self._waveforms)

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self._waveforms)):
            yield self.sample_at(index)

    def sample_at(self, index: int) -> Sample:
        """The sample at ``index`` (views take the evidence's waveforms and players from it)."""
        return Sample(
            sample_id=self._ids[index],
            index=index,
            label=self._labels[index],
            split=self._splits[index],
            array=self._waveforms[index],
            sample_rate=self._rates[index],
        )

    def __repr__(self) -> str:
        return f"AudioArraySource(samples={len(self)})"


def checked_sample_rate(rate: object, owner: str) -> int:
    """``rate`` as a positive whole number of Hz; a usage error otherwise."""
    if isinstance(rate, numbers.Integral) and not isinstance(rate, bool) and int(rate) > 0:
        return int(rate)
    raise UsageError(
        f"{owner}: sample rate {rate!r} is not a positive whole number of Hz",
        hint="pass the rate the waveforms were sampled at, e.g. sample_rate=16000",
    )


def _validated_waveforms(waveforms: np.ndarray | Sequence[np.ndarray]) -> Sequence[np.ndarray]:
    owner = "AudioArraySource"
    if isinstance(waveforms, np.ndarray):
        if waveforms.ndim not in (2, 3):
            raise UsageError(
                f"{owner}: waveforms array has shape {waveforms.shape}; expected a stack, "
                "(N, frames) or (N, frames, channels)",
                hint="pass a list of waveforms, e.g. [waveform] for a single clip",
            )
        if waveforms.ndim == 3:
            _check_channels(waveforms.shape[2], waveforms.shape, "waveforms")
        _check_audio_dtype(waveforms.dtype, "waveforms array")
        return waveforms  # rows are views: no copy of a large array
    checked = as_list(waveforms, "waveforms", owner)
    for position, waveform in enumerate(checked):
        if not isinstance(waveform, np.ndarray):
            raise UsageError(
                f"{owner}: waveform {position} is of type {type(waveform).__name__}, not a "
                "numpy array",
                hint="convert it with np.asarray(waveform, dtype=np.float32)",
            )
        if waveform.ndim not in (1, 2):
            raise UsageError(
                f"{owner}: waveform {position} has shape {waveform.shape}; expected (frames,) "
                "or (frames, channels)",
            )
        if waveform.ndim == 2:
            _check_channels(waveform.shape[1], waveform.shape, f"waveform {position}")
        _check_audio_dtype(waveform.dtype, f"waveform {position}")
    return checked


def _check_channels(channels: int, shape: tuple[int, ...], what: str) -> None:
    if channels > MAX_AUDIO_CHANNELS:
        raise UsageError(
            f"AudioArraySource: {what} has shape {shape}, which reads as {channels} channels; "
            "expected channels in the last axis",
            hint="a (channels, frames) array, as torchaudio gives, needs its axes swapped: "
            "waveform.T",
        )


def _check_audio_dtype(dtype: np.dtype, what: str) -> None:
    if dtype not in AUDIO_DTYPES:
        raise UsageError(
            f"AudioArraySource: {what} has dtype {dtype}; expected float (-1..1), int16 or "
            "int32 samples",
            hint="convert first, e.g. waveform.astype(np.float32)",
        )

"""Turning one item of a torch Dataset into what a probe reads: an image, a waveform or a text.

torch is never imported here: a tensor can exist only once its user has imported torch, so
``sys.modules`` tells whether a value may be one (the same for PIL images).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlqa.sources.arrays import AUDIO_DTYPES, IMAGE_CHANNEL_COUNTS, MAX_AUDIO_CHANNELS

_PIL_NUMERIC_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


class ItemError(ValueError):
    """An item that dlqa cannot read as a sample; the message says why (it becomes the
    sample's error)."""


def split_item(item: Any) -> tuple[Any, Any]:
    """(input, label) of a (input, label, ...) tuple or list; an item that is not one is the
    input alone, unlabelled."""
    if isinstance(item, (tuple, list)):
        if len(item) >= 2:
            return item[0], item[1]
        if len(item) == 1:
            return item[0], None
    return item, None


def is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _pil_image_class() -> type | None:
    module = sys.modules.get("PIL.Image")
    return None if module is None else module.Image


def _as_array(value: Any) -> np.ndarray | None:
    """A tensor or an array as a numpy array (on the CPU); None for anything else."""
    if isinstance(value, np.ndarray):
        return value
    if is_tensor(value):
        value = value.detach().cpu()
        try:
            return value.numpy()
        except TypeError:  # bfloat16 and other types numpy lacks
            return value.float().numpy()
    return None


def input_modality(value: Any) -> str | None:
    """The modality an input is: a str is a text, a PIL image or a 2-D/3-D array or tensor an
    image, a 1-D one a waveform; None for anything else."""
    if isinstance(value, str):
        return "text"
    pil_image = _pil_image_class()
    if pil_image is not None and isinstance(value, pil_image):
        return "image"
    array = _as_array(value)
    if array is None:
        return None
    return {1: "audio", 2: "image", 3: "image"}.get(array.ndim)


def describe(value: Any) -> str:
    """``"a str"``, ``"a tensor of shape (3, 8, 8)"``: what an input is, for a message."""
    array = _as_array(value)
    if array is not None:
        kind = "tensor" if is_tensor(value) else "array"
        return f"a {kind} of shape {tuple(array.shape)} ({array.dtype})"
    return f"a {type(value).__name__}"


def to_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ItemError(f"the input is {describe(value)}, not a str, in a text dataset")
    return value


def to_image(value: Any) -> np.ndarray:
    """An (H, W) or (H, W, C) uint8 image from a PIL image, an array or a tensor.

    Tensors are taken as (C, H, W) and arrays as (H, W, C) when either axis could hold the
    channels. Values: uint8 as they are; 0..1 floats times 255; values in 0..255 rounded;
    anything else (a normalised tensor with negative values) min-max scaled to 0..255 per
    image, which keeps shapes and details but not brightness or contrast.
    """
    pil_image = _pil_image_class()
    if pil_image is not None and isinstance(value, pil_image):
        return _pil_to_array(value)
    array = _as_array(value)
    if array is None or array.ndim not in (2, 3):
        raise ItemError(f"the input is {describe(value)}, not an image, in an image dataset")
    if array.ndim == 3:
        array = _channels_last(array, channels_first=is_tensor(value))
    return _as_uint8(array)


def _pil_to_array(image: Any) -> np.ndarray:
    mode = image.mode
    if mode in _PIL_NUMERIC_MODES:  # 16-bit and float images: scaled as arrays are
        return _as_uint8(np.asarray(image))
    if mode == "1":
        image = image.convert("L")
    elif mode in ("LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
    elif mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGB")
    return np.asarray(image)


def _channels_last(array: np.ndarray, channels_first: bool) -> np.ndarray:
    first = array.shape[0] in IMAGE_CHANNEL_COUNTS
    last = array.shape[2] in IMAGE_CHANNEL_COUNTS
    if first and (channels_first or not last):
        return np.ascontiguousarray(np.moveaxis(array, 0, -1))
    if last:
        return array
    raise ItemError(
        f"the input has shape {tuple(array.shape)}: no axis of 1, 3 or 4 channels, first "
        "(C, H, W) or last (H, W, C)"
    )


def _as_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ItemError(f"the input has dtype {array.dtype}, not numbers an image can hold")
    if array.size == 0:
        return array.astype(np.uint8)
    values = array.astype(np.float64)
    bad = np.count_nonzero(~np.isfinite(values))
    if bad:
        raise ItemError(f"the input has {bad} NaN or infinite value(s)")
    low, high = float(values.min()), float(values.max())
    if np.issubdtype(array.dtype, np.floating) and low >= 0 and high <= 1:
        values = values * 255
    elif low < 0 or high > 255:
        values = (values - low) * (255 / (high - low)) if high > low else values * 0
    return np.rint(values).astype(np.uint8)


def to_waveform(value: Any) -> np.ndarray:
    """A (frames,) or (frames, channels) waveform from an array or a tensor; a (channels,
    frames) one, as torchaudio gives, has its axes swapped (the short axis is the channels)."""
    array = _as_array(value)
    if array is None or array.ndim not in (1, 2):
        raise ItemError(f"the input is {describe(value)}, not a waveform, in an audio dataset")
    if array.ndim == 2 and array.shape[0] < array.shape[1]:
        array = array.T
    if array.ndim == 2 and array.shape[1] > MAX_AUDIO_CHANNELS:
        raise ItemError(f"the input has shape {tuple(array.shape)}: too many channels")
    if array.dtype not in AUDIO_DTYPES:
        raise ItemError(
            f"the input has dtype {array.dtype}; audio samples are float, int16 or int32"
        )
    return array


def to_label(value: Any, class_names: Sequence[str] | None) -> str | None:
    """The label as a string: a class index names ``class_names[index]`` when given (an index
    out of their range stays a number, so that it shows as a class of its own); a tensor or
    array of one value is that value."""
    array = _as_array(value)
    if array is not None:
        if array.size != 1:
            raise ItemError(f"the label is {describe(value)}; expected one class index or name")
        value = array.reshape(()).item()
    elif isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (str, bool)):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        if class_names is not None and 0 <= value < len(class_names):
            return class_names[value]
        return str(value)
    if isinstance(value, float):
        return str(value)
    raise ItemError(f"the label is {describe(value)}; expected a class index or name")

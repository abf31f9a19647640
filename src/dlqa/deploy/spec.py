"""The serving preprocessing of an image model, as data: a typed spec that a bundle's
manifest carries, and the one function that applies it.

Train/serve skew hides in exactly these choices (seed 001): the resize library and its
interpolation, a centre crop, RGB against BGR, a colour mode, the scale and the
normalisation, the layout. Written down as a spec, they can be stored beside the model,
applied the same way by every predictor, and compared with the training transform.

    spec = ImagePreprocessing(resize=256, interpolation="bilinear", crop=[224, 224],
                              mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    array = spec.apply(Image.open(path))        # (C, H, W) float32 for layout "NCHW"
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dlqa.core.errors import UsageError

# Pillow's resampling filters by their Pillow names.
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


class ImagePreprocessing(BaseModel):
    """How a decoded image becomes the model's input; every key is checked when read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resize: int | tuple[int, int] | None = Field(
        None, description="shorter side in pixels (aspect kept), or [height, width]; null: none"
    )
    interpolation: Literal["nearest", "bilinear", "bicubic", "lanczos", "box", "hamming"] = (
        "bilinear"
    )
    crop: tuple[int, int] | None = Field(None, description="[height, width] centre crop")
    color_mode: Literal["RGB", "L"] = "RGB"
    channel_order: Literal["RGB", "BGR"] = "RGB"
    scale: float = Field(1.0 / 255.0, gt=0, description="pixel values are multiplied by this")
    mean: tuple[float, ...] | None = Field(None, description="per channel, after scale")
    std: tuple[float, ...] | None = Field(None, description="per channel, after scale")
    layout: Literal["NCHW", "NHWC"] = "NCHW"

    @field_validator("resize", "crop")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        sizes = [value] if isinstance(value, int) else list(value or [])
        if any(size < 1 for size in sizes):
            raise ValueError(f"sizes are positive pixel counts, got {value}")
        return value

    @model_validator(mode="after")
    def _normalisation(self) -> ImagePreprocessing:
        if (self.mean is None) != (self.std is None):
            raise ValueError("give mean and std together (the normalisation), or neither")
        channels = self.channels
        for name in ("mean", "std"):
            values = getattr(self, name)
            if values is not None and len(values) not in (1, channels):
                raise ValueError(
                    f"{name} has {len(values)} values; {self.color_mode} has {channels} "
                    "channel(s): give one per channel, or one for all"
                )
        if self.std is not None and any(not s > 0 for s in self.std):
            raise ValueError(f"std must be positive, got {list(self.std)}")
        if self.channel_order == "BGR" and self.color_mode == "L":
            raise ValueError('channel_order "BGR" needs color_mode "RGB"')
        return self

    @property
    def channels(self) -> int:
        return 3 if self.color_mode == "RGB" else 1

    @classmethod
    def from_dict(cls, data: Any, where: str = "preprocessing") -> ImagePreprocessing:
        """The spec of a manifest's mapping; an unknown key or value is a UsageError that names
        it and what is allowed."""
        return _validated(cls, data, where)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def output_shape(self, height: int, width: int) -> tuple[int, ...]:
        """The array shape :meth:`apply` gives for an image of ``height`` x ``width``."""
        h, w = self.resized_size(height, width)
        if self.crop is not None:
            h, w = self.crop
        return (self.channels, h, w) if self.layout == "NCHW" else (h, w, self.channels)

    def resized_size(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) the resize gives an image of ``height`` x ``width``."""
        if self.resize is None:
            return height, width
        if isinstance(self.resize, int):
            # The shorter side becomes `resize`, the longer keeps the aspect (truncated, as
            # torchvision's Resize(int) does).
            if height <= width:
                return self.resize, int(self.resize * width / height)
            return int(self.resize * height / width), self.resize
        return tuple(self.resize)  # type: ignore[return-value]

    def apply(self, image: Any) -> np.ndarray:
        """``image`` (a PIL image) as the model's float32 input for one sample."""
        from PIL import Image

        converted = image if image.mode == self.color_mode else image.convert(self.color_mode)
        new_h, new_w = self.resized_size(converted.height, converted.width)
        if (new_h, new_w) != (converted.height, converted.width):
            method = getattr(Image.Resampling, self.interpolation.upper())
            converted = converted.resize((new_w, new_h), method)
        return self.finish(np.asarray(converted, dtype=np.float32))

    def finish(self, pixels: np.ndarray) -> np.ndarray:
        """The steps after the resize, on (H, W) or (H, W, C) float pixels: the centre crop,
        the channel order, the scale, the normalisation, the layout."""
        pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
        if self.crop is not None:
            height, width = self.crop
            if height > pixels.shape[0] or width > pixels.shape[1]:
                raise UsageError(
                    f"crop {height}x{width} is larger than the resized image "
                    f"{pixels.shape[0]}x{pixels.shape[1]}",
                    hint="resize to at least the crop size first",
                )
            # Offsets rounded as torchvision's CenterCrop rounds them.
            top = int(round((pixels.shape[0] - height) / 2.0))
            left = int(round((pixels.shape[1] - width) / 2.0))
            pixels = pixels[top : top + height, left : left + width]
        if self.channel_order == "BGR":
            pixels = pixels[:, :, ::-1]
        pixels = pixels * np.float32(self.scale)
        if self.mean is not None and self.std is not None:
            pixels = (pixels - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        if self.layout == "NCHW":
            pixels = pixels.transpose(2, 0, 1)
        return np.ascontiguousarray(pixels, dtype=np.float32)


class AudioPreprocessing(BaseModel):
    """How an audio file becomes the model's input: a waveform at one sample rate, mono or
    not, cut or zero-padded to a fixed length (the framing), shape (channels, samples)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_rate: int = Field(gt=0, description="the model's sample rate; other rates are resampled")
    mono: bool = Field(True, description="average the channels into one")
    duration: float | None = Field(
        None, gt=0, description="seconds: longer input is cut, shorter zero-padded; null: as is"
    )
    offset: float = Field(0.0, ge=0, description="seconds skipped at the start")

    @classmethod
    def from_dict(cls, data: Any, where: str = "preprocessing") -> AudioPreprocessing:
        return _validated(cls, data, where)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def samples(self) -> int | None:
        return None if self.duration is None else int(round(self.duration * self.sample_rate))

    def apply(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        """``waveform`` ((samples,) or (samples, channels), any rate) as the model's float32
        (channels, samples) input."""
        from math import gcd

        from scipy.signal import resample_poly

        audio = np.asarray(waveform, dtype=np.float32)
        audio = audio[:, None] if audio.ndim == 1 else audio
        if self.mono:
            audio = audio.mean(axis=1, keepdims=True)
        if sample_rate != self.sample_rate:
            common = gcd(int(sample_rate), self.sample_rate)
            audio = resample_poly(audio, self.sample_rate // common, sample_rate // common, axis=0)
        audio = audio[int(round(self.offset * self.sample_rate)) :]
        if self.samples is not None:
            audio = audio[: self.samples]
            audio = np.pad(audio, ((0, self.samples - len(audio)), (0, 0)))
        return np.ascontiguousarray(audio.T, dtype=np.float32)


class TextPreprocessing(BaseModel):
    """How a text becomes the model's input: token ids from a ``tokenizers`` JSON file inside
    the bundle, cut or padded to ``max_length``, shape (max_length,) int64."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokenizer: str = Field("tokenizer.json", description="a tokenizers JSON file in the bundle")
    max_length: int = Field(gt=0, description="tokens per input: longer is cut, shorter padded")
    pad_id: int = Field(0, ge=0, description="the id that pads short inputs")
    lowercase: bool = False

    @classmethod
    def from_dict(cls, data: Any, where: str = "preprocessing") -> TextPreprocessing:
        return _validated(cls, data, where)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


Preprocessing = ImagePreprocessing | AudioPreprocessing | TextPreprocessing
SPEC_OF_MODALITY: dict[str, type[BaseModel]] = {
    "image": ImagePreprocessing,
    "audio": AudioPreprocessing,
    "text": TextPreprocessing,
}


def modality_of(spec: Preprocessing) -> str:
    return next(name for name, kind in SPEC_OF_MODALITY.items() if isinstance(spec, kind))


def read_preprocessing(modality: str, data: Any, where: str = "preprocessing") -> Preprocessing:
    """The spec of ``modality`` from a mapping; unknown keys and values are UsageErrors."""
    if modality not in SPEC_OF_MODALITY:
        raise UsageError(f"unknown modality {modality!r}; known: {sorted(SPEC_OF_MODALITY)}")
    return SPEC_OF_MODALITY[modality].from_dict(data, where)  # type: ignore[attr-defined]


def _validated(cls: Any, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a mapping of preprocessing keys, got {data!r}")
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        allowed = ", ".join(cls.model_fields)
        lines = []
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"]) or "spec"
            if error["type"] == "extra_forbidden":
                lines.append(f"{where}.{key}: unknown key (keys: {allowed})")
            else:
                lines.append(f"{where}.{key}: {error['msg']} (got {error.get('input')!r})")
        raise UsageError("\n".join(lines)) from None


__all__ = [
    "INTERPOLATIONS",
    "SPEC_OF_MODALITY",
    "AudioPreprocessing",
    "ImagePreprocessing",
    "Preprocessing",
    "TextPreprocessing",
    "modality_of",
    "read_preprocessing",
]

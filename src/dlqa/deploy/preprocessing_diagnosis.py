"""Which setting of the serving spec explains its difference from the training transform?

A failing parity check that only says "max diff 0.31" sends someone hunting through two
pipelines. Instead, variants of the serving spec are built, each changing one thing a real
skew changes: the crop, the resize size, the channel order, the colour mode, the
normalisation (dropped, or mean/std fitted per channel by least squares), the scale, the
interpolation, the resize library (torch.nn.functional.interpolate instead of Pillow:
without antialias as a hand-written loop calls it, with it as torchvision's tensor Resize
does, on float pixels or rounded back to 8 bits), the layout. Each is run on the few worst
files and scored by its largest difference from the training inputs. The first variant (in
that order) within the tolerance is the diagnosis; failing that, the first pair of changes
within it (each first step that helps, best first, then every change on top). When nothing
reaches the tolerance, the closest single change (one that at least halves the difference)
is reported as the closest, never as the cause.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlqa.deploy.spec import ImagePreprocessing

# How a training loop resizes with torch.nn.functional.interpolate: the mode, "+antialias"
# (torchvision's tensor Resize), "+round" (a uint8 tensor rounded back to 8 bits).
TORCH_MODES = (
    "bilinear", "bicubic", "nearest", "bilinear+antialias", "bicubic+antialias",
    "bilinear+round", "bicubic+round", "bilinear+antialias+round", "bicubic+antialias+round",
)  # fmt: skip
Sample = tuple[Any, np.ndarray]  # a decoded PIL image and the training transform's input


def fmt(value: float | None) -> str:
    """A difference for a sentence: 3 significant figures, "n/a" for none."""
    if value is None or value != value:
        return "n/a"
    return "inf (shapes differ)" if math.isinf(value) else f"{value:.3g}"


def max_diff(candidate: np.ndarray, target: np.ndarray) -> float:
    """The largest absolute difference; inf when the shapes differ or a value is not finite."""
    if candidate.shape != target.shape:
        return math.inf
    if candidate.size == 0:
        return 0.0
    worst = float(np.max(np.abs(candidate.astype(np.float64) - target)))
    return worst if math.isfinite(worst) else math.inf


@dataclass(frozen=True)
class Pipeline:
    """A serving spec, optionally resizing as torch's interpolate does instead of Pillow."""

    spec: ImagePreprocessing
    torch_mode: str | None = None

    def apply(self, image: Any) -> np.ndarray:
        if self.torch_mode is None or self.spec.resize is None:
            return self.spec.apply(image)
        return _apply_torch_resize(self.spec, self.torch_mode, image)


def _apply_torch_resize(spec: ImagePreprocessing, mode: str, image: Any) -> np.ndarray:
    """``spec.apply`` with the resize of a training loop that calls F.interpolate on the
    pixels (``mode`` as in :data:`TORCH_MODES`)."""
    import torch
    import torch.nn.functional as F

    pixels = np.asarray(image.convert(spec.color_mode), dtype=np.float32)
    pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
    size = spec.resized_size(pixels.shape[0], pixels.shape[1])
    if size != pixels.shape[:2]:
        tensor = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]
        name, *options = mode.split("+")
        corners = None if name == "nearest" else False
        tensor = F.interpolate(
            tensor, size=size, mode=name, align_corners=corners, antialias="antialias" in options
        )
        if "round" in options:
            tensor = tensor.round().clamp(0, 255)
        pixels = tensor[0].numpy().transpose(1, 2, 0)
    return spec.finish(pixels)


@dataclass(frozen=True)
class Variant:
    """One change to a pipeline, in words: the field, its serving and its candidate value."""

    field: str
    serving: str
    training: str
    pipeline: Pipeline


@dataclass
class Diagnosis:
    """The change(s) that explain the difference (``steps``), or the closest single one."""

    before: float
    steps: list[dict[str, Any]] = field(default_factory=list)
    closest: dict[str, Any] | None = None

    def sentence(self) -> str:
        if self.steps:
            return "; ".join(_step_words(step) for step in self.steps)
        text = (
            f"no single setting explains the difference (max diff {fmt(self.before)}), nor "
            "any pair of settings"
        )
        if self.closest is not None:
            step = self.closest
            text += (
                f"; closest: {step['field']} {step['training']} instead of {step['serving']} "
                f"leaves max diff {fmt(step['max_diff_after'])}"
            )
        return text


def _step_words(step: dict[str, Any]) -> str:
    before = step["max_diff_before"]
    before_words = "shapes differ" if before is None else f"max diff {fmt(before)}"
    return (
        f"serving {step['field']} is {step['serving']}; the training transform matches "
        f"{step['training']} ({before_words} -> {fmt(step['max_diff_after'])})"
    )


def _step(variant: Variant, before: float, after: float) -> dict[str, Any]:
    return {
        "field": variant.field,
        "serving": variant.serving,
        "training": variant.training,
        "max_diff_before": before if math.isfinite(before) else None,
        "max_diff_after": after if math.isfinite(after) else None,
    }


def score(pipeline: Pipeline, samples: list[Sample]) -> float:
    """The pipeline's largest difference from the training inputs; inf when it fails."""
    worst = 0.0
    for image, train in samples:
        try:
            worst = max(worst, max_diff(pipeline.apply(image.copy()), train))
        except Exception:  # a variant that cannot run (crop too large) explains nothing
            return math.inf
    return worst


def diagnose(spec: ImagePreprocessing, samples: list[Sample], tolerance: float) -> Diagnosis:
    """The first single change, else the first pair, that brings ``spec`` within
    ``tolerance`` of the training inputs in ``samples``."""
    base = Pipeline(spec)
    before = score(base, samples)
    singles = [(variant, score(variant.pipeline, samples)) for variant in variants(base, samples)]
    diagnosis = Diagnosis(before)
    for variant, after in singles:
        if after <= tolerance:
            diagnosis.steps = [_step(variant, before, after)]
            return diagnosis
    seen: set[frozenset[tuple[str, str]]] = set()
    for first, after in sorted(singles, key=lambda pair: pair[1]):
        if not after < before:
            break
        for second in variants(first.pipeline, samples):
            key = frozenset({(first.field, first.training), (second.field, second.training)})
            if second.field == first.field or key in seen:
                continue
            seen.add(key)
            final = score(second.pipeline, samples)
            if final <= tolerance:
                diagnosis.steps = [_step(first, before, after), _step(second, after, final)]
                return diagnosis
    best = min(singles, key=lambda pair: pair[1], default=None)
    # A change that barely helps is noise, not a lead.
    if best is not None and math.isfinite(best[1]) and best[1] <= before / 2:
        diagnosis.closest = _step(best[0], before, best[1])
    return diagnosis


def variants(pipeline: Pipeline, samples: list[Sample]) -> list[Variant]:
    """Every one-change variant of ``pipeline``, simplest and most common first."""
    spec = pipeline.spec
    found: list[Variant] = []
    for name, serving, training, update, mode in _changes(pipeline, samples):
        try:
            changed = ImagePreprocessing.model_validate({**spec.to_dict(), **update})
        except ValueError:  # pydantic's ValidationError too: a combination the spec forbids
            continue
        found.append(Variant(name, serving, training, Pipeline(changed, mode)))
    return found


Change = tuple[str, str, str, dict[str, Any], "str | None"]


def _changes(pipeline: Pipeline, samples: list[Sample]) -> Iterator[Change]:
    spec, mode = pipeline.spec, pipeline.torch_mode
    for generate in (_shape_changes, _colour_changes, _value_changes):
        yield from generate(spec, mode, samples)
    if mode is None and spec.resize is not None:
        for other in ("bilinear", "bicubic", "lanczos", "nearest", "box", "hamming"):
            if other != spec.interpolation:
                yield "interpolation", spec.interpolation, other, {"interpolation": other}, None
        for torch_mode in TORCH_MODES:
            training = f"torch.nn.functional.interpolate ({_torch_words(torch_mode)})"
            yield "resize_library", f"Pillow ({spec.interpolation})", training, {}, torch_mode
    fitted = _fitted_normalisation(pipeline, samples)
    if fitted is not None:
        mean, std = fitted
        words = f"mean {_values(mean)} std {_values(std)} (fitted)"
        if words.removesuffix(" (fitted)") != _normalisation(spec):
            yield "normalisation", _normalisation(spec), words, {"mean": mean, "std": std}, mode
    other_layout = "NHWC" if spec.layout == "NCHW" else "NCHW"
    yield "layout", spec.layout, other_layout, {"layout": other_layout}, mode


def _shape_changes(spec: ImagePreprocessing, mode: str | None, samples: list[Sample]):
    target = _target_size(spec, samples)
    if spec.crop is not None:
        yield "crop", _crop_words(spec.crop), "none", {"crop": None}, mode
    if target is not None and target != spec.crop:
        yield "crop", _crop_words(spec.crop), _crop_words(target), {"crop": target}, mode
    if spec.crop is None and target is not None:
        # A centre crop missing from serving: training resized larger first, at one of the
        # ratios pipelines use (256/224 as ImageNet's, 1/0.875, 1.25, 1.5), then cropped.
        side = min(target)
        for ratio in (256 / 224, 1 / 0.875, 1.25, 1.5):
            larger = int(round(side * ratio))
            for resize in (larger, (larger, larger)):
                words = f"{_crop_words(target)} after resize {_resize_words(resize)}"
                change = {"crop": target, "resize": resize}
                yield "crop", _crop_words(spec.crop), words, change, mode
    sizes: list[int | tuple[int, int]] = []
    crop = spec.crop or target
    if crop is not None:
        sizes += [min(crop), int(round(min(crop) / 0.875))]
    if spec.crop is None and target is not None:
        sizes += [target, min(target)]
    if spec.resize is not None:
        yield "resize", _resize_words(spec.resize), "none", {"resize": None}, mode
    for size in dict.fromkeys(sizes):
        if size != spec.resize:
            words = (_resize_words(spec.resize), _resize_words(size))
            yield "resize", *words, {"resize": size}, mode


def _colour_changes(spec: ImagePreprocessing, mode: str | None, samples: list[Sample]):
    if spec.color_mode == "RGB":
        flipped = "BGR" if spec.channel_order == "RGB" else "RGB"
        yield "channel_order", spec.channel_order, flipped, {"channel_order": flipped}, mode
        gray: dict[str, Any] = {"color_mode": "L", "channel_order": "RGB"}
        if spec.mean is not None and spec.std is not None:
            gray.update(mean=[float(np.mean(spec.mean))], std=[float(np.mean(spec.std))])
        yield "color_mode", "RGB", "L", gray, mode
    else:
        yield "color_mode", "L", "RGB", {"color_mode": "RGB"}, mode


def _value_changes(spec: ImagePreprocessing, mode: str | None, samples: list[Sample]):
    if spec.mean is not None:
        yield "normalisation", _normalisation(spec), "none", {"mean": None, "std": None}, mode
    for scale in (1.0, 1.0 / 255.0):
        if not math.isclose(scale, spec.scale):
            yield "scale", f"{spec.scale:.6g}", f"{scale:.6g}", {"scale": scale}, mode


def _fitted_normalisation(
    pipeline: Pipeline, samples: list[Sample]
) -> tuple[list[float], list[float]] | None:
    """Per channel, the mean and std that map the unnormalised serving input onto the
    training input by least squares; None when the shapes differ or a fit is degenerate."""
    plain = Pipeline(
        pipeline.spec.model_copy(update={"mean": None, "std": None}), pipeline.torch_mode
    )
    axis = 0 if pipeline.spec.layout == "NCHW" else -1
    xs, ys = [], []
    for image, train in samples:
        try:
            served = plain.apply(image.copy())
        except Exception:
            return None
        if served.shape != train.shape or served.ndim != 3:
            return None
        xs.append(np.moveaxis(served, axis, 0).reshape(served.shape[axis], -1))
        ys.append(np.moveaxis(train, axis, 0).reshape(train.shape[axis], -1))
    if not xs:
        return None
    x, y = np.concatenate(xs, axis=1).astype(np.float64), np.concatenate(ys, axis=1)
    mean, std = [], []
    for xc, yc in zip(x, y.astype(np.float64), strict=True):
        if xc.std() == 0 or not np.all(np.isfinite(yc)):
            return None
        slope, intercept = np.polyfit(xc, yc, 1)
        if not slope > 0:
            return None
        std.append(float(1.0 / slope))
        mean.append(float(-intercept / slope))
    return mean, std


def _target_size(spec: ImagePreprocessing, samples: list[Sample]) -> tuple[int, int] | None:
    """The training inputs' (height, width), when they share one."""
    sizes = set()
    for _, train in samples:
        if train.ndim != 3:
            return None
        sizes.add((train.shape[1], train.shape[2]) if spec.layout == "NCHW" else train.shape[:2])
    return sizes.pop() if len(sizes) == 1 else None


def _torch_words(mode: str) -> str:
    name, *options = mode.split("+")
    words = [name, "antialias" if "antialias" in options else "no antialias"]
    return ", ".join(words + (["rounded to 8 bits"] if "round" in options else []))


def _values(values: Any) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def _normalisation(spec: ImagePreprocessing) -> str:
    if spec.mean is None or spec.std is None:
        return "none"
    return f"mean {_values(spec.mean)} std {_values(spec.std)}"


def _crop_words(crop: Any) -> str:
    return "none" if crop is None else f"{crop[0]}x{crop[1]} centre"


def _resize_words(resize: Any) -> str:
    if resize is None:
        return "none"
    return f"shorter side {resize}" if isinstance(resize, int) else f"{resize[0]}x{resize[1]}"


__all__ = ["Diagnosis", "Pipeline", "diagnose", "fmt", "max_diff", "score", "variants"]

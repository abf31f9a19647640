"""DataLoader batch checks: what the user declares about the batches, and the public API.

:func:`check_batches` takes one pass over the batches a DataLoader (or any iterable of
``(inputs, labels)`` tuples, dicts or bare tensors) yields, stops after ``max_batches``, and
keeps small statistics only (:mod:`dlqa.data.batch_collect`), never the dataset. The checks
(``data.batch_*``, registered in :mod:`dlqa.data.checks.batches` for the stage ``batches``)
read those statistics. Needs the torch extra; importing this module does not import torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult

CHECK_IDS = (
    "data.batch_dtype",
    "data.batch_shapes",
    "data.batch_finite",
    "data.batch_range",
    "data.batch_labels",
    "data.batch_class_mix",
    "data.batch_normalization",
    "data.batch_preview",
)
DEFAULT_MAX_BATCHES = 50
DEFAULT_PREVIEW = 16
TORCH_HINT = "install the torch extra: pip install 'dlqa[torch]'"
# Keys of a dict batch tried in turn when none is declared (the names common loaders use).
INPUT_KEYS = ("image", "images", "input", "inputs", "pixel_values", "x", "data")
LABEL_KEYS = ("label", "labels", "target", "targets", "y")


def require_torch() -> Any:
    """The torch module, or a UsageError (exit code 2) that says how to install it.

    (dlqa.train has its own; the data layer may not import it.)"""
    try:
        import torch
    except ImportError:
        raise UsageError(
            "the DataLoader batch checks need PyTorch, which is not installed", hint=TORCH_HINT
        ) from None
    return torch


@dataclass(frozen=True)
class BatchDeclarations:
    """What the user says the batches should be; every field is optional.

    The normalisation is ``inputs = (decoded / scale - mean) / std`` per channel.
    """

    class_names: tuple[str, ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    scale: float | None = None  # None: 255 for integer decoded inputs under [0, 1] stats, else 1
    value_range: tuple[float, float] | None = None  # the range the inputs must lie in
    dtype: str | None = None  # the inputs' dtype ("float32"); None: float32/16/bf16 expected
    input_key: str | None = None
    label_key: str | None = None
    ignore_index: int | None = None  # a label value the loss ignores (-100, 255)
    shuffled: bool = True  # False for an evaluation loader: the class mix is not judged
    channel_axis: int | None = None  # None: channels first (N, C, H, W) unless they are last
    max_batches: int = DEFAULT_MAX_BATCHES
    preview: int = DEFAULT_PREVIEW

    @property
    def normalized(self) -> bool:
        return self.mean is not None

    @property
    def pixel_range(self) -> tuple[float, float]:
        """The range of ``decoded / scale``: [0, 1], or [0, 255] for statistics in pixel units
        (ImageNet's mean 123.675, ...)."""
        if self.mean is not None and max(abs(m) for m in self.mean) > 1.0:
            return (0.0, 255.0)
        return (0.0, 1.0)

    def channel_values(self, values: tuple[float, ...] | None, channels: int) -> np.ndarray:
        """A declared per-channel value broadcast to ``channels`` (one value for all)."""
        if values is None:
            return np.zeros(channels)
        if len(values) == 1:
            return np.full(channels, values[0], dtype=np.float64)
        return np.asarray(values, dtype=np.float64)

    def expected_range(self, channels: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Per channel, the range the inputs should lie in: declared, else the image of the
        pixel range under the declared normalisation; None when nothing says."""
        if self.value_range is not None:
            low, high = self.value_range
            return np.full(channels, float(low)), np.full(channels, float(high))
        if self.mean is None or self.std is None:
            return None
        mean = self.channel_values(self.mean, channels)
        std = self.channel_values(self.std, channels)
        low, high = self.pixel_range
        return (low - mean) / std, (high - mean) / std

    def describe_normalization(self) -> str:
        if self.mean is None or self.std is None:
            return "no normalisation declared"
        return f"mean {_numbers(self.mean)}, std {_numbers(self.std)}"


def _numbers(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


def declarations(**given: Any) -> BatchDeclarations:
    """Validated declarations; an unknown name or a bad value is a UsageError naming it."""
    known = set(BatchDeclarations.__dataclass_fields__)
    unknown = sorted(set(given) - known)
    if unknown:
        raise UsageError(
            f"unknown batch declaration(s): {', '.join(unknown)}",
            hint=f"declarations: {', '.join(sorted(known))}, decoded",
        )
    values = {key: value for key, value in given.items() if value is not None}
    if "class_names" in values:
        values["class_names"] = _class_names(values["class_names"])
    mean, std = values.get("mean"), values.get("std")
    if (mean is None) != (std is None):
        raise UsageError("declare both mean and std (the normalisation), or neither")
    if mean is not None:
        values["mean"], values["std"] = _floats("mean", mean), _floats("std", std)
        if len(values["mean"]) != len(values["std"]) and 1 not in (
            len(values["mean"]),
            len(values["std"]),
        ):
            raise UsageError(
                f"mean has {len(values['mean'])} values and std {len(values['std'])}: "
                "give one per channel (or one for all)"
            )
        if any(not s > 0 for s in values["std"]):
            raise UsageError(f"std must be positive in every channel, got {values['std']}")
    if "scale" in values and not (_finite(values["scale"]) and values["scale"] > 0):
        raise UsageError(f"scale must be a positive number, got {values['scale']!r}")
    if "value_range" in values:
        bounds = _floats("value_range", values["value_range"])
        if len(bounds) != 2 or not bounds[0] < bounds[1]:
            raise UsageError(f"value_range must be (low, high) with low < high, got {bounds}")
        values["value_range"] = bounds
    if "dtype" in values:
        values["dtype"] = str(values["dtype"]).removeprefix("torch.")
    for key, least in (("max_batches", 1), ("preview", 0)):
        if key in values and (not isinstance(values[key], int) or values[key] < least):
            raise UsageError(f"{key} must be an integer >= {least}, got {values[key]!r}")
    return BatchDeclarations(**values)


def _class_names(names: Any) -> tuple[str, ...]:
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise UsageError(
            f"class_names must be a list of names, got a {type(names).__name__}",
            hint='class_names=["cat", "dog"], index i naming label i',
        )
    names = tuple(str(name) for name in names)
    if not names:
        raise UsageError("class_names is empty", hint="name every class, index i for label i")
    return names


def _floats(key: str, value: Any) -> tuple[float, ...]:
    items = value if isinstance(value, Iterable) and not isinstance(value, str) else [value]
    try:
        floats = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        raise UsageError(f"{key} must be numbers, got {value!r}") from None
    if not floats or not all(math.isfinite(v) for v in floats):
        raise UsageError(f"{key} must be finite numbers, got {value!r}")
    return floats


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def check_batches(
    batches: Iterable[Any],
    *,
    class_names: Sequence[str] | None = None,
    mean: Sequence[float] | float | None = None,
    std: Sequence[float] | float | None = None,
    scale: float | None = None,
    decoded: Iterable[Any] | None = None,
    max_batches: int = DEFAULT_MAX_BATCHES,
    value_range: tuple[float, float] | None = None,
    dtype: str | None = None,
    input_key: str | None = None,
    label_key: str | None = None,
    ignore_index: int | None = None,
    shuffled: bool = True,
    channel_axis: int | None = None,
    preview: int = DEFAULT_PREVIEW,
    gates: dict[str, dict[str, Any]] | None = None,
) -> list[CheckResult]:
    """Run the ``data.batch_*`` checks over the batches a DataLoader yields.

    ``batches``: a DataLoader, or any iterable of ``(inputs, labels, ...)`` tuples, dicts
    (``input_key``/``label_key``, else the usual names) or bare input tensors. One pass, at
    most ``max_batches`` batches. ``class_names`` (index i names label i) enables the label
    range check; ``mean``/``std`` declare the normalisation ``(decoded / scale - mean) / std``;
    ``decoded`` is an iterable of the same samples *before* normalisation, batched and ordered
    like the first batches (a second DataLoader over the dataset without the normalising
    step, unshuffled or with the same seeded generator), against which the normalisation is
    inverted. ``shuffled=False`` says the loader is not meant to shuffle (evaluation).
    ``gates`` override check parameters as ``[gates]`` in dlqa.toml does.

    Returns one result per check (plain results; :func:`dlqa.runner.run_batch_checks` stores
    them and writes reports). Bad input raises :class:`dlqa.core.errors.UsageError`.
    """
    from dlqa.core.registry import get_spec
    from dlqa.core.suite import Suite

    declared = declarations(
        class_names=class_names,
        mean=mean,
        std=std,
        scale=scale,
        max_batches=max_batches,
        value_range=value_range,
        dtype=dtype,
        input_key=input_key,
        label_key=label_key,
        ignore_index=ignore_index,
        shuffled=shuffled,
        channel_axis=channel_axis,
        preview=preview,
    )
    context = collect_batches(batches, declared, decoded=decoded)
    for check_id in gates or {}:
        get_spec(check_id)  # an unknown id is a ConfigError naming it, not silently ignored
    gates = {key: value for key, value in (gates or {}).items() if key in CHECK_IDS}
    specs = [get_spec(check_id) for check_id in CHECK_IDS]
    return Suite(specs, gates, order=CHECK_IDS).run(context).results


def collect_batches(
    batches: Iterable[Any], declared: BatchDeclarations, *, decoded: Iterable[Any] | None = None
) -> Any:
    """The :class:`dlqa.data.batch_collect.BatchesContext` of one pass over ``batches``."""
    from dlqa.data.batch_collect import collect

    return collect(batches, declared, decoded=decoded, torch=require_torch())

"""One pass over a DataLoader's batches, kept as small statistics (never the dataset).

Per batch: the inputs' type, dtype and shape, NaN/inf counts (with the samples that hold
them), per-channel minimum and maximum, and the labels' values and counts. Pooled over the
batches: per-channel moments and a bounded random subsample of values (for quantiles). The
first few samples are kept for the preview grid, and, when the user gives the decoded inputs,
how far each sample is from them once the declared normalisation is undone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.data.batch_context import (
    BatchesContext,
    BatchRecord,
    ChannelStats,
    DecodedComparison,
    LabelStats,
    PreviewSample,
)
from dlqa.data.batches import INPUT_KEYS, LABEL_KEYS, BatchDeclarations

# Values of one batch converted at a time (float64): bounds memory for big image batches.
CHUNK_VALUES = 1 << 21
# Values per channel drawn from each chunk, and kept in all, for the quantiles.
SAMPLE_PER_CHUNK = 1024
SAMPLE_LIMIT = 200_000
MAX_NAMED_SAMPLES = 8  # sample positions named per batch with NaN/inf


def collect(
    batches: Iterable[Any], declared: BatchDeclarations, *, decoded: Any, torch: Any
) -> BatchesContext:
    iterator = _iterate("batches", batches, torch)
    decoded_iter = None if decoded is None else _iterate("decoded", decoded, torch)
    context = BatchesContext(declared, decoded=None if decoded is None else DecodedComparison())
    rng = np.random.default_rng(0)  # the subsample: the same batches give the same result
    for index in range(declared.max_batches):
        try:
            batch = next(iterator)
        except StopIteration:
            break
        except Exception as exc:  # the user's loader raised: a finding, not dlqa's crash
            context.error, context.error_batch = f"{type(exc).__name__}: {exc}", index
            break
        inputs, labels = split_batch(batch, index, declared)
        array, record = _inputs_record(index, inputs, torch)
        context.batches.append(record)
        label_array = None
        if labels is not None:
            label_array, label_dtype = to_numpy(labels, torch)
            record.labels = _label_stats(labels, label_array, label_dtype, record.size)
        if array is None:
            continue
        if context.channels is None:
            context.channel_axis = _channel_axis(array.shape, declared)
            context.channels = ChannelStats.empty(_channel_count(array, context.channel_axis))
        _add_values(context, record, array, rng)
        _keep_preview(context, record, array, per_sample_classes(label_array))
        if decoded_iter is not None:
            decoded_iter = _compare_decoded(context, index, array, decoded_iter, torch)
    else:
        context.reached_limit = True
    return context


def _iterate(name: str, batches: Any, torch: Any) -> Iterator[Any]:
    if isinstance(batches, (str, bytes, Mapping, np.ndarray, torch.Tensor)):
        raise UsageError(
            f"{name} is a {type(batches).__name__}, not an iterable of batches",
            hint="pass the DataLoader itself, or a list of (inputs, labels) batches",
        )
    try:
        return iter(batches)
    except TypeError:
        raise UsageError(
            f"{name} is a {type(batches).__name__}, which cannot be iterated",
            hint="pass the DataLoader itself, or a list of (inputs, labels) batches",
        ) from None


def split_batch(batch: Any, index: int, declared: BatchDeclarations) -> tuple[Any, Any]:
    """(inputs, labels or None) of a tuple/list, dict or bare tensor batch."""
    if isinstance(batch, Mapping):
        key = _key(batch, declared.input_key, INPUT_KEYS, index, "input")
        label_key = declared.label_key or next((k for k in LABEL_KEYS if k in batch), None)
        if declared.label_key is not None and declared.label_key not in batch:
            _key(batch, declared.label_key, (), index, "label")
        return batch[key], None if label_key is None else batch[label_key]
    if isinstance(batch, (tuple, list)) and batch:
        return batch[0], batch[1] if len(batch) > 1 else None
    if hasattr(batch, "shape") and hasattr(batch, "dtype"):
        return batch, None
    raise UsageError(
        f"batch {index} is a {type(batch).__name__}: expected an (inputs, labels) tuple, "
        "a dict of tensors, or a tensor of inputs",
        hint="a DataLoader over a Dataset whose __getitem__ returns (input, label) yields these",
    )


def _key(batch: Mapping, declared: str | None, usual: tuple[str, ...], index: int, role: str):
    found = declared if declared is not None else next((k for k in usual if k in batch), None)
    if found is None or found not in batch:
        raise UsageError(
            f"batch {index} is a dict without the {role} key "
            f"{found or declared or ' or '.join(usual)!r}; its keys: {', '.join(map(str, batch))}",
            hint=f"name it: {role}_key=...",
        )
    return found


def to_numpy(value: Any, torch: Any) -> tuple[np.ndarray | None, str | None]:
    """(array or None, dtype name as the loader gave it) of a tensor, an array or a list."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        tensor = value.detach().cpu()
        if tensor.dtype in (torch.bfloat16, torch.float16):  # numpy has no bfloat16
            tensor = tensor.float()
        return tensor.numpy(), dtype
    if isinstance(value, np.ndarray):
        return (value, value.dtype.name) if value.dtype.kind in "biuf" else (None, None)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):  # ragged lists of tensors
        return None, None
    return (array, array.dtype.name) if array.dtype.kind in "biuf" else (None, None)


def _inputs_record(index: int, inputs: Any, torch: Any) -> tuple[np.ndarray | None, BatchRecord]:
    array, dtype = to_numpy(inputs, torch)
    record = BatchRecord(index, type(inputs).__name__)
    if array is None or array.ndim == 0:
        return None, record
    record.dtype, record.shape = dtype, tuple(int(d) for d in array.shape)
    return array, record


def _channel_axis(shape: tuple[int, ...], declared: BatchDeclarations) -> int | None:
    ndim = len(shape)
    if declared.channel_axis is not None:
        axis = declared.channel_axis % ndim if ndim else 0
        if not 1 <= axis < ndim:
            raise UsageError(f"channel_axis={declared.channel_axis} for inputs of shape {shape}")
        return axis
    declared_channels = len(declared.mean) if declared.mean else 0
    if declared_channels > 1:
        for axis in (1, ndim - 1):
            if 1 <= axis < ndim and shape[axis] == declared_channels:
                return axis
        raise UsageError(
            f"mean and std have {declared_channels} values, but the inputs of batch 0 have "
            f"shape {shape}: no channel axis of that size",
            hint="give one mean/std per channel, or name the axis: channel_axis=...",
        )
    if ndim == 4:  # (N, C, H, W) unless only the last axis looks like channels
        return 3 if shape[1] not in (1, 3, 4) and shape[3] in (1, 3, 4) else 1
    return 1 if ndim == 5 else None  # (N, C, T, H, W); else one pooled channel


def _channel_count(array: np.ndarray, axis: int | None) -> int:
    return 1 if axis is None else int(array.shape[axis])


def _chunks(array: np.ndarray, axis: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """(first sample, (k, channels, values) float64) pieces of a batch, bounded in size."""
    step = max(1, CHUNK_VALUES // max(1, int(np.prod(array.shape[1:]))))
    for start in range(0, array.shape[0], step):
        part = array[start : start + step]
        if axis is None:
            part = part.reshape(len(part), 1, -1)
        else:
            part = np.moveaxis(part, axis, 1).reshape(len(part), part.shape[axis], -1)
        yield start, part.astype(np.float64, copy=False)


def _add_values(
    context: BatchesContext, record: BatchRecord, array: np.ndarray, rng: np.random.Generator
) -> None:
    # A later batch of another rank has no channel axis where the first had one.
    axis = context.channel_axis if (context.channel_axis or 0) < array.ndim else None
    channels = _channel_count(array, axis)
    pooled = (
        context.channels if context.channels and context.channels.channels == channels else None
    )
    low, high = np.full(channels, np.inf), np.full(channels, -np.inf)
    named: list[int] = []
    for start, part in _chunks(array, axis):
        finite = np.isfinite(part)
        if finite.all():
            values = part
            low = np.minimum(low, part.min(axis=(0, 2)))
            high = np.maximum(high, part.max(axis=(0, 2)))
        else:
            record.nan += int(np.isnan(part).sum())
            record.inf += int(np.isinf(part).sum())
            bad = np.flatnonzero(~finite.all(axis=(1, 2)))
            record.nonfinite_samples += len(bad)
            named.extend(int(start + b) for b in bad[: MAX_NAMED_SAMPLES - len(named)])
            values = np.where(finite, part, 0.0)  # the moments count finite values only
            low = np.minimum(low, np.where(finite, part, np.inf).min(axis=(0, 2)))
            high = np.maximum(high, np.where(finite, part, -np.inf).max(axis=(0, 2)))
        if pooled is None:
            continue
        pooled.count += finite.sum(axis=(0, 2))
        pooled.total += values.sum(axis=(0, 2))
        pooled.total_sq += np.square(values).sum(axis=(0, 2))
        if sum(p.shape[1] for p in pooled.sampled) < SAMPLE_LIMIT:
            flat = np.moveaxis(part, 1, 0).reshape(channels, -1)
            picks = rng.choice(flat.shape[1], min(SAMPLE_PER_CHUNK, flat.shape[1]), replace=False)
            drawn = flat[:, picks]
            pooled.sampled.append(drawn[:, np.isfinite(drawn).all(axis=0)])
    record.minimum, record.maximum, record.named_nonfinite = low, high, tuple(named)
    if pooled is not None:
        pooled.minimum = np.minimum(pooled.minimum, low)
        pooled.maximum = np.maximum(pooled.maximum, high)


def _keep_preview(
    context: BatchesContext, record: BatchRecord, array: np.ndarray, classes: np.ndarray | None
) -> None:
    wanted = context.declared.preview - len(context.preview)
    if wanted <= 0:
        return
    for position in range(min(wanted, array.shape[0])):
        label = None if classes is None or position >= len(classes) else int(classes[position])
        context.preview.append(
            PreviewSample(record.index, position, np.array(array[position], np.float32), label)
        )


def per_sample_classes(labels: np.ndarray | None) -> np.ndarray | None:
    """One class index per sample ((n,), (n, 1), or the argmax of (n, C) soft labels)."""
    if labels is None or labels.ndim == 0:
        return None
    if labels.ndim == 2 and labels.shape[1] > 1 and labels.dtype.kind == "f":
        return labels.argmax(axis=1)
    if labels.ndim == 1 or (labels.ndim == 2 and labels.shape[1] == 1):
        flat = labels.reshape(-1)
        if flat.dtype.kind == "f" and not np.all(np.isfinite(flat) & (flat == np.round(flat))):
            return None
        return flat.astype(np.int64)
    return None


def _label_stats(
    labels: Any, array: np.ndarray | None, dtype: str | None, n: int | None
) -> LabelStats:
    if array is None or array.ndim == 0:
        return LabelStats(type(labels).__name__, (), numeric=False, per_sample=False)
    shape = tuple(int(d) for d in array.shape)
    stats = LabelStats(str(dtype), shape, numeric=True, per_sample=False)
    if array.ndim == 2 and array.shape[1] > 1 and array.dtype.kind == "f" and shape[0] == n:
        stats.per_sample, stats.soft_width = True, int(array.shape[1])
        array = array.argmax(axis=1)
    else:
        stats.per_sample = array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1)
    flat = array.reshape(-1).astype(np.float64, copy=False)
    finite = flat[np.isfinite(flat)]
    stats.nonfinite = int(flat.size - finite.size)
    if finite.size:
        stats.minimum, stats.maximum = float(finite.min()), float(finite.max())
    stats.integral = bool(np.all(finite == np.round(finite)))
    if stats.integral and finite.size:
        stats.values, stats.counts = np.unique(finite.astype(np.int64), return_counts=True)
    return stats


def _compare_decoded(
    context: BatchesContext, index: int, array: np.ndarray, decoded: Iterator[Any], torch: Any
) -> Iterator[Any] | None:
    """Compare batch ``index`` with the next decoded batch; None once there are no more."""
    comparison = context.decoded
    assert comparison is not None
    try:
        raw = next(decoded)
    except StopIteration:
        return None
    except Exception as exc:
        comparison.problems.append(f"the decoded batches raised {type(exc).__name__}: {exc}")
        return None
    raw_inputs, _ = split_batch(raw, index, context.declared)
    declared = context.declared
    axis = context.channel_axis if (context.channel_axis or 0) < array.ndim else None
    channels = _channel_count(array, axis)
    target, _dtype = to_numpy(raw_inputs, torch)
    target = None if target is None else _aligned(target, array.shape, axis)
    if target is None:
        shape = tuple(raw_inputs.shape) if hasattr(raw_inputs, "shape") else "no array"
        comparison.problems.append(
            f"decoded batch {index} has shape {shape}, the batch {array.shape}: "
            "not the same samples"
        )
        return None
    if declared.mean is not None and len(declared.mean) not in (1, channels):
        comparison.problems.append(f"batch {index} has {channels} channels, not {declared.mean}")
        return None
    low, high = declared.pixel_range
    if comparison.scale is None:
        integer = target.dtype.kind in "iu"
        comparison.scale = declared.scale or (255.0 if integer and high == 1.0 else 1.0)
    mean = declared.channel_values(declared.mean, channels)[None, :, None]
    std = declared.channel_values(declared.std, channels) if declared.std else np.ones(channels)
    if comparison.fit is None:
        comparison.fit = np.zeros((channels, 5))
    if comparison.fit.shape[0] != channels:
        comparison.problems.append(f"batch {index} has {channels} channels, unlike batch 0")
        return None
    fit = comparison.fit
    pieces = zip(_chunks(array, axis), _chunks(target, axis), strict=True)
    for (start, x), (_, raw_part) in pieces:
        y = raw_part / comparison.scale
        error = np.abs(x * std[None, :, None] + mean - y) / (high - low)
        error = np.where(np.isfinite(error), error, np.inf).max(axis=(1, 2))
        comparison.errors.extend((index, start + i, float(e)) for i, e in enumerate(error))
        both = np.isfinite(x) & np.isfinite(y)
        xs, ys = np.where(both, x, 0.0), np.where(both, y, 0.0)
        fit += np.stack([both.sum((0, 2)), xs.sum((0, 2)), ys.sum((0, 2)),
                         (xs * xs).sum((0, 2)), (xs * ys).sum((0, 2))], axis=1)  # fmt: skip
    return decoded


def _aligned(target: np.ndarray, shape: tuple[int, ...], axis: int | None) -> np.ndarray | None:
    """The decoded batch laid out like the batch: (N, H, W, C) images moved to channels
    first, a missing single channel added; None when it cannot be the same samples."""
    if target.shape == shape:
        return target
    if axis is not None and target.ndim == len(shape):
        moved = np.moveaxis(target, -1, axis)
        if moved.shape == shape:
            return moved
    if axis is not None and target.ndim == len(shape) - 1 and shape[axis] == 1:
        expanded = np.expand_dims(target, axis)
        if expanded.shape == shape:
            return expanded
    return None

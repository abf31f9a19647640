"""DataLoader batch checks (ids ``data.batch_*``, stage ``batches``).

Each reads the :class:`dlqa.data.batch_context.BatchesContext` of one pass over the batches
a loader yields (``dlqa.data.batches.check_batches``, ``dlqa.runner.run_batch_checks``):
dtypes, shapes, NaN/inf, value range, label range, the class mix of each batch, whether the
declared normalisation undoes to the decoded input, and a preview grid of the samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.gates import verdict
from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.batch_context import BatchesContext, BatchRecord, batches_text, status_of
from dlqa.data.batch_dtypes import judge_dtypes
from dlqa.data.batch_labels import judge_class_mix, judge_labels
from dlqa.data.batch_normalization import judge_normalization
from dlqa.data.batch_preview import data_uri, is_image_layout, preview_png

STAGE = "batches"
MAX_ROWS = 20


def _skip_without_batches(check_id: str, context: BatchesContext) -> CheckResult | None:
    if context.arrays:
        return None
    why = "the loader yielded no batches" if not context.batches else "no batch holds arrays"
    return CheckResult(check_id, Status.SKIP, f"{why}: nothing to check (see data.batch_shapes)")


@register_check(
    "data.batch_dtype",
    stage=STAGE,
    title="Batch dtypes",
    description=(
        "Inputs are tensors of one floating dtype (the declared `dtype`, else float32/16/bf16): "
        "float64 or integer images reach a float32 model as an error or a silent cast. Labels "
        "are class indices of one integer dtype cross-entropy takes (int64 or uint8)."
    ),
)
def check_batch_dtype(context: BatchesContext, params: dict[str, Any]) -> CheckResult:
    return judge_dtypes(context, params)


@register_check(
    "data.batch_shapes",
    stage=STAGE,
    title="Batch shapes",
    description=(
        "Every batch has the same per-sample shape and as many labels as inputs, and the "
        "loader yields batches without raising (a collate error, an empty loader). A smaller "
        "last batch is normal."
    ),
)
def check_batch_shapes(context: BatchesContext, params: dict[str, Any]) -> CheckResult:
    check_id = "data.batch_shapes"
    failures = []
    if context.error is not None:
        failures.append(f"iterating the loader raised at batch {context.error_batch}: "
                        f"{context.error}")  # fmt: skip
    elif not context.batches:
        failures.append(
            "the loader yielded no batches (an empty dataset, or drop_last with a batch "
            "larger than the dataset)"
        )
    elif not context.arrays:  # inputs that are not arrays are data.batch_dtype's finding
        return CheckResult(check_id, Status.SKIP, "no batch holds an array of inputs: no "
                           "shapes to compare (see data.batch_dtype)")  # fmt: skip
    shapes: dict[tuple[int, ...], list[int]] = {}
    for b in context.arrays:
        shapes.setdefault(tuple(b.shape[1:]), []).append(b.index)
    if len(shapes) > 1:
        failures.append(f"{len(shapes)} different sample shapes: " + "; ".join(
            f"{list(shape)} in batches {batches_text(idx)}" for shape, idx in shapes.items()
        ))  # fmt: skip
    mismatched = [b for b in context.arrays if _label_count(b) not in (None, b.size)]
    if mismatched:
        failures.append(
            f"{len(mismatched)} batches have a different number of labels and inputs "
            f"(batch {mismatched[0].index}: {_label_count(mismatched[0])} labels, "
            f"{mismatched[0].size} inputs)"
        )
    sizes = [b.size for b in context.arrays]
    varying = sorted(set(sizes[:-1])) if len(set(sizes[:-1])) > 1 else []
    rows = [{"sample_shape": list(shape), "batches": len(idx), "first": idx[0]}
            for shape, idx in shapes.items()]  # fmt: skip
    if failures or not shapes:
        summary = "; ".join(failures)
    else:
        summary = (f"{len(context.arrays)} batches of samples {list(next(iter(shapes)))}, "
                   f"{context.n_samples} samples")  # fmt: skip
    if varying:
        summary += f"; batch sizes vary before the last batch: {varying}"
    return CheckResult(
        check_id,
        status_of(failures, [], params),
        summary,
        value=len(shapes),
        threshold=1,
        evidence=[Evidence("table", rows, len(rows))] if len(rows) > 1 else [],
        details={"batch_sizes": sizes, "error": context.error, "meta": context.meta()},
    )


def _label_count(batch: BatchRecord) -> int | None:
    stats = batch.labels
    if stats is None or not stats.numeric or not stats.shape:
        return None
    return stats.shape[0]


@register_check(
    "data.batch_finite",
    stage=STAGE,
    title="NaN and inf in batches",
    description="No input or label value of any batch is NaN or infinite.",
)
def check_batch_finite(context: BatchesContext, params: dict[str, Any]) -> CheckResult:
    check_id = "data.batch_finite"
    skipped = _skip_without_batches(check_id, context)
    if skipped is not None:
        return skipped
    rows = [
        {"batch": b.index, "nan": b.nan, "inf": b.inf, "samples": b.nonfinite_samples,
         "first_samples": list(b.named_nonfinite),
         "label_nonfinite": b.labels.nonfinite if b.labels else 0}
        for b in context.batches
        if b.nan or b.inf or (b.labels is not None and b.labels.nonfinite)
    ]  # fmt: skip
    bad = sum(r["nan"] + r["inf"] + r["label_nonfinite"] for r in rows)
    if rows:
        first = rows[0]
        summary = (
            f"{bad} non-finite values in {len(rows)} of {len(context.batches)} batches "
            f"(batch {first['batch']}: {first['nan']} NaN, {first['inf']} inf, in samples "
            f"{first['first_samples']}{', and in its labels' if first['label_nonfinite'] else ''})"
        )
    else:
        summary = f"every value of {len(context.batches)} batches is finite"
    return CheckResult(
        check_id,
        verdict(bool(rows), params),
        summary,
        value=bad,
        threshold=0,
        evidence=[Evidence("table", rows[:MAX_ROWS], len(rows))] if rows else [],
    )


@register_check(
    "data.batch_range",
    stage=STAGE,
    title="Batch value range",
    description=(
        "Input values stay inside the declared `value_range`, else inside the range the "
        "declared normalisation gives the decoded range ((0 - mean) / std to (1 - mean) / "
        "std), give or take `tolerance`; a batch whose every value is the same is a warning."
    ),
    defaults={
        "tolerance": Param(
            0.05, doc="how far values may pass the expected range, as a fraction of its width",
            ge=0.0, le=10.0,
        ),
    },
)  # fmt: skip
def check_batch_range(context: BatchesContext, params: dict[str, Any]) -> CheckResult:
    check_id = "data.batch_range"
    skipped = _skip_without_batches(check_id, context)
    if skipped is not None or context.channels is None:
        return skipped or CheckResult(check_id, Status.SKIP, "no values")
    channels = context.channels
    expected = context.declared.expected_range(channels.channels)
    constant = [b.index for b in context.arrays if b.minimum is not None and b.size
                and np.all(b.minimum == b.maximum) and np.isfinite(b.minimum).all()
                and (b.size or 0) > 1]  # fmt: skip
    observed = f"values {_span(channels.minimum, channels.maximum)}"
    rows = []
    if expected is not None:
        low, high = expected
        margin = params["tolerance"] * (high - low)
        for b in context.arrays:
            if b.minimum is None or len(b.minimum) != len(low):
                continue
            out = (b.minimum < low - margin) | (b.maximum > high + margin)
            rows += [{"batch": b.index, "channel": int(c), "min": float(b.minimum[c]),
                      "max": float(b.maximum[c]), "expected_min": float(low[c]),
                      "expected_max": float(high[c])} for c in np.flatnonzero(out)]  # fmt: skip
    failures = []
    if rows:
        out_batches = sorted({r["batch"] for r in rows})
        failures.append(
            f"{len(out_batches)} of {len(context.arrays)} batches leave the expected range "
            f"{_span(*expected)}: {observed}"
        )
    warnings = [f"every value of batches {batches_text(constant)} is the same"] if constant else []
    if failures or warnings:
        summary = "; ".join(failures + warnings)
    elif expected is None:
        summary = f"{observed} (declare value_range, or mean and std, to bound them)"
    else:
        summary = f"{observed}, inside the expected {_span(*expected)}"
    return CheckResult(
        check_id,
        status_of(failures, warnings, params),
        summary,
        value=len({r["batch"] for r in rows}),
        threshold=0,
        evidence=[Evidence("table", rows[:MAX_ROWS], len(rows))] if rows else [],
        details={"constant_batches": constant, "channel_min": channels.minimum,
                 "channel_max": channels.maximum},
    )  # fmt: skip


def _span(low: np.ndarray, high: np.ndarray) -> str:
    if len(low) == 1 or (np.allclose(low, low[0]) and np.allclose(high, high[0])):
        return f"[{low[0]:.4g}, {high[0]:.4g}]"
    return "per channel " + ", ".join(f"[{a:.3g}, {b:.3g}]" for a, b in zip(low, high, strict=True))


@register_check(
    "data.batch_normalization",
    stage=STAGE,
    title="Declared normalisation",
    description=(
        "The declared `mean`/`std` is what the batches carry: with `decoded` inputs, each "
        "sample undone (x * std + mean) matches its decoded input within `tolerance`; without "
        "them, the values are not still in the decoded range (normalisation missing), nor "
        "outside it once undone (normalised twice, or before scaling to 0..1)."
    ),
    defaults={
        "tolerance": Param(
            0.01, doc="largest difference of an undone sample from its decoded input, as a "
            "fraction of the pixel range", ge=0.0, le=1.0,
        ),
        "max_fraction": Param(
            0.0, doc="fraction of compared samples allowed past `tolerance`", ge=0.0, le=1.0,
        ),
        "range_tolerance": Param(
            0.05, doc="how far undone values may pass the decoded range (fraction of it)",
            ge=0.0, le=10.0,
        ),
        "outside_quantile": Param(
            0.005, doc="the share of values at each end that may lie past the decoded range "
            "once undone (augmentation noise)", ge=0.0, le=0.5,
        ),
        "max_abs_mean": Param(
            2.0, doc="a channel mean beyond this, normalised, is a warning", gt=0.0, le=100.0,
        ),
        "min_std": Param(0.25, doc="a channel std below this is a warning", ge=0.0, le=1.0),
        "max_std": Param(4.0, doc="a channel std above this is a warning", ge=1.0, le=1000.0),
    },
)  # fmt: skip
def check_batch_normalization(context: BatchesContext, params: dict[str, Any]) -> CheckResult:
    check_id = "data.batch_normalization"
    skipped = _skip_without_batches(check_id, context)
    if skipped is not None:
        return skipped
    return judge_normalization(context, params)


@register_check(
    "data.batch_labels",
    stage=STAGE,
    title="Label range",
    description=(
        "Class labels are whole numbers in 0..C-1 for the C declared `class_names` (1..C is "
        "the classic off-by-one), soft labels have C columns, and no label is negative "
        "(except a declared `ignore_index`)."
    ),
)
def check_batch_labels(context: BatchesContext, params: dict[str, Any]) -> CheckResult:
    return judge_labels(context, params)


@register_check(
    "data.batch_class_mix",
    stage=STAGE,
    title="Class mix per batch",
    description=(
        "Batches mix classes as a shuffled loader's would: a permutation test of the batch x "
        "class table (chi-square against `permutations` random splits of the same labels) "
        "fails at p <= `alpha` when the clustering effect (0 shuffled, 1 one class per batch) "
        "is at least `min_effect`; too few samples to see such an effect is inconclusive."
    ),
    defaults={
        "alpha": Param(0.001, doc="significance level of the permutation test", gt=0.0, lt=1.0),
        "permutations": Param(999, doc="random splits of the labels", ge=99, le=100_000),
        "min_effect": Param(
            0.1, doc="smallest clustering that fails: 0 is a shuffled loader, 1 one class per "
            "batch", gt=0.0, le=1.0,
        ),
        "min_samples": Param(
            100, doc="samples of one class alone (with more declared) that fail", ge=1,
            le=10_000_000,
        ),
    },
)  # fmt: skip
def check_batch_class_mix(context: BatchesContext, params: dict[str, Any]) -> CheckResult:
    return judge_class_mix(context, params)


@register_check(
    "data.batch_preview",
    stage=STAGE,
    title="Preview of the batches",
    description=(
        "A grid of the first samples as the model receives them (augmented; the declared "
        "normalisation undone) with their labels, to look at. Skipped when the inputs are not "
        "images."
    ),
)
def check_batch_preview(context: BatchesContext, params: dict[str, Any]) -> CheckResult:
    check_id = "data.batch_preview"
    skipped = _skip_without_batches(check_id, context)
    if skipped is not None:
        return skipped
    first = context.arrays[0]
    if not context.preview:
        return CheckResult(check_id, Status.SKIP, "no samples kept for the preview (preview=0)")
    if not is_image_layout(first.shape or (), context.channel_axis):
        return CheckResult(check_id, Status.SKIP, f"inputs of shape {list(first.shape or ())} "
                           "are not images: no preview")  # fmt: skip
    samples = [s for s in context.preview if s.array.shape == tuple(first.shape[1:])]
    png, how = preview_png(samples, context.channel_axis, context.declared)
    caption = f"the first {len(samples)} samples of the batches as the model receives them ({how})"
    return CheckResult(
        check_id,
        Status.PASS,
        f"preview of {caption}",
        value=len(samples),
        evidence=[Evidence("image", [{"caption": caption, "data_uri": data_uri(png)}], 1)],
    )

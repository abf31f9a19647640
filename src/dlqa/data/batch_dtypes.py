"""``data.batch_dtype``: the dtypes of the inputs and labels a loader yields."""

from __future__ import annotations

from collections import Counter
from typing import Any

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.batch_context import BatchesContext, batches_text, status_of

FLOATS = ("float32", "float16", "bfloat16")
# Class-index dtypes torch's cross_entropy takes ("expected target dtype to be Long or Byte").
CLASS_INDEX_DTYPES = ("int64", "uint8")


def judge_dtypes(context: BatchesContext, params: dict[str, Any]) -> CheckResult:
    check_id = "data.batch_dtype"
    declared = context.declared
    failures, warnings = [], []
    not_arrays = [b.index for b in context.batches if b.dtype is None]
    if not_arrays:
        kinds = sorted({b.input_type for b in context.batches if b.dtype is None})
        failures.append(
            f"the inputs of batches {batches_text(not_arrays)} are {', '.join(kinds)}, "
            "not tensors (a collate_fn that returns lists?)"
        )
    dtypes = Counter(b.dtype for b in context.arrays)
    if len(dtypes) > 1:
        failures.append("batches differ in dtype: " + _counts_text(dtypes))
    for dtype in dtypes:
        failures += _input_dtype_problems(dtype, context, warnings)
    label_dtypes = Counter(b.labels.dtype for b in context.batches if b.labels is not None)
    if len(label_dtypes) > 1:
        failures.append("labels differ in dtype: " + _counts_text(label_dtypes))
    for dtype in label_dtypes:
        _label_dtype_problems(dtype, context, failures, warnings)
    if not context.batches:
        return CheckResult(check_id, Status.SKIP, "the loader yielded no batches")
    rows = [
        {"inputs": dtype, "labels": ", ".join(sorted(map(str, label_dtypes))) or None,
         "batches": count}
        for dtype, count in dtypes.items()
    ]  # fmt: skip
    problems = failures + warnings
    summary = "; ".join(problems) if problems else (
        f"inputs {_counts_text(dtypes)}" + (f", labels {_counts_text(label_dtypes)}"
                                            if label_dtypes else "")
    )  # fmt: skip
    return CheckResult(
        check_id,
        status_of(failures, warnings, params),
        summary,
        value=len(problems),
        threshold=0,
        evidence=[Evidence("table", rows, len(rows))] if rows else [],
        details={"declared_dtype": declared.dtype, "non_array_batches": not_arrays},
    )


def _counts_text(counts: Counter) -> str:
    return ", ".join(f"{key} ({n} batches)" for key, n in counts.most_common())


def _input_dtype_problems(dtype: str, context: BatchesContext, warnings: list[str]) -> list[str]:
    declared = context.declared
    if declared.dtype is not None:
        return [] if dtype == declared.dtype else [f"{dtype} inputs, {declared.dtype} declared"]
    if dtype == "float64":
        return [
            "float64 inputs: a float32 model raises 'mat1 and mat2 must have the same dtype' "
            "(numpy's default leaked through; convert with .float())"
        ]
    if dtype in FLOATS:
        return []
    images = any(len(b.shape or ()) >= 3 for b in context.arrays if b.dtype == dtype)
    if declared.normalized:
        return [f"{dtype} inputs although a normalisation is declared: not converted to float"]
    if images:
        warnings.append(
            f"{dtype} images: a model needs float inputs (declare dtype={dtype!r} if it "
            "converts them itself)"
        )
    return []


def _label_dtype_problems(
    dtype: str, context: BatchesContext, failures: list[str], warnings: list[str]
) -> None:
    labels = [b.labels for b in context.batches if b.labels is not None and b.labels.dtype == dtype]
    if not all(stats.numeric for stats in labels):
        failures.append(f"labels are {dtype}, not a tensor of class indices")
        return
    classes = context.declared.class_names is not None
    soft = all(stats.soft_width for stats in labels)
    if classes and dtype.startswith(("float", "bfloat")) and not soft:
        failures.append(
            f"{dtype} class labels: cross_entropy takes float targets as class probabilities "
            "of shape (N, C), not indices"
        )
    elif classes and not soft and dtype not in CLASS_INDEX_DTYPES:
        warnings.append(f"{dtype} labels: cross_entropy needs int64 class indices")

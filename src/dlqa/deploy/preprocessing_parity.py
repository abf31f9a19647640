"""Preprocessing parity: does the serving spec feed the model what training fed it?

Train/serve skew is silent: a model served with bilinear instead of bicubic, BGR instead of
RGB or without its normalisation still answers, just worse. This check decodes each file
once, runs the user's training transform (any callable from a PIL image to a CHW array or
torch tensor) and :meth:`ImagePreprocessing.apply` on copies of the same decoded image, and
compares what comes out:

- the shapes (a mismatch fails and names both shapes);
- the largest absolute difference in the model's input units, and that over the training
  inputs' standard deviation (so 0.02 reads the same for [0, 1] and normalised inputs);
- with ``predict`` (a batch ``(n, ...)`` of inputs to ``(n, C)`` scores), the share of files
  whose top-1 prediction is the same on both inputs, with its Wilson interval: what the
  difference costs. With ``predict`` the result's value is that agreement (threshold
  ``min_agreement``, interval and n of it); without, the value is the largest difference
  (threshold ``max_pixel_diff``).

It passes only when every file matches within ``max_pixel_diff`` and the agreement reaches
``min_agreement``. A file that does not decode is listed (a warning when all else matches);
a file only one side fails on is a difference and fails the check.

Decoding: no EXIF transpose. :meth:`ImagePreprocessing.apply` takes the image as Pillow
decodes it, so both sides get exactly that; files whose EXIF asks for a rotation are counted
in ``details["exif_rotated_files"]`` because a loader that rotates them would differ.

When the inputs differ, :mod:`dlqa.deploy.preprocessing_diagnosis` names the setting that
explains it (variants of the spec, one change or two, scored on the worst files); the answer
is in the summary and in ``details["diagnosis"]``.
"""

from __future__ import annotations

import contextlib
import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.core.intervals import wilson_interval
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.deploy.preprocessing_diagnosis import Diagnosis, diagnose, fmt, max_diff
from dlqa.deploy.spec import ImagePreprocessing

CHECK_ID = "deploy.preprocessing"
# Identical pipelines differ by float rounding (about 1e-6 after a normalisation); one grey
# level is 1/255 = 0.0039 in [0, 1] units and 0.017 after ImageNet's std. 1e-3 sits well
# between: it never flags rounding and always flags a real change of even one grey level
# in [0, 1] units.
MAX_PIXEL_DIFF = 1e-3
# Predictions of matching inputs agree; 0.99 allows one near-tie flip per hundred files.
MIN_AGREEMENT = 0.99
MAX_EVIDENCE = 20
DIAGNOSIS_FILES = 3  # the worst files the diagnosis scores its variants on
PREDICT_CHUNK = 32
_ORIENTATION_TAG = 0x0112


@dataclass
class _Tally:
    """What the pass over the files collects, without keeping every array in memory."""

    rows: list[dict[str, Any]] = field(default_factory=list)  # one per compared file
    failures: list[dict[str, Any]] = field(default_factory=list)
    predict_failures: list[dict[str, Any]] = field(default_factory=list)
    worst: list[tuple[float, int, Any, np.ndarray]] = field(default_factory=list)  # a heap
    pending: list[tuple[dict[str, Any], np.ndarray, np.ndarray]] = field(default_factory=list)
    exif_rotated: int = 0
    sums: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # n, sum, sum of sq


def describe(value: Any) -> str:
    """What a transform returned, in words a user recognises."""
    kind = type(value)
    if hasattr(value, "getbands") and hasattr(value, "size"):
        return f"a PIL image (mode {value.mode}, {value.size[0]}x{value.size[1]})"
    if isinstance(value, np.ndarray):
        return f"a numpy array of dtype {value.dtype} and shape {value.shape}"
    return f"a {kind.__module__}.{kind.__qualname__}"


def as_array(value: Any, what: str) -> np.ndarray:
    """``value`` (a numpy array or torch tensor of numbers) as float32; anything else is a
    UsageError naming what it was, since every file would fail the same way."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        raise UsageError(
            f"{what} returned {describe(value)}, not a numpy array or torch tensor of numbers",
            hint="end the transform with the conversion to the model's input (e.g. a CHW "
            "float array)",
        )
    return value.astype(np.float32, copy=False)


def decode(path: Path | str) -> tuple[Any, int]:
    """The file as Pillow decodes it (loaded, file closed) and its EXIF orientation."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        try:
            orientation = int(image.getexif().get(_ORIENTATION_TAG, 1))
        except Exception:  # a malformed EXIF block does not spoil the pixels
            orientation = 1
        return image.copy(), orientation


def _compare_file(
    tally: _Tally,
    sample_id: str,
    path: Path | str,
    transform: Callable[[Any], Any],
    spec: ImagePreprocessing,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Both inputs of one file, with its row added to ``tally``; None (and a failure
    listed) when it does not decode or one side raises on it."""
    try:
        image, orientation = decode(path)
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError...
        tally.failures.append({"id": sample_id, "side": "decode", "reason": _reason(exc)})
        return None
    tally.exif_rotated += orientation not in (1, None)
    try:
        raw = transform(image.copy())
    except Exception as exc:
        tally.failures.append({"id": sample_id, "side": "training", "reason": _reason(exc)})
        return None
    train = as_array(raw, "the training transform")
    try:
        serve = spec.apply(image.copy())
    except Exception as exc:
        tally.failures.append({"id": sample_id, "side": "serving", "reason": _reason(exc)})
        return None
    diff = max_diff(serve, train)
    finite = train[np.isfinite(train)].astype(np.float64)
    tally.sums[0] += finite.size
    tally.sums[1] += float(finite.sum())
    tally.sums[2] += float(np.square(finite).sum())
    row = {
        "id": sample_id,
        "max_pixel_diff": diff,
        "training_shape": list(train.shape),
        "serving_shape": list(serve.shape),
    }
    tally.rows.append(row)
    entry = (diff, -len(tally.rows), image, train)
    if len(tally.worst) < DIAGNOSIS_FILES:
        heapq.heappush(tally.worst, entry)
    elif entry[:2] > tally.worst[0][:2]:
        heapq.heapreplace(tally.worst, entry)
    return train, serve


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _top1(predict: Callable[[np.ndarray], Any], inputs: list[np.ndarray]) -> list[int]:
    """The top-1 class of each input, one ``predict`` call per shape."""
    classes = [0] * len(inputs)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, array in enumerate(inputs):
        by_shape.setdefault(array.shape, []).append(index)
    for indices in by_shape.values():
        with _no_grad():
            scores = as_array(predict(np.stack([inputs[i] for i in indices])), "predict")
        if scores.ndim != 2 or scores.shape[0] != len(indices):
            raise UsageError(
                f"predict returned shape {scores.shape} for a batch of {len(indices)}; "
                "expected (n, classes)"
            )
        for i, top in zip(indices, scores.argmax(axis=1), strict=True):
            classes[i] = int(top)
    return classes


def _no_grad() -> Any:
    """torch's no_grad when torch is there: a torch predict needs no autograd graph."""
    try:
        import torch
    except ImportError:  # pragma: no cover - a numpy predict needs no torch
        return contextlib.nullcontext()
    return torch.no_grad()


def _flush(tally: _Tally, predict: Callable[[np.ndarray], Any] | None) -> None:
    """Predict the pending files in one go (both sides); a failing batch is listed."""
    if predict is None or not tally.pending:
        return
    rows = [row for row, _, _ in tally.pending]
    for side, position in (("training", 1), ("serving", 2)):
        try:
            classes = _top1(predict, [item[position] for item in tally.pending])
        except UsageError:
            raise
        except Exception as exc:
            reason = _reason(exc)
            tally.predict_failures += [
                {"id": r["id"], "side": side, "reason": reason} for r in rows
            ]
            classes = [None] * len(rows)  # type: ignore[list-item]
        for row, top in zip(rows, classes, strict=True):
            row[f"{side}_prediction"] = top
    tally.pending.clear()


def _check_arguments(
    files: Sequence[Path | str], sample_ids: Sequence[str] | None, tolerance: float, agree: float
) -> list[str]:
    if not files:
        raise UsageError("preprocessing parity needs at least one image file")
    if sample_ids is not None and len(sample_ids) != len(files):
        raise UsageError(f"{len(sample_ids)} sample ids for {len(files)} files")
    if not tolerance >= 0:
        raise UsageError(f"max_pixel_diff is a non-negative difference, got {tolerance}")
    if not 0.0 <= agree <= 1.0:
        raise UsageError(f"min_agreement is a share in [0, 1], got {agree}")
    return [str(f) for f in files] if sample_ids is None else [str(s) for s in sample_ids]


def preprocessing_parity_result(
    transform: Callable[[Any], Any],
    spec: ImagePreprocessing,
    files: Sequence[Path | str],
    *,
    predict: Callable[[np.ndarray], Any] | None = None,
    sample_ids: Sequence[str] | None = None,
    max_pixel_diff: float = MAX_PIXEL_DIFF,
    min_agreement: float = MIN_AGREEMENT,
) -> CheckResult:
    """Compare the training ``transform`` with the serving ``spec`` on ``files``; a
    difference is diagnosed (which setting of the spec explains it)."""
    ids = _check_arguments(files, sample_ids, max_pixel_diff, min_agreement)
    if isinstance(spec, dict):
        spec = ImagePreprocessing.from_dict(spec)
    tally = _Tally()
    for sample_id, path in zip(ids, files, strict=True):
        pair = _compare_file(tally, sample_id, path, transform, spec)
        if pair is not None and predict is not None:
            tally.pending.append((tally.rows[-1], *pair))
            if len(tally.pending) >= PREDICT_CHUNK:
                _flush(tally, predict)
    _flush(tally, predict)
    return _result(tally, spec, predict is not None, max_pixel_diff, min_agreement, len(ids))


def _agreement(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Files whose two inputs got the same top-1 class, of those both were predicted on."""
    pairs = [(r.get("training_prediction"), r.get("serving_prediction")) for r in rows]
    both = [(a, b) for a, b in pairs if a is not None and b is not None]
    return sum(a == b for a, b in both), len(both)


def _pixel_figures(tally: _Tally) -> dict[str, Any]:
    """The largest difference over all files, and over the training inputs' std."""
    worst = max((r["max_pixel_diff"] for r in tally.rows), default=math.nan)
    count, total, squares = tally.sums
    std = math.sqrt(max(squares / count - (total / count) ** 2, 0.0)) if count else 0.0
    relative = worst / std if std > 0 and math.isfinite(worst) else None
    return {"max_pixel_diff": worst, "max_pixel_diff_over_std": relative, "training_std": std}


def _result(
    tally: _Tally, spec: ImagePreprocessing, predicting: bool, tolerance: float,
    min_agreement: float, total: int,
) -> CheckResult:  # fmt: skip
    rows = tally.rows
    figures = _pixel_figures(tally)
    differing = [r for r in rows if not r["max_pixel_diff"] <= tolerance]
    mismatched = [r for r in rows if r["training_shape"] != r["serving_shape"]]
    details: dict[str, Any] = {
        **figures, "files": total, "compared": len(rows), "tolerance": tolerance,
        "differing_files": len(differing), "shape_mismatches": len(mismatched),
        "failures": len(tally.failures), "exif_rotated_files": tally.exif_rotated,
        "spec": spec.to_dict(),
    }  # fmt: skip
    parts = [_pixel_words(rows, differing, mismatched, figures, tolerance)]
    diagnosis: Diagnosis | None = None
    if differing:
        samples = [(image, train) for _, _, image, train in sorted(tally.worst, reverse=True)]
        diagnosis = diagnose(spec, samples, tolerance)
        details.update(diagnosis=diagnosis.steps, closest=diagnosis.closest)
        parts.append(diagnosis.sentence())
    value, threshold, n, interval = figures["max_pixel_diff"], tolerance, len(rows), None
    if predicting:
        same, n = _agreement(rows)
        interval = wilson_interval(same, n)
        value, threshold = (same / n if n else None), min_agreement
        details["agreement"] = {"value": value, "agreeing": same, "n": n, "min": min_agreement}
        parts.append(
            f"top-1 agreement {fmt(value)} [{interval.low:.3f}, {interval.high:.3f}] on {n} "
            f"files (min {min_agreement:g})"
        )
    if tally.failures:
        sides = ", ".join(sorted({f["side"] for f in tally.failures}))
        parts.append(f"{len(tally.failures)} file(s) not compared ({sides} failed)")
    if tally.predict_failures:
        details["predict_failures"] = len(tally.predict_failures)
        parts.append(f"predict failed on {len(tally.predict_failures)} input(s)")
    if tally.exif_rotated:
        parts.append(f"{tally.exif_rotated} file(s) carry an EXIF rotation neither side applies")
    one_sided = any(f["side"] != "decode" for f in tally.failures)
    disagree = predicting and not (value is not None and value >= min_agreement)
    if not rows or differing or one_sided or disagree or tally.predict_failures:
        status = Status.FAIL
    else:
        status = Status.WARN if tally.failures else Status.PASS
    return CheckResult(
        CHECK_ID, status, "; ".join(parts), value=value, threshold=threshold, n=n,
        interval=interval if n else None, details=details,
        evidence=_evidence(rows, tally, diagnosis, tolerance),
    )  # fmt: skip


def _pixel_words(
    rows: list[dict[str, Any]], differing: list[dict[str, Any]],
    mismatched: list[dict[str, Any]], figures: dict[str, Any], tolerance: float,
) -> str:  # fmt: skip
    if not rows:
        return "no file could be compared"
    if mismatched:
        first = mismatched[0]
        return (
            f"shapes differ on {len(mismatched)} of {len(rows)} files (training "
            f"{tuple(first['training_shape'])}, serving {tuple(first['serving_shape'])})"
        )
    relative = figures["max_pixel_diff_over_std"]
    worst = fmt(figures["max_pixel_diff"])
    if relative is not None:
        worst += f" ({fmt(relative)} of the training std)"
    if not differing:
        return (
            f"the serving spec reproduces the training transform on {len(rows)} files: "
            f"max pixel diff {worst}, within {tolerance:g}"
        )
    return (
        f"the serving spec differs from the training transform on {len(differing)} of "
        f"{len(rows)} files: max pixel diff {worst}, tolerance {tolerance:g}"
    )


def _evidence(
    rows: list[dict[str, Any]], tally: _Tally, diagnosis: Diagnosis | None, tolerance: float
) -> list[Evidence]:
    """The worst files, the files not compared, and the diagnosis as a table."""
    flagged = [
        r for r in rows
        if not r["max_pixel_diff"] <= tolerance
        or r.get("training_prediction") != r.get("serving_prediction")
    ]  # fmt: skip
    flagged.sort(key=lambda r: -r["max_pixel_diff"])
    failed = tally.failures + tally.predict_failures
    steps = diagnosis.steps if diagnosis is not None else []
    found = [
        ("samples", flagged, "files whose training and serving inputs differ, worst first"),
        ("samples", failed, "files that could not be compared (which side failed, and why)"),
        ("table", steps, "the spec setting(s) that explain the difference"),
    ]
    return [
        Evidence(kind, items[:MAX_EVIDENCE], len(items), text)
        for kind, items, text in found
        if items
    ]


__all__ = ["CHECK_ID", "MAX_PIXEL_DIFF", "MIN_AGREEMENT", "preprocessing_parity_result"]

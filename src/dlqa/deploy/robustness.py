"""Unexpected inputs: does the serving path give a clear error or its documented handling?

A deployed model meets what no eval set holds: a corrupt upload, a CMYK scan, a 16-bit PNG,
a 1x1 tracking pixel, a decompression bomb, a NaN tensor from a broken client, audio at
another sample rate, an empty text. Each kind is generated here (from a natural-looking base,
not a flat colour) and fed through the serving path (``preprocess_file`` on the file's bytes
and ``predict_arrays``; ``predict_arrays`` alone for tensors), and judged against the handling
:mod:`dlqa.deploy.inputs` documents:

* PASS: a refusal (:class:`InputError`) whose message names the problem, for a kind that must
  be refused; or, for a kind that must be handled, a finite answer whose probabilities sum to
  1 and, for a conversion, match the answer on the equivalent standard input (an opaque RGBA
  image answers as its RGB copy, a 16-bit PNG made as 8-bit x 257 as the 8-bit one);
* FAIL: any other exception ("a crash, not a clear error"), non-finite or unnormalised
  probabilities, an answer to what must be refused (a NaN tensor answered is silent garbage),
  a refusal of what is documented as handled, or an answer that differs from the equivalent's;
* WARN: a refusal whose message does not name the problem.

One result per input kind (the subject); only the kinds of the bundle's modality run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlqa.core.results import CheckResult, Status
from dlqa.deploy.inputs import InputError
from dlqa.deploy.robustness_inputs import Probe, probes_for

CHECK_ID = "deploy.unexpected_inputs"
SUM_ATOL = 1e-3  # float32 softmax sums to 1 within ~1e-6; 1e-3 still catches garbage


@dataclass(frozen=True)
class Outcome:
    """What the serving path did with one input: refused, crashed or answered."""

    kind: str  # "refused" | "crashed" | "answered"
    message: str = ""
    probs: np.ndarray | None = None


def serve(predictor: Any, payload: bytes | np.ndarray) -> Outcome:
    """Feed ``payload`` (file bytes, or a batch of model inputs) through the serving path."""
    try:
        if isinstance(payload, np.ndarray):
            probs = predictor.predict_arrays(payload)
        else:
            probs = predictor.predict_arrays(np.asarray(predictor.preprocess_file(payload))[None])
    except InputError as exc:
        return Outcome("refused", str(exc).strip().rstrip("."))
    except Exception as exc:  # anything but InputError is what this check exists to catch
        return Outcome("crashed", f"{type(exc).__name__}: {_short(str(exc)).rstrip('.')}")
    return Outcome("answered", probs=np.asarray(probs, dtype=np.float64))


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def garbage(probs: np.ndarray, classes: int) -> str | None:
    """Why ``probs`` is not a probability answer (None when it is one)."""
    if probs.ndim != 2 or probs.shape[1] != classes:
        return f"an output of shape {tuple(probs.shape)}, not (n, {classes})"
    if not np.isfinite(probs).all():
        return "non-finite probabilities (NaN or inf)"
    if probs.min() < -1e-6 or probs.max() > 1 + 1e-6:
        return f"probabilities outside [0, 1] (min {probs.min():.4g}, max {probs.max():.4g})"
    sums = probs.sum(axis=1)
    if np.abs(sums - 1.0).max() > SUM_ATOL:
        return f"probabilities that sum to {sums[np.argmax(np.abs(sums - 1))]:.6g}, not 1"
    return None


def describe(outcome: Outcome, class_names: list[str]) -> str:
    """The outcome in words: "refused: ...", "a crash: ...", "answered <label> (p=...)"."""
    if outcome.kind == "refused":
        return f"refused: {outcome.message}"
    if outcome.kind == "crashed":
        return f"a crash: {outcome.message}"
    probs = outcome.probs
    assert probs is not None
    if garbage(probs, len(class_names)):
        return f"answered {np.array2string(probs, precision=4, threshold=12)}"
    answers = [f"{class_names[int(np.argmax(r))]} (p={float(r.max()):.3f})" for r in probs]
    return "answered " + ", ".join(answers)


def judge(
    probe: Probe, outcome: Outcome, reference: Outcome | None, classes: list[str]
) -> tuple[Status, str, dict[str, Any]]:
    """The verdict, its one-sentence summary and the extra details."""
    what = probe.fed[:1].upper() + probe.fed[1:]
    if outcome.kind == "crashed":
        return Status.FAIL, f"{what}: a crash, not a clear error: {outcome.message}.", {}
    if outcome.kind == "refused":
        if probe.expect == "answer":
            return (Status.FAIL, f"{what} was refused, though the serving path documents "
                    f"handling it ({probe.handling}): {outcome.message}.", {})  # fmt: skip
        text = outcome.message.lower()
        if probe.keywords and not any(k in text for k in probe.keywords):
            return (Status.WARN, f"{what} was refused, but the message does not name the "
                    f"problem: {outcome.message!r}.", {})  # fmt: skip
        return Status.PASS, f"{what} was refused with a clear error: {outcome.message}.", {}
    probs = outcome.probs
    assert probs is not None
    bad = garbage(probs, len(classes))
    if bad:
        return Status.FAIL, f"{what} was answered with garbage: {bad}.", {}
    if probe.expect == "refuse":
        return (Status.FAIL, f"{what} was silently answered ({describe(outcome, classes)}); "
                f"it must be refused: {probe.handling}.", {})  # fmt: skip
    if reference is None:
        return Status.PASS, f"{what} was handled: {describe(outcome, classes)}.", {}
    return _compare(probe, what, outcome, reference, classes)


def _compare(
    probe: Probe, what: str, outcome: Outcome, reference: Outcome, classes: list[str]
) -> tuple[Status, str, dict[str, Any]]:
    """A handled conversion must answer as the equivalent standard-mode input does."""
    extra: dict[str, Any] = {"reference": probe.reference_fed,
                             "reference_outcome": describe(reference, classes)}  # fmt: skip
    if reference.kind != "answered" or reference.probs is None:
        return (Status.FAIL, f"{what}: its equivalent standard input ({probe.reference_fed}) "
                f"was not answered ({describe(reference, classes)}), so the handling cannot be "
                "trusted.", extra)  # fmt: skip
    probs, ref = outcome.probs, reference.probs
    assert probs is not None
    diff = float(np.abs(probs - ref).max()) if probs.shape == ref.shape else math.inf
    extra.update(max_prob_diff=diff if math.isfinite(diff) else None, atol=probe.atol)
    if diff <= probe.atol:  # not the label: a near-tie may flip within the tolerance
        return (Status.PASS, f"{what} was handled and answers as {probe.reference_fed} does "
                f"(largest probability difference {diff:.2g}).", extra)  # fmt: skip
    return (Status.FAIL, f"{what} answers {describe(outcome, classes)} but its equivalent "
            f"{probe.reference_fed} answers {describe(reference, classes)} (difference "
            f"{diff:.3g} > {probe.atol:g}): the conversion is not the documented one.",
            extra)  # fmt: skip


def _result(predictor: Any, probe: Probe, work_dir: Path | None) -> CheckResult:
    classes = list(predictor.class_names)
    outcome = serve(predictor, probe.payload)
    reference = None
    if probe.reference is not None and outcome.kind == "answered":
        reference = serve(predictor, probe.reference)
    status, summary, extra = judge(probe, outcome, reference, classes)
    details: dict[str, Any] = {
        "fed": probe.fed,
        "outcome": describe(outcome, classes),
        "expected": probe.handling,
        "must": {"refuse": "be refused", "answer": "be answered"}.get(
            probe.expect, "be refused or answered"
        ),
        **extra,
    }
    if work_dir is not None:
        details["file"] = str(_save(probe, work_dir))
    return CheckResult(CHECK_ID, status, summary, details=details, subject=probe.kind)


def _save(probe: Probe, work_dir: Path) -> Path:
    """The generated input under ``work_dir``, so that a person can replay a failure."""
    folder = work_dir / "unexpected_inputs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{probe.kind}{probe.suffix}"
    if isinstance(probe.payload, np.ndarray):
        np.save(path, probe.payload)
    else:
        path.write_bytes(probe.payload)
    return path


def unexpected_inputs_results(predictor: Any, *, work_dir: Path | None = None) -> list[CheckResult]:
    """One ``deploy.unexpected_inputs`` result per input kind of the bundle's modality.

    ``predictor`` is a :class:`~dlqa.deploy.predictor.BundlePredictor` (or anything with its
    ``modality``, ``spec``, ``class_names``, ``input_shape``, ``manifest``,
    ``preprocess_file`` and ``predict_arrays``). With ``work_dir``, every generated input is
    saved under ``work_dir/unexpected_inputs/`` and named in its result's details.
    """
    try:
        probes = probes_for(predictor)
    except Exception as exc:  # the base input could not be made: nothing can be probed
        return [CheckResult(CHECK_ID, Status.ERROR, "The unexpected inputs could not be "
                            f"generated: {type(exc).__name__}: {_short(str(exc))}.")]  # fmt: skip
    return [_run_one(predictor, kind, make, work_dir) for kind, make in probes.items()]


def _run_one(
    predictor: Any, kind: str, make: Callable[[], Probe], work_dir: Path | None
) -> CheckResult:
    try:
        probe = make()
    except Exception as exc:  # a generator that fails is this check's bug, not the bundle's
        return CheckResult(CHECK_ID, Status.ERROR,
                           f"{kind}: the input could not be generated: {type(exc).__name__}: "
                           f"{_short(str(exc))}.", subject=kind)  # fmt: skip
    return _result(predictor, probe, work_dir)


__all__ = ["CHECK_ID", "Outcome", "garbage", "serve", "unexpected_inputs_results"]

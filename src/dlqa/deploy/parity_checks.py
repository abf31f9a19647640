"""Whether a model's deployment targets compute what the eager model computes: the parity
matrix (one ``deploy.parity`` result per target) and the batch-size sweep.

Design choices:

* Each precision is judged by what it can promise. fp32 must match elementwise, tightly;
  fp16 within a looser elementwise bound and on the top-1 class; int8 moves every logit a
  little, so it is judged by the decisions alone: top-1 agreement (decided by its Wilson
  interval, as dlqa's metric gates are) and, given labels, the accuracy it loses.
* The elementwise bound is relative to each output row's scale: ``|target - ref| <= atol +
  rtol * max|ref row|``. A logit near zero in a row of +-10 is held to the row's
  precision, not to a thousandth of itself, which no float16 could meet.
* An output that is inf or NaN where the reference is finite always fails, whatever the
  tolerance: in an fp16 target it is an overflow (a value beyond 65504), and says so.
* Parity runs every target in chunks of exactly the export's example batch size (the last
  chunk padded by repeating rows), so a graph that baked its batch size in still gets its
  numerics judged; the batch sweep, and only it, owns that fault.
* A target that cannot be converted (say, the quantiser fails) is an ERROR result; one whose
  onnxruntime session cannot load or run the converted model is a FAIL (the model does not
  deploy there). Neither raises. Inputs of the wrong shape are the caller's mistake, not the
  model's: they raise a ValueError naming both shapes before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from dlqa.core.intervals import wilson_interval
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.deploy.onnx_variants import (
    TARGETS,
    model_input,
    resolve_targets,
    runner,
    session,
    target_session,
    variant_path,
)
from dlqa.deploy.parity_compare import (
    baked_batch,
    checked_inputs,
    compare,
    describe,
    disagreeing_inputs,
    error_text,
    reference_outputs,
    run_in_batches,
    sample_ids_for,
    sweep_row,
)  # fmt: skip
from dlqa.evaluate.noise import gate_details, size_to_decide_proportion

Reference = Callable[[np.ndarray], Any]
MAX_ITEMS = 20
_RANK = {Status.PASS: 0, Status.INCONCLUSIVE: 1, Status.FAIL: 2}
CPU_FP16_NOTE = (
    "onnxruntime's CPU provider has no fp16 kernels for most ops (it would run the fp16 "
    "graph in fp32, activations unrounded): this target runs the fp32 graph with fp16 "
    "weights and every activation rounded to fp16 (overflowing beyond 65504), arithmetic "
    "in fp32. Slower than fp32, and not a GPU's fp16 numerics (fp16 accumulation, fused "
    "kernels): a proxy for cuda_fp16"
)


@dataclass(frozen=True)
class Tolerance:
    """How close a target must stay to the eager fp32 model.

    ``atol``/``rtol``: every output element within ``atol + rtol * max|ref row|`` (None: not
    judged elementwise). ``min_top1_agreement``: the share of inputs whose top-1 class is
    the reference's, decided by its Wilson interval when ``agreement_by_interval`` (pass
    when the lower bound clears it, fail when the upper bound is below, inconclusive
    between), else by the measured share. ``max_metric_drop``: the accuracy the target may
    lose on the same inputs, judged when labels are given.
    """

    atol: float | None = None
    rtol: float = 0.0
    min_top1_agreement: float | None = None
    agreement_by_interval: bool = False
    max_metric_drop: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Measured on the trained tiny CNN of tests/deploy (256 inputs, logits up to ~18):
# onnxruntime fp32 against eager torch differed by 1.1e-5 at most, 6e-7 of the row's scale
# (summation order, fused kernels), so 1e-4 + 1e-3 x scale leaves two orders of margin for
# deeper models yet catches any real change. fp16 rounding (the CPU emulation) moved logits
# by up to 1.4e-2, 8e-4 of the row's scale: 1e-2 + 1e-2 x scale leaves over ten times that.
# int8 moved them by up to 0.2 (1.6 % of the scale), as quantisation does: it is judged on
# decisions alone. fp16's top-1 floor is a measured share (its elementwise bound decides);
# int8's is decided by the Wilson interval, so 100 % agreement needs ~190 inputs to pass.
FP32 = Tolerance(atol=1e-4, rtol=1e-3)
FP16 = Tolerance(atol=1e-2, rtol=1e-2, min_top1_agreement=0.99)
INT8 = Tolerance(min_top1_agreement=0.98, agreement_by_interval=True, max_metric_drop=0.01)
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    name: {"fp32": FP32, "fp16": FP16, "int8": INT8}[t.precision] for name, t in TARGETS.items()
}


def tolerance_for(target: str, tolerances: Mapping[str, Any] | None = None) -> Tolerance:
    """The tolerance of ``target``: a given Tolerance, the default with a dict of overrides
    (``{"onnx_fp16": {"atol": 0.05}}``), or the default."""
    given = (tolerances or {}).get(target)
    if isinstance(given, Tolerance):
        return given
    unknown = set(given or {}) - set(Tolerance.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown tolerance field(s) {sorted(unknown)} for {target}")
    return replace(DEFAULT_TOLERANCES[target], **(given or {}))


def parity_results(
    reference: Reference,
    model_path: Path,
    inputs: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    sample_ids: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    tolerances: Mapping[str, Any] | None = None,
    batch_size: int = 1,
    work_dir: Path | None = None,
    threads: int | None = None,
) -> list[CheckResult]:
    """One ``deploy.parity`` result per target (default: every available one): the
    target's outputs on ``inputs`` against ``reference(batch)``, the eager fp32 outputs.

    ``batch_size`` is the export's example batch size: the reference and every target run
    in chunks of exactly that many rows. ``labels`` are class indices (both accuracies are
    compared). ``tolerances`` maps a target to a Tolerance or to overrides of its default
    (an unknown target or field is a ValueError). Raises ValueError for an unknown target,
    inputs of the wrong shape or a failing reference; a target that fails to convert or
    run is a result, not an exception.
    """
    names = resolve_targets(list(targets) if targets is not None else None)
    resolve_targets(list(tolerances or {}))  # a tolerance for an unknown target is a typo
    model_path = Path(model_path)
    array = checked_inputs(inputs, model_path)
    ids = sample_ids_for(sample_ids, len(array))
    if labels is not None and len(np.asarray(labels).reshape(-1)) != len(array):
        raise ValueError(f"{len(np.asarray(labels).reshape(-1))} labels for {len(array)} inputs")
    expected = reference_outputs(reference, array, batch_size)
    job = {
        "expected": expected, "model_path": model_path, "array": array, "labels": labels,
        "ids": ids, "batch_size": batch_size, "work_dir": work_dir, "threads": threads,
    }  # fmt: skip
    return [_parity_one(target, tolerance_for(target, tolerances), **job) for target in names]


def _parity_one(
    target: str, tol: Tolerance, *, expected: np.ndarray, model_path: Path, array: np.ndarray,
    labels: np.ndarray | None, ids: list[str], batch_size: int, work_dir: Path | None,
    threads: int | None,
) -> CheckResult:  # fmt: skip
    spec = TARGETS[target]
    details: dict[str, Any] = {"tolerance": tol.to_dict(), "batch_size": batch_size}
    if spec.variant == "fp16_rounded":
        details["note"] = CPU_FP16_NOTE
    try:
        variant_path(model_path, spec.variant, work_dir)
    except Exception as exc:
        message = error_text(exc)
        return CheckResult(
            "deploy.parity", Status.ERROR, f"{target}: the {spec.variant} model could not be "
            f"made: {message}", subject=target, details={**details, "error": message},
        )  # fmt: skip
    try:
        sess = target_session(target, model_path, work_dir=work_dir, threads=threads)
        details["providers"] = sess.get_providers()
        out = run_in_batches(runner(sess), array, batch_size)
        if out.shape != expected.shape:
            raise ValueError(f"outputs of shape {out.shape}, the reference's {expected.shape}")
    except Exception as exc:
        message = error_text(exc)
        return CheckResult(
            "deploy.parity", Status.FAIL, f"{target}: onnxruntime could not run the model: "
            f"{message}", subject=target, details={**details, "error": message},
        )  # fmt: skip
    return _judge(target, spec.precision, expected, out, labels, ids, tol, details)


def _judge(
    target: str, precision: str, expected: np.ndarray, out: np.ndarray,
    labels: np.ndarray | None, ids: list[str], tol: Tolerance, details: dict[str, Any],
) -> CheckResult:  # fmt: skip
    cmp = compare(expected, out, tol.atol, tol.rtol)
    n, statuses, parts = cmp["n"], [], []
    bad = int(cmp["bad_rows"].sum())
    if bad:
        kinds = " and ".join(k for k in ("inf", "NaN") if cmp[k.lower()])
        cause = ": an fp16 overflow (a value beyond 65504)" if precision == "fp16" else ""
        statuses.append(Status.FAIL)
        parts.append(f"{bad} of {n} outputs hold {kinds} where the reference is finite{cause}")
    if tol.atol is not None:
        beyond = int(cmp["beyond"].sum())
        statuses.append(Status.FAIL if beyond else Status.PASS)
        bound = f"{tol.atol:g} + {tol.rtol:g} x the row's largest |score|"
        within = f"beyond {bound} on {beyond} of {n} inputs" if beyond else f"within {bound}"
        if cmp["max_abs_diff"] is not None:
            rest = " on the finite outputs" if bad else ""
            parts.append(
                f"max |diff| {cmp['max_abs_diff']:.2g}{rest} ({cmp['max_rel_diff']:.2g} of "
                f"the row's scale), {within}"
            )
    for judged in [_agreement(cmp, tol)] + ([] if labels is None else [_metric(cmp, labels, tol)]):
        statuses.append(judged[0])
        parts += [judged[1]] if judged[1] else []
        details.update(judged[2])
    agree = details.get("top1_agree")
    details.update(
        max_abs_diff=cmp["max_abs_diff"], max_rel_diff=cmp["max_rel_diff"], n=n,
        non_finite_outputs=bad, inf_values=cmp["inf"], nan_values=cmp["nan"],
        inputs_beyond_tolerance=int(cmp["beyond"].sum()),
    )  # fmt: skip
    evidence = disagreeing_inputs(cmp, ids, MAX_ITEMS)
    return CheckResult(
        "deploy.parity", max(statuses, key=_RANK.__getitem__),
        f"{target} on {n} inputs: " + "; ".join(parts),
        value=details.get("top1_agreement"), threshold=tol.min_top1_agreement,
        evidence=[evidence] if evidence else [], details=details, subject=target, n=n,
        interval=None if agree is None else wilson_interval(agree, n),
    )  # fmt: skip


def _agreement(cmp: dict[str, Any], tol: Tolerance) -> tuple[Status, str, dict[str, Any]]:
    n, floor = cmp["n"], tol.min_top1_agreement
    if cmp["top1_ref"] is None:
        status = Status.PASS if floor is None else Status.INCONCLUSIVE
        return status, "no top-1 to compare (the outputs are not (n, classes) scores)", {}
    agree = int((cmp["top1_ref"] == cmp["top1_out"]).sum())
    value, interval = agree / n, wilson_interval(agree, n)
    said = f"top-1 agrees on {agree}/{n} ({value:.3f} [{interval.low:.3f}, {interval.high:.3f}])"
    details: dict[str, Any] = {"top1_agreement": value, "top1_agree": agree}
    if floor is None:
        return Status.PASS, said, details
    if tol.agreement_by_interval:
        status = (
            Status.PASS if interval.low >= floor
            else Status.FAIL if interval.high < floor
            else Status.INCONCLUSIVE
        )  # fmt: skip
        details.update(gate_details(status, size_to_decide_proportion(value, floor), n, floor))
    else:
        status = Status.PASS if value >= floor else Status.FAIL
    words = {Status.PASS: "clears", Status.FAIL: "is below",
             Status.INCONCLUSIVE: "too few inputs to tell whether it clears"}  # fmt: skip
    return status, f"{said}, min {floor:g}: {words[status]}", details


def _metric(cmp: dict[str, Any], labels: np.ndarray, tol: Tolerance) -> tuple[Status, str, dict]:
    """Accuracy of the reference and the target on the same inputs, and the target's drop
    (judged on the measured drop: both run on the very same inputs)."""
    if cmp["top1_ref"] is None:
        return Status.PASS, "", {}
    labels = np.asarray(labels).reshape(-1)
    ref_acc = float((cmp["top1_ref"] == labels).mean())
    out_acc = float((cmp["top1_out"] == labels).mean())
    drop, limit = ref_acc - out_acc, tol.max_metric_drop
    status = Status.FAIL if limit is not None and drop > limit + 1e-12 else Status.PASS
    said = f"accuracy {ref_acc:.3f} -> {out_acc:.3f} (drop {drop:.3f}"
    said += ")" if limit is None else f", max {limit:g})"
    metric = {"name": "accuracy", "reference": ref_acc, "target": out_acc,
              "delta": out_acc - ref_acc}  # fmt: skip
    return status, said, {"metric": metric}


def batch_sweep_result(
    reference: Reference,
    model_path: Path,
    inputs: np.ndarray,
    *,
    batch_sizes: Sequence[int] = (1, 2, 32),
    sample_ids: Sequence[str] | None = None,
    tolerance: Tolerance = FP32,
    batch_size: int = 1,
    extra_shapes: Mapping[str, Sequence[int]] | None = None,
    threads: int | None = None,
) -> CheckResult:
    """``deploy.batch_sweep``: the fp32 ONNX model on CPU at each of ``batch_sizes`` (its
    dynamic batch axis; the last chunk padded by repeating rows) against the reference,
    which runs at ``batch_size``, the export's. An onnxruntime error or a wrong output at
    some size fails and names it, with the likely cause when the graph holds a Reshape with
    a fixed leading dimension. ``extra_shapes`` (``{"seq": [16, 64]}``) also sweeps other
    named dimensions of the input: the inputs are cut, or wrapped around, to each size
    along that axis, and both models run at ``batch_size``."""
    model_path = Path(model_path)
    array = checked_inputs(inputs, model_path)
    sample_ids_for(sample_ids, len(array))  # checks their count
    _, dims, _ = model_input(model_path)
    unknown = [d for d in (extra_shapes or {}) if d not in dims]
    if unknown:
        raise ValueError(f"the model's input has no dimension named {unknown}: it has {dims}")
    if not batch_sizes or min(batch_sizes) < 1:
        raise ValueError(f"batch_sizes must be positive sizes, not {list(batch_sizes)}")
    try:
        sess = session(model_path, ["CPUExecutionProvider"], threads=threads)
    except Exception as exc:
        return CheckResult(
            "deploy.batch_sweep", Status.FAIL, f"onnxruntime cannot load the model: "
            f"{error_text(exc)}", details={"error": error_text(exc)}, n=len(array),
        )  # fmt: skip
    run = runner(sess)
    expected = reference_outputs(reference, array, batch_size)
    rows = [
        sweep_row({"batch_size": b}, run, array, expected, b, tolerance.atol, tolerance.rtol)
        for b in batch_sizes
    ]
    for dim, sizes in (extra_shapes or {}).items():
        axis = dims.index(dim)
        for size in sizes:
            varied = np.take(array, np.arange(size) % array.shape[axis], axis=axis)
            want = reference_outputs(reference, varied, batch_size)
            row = sweep_row(
                {dim: size}, run, varied, want, batch_size, tolerance.atol, tolerance.rtol
            )
            rows.append(row)
    failed = [row for row in rows if not row["ok"]]
    cause = baked_batch(onnx.load(str(model_path)).graph) if failed else None
    if failed:
        first, rest = failed[0], [describe(row) for row in failed[1:]]
        summary = f"the ONNX model fails at {describe(first)}: {first['error']}"
        summary += f"; and at {', '.join(rest)}" if rest else ""
        summary += f" (likely cause: {cause})" if cause else ""
    else:
        worst = max(row["max_abs_diff"] for row in rows)
        sizes = ", ".join(describe(row) for row in rows)
        summary = f"the ONNX model matches the reference at {sizes} (max |diff| {worst:.2g})"
    details = {
        "per_batch": rows, "providers": sess.get_providers(), "tolerance": tolerance.to_dict(),
        "reference_batch_size": batch_size, "failed": [describe(row) for row in failed],
        "likely_cause": cause,
    }  # fmt: skip
    return CheckResult(
        "deploy.batch_sweep", Status.FAIL if failed else Status.PASS, summary,
        value=float(len(failed)), threshold=0.0, n=len(array), details=details,
        evidence=[Evidence("table", rows, len(rows), "each batch size (and shape) swept")],
    )  # fmt: skip

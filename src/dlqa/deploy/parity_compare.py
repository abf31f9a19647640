"""The array plumbing of the parity checks: inputs checked against the model's input, a
model run in fixed-size chunks, and two sets of outputs compared row by row.

Kept apart from :mod:`dlqa.deploy.parity_checks` so that module holds only the verdicts.
A row is one input's output (its class scores); the elementwise bound of a row is relative
to the row's scale, ``atol + rtol * max|reference row|`` (see ``compare``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlqa.core.results import Evidence
from dlqa.deploy.onnx_variants import model_input

Batched = Callable[[np.ndarray], Any]


def run_in_batches(fn: Batched, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    """``fn`` over ``inputs`` in chunks of exactly ``batch_size`` rows (the last one padded
    by repeating its rows, their outputs dropped); a ValueError when a chunk's output does
    not have one row per input. ``fn`` may return a torch tensor."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    outputs = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        k = len(chunk)
        out = fn(chunk[np.arange(batch_size) % k])
        out = out.detach().cpu().numpy() if hasattr(out, "detach") else np.asarray(out)
        if out.ndim == 0 or out.shape[0] != batch_size:
            raise ValueError(f"{batch_size} input(s) gave an output of shape {tuple(out.shape)}")
        outputs.append(out[:k])
    return np.concatenate(outputs)


def reference_outputs(reference: Batched, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    """The eager model's outputs, run at the export's batch size; its failure is the
    caller's (a ValueError that says so), not a target's."""
    try:
        return run_in_batches(reference, inputs, batch_size)
    except Exception as exc:
        raise ValueError(
            f"the reference (eager) model failed at batch size {batch_size}: {exc}; "
            "batch_size must be the export's example batch size"
        ) from exc


def checked_inputs(inputs: Any, model_path: Path) -> np.ndarray:
    """``inputs`` in the dtype of the model's input; a ValueError naming both shapes when
    the rank or a fixed dimension differs (the batch dimension is free)."""
    name, dims, dtype = model_input(model_path)
    array = np.asarray(inputs)
    fixed = [isinstance(d, int) and d > 0 for d in dims]
    if array.ndim != len(dims) or any(
        f and d != s for f, d, s in zip(fixed[1:], dims[1:], array.shape[1:], strict=False)
    ):
        want = ", ".join(str(d) if d else "?" for d in dims)
        raise ValueError(
            f"inputs have shape {tuple(array.shape)}; {Path(model_path).name}'s input "
            f"{name!r} takes ({want})"
        )
    if len(array) == 0:
        raise ValueError("no inputs to compare on")
    return array.astype(dtype, copy=False)


def sample_ids_for(sample_ids: Sequence[str] | None, n: int) -> list[str]:
    """The inputs' ids as strings (their positions when none are given)."""
    if sample_ids is None:
        return [str(i) for i in range(n)]
    if len(sample_ids) != n:
        raise ValueError(f"{len(sample_ids)} sample ids for {n} inputs")
    return [str(s) for s in sample_ids]


def compare(
    reference: np.ndarray, target: np.ndarray, atol: float | None = None, rtol: float = 0.0
) -> dict[str, Any]:
    """Row-by-row figures of ``target`` against ``reference`` (same shape, rows first).

    ``row_abs``: each row's max |diff| (equal infinities count as equal, NaN as inf);
    ``bad_rows``: rows holding inf or NaN where the reference is finite; ``beyond``: rows
    past ``atol + rtol * max|reference row|`` (none when ``atol`` is None);
    ``max_rel_diff``: the largest ``row_abs / max|reference row|`` over the finite rows;
    ``top1_*``: the argmax of (n, classes) outputs, -1 for a bad row (it decides nothing).
    """
    n = len(reference)
    ref, out = reference.reshape(n, -1).astype(np.float64), target.reshape(n, -1)
    diff = np.abs(out - ref)
    diff[(out == ref) | (np.isnan(out) & np.isnan(ref))] = 0.0
    diff[np.isnan(diff)] = np.inf
    non_finite = ~np.isfinite(out) & np.isfinite(ref)
    scale = np.where(np.isfinite(ref), np.abs(ref), 0.0).max(axis=1)
    row_abs = diff.max(axis=1)
    row_rel = row_abs / np.maximum(scale, np.finfo(np.float32).tiny)
    bad_rows = non_finite.any(axis=1)
    beyond = np.zeros(n, bool) if atol is None else row_abs > atol + rtol * scale
    top1_ref = top1_out = None
    if reference.ndim == 2 and reference.shape[1] >= 2:
        top1_ref = reference.argmax(axis=1)
        top1_out = np.where(bad_rows, -1, target.argmax(axis=1))
    finite = ~bad_rows
    return {
        "n": n, "row_abs": row_abs, "beyond": beyond, "bad_rows": bad_rows,
        "max_abs_diff": float(row_abs[finite].max()) if finite.any() else None,
        "max_rel_diff": float(row_rel[finite].max()) if finite.any() else None,
        "inf": int(np.isinf(out[non_finite]).sum()), "nan": int(np.isnan(out[non_finite]).sum()),
        "top1_ref": top1_ref, "top1_out": top1_out,
    }  # fmt: skip


def error_text(exc: BaseException, limit: int = 300) -> str:
    """onnxruntime's message without its boilerplate: the node and what went wrong."""
    text = str(exc).strip()
    match = re.search(r"running (\w+) node\. Name:'([^']*)' Status Message: (.*)", text, re.S)
    if match:
        text = f"{match[1]} node '{match[2]}': {match[3].strip()}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def baked_batch(graph: Any) -> str | None:
    """The likely cause of a batch-size failure: a Reshape whose target shape is a constant
    with a fixed leading dimension (``x.reshape(8, -1)`` in forward, exported at batch 8)."""
    from onnx import numpy_helper

    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    for node in graph.node:
        shape = consts.get(node.input[1]) if node.op_type == "Reshape" else None
        if shape is not None and shape.ndim == 1 and len(shape) and shape[0] > 0:
            return (
                f"Reshape node '{node.name}' has the fixed shape {shape.tolist()}: the export "
                f"baked batch size {int(shape[0])} into the graph"
            )
    return None


def disagreeing_inputs(cmp: dict[str, Any], ids: list[str], limit: int) -> Evidence | None:
    """The inputs whose outputs disagree (inf/NaN, beyond the bound or another top-1): the
    first ``limit`` of them, worst first, and their count."""
    has_top1 = cmp["top1_ref"] is not None
    flagged = cmp["bad_rows"] | cmp["beyond"]
    if has_top1:
        flagged = flagged | (cmp["top1_ref"] != cmp["top1_out"])
    rows = np.flatnonzero(flagged)
    if not len(rows):
        return None
    order = sorted(rows, key=lambda i: (not cmp["bad_rows"][i], -cmp["row_abs"][i]))
    items = [
        {
            "id": ids[i],
            "reference_top1": int(cmp["top1_ref"][i]) if has_top1 else None,
            "target_top1": int(cmp["top1_out"][i]) if has_top1 else None,
            "max_abs_diff": float(cmp["row_abs"][i]) if np.isfinite(cmp["row_abs"][i]) else None,
            "non_finite": bool(cmp["bad_rows"][i]),
        }
        for i in order[:limit]
    ]
    return Evidence(
        "inputs", items, len(rows), "inputs whose target outputs disagree (inf/NaN first, then "
        "the largest difference); target_top1 -1: an output holding inf/NaN",
    )  # fmt: skip


ROW_KEYS = ("ok", "max_abs_diff", "error", "inputs_beyond")


def describe(row: dict[str, Any]) -> str:
    key, size = next((k, v) for k, v in row.items() if k not in ROW_KEYS)
    return f"{key.replace('_', ' ')} {size}"


def sweep_row(
    row: dict[str, Any], run: Batched, array: np.ndarray, expected: np.ndarray, b: int,
    atol: float | None, rtol: float,
) -> dict[str, Any]:  # fmt: skip
    """One swept size (``row`` names it): ``run`` in chunks of ``b`` against ``expected``;
    ok, the max |diff|, and what went wrong."""
    row.update(ok=False, max_abs_diff=None, error=None, inputs_beyond=None)
    try:
        out = run_in_batches(run, array, b)
        if out.shape != expected.shape:
            raise ValueError(f"outputs of shape {out.shape}, the reference's {expected.shape}")
    except Exception as exc:
        row["error"] = error_text(exc)
        return row
    cmp = compare(expected, out, atol, rtol)
    beyond = int((cmp["beyond"] | cmp["bad_rows"]).sum())
    row.update(ok=not beyond, max_abs_diff=cmp["max_abs_diff"], inputs_beyond=beyond)
    if beyond:
        row["error"] = f"{beyond} of {cmp['n']} outputs differ beyond the tolerance"
    return row

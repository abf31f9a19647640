"""The monitor's checks of sampled measurements (dead ReLU units, update-to-weight ratios)
and the AMP GradScaler information; registered with the others by
:mod:`dlqa.train.monitor_checks`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlqa.core.gates import verdict
from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.train.monitor_checks import MonitorRecord, no_steps
from dlqa.train.monitor_rules import (
    DEFAULT_MAX_DEAD_FRACTION,
    DEFAULT_MAX_UPDATE_RATIO,
    DEFAULT_MIN_UPDATE_RATIO,
)


@register_check(
    "monitor.dead_relu",
    title="Dead ReLU units",
    description=(
        "Per ReLU-like activation, the fraction of units (all dimensions but the batch) whose "
        "input is at or below the point where nothing passes (0 for ReLU and ReLU6, -3 for "
        "GELU) for every sample of a sampled training batch, at the last sampled step; flags "
        "activations above `max_dead_fraction`. Seen as modules (nn.ReLU, nn.ReLU6, nn.GELU, "
        "named after the module) and as functions (F.relu, torch.relu, x.relu(), F.relu6, "
        "F.gelu, named `<module>/relu` after the module that called them). Leaky ReLU, ELU "
        "and SiLU are not counted: their units cannot die."
    ),
    defaults={
        "max_dead_fraction": Param(
            DEFAULT_MAX_DEAD_FRACTION,
            doc="largest allowed fraction of dead units in a layer",
            ge=0,
            le=1,
        )
    },
    level="warn",
)
def check_dead_relu(monitor: MonitorRecord, params: dict[str, Any]) -> CheckResult:
    skipped = no_steps("monitor.dead_relu", monitor)
    if skipped:
        return skipped
    if not monitor.dead_relu_fractions:
        reason = (
            "no ReLU-like activation (module or function) ran in a sampled training forward "
            f"pass ({monitor.activation_scans} sampled)"
        )
        return CheckResult("monitor.dead_relu", Status.SKIP, reason)
    rows = [
        {
            "module": module,
            "dead_fraction": round(history[-1][1], 6),
            "step": history[-1][0],
            "max_dead_fraction_seen": round(max(f for _, f in history), 6),
        }
        for module, history in monitor.dead_relu_fractions.items()
    ]
    rows.sort(key=lambda r: -r["dead_fraction"])
    limit = params["max_dead_fraction"]
    flagged = [r for r in rows if r["dead_fraction"] > limit]
    worst = rows[0]
    if flagged:
        summary = (
            f"{len(flagged)} of {len(rows)} ReLU activations have more than {limit:.0%} dead units "
            f"(worst `{worst['module']}`: {worst['dead_fraction']:.1%} at step {worst['step']})"
        )
    else:
        summary = (
            f"{len(rows)} ReLU activations, at most {worst['dead_fraction']:.1%} dead units "
            f"(`{worst['module']}`)"
        )
    return CheckResult(
        "monitor.dead_relu",
        verdict(bool(flagged), params),
        summary,
        value=float(worst["dead_fraction"]),
        threshold=float(limit),
        evidence=[Evidence("table", rows, len(rows), "dead-unit fraction per ReLU activation")],
        details={"flagged_modules": [r["module"] for r in flagged]},
    )


@register_check(
    "monitor.update_ratio",
    title="Update-to-weight ratios",
    description=(
        "Per weight tensor (parameters with two or more dimensions: ratios of biases near zero "
        "mean nothing), the norm of one optimizer update over the norm of the weights, measured "
        "on sampled steps; flags a median ratio outside [`min_ratio`, `max_ratio`] (healthy "
        "training is usually near 1e-3)."
    ),
    defaults={
        "min_ratio": Param(
            DEFAULT_MIN_UPDATE_RATIO,
            doc="smallest healthy median ratio (below: the weights barely move)",
            ge=0,
        ),
        "max_ratio": Param(
            DEFAULT_MAX_UPDATE_RATIO,
            doc="largest healthy median ratio (above: the step is too large)",
            gt=0,
        ),
    },
    level="warn",
)
def check_update_ratio(monitor: MonitorRecord, params: dict[str, Any]) -> CheckResult:
    skipped = no_steps("monitor.update_ratio", monitor)
    if skipped:
        return skipped
    if not monitor.update_ratios:
        return CheckResult(
            "monitor.update_ratio",
            Status.SKIP,
            "no update was measured (no sampled step was followed by an optimizer step)",
        )
    low, high = params["min_ratio"], params["max_ratio"]
    rows = []
    for name, history in monitor.update_ratios.items():
        median = float(np.median([ratio for _, ratio in history]))
        rows.append({"parameter": name, "median_ratio": median, "samples": len(history)})
    flagged = [r for r in rows if not low <= r["median_ratio"] <= high]
    # Rank by distance from the healthy band on a log scale: the most suspicious first.
    rows.sort(key=lambda r: -abs(math.log10(max(r["median_ratio"], 1e-30)) + 3))
    overall = float(np.median([r["median_ratio"] for r in rows]))
    if flagged:
        names = ", ".join(f"`{r['parameter']}` ({r['median_ratio']:.1e})" for r in flagged[:3])
        summary = f"{len(flagged)} of {len(rows)} weights update outside [{low:g}, {high:g}]: "
        summary += names + (" ..." if len(flagged) > 3 else "")
    else:
        summary = f"{len(rows)} weights, median update-to-weight ratio {overall:.1e}"
    return CheckResult(
        "monitor.update_ratio",
        verdict(bool(flagged), params),
        summary,
        value=overall,
        threshold=high,
        evidence=[Evidence("parameters", rows, len(rows), "median update/weight ratio")],
        details={"flagged_parameters": [r["parameter"] for r in flagged]},
    )


@register_check(
    "monitor.amp_scaler",
    title="AMP GradScaler: skipped steps and scale",
    description=(
        "Information, never a failure: how many steps an AMP GradScaler passed to "
        "`step(scaler=)` skipped because a gradient overflowed, and how its scale changed. "
        "Such steps are neither non-finite gradient findings nor explosions; only "
        "`max_consecutive_skips` skips in a row are (in `monitor.nonfinite`)."
    ),
)
def check_amp_scaler(monitor: MonitorRecord, params: dict[str, Any]) -> CheckResult:
    amp = monitor.amp
    if amp.steps == 0:
        return CheckResult(
            "monitor.amp_scaler", Status.SKIP, "no AMP GradScaler was passed to step(scaler=)"
        )
    skipped = len(amp.skipped_steps)
    history = [{"step": step, "scale": scale} for step, scale in amp.scale_history]
    scales = [row["scale"] for row in history]
    summary = (
        f"the GradScaler skipped {skipped} of {amp.steps} steps (gradient overflow; not counted "
        f"as non-finite gradients or explosions); scale {scales[0]:g} at the start, "
        f"{scales[-1]:g} at the end, {len(scales) - 1} changes"
    )
    return CheckResult(
        "monitor.amp_scaler",
        Status.PASS,
        summary,
        value=float(skipped),
        n=amp.steps,
        evidence=[Evidence("table", history, len(history), "the scale at each change")],
        details={"skipped_steps": amp.skipped_steps[:1000], "skipped": skipped},
    )

"""The training monitor's checks (ids ``monitor.*``), registered without importing torch.

Each check reads what a :class:`dlqa.train.monitor.TrainingMonitor` recorded (its raw
``findings``, the per-step loss and gradient-norm series, the sampled dead-ReLU fractions and
update-to-weight ratios) and returns one ``CheckResult``. Loss spikes and gradient explosions
are derived again from the recorded series with the check's parameters, so a gate in
``dlqa.toml`` can tighten them after the run; ``TrainingMonitor.results()`` passes the
monitor's own settings as the parameters, so by default the results agree with ``findings``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from dlqa.core.gates import verdict
from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status

DEFAULT_GRAD_NORM_FACTOR = 10.0
DEFAULT_SPIKE_FACTOR = 3.0
DEFAULT_WINDOW = 50
DEFAULT_MAX_DEAD_FRACTION = 0.5
DEFAULT_MIN_UPDATE_RATIO = 1e-6
DEFAULT_MAX_UPDATE_RATIO = 1e-1
# A running median of fewer values is too noisy to call anything a spike.
MIN_HISTORY = 5
NONFINITE_KINDS = ("nonfinite_loss", "nonfinite_gradient", "nonfinite_activation")
CHECK_IDS = (
    "monitor.nonfinite",
    "monitor.grad_explosion",
    "monitor.loss_spikes",
    "monitor.dead_relu",
    "monitor.update_ratio",
)
_MEDIAN_CHUNK = 65_536  # rows of the sliding window computed at once (bounded memory)


class MonitorRecord(Protocol):
    """What the checks read from a monitor (``TrainingMonitor`` provides all of it)."""

    steps: int
    findings: list[dict[str, Any]]
    losses: Sequence[float]
    grad_norms: Sequence[float]
    activation_scans: int
    relu_modules: list[str]
    dead_relu_fractions: dict[str, list[tuple[int, float]]]
    update_ratios: dict[str, list[tuple[int, float]]]


def exceeds_running_median(
    recent: Sequence[float], value: float, factor: float
) -> tuple[bool, float]:
    """Whether ``value`` is above ``factor`` times the median of ``recent`` (finite values only).

    The online test of the monitor; :func:`running_median_exceedances` is the same test over a
    whole series. A median that is not positive (a loss that can be negative) never flags.
    """
    if len(recent) < MIN_HISTORY:
        return False, math.nan
    median = statistics.median(recent)
    return bool(median > 0 and value > factor * median), float(median)


def running_median_exceedances(
    series: Sequence[float], window: int, factor: float
) -> list[dict[str, float]]:
    """Steps whose value exceeds ``factor`` x the median of the previous ``window`` finite values.

    Non-finite values are skipped (they are the nonfinite check's business) and do not enter
    the median, exactly as in the online test.
    """
    values = np.asarray(series, dtype=np.float64)
    steps = np.flatnonzero(np.isfinite(values))
    finite = values[steps]
    medians = np.full(len(finite), np.nan)
    for index in range(MIN_HISTORY, min(window, len(finite))):
        medians[index] = np.median(finite[:index])
    if len(finite) > window:
        windows = np.lib.stride_tricks.sliding_window_view(finite[:-1], window)
        for start in range(0, len(windows), _MEDIAN_CHUNK):
            chunk = windows[start : start + _MEDIAN_CHUNK]
            medians[window + start : window + start + len(chunk)] = np.median(chunk, axis=1)
    flagged = np.flatnonzero((medians > 0) & (finite > factor * medians))
    return [
        {
            "step": int(steps[i]),
            "value": float(finite[i]),
            "running_median": float(medians[i]),
            "ratio": float(finite[i] / medians[i]),
        }
        for i in flagged
    ]


def json_safe(record: dict[str, Any]) -> dict[str, Any]:
    """A finding with NaN / inf written as "nan" / "inf" / "-inf": results must be valid JSON."""
    return {
        key: str(value) if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in record.items()
    }


def _no_steps(check_id: str, monitor: MonitorRecord) -> CheckResult | None:
    if monitor.steps == 0:
        return CheckResult(check_id, Status.SKIP, "the monitor saw no training steps")
    return None


def _where(finding: dict[str, Any]) -> str:
    if "parameter" in finding:
        return f"parameter `{finding['parameter']}`"
    module = finding.get("module")
    if module is None:
        return "an unknown place"
    kind = finding.get("module_type")
    return f"module `{module}` ({kind})" if kind else f"`{module}`"


@register_check(
    "monitor.nonfinite",
    title="Non-finite values during training",
    description=(
        "NaN or inf in the loss (checked every step), in gradients (the total gradient norm every "
        "step, then each parameter when it is not finite) or in activations (sampled steps, and a "
        "replay of the failing step's forward pass). Names the first module whose output became "
        "non-finite while its inputs were finite."
    ),
)
def check_nonfinite(monitor: MonitorRecord, params: dict[str, Any]) -> CheckResult:
    skipped = _no_steps("monitor.nonfinite", monitor)
    if skipped:
        return skipped
    events = [f for f in monitor.findings if f["kind"] in NONFINITE_KINDS]
    if not events:
        return CheckResult(
            "monitor.nonfinite",
            Status.PASS,
            f"loss and gradients finite in all {monitor.steps} steps, activations finite in "
            f"{monitor.activation_scans} sampled forward passes",
            value=0.0,
            threshold=0.0,
        )
    first = events[0]
    parts = [f"first non-finite value at step {first['step']}: {first['kind']}"]
    activations = [e for e in events if e["kind"] == "nonfinite_activation"]
    if activations:
        parts.append(f"first produced by {_where(activations[0])}")
    gradients = {e["parameter"] for e in events if e["kind"] == "nonfinite_gradient"}
    if gradients:
        parts.append(f"{len(gradients)} parameters got non-finite gradients")
    steps = sorted({e["step"] for e in events})
    rows = [json_safe(e) for e in events]
    return CheckResult(
        "monitor.nonfinite",
        verdict(True, params),
        "; ".join(parts),
        value=float(len(steps)),
        threshold=0.0,
        evidence=[Evidence("table", rows, len(rows), "non-finite events, in order")],
        details={"first_step": first["step"], "steps_with_events": steps[:1000]},
    )


def _exceedance_result(
    check_id: str, what: str, series: Sequence[float], params: dict[str, Any], steps: int
) -> CheckResult:
    events = running_median_exceedances(series, params["window"], params["factor"])
    violated = len(events) > params["max_events"]
    rule = f"{params['factor']:g}x the running median of the last {params['window']} steps"
    if events:
        worst = max(events, key=lambda e: e["ratio"])
        summary = (
            f"{len(events)} steps with {what} above {rule} (first at step {events[0]['step']}, "
            f"worst {worst['ratio']:.1f}x at step {worst['step']})"
        )
    else:
        summary = f"no {what} above {rule} in {steps} steps"
    return CheckResult(
        check_id,
        verdict(violated, params),
        summary,
        value=float(len(events)),
        threshold=float(params["max_events"]),
        evidence=[Evidence("table", events, len(events), f"steps with {what} above {rule}")]
        if events
        else [],
        details={"factor": params["factor"], "window": params["window"]},
    )


def _exceedance_params(factor: float, value: str, events: str) -> dict[str, Param]:
    """The parameters of a running-median check; the monitor's options obey the same ranges."""
    return {
        "factor": Param(factor, doc=f"how many times the running median {value} may reach", gt=1),
        "window": Param(
            DEFAULT_WINDOW,
            doc="how many previous steps the running median covers",
            ge=MIN_HISTORY,
        ),
        "max_events": Param(0, doc=f"how many {events} are tolerated", ge=0),
    }


@register_check(
    "monitor.grad_explosion",
    title="Gradient-norm explosion",
    description=(
        "The total gradient norm of a step above `factor` times the median of the previous "
        "`window` steps (the monitor's `grad_norm_factor` and `window`)."
    ),
    defaults=_exceedance_params(DEFAULT_GRAD_NORM_FACTOR, "a gradient norm", "exploding steps"),
    level="warn",
)
def check_grad_explosion(monitor: MonitorRecord, params: dict[str, Any]) -> CheckResult:
    skipped = _no_steps("monitor.grad_explosion", monitor)
    if skipped:
        return skipped
    return _exceedance_result(
        "monitor.grad_explosion", "gradient norm", monitor.grad_norms, params, monitor.steps
    )


@register_check(
    "monitor.loss_spikes",
    title="Loss spikes",
    description=(
        "The loss of a step above `factor` times the median of the previous `window` losses "
        "(the monitor's `spike_factor` and `window`)."
    ),
    defaults=_exceedance_params(DEFAULT_SPIKE_FACTOR, "a loss", "spikes"),
    level="warn",
)
def check_loss_spikes(monitor: MonitorRecord, params: dict[str, Any]) -> CheckResult:
    skipped = _no_steps("monitor.loss_spikes", monitor)
    if skipped:
        return skipped
    return _exceedance_result("monitor.loss_spikes", "loss", monitor.losses, params, monitor.steps)


@register_check(
    "monitor.dead_relu",
    title="Dead ReLU units",
    description=(
        "Per ReLU layer (nn.ReLU / nn.ReLU6 modules), the fraction of units that are zero for "
        "every sample of a sampled batch, at the last sampled step; flags layers above "
        "`max_dead_fraction`. ReLUs called as functions (F.relu) are not visible."
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
    skipped = _no_steps("monitor.dead_relu", monitor)
    if skipped:
        return skipped
    if not monitor.dead_relu_fractions:
        reason = (
            "the model has no nn.ReLU modules (functional relu calls are not visible)"
            if not monitor.relu_modules
            else "no sampled forward pass reached a ReLU module"
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
            f"{len(flagged)} of {len(rows)} ReLU layers have more than {limit:.0%} dead units "
            f"(worst `{worst['module']}`: {worst['dead_fraction']:.1%} at step {worst['step']})"
        )
    else:
        summary = (
            f"{len(rows)} ReLU layers, at most {worst['dead_fraction']:.1%} dead units "
            f"(`{worst['module']}`)"
        )
    return CheckResult(
        "monitor.dead_relu",
        verdict(bool(flagged), params),
        summary,
        value=float(worst["dead_fraction"]),
        threshold=float(limit),
        evidence=[Evidence("table", rows, len(rows), "dead-unit fraction per ReLU layer")],
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
    skipped = _no_steps("monitor.update_ratio", monitor)
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

"""The training monitor's checks (ids ``monitor.*``), registered without importing torch.

Each check reads what a :class:`dlqa.train.monitor.TrainingMonitor` recorded (its raw
``findings``, the per-step loss and gradient-norm series, the sampled dead-ReLU fractions and
update-to-weight ratios) and returns one ``CheckResult``. Loss spikes and gradient explosions
are derived again from the recorded series with the check's parameters, so a gate in
``dlqa.toml`` can tighten them after the run; ``TrainingMonitor.results()`` passes the
monitor's own settings as the parameters, so by default the results agree with ``findings``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from dlqa.core.gates import verdict
from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.train.monitor_rules import (
    DEFAULT_GRAD_NORM_FACTOR,
    DEFAULT_SPIKE_FACTOR,
    DEFAULT_SPIKE_MIN_JUMP,
    DEFAULT_SPIKE_NOISE_FACTOR,
    DEFAULT_WINDOW,
    MIN_HISTORY,
    json_safe,
    loss_spikes,
    running_median_exceedances,
)

NONFINITE_KINDS = ("nonfinite_loss", "nonfinite_gradient", "nonfinite_activation")
CHECK_IDS = (
    "monitor.nonfinite",
    "monitor.grad_explosion",
    "monitor.loss_spikes",
    "monitor.dead_relu",
    "monitor.update_ratio",
    "monitor.amp_scaler",
)


class ScalerRecord(Protocol):
    """What ``monitor.amp_scaler`` reads (``dlqa.train.monitor_grads.ScalerWatch``)."""

    steps: int
    skipped_steps: list[int]
    scale_history: list[tuple[int, float]]


class MonitorRecord(Protocol):
    """What the checks read from a monitor (``TrainingMonitor`` provides all of it)."""

    steps: int
    findings: list[dict[str, Any]]
    losses: Sequence[float]
    grad_norms: Sequence[float]
    activation_scans: int
    dead_relu_fractions: dict[str, list[tuple[int, float]]]
    update_ratios: dict[str, list[tuple[int, float]]]
    amp: ScalerRecord


def no_steps(check_id: str, monitor: MonitorRecord) -> CheckResult | None:
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
    skipped = no_steps("monitor.nonfinite", monitor)
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
    check_id: str,
    what: str,
    events: list[dict[str, float]],
    rule: str,
    params: dict[str, Any],
    steps: int,
) -> CheckResult:
    violated = len(events) > params["max_events"]
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
        details={
            k: params[k] for k in ("factor", "window", "noise_factor", "min_jump") if k in params
        },
    )


def _median_rule(params: dict[str, Any]) -> str:
    return f"{params['factor']:g}x the running median of the last {params['window']} steps"


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
    skipped = no_steps("monitor.grad_explosion", monitor)
    if skipped:
        return skipped
    events = running_median_exceedances(monitor.grad_norms, params["window"], params["factor"])
    return _exceedance_result(
        "monitor.grad_explosion",
        "gradient norm",
        events,
        _median_rule(params),
        params,
        monitor.steps,
    )


@register_check(
    "monitor.loss_spikes",
    title="Loss spikes",
    description=(
        "The loss of a step above `factor` times the median of the previous `window` losses, "
        "with a jump above that median larger than `noise_factor` robust standard deviations "
        "of the loss's step-to-step noise in those steps (on a log scale: 1.4826 x the median "
        "absolute change of log loss, over sqrt 2) and larger than `min_jump` times the "
        "loss's level at the start (the median of its first `window` values): a noisy batch "
        "and a small loss that triples by a tiny amount are not spikes (the monitor's "
        "`spike_factor`, `spike_noise_factor`, `spike_min_jump` and `window`)."
    ),
    defaults={
        **_exceedance_params(DEFAULT_SPIKE_FACTOR, "a loss", "spikes"),
        "noise_factor": Param(
            DEFAULT_SPIKE_NOISE_FACTOR,
            doc="how many robust standard deviations of the loss's step-to-step noise (log "
            "scale) the jump must exceed",
            ge=0,
        ),
        "min_jump": Param(
            DEFAULT_SPIKE_MIN_JUMP,
            doc="smallest jump, as a fraction of the loss's level at the start of training",
            ge=0,
        ),
    },
    level="warn",
)
def check_loss_spikes(monitor: MonitorRecord, params: dict[str, Any]) -> CheckResult:
    skipped = no_steps("monitor.loss_spikes", monitor)
    if skipped:
        return skipped
    events = loss_spikes(
        monitor.losses,
        params["window"],
        params["factor"],
        params["noise_factor"],
        params["min_jump"],
    )
    rule = (
        f"{_median_rule(params)} (and a jump above {params['noise_factor']:g}x its noise "
        f"and {params['min_jump']:g}x its starting level)"
    )
    return _exceedance_result("monitor.loss_spikes", "loss", events, rule, params, monitor.steps)


# The checks of sampled measurements and the AMP information live beside these; importing
# them here registers them with the rest when the "monitor" entry point loads this module.
from dlqa.train import monitor_checks_sampled  # noqa: E402, F401

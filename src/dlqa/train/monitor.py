"""The training monitor: cheap enough to leave on in a plain PyTorch loop.

```python
with dlqa.monitor(model, optimizer) as m:
    for epoch in range(epochs):
        for inputs, targets in loader:
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
            loss.backward()
            m.step(loss, outputs=outputs, targets=targets)  # after backward, before step
            optimizer.step()
        m.end_epoch()
results = m.results()
```

Every step costs a few scalar reads: the loss (is it finite? a spike?) and the total gradient
norm (finite? an explosion?). The expensive parts are sampled: every ``activation_every``
steps, forward hooks on every module look for non-finite activations and measure dead ReLU
units, and the weights are snapshotted to measure one optimizer update. When the loss turns
non-finite on an unsampled step, the step's forward pass is replayed with the hooks to name the
module that produced the first non-finite value.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult
from dlqa.train import monitor_checks as checks
from dlqa.train import require_torch
from dlqa.train.monitor_hooks import (
    LOSS_FUNCTION,
    RELU_TYPES,
    ActivationScan,
    ConfusionCounter,
    all_finite,
    loss_value,
    module_label,
    replay_forward,
    total_norm,
    validate_options,
)

torch = require_torch()


class TrainingMonitor:
    """Watches a training loop; see the module docstring for the calling pattern.

    ``step()`` must come after ``loss.backward()`` (it reads the gradients) and before
    ``optimizer.step()`` (the weights must still be the ones that produced the loss, so that a
    failing forward pass can be replayed, and a pre-step snapshot of the weights on sampled
    steps measures exactly one update; with the optimizer given, the update is read right after
    ``optimizer.step()`` through its step hook, which also works with gradient accumulation).

    Options: ``activation_every`` sampled steps (0 turns activation scans and update ratios
    off); ``grad_norm_factor`` / ``spike_factor`` times the running median of the last
    ``window`` steps is an explosion / a spike; ``num_classes`` fixes the confusion matrix's
    size (inferred otherwise); ``max_dead_fraction`` of dead units flags a ReLU layer;
    ``update_ratio_range`` is the healthy band of update-to-weight ratios. Step numbers in
    ``findings`` count ``step()`` calls from 0.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        *,
        activation_every: int = 50,
        grad_norm_factor: float = checks.DEFAULT_GRAD_NORM_FACTOR,
        spike_factor: float = checks.DEFAULT_SPIKE_FACTOR,
        window: int = checks.DEFAULT_WINDOW,
        num_classes: int | None = None,
        max_dead_fraction: float = checks.DEFAULT_MAX_DEAD_FRACTION,
        update_ratio_range: tuple[float, float] = (
            checks.DEFAULT_MIN_UPDATE_RATIO,
            checks.DEFAULT_MAX_UPDATE_RATIO,
        ),
    ) -> None:
        validate_options(
            model,
            optimizer,
            activation_every,
            grad_norm_factor,
            spike_factor,
            window,
            num_classes,
            max_dead_fraction,
            update_ratio_range,
        )
        self.model = model
        self.optimizer = optimizer
        self.activation_every = activation_every
        self.grad_norm_factor = float(grad_norm_factor)
        self.spike_factor = float(spike_factor)
        self.window = window
        self.num_classes = num_classes
        self.max_dead_fraction = float(max_dead_fraction)
        self.update_ratio_range = (float(update_ratio_range[0]), float(update_ratio_range[1]))

        self.findings: list[dict[str, Any]] = []
        self.confusion: list[np.ndarray] = []
        self.losses = array("d")  # one per step; NaN/inf kept as they came
        self.grad_norms = array("d")
        self.dead_relu_fractions: dict[str, list[tuple[int, float]]] = {}
        self.update_ratios: dict[str, list[tuple[int, float]]] = {}
        self.relu_modules = [
            module_label(n) for n, m in model.named_modules() if isinstance(m, RELU_TYPES)
        ]
        self.steps = 0
        self.epochs = 0
        self.activation_scans = 0

        self._attached = False
        self._handles: list[Any] = []
        self._scan: ActivationScan | None = None
        self._captured_inputs: tuple[tuple, dict] | None = None
        self._snapshot: tuple[int, dict[str, torch.Tensor]] | None = None
        self._loss_watch = _SeriesWatch(window, self.spike_factor)
        self._grad_norm_watch = _SeriesWatch(window, self.grad_norm_factor)
        self._flagged_dead: set[str] = set()
        self._flagged_ratio: set[str] = set()
        self._confusion = ConfusionCounter(num_classes)
        self._parameters: dict[str, torch.nn.Parameter] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def attach(self) -> TrainingMonitor:
        """Install the hooks (``with`` does this); a second call does nothing."""
        if self._attached:
            return self
        self._parameters = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        self._handles.append(
            self.model.register_forward_pre_hook(self._capture_inputs, with_kwargs=True)
        )
        if self.optimizer is not None:
            self._handles.append(self.optimizer.register_step_post_hook(self._after_update))
        self._attached = True
        self._arm_scan_if_sampled(self.steps)
        return self

    def detach(self) -> None:
        """Remove every hook; an epoch left open gets its confusion matrix now."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self._scan is not None:
            self._scan.remove()
            self._scan = None
        self._captured_inputs = None
        self._snapshot = None
        self._attached = False
        self._close_confusion()

    def __enter__(self) -> TrainingMonitor:
        return self.attach()

    def __exit__(self, *exc_info: object) -> None:
        self.detach()

    # -- per step --------------------------------------------------------------------------

    def step(self, loss: Any, *, outputs: Any = None, targets: Any = None) -> None:
        """Record one training step: after ``loss.backward()``, before ``optimizer.step()``."""
        if not self._attached:
            raise UsageError(
                "TrainingMonitor.step() called outside the monitor",
                hint="use `with dlqa.monitor(model, optimizer) as m:` (or call m.attach() first)",
            )
        if (outputs is None) != (targets is None):
            raise UsageError(
                "step() needs both outputs= and targets= for the confusion matrix, or neither"
            )
        step = self.steps
        if self.optimizer is None:
            self._measure_update()  # the previous sampled step's update, read from the weights
        scan, self._scan = self._scan, None
        if scan is not None:
            scan.remove()
            self._record_scan(step, scan)
        self._observe_loss(step, loss_value(loss), scan, outputs)
        self._observe_gradients(step)
        if self.activation_every and step % self.activation_every == 0:
            self._snapshot_weights(step)
        if outputs is not None:
            self._confusion.add(outputs, targets)
        self.steps += 1
        self._captured_inputs = None  # do not keep the batch alive longer than the loop does
        self._arm_scan_if_sampled(self.steps)

    def record_predictions(self, outputs: Any, targets: Any) -> None:
        """Add a batch to this epoch's confusion matrix (``step(outputs=, targets=)`` does it)."""
        self._confusion.add(outputs, targets)

    def end_epoch(self) -> None:
        """Close this epoch's confusion matrix (appended to ``confusion``)."""
        self._close_confusion()
        self.epochs += 1

    # -- results ---------------------------------------------------------------------------

    def check_parameters(self) -> dict[str, dict[str, Any]]:
        """The monitor's own settings as parameters of its checks (gates may override them)."""
        return {
            "monitor.grad_explosion": {"factor": self.grad_norm_factor, "window": self.window},
            "monitor.loss_spikes": {"factor": self.spike_factor, "window": self.window},
            "monitor.dead_relu": {"max_dead_fraction": self.max_dead_fraction},
            "monitor.update_ratio": {
                "min_ratio": self.update_ratio_range[0],
                "max_ratio": self.update_ratio_range[1],
            },
        }

    def results(self, gates: dict[str, dict[str, Any]] | None = None) -> list[CheckResult]:
        """One CheckResult per monitor check id (a pass where nothing was found)."""
        from dlqa.core.registry import get_spec
        from dlqa.core.suite import Suite

        overrides = self.check_parameters()
        for check_id, values in (gates or {}).items():
            if check_id in checks.CHECK_IDS:
                overrides[check_id] = {**overrides.get(check_id, {}), **values}
        specs = [get_spec(check_id) for check_id in checks.CHECK_IDS]
        return Suite(specs, overrides, order=checks.CHECK_IDS).run(self).results

    def to_dict(self) -> dict[str, Any]:
        """What to store with the run: settings, findings, confusion matrices and series."""
        return {
            "steps": self.steps,
            "epochs": self.epochs,
            "settings": self.check_parameters() | {"activation_every": self.activation_every},
            "findings": [checks.json_safe(finding) for finding in self.findings],
            "confusion": [matrix.tolist() for matrix in self.confusion],
            "losses": [v if math.isfinite(v) else None for v in self.losses],
            "grad_norms": [v if math.isfinite(v) else None for v in self.grad_norms],
            "dead_relu_fractions": {k: list(v) for k, v in self.dead_relu_fractions.items()},
            "update_ratios": {k: list(v) for k, v in self.update_ratios.items()},
        }

    # -- internals -------------------------------------------------------------------------

    def _capture_inputs(self, module: Any, args: tuple, kwargs: dict) -> None:
        # A reference only (no copy): the batch is alive during the step anyway.
        if torch.is_grad_enabled():
            self._captured_inputs = (args, kwargs)

    def _arm_scan_if_sampled(self, step: int) -> None:
        if self.activation_every and step % self.activation_every == 0 and self._scan is None:
            self._scan = ActivationScan(self.model)

    def _add(self, step: int, kind: str, value: float | None, **where: Any) -> None:
        self.findings.append({"step": step, "kind": kind, **where, "value": value})

    def _record_scan(self, step: int, scan: ActivationScan) -> None:
        if not scan.saw_forward:
            return
        self.activation_scans += 1
        culprit = scan.nonfinite_culprit()
        # Once the loss is non-finite the weights usually are too: no new finding every scan.
        if culprit is not None and self._loss_watch.was_finite:
            self._add(step, "nonfinite_activation", None, **culprit, source="sampled scan")
        for module, fraction in scan.dead_fractions.items():
            self.dead_relu_fractions.setdefault(module, []).append((step, fraction))
            dead = fraction > self.max_dead_fraction
            if dead and module not in self._flagged_dead:
                self._add(step, "dead_relu", fraction, module=module)
            (self._flagged_dead.add if dead else self._flagged_dead.discard)(module)

    def _observe_loss(
        self, step: int, value: float, scan: ActivationScan | None, outputs: Any
    ) -> None:
        self.losses.append(value)
        median, turned_nonfinite = self._loss_watch.observe(value)
        if median is not None:
            self._add(step, "loss_spike", value, running_median=median)
        if not turned_nonfinite:
            return
        self._add(step, "nonfinite_loss", value)
        if scan is not None and scan.saw_forward:
            # This step was sampled: the scan has named the module, unless all were finite.
            if scan.nonfinite_culprit() is None:
                self._blame_loss_function(step, "sampled scan", "every activation was finite")
            return
        if outputs is not None and all_finite(outputs):
            self._blame_loss_function(step, "outputs", "the model's outputs were finite")
            return
        culprit, replayed = replay_forward(self.model, self._captured_inputs)
        if culprit is None:
            culprit = {
                "module": LOSS_FUNCTION if replayed else None,
                "module_type": None,
                "note": "the replayed forward pass was finite: the loss function (or randomness "
                "the replay did not reproduce) produced the value"
                if replayed
                else "the forward pass could not be replayed",
            }
        self._add(step, "nonfinite_activation", None, **culprit, source="replay")

    def _blame_loss_function(self, step: int, source: str, note: str) -> None:
        self._add(
            step, "nonfinite_activation", None, module=LOSS_FUNCTION, source=source, note=note
        )

    def _observe_gradients(self, step: int) -> None:
        grads = [p.grad for p in self._parameters.values() if p.grad is not None]
        norm = total_norm(grads)
        self.grad_norms.append(norm)
        median, turned_nonfinite = self._grad_norm_watch.observe(norm)
        if median is not None:
            self._add(step, "grad_explosion", norm, running_median=median)
        if not turned_nonfinite:
            return
        bad = [
            name
            for name, p in self._parameters.items()
            if p.grad is not None and not bool(torch.isfinite(p.grad).all())
        ]
        for name in bad:
            module = module_label(name.rpartition(".")[0])
            self._add(step, "nonfinite_gradient", None, parameter=name, module=module)
        if not bad:  # every gradient finite, but their squares overflowed the norm
            self._add(step, "grad_explosion", norm, running_median=None, note="norm overflowed")

    def _snapshot_weights(self, step: int) -> None:
        # Weights only (ndim >= 2) that got a gradient: frozen and unused parameters never move.
        with torch.no_grad():
            weights = {
                name: p.detach().clone()
                for name, p in self._parameters.items()
                if p.dim() >= 2 and p.grad is not None
            }
        self._snapshot = (step, weights) if weights else None

    def _after_update(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._measure_update()

    def _measure_update(self) -> None:
        if self._snapshot is None:
            return
        step, before = self._snapshot
        self._snapshot = None
        low, high = self.update_ratio_range
        with torch.no_grad():
            for name, old in before.items():
                weight_norm = float(torch.linalg.vector_norm(old))
                if weight_norm == 0.0 or not math.isfinite(weight_norm):
                    continue
                change = float(torch.linalg.vector_norm(self._parameters[name] - old))
                ratio = change / weight_norm
                if not math.isfinite(ratio):
                    continue  # non-finite weights are the nonfinite check's finding
                self.update_ratios.setdefault(name, []).append((step, ratio))
                outside = not low <= ratio <= high
                if outside and name not in self._flagged_ratio:
                    self._add(step, "update_ratio", ratio, parameter=name)
                (self._flagged_ratio.add if outside else self._flagged_ratio.discard)(name)

    def _close_confusion(self) -> None:
        matrix = self._confusion.close()
        if matrix is not None:
            self.confusion.append(matrix)


class _SeriesWatch:
    """The online test of one per-step series (the loss, the total gradient norm)."""

    def __init__(self, window: int, factor: float) -> None:
        self.recent: deque[float] = deque(maxlen=window)  # the last finite values
        self.factor = factor
        self.was_finite = True

    def observe(self, value: float) -> tuple[float | None, bool]:
        """``(running median, turned non-finite)``: the median when ``value`` exceeds
        ``factor`` times it (else None), and whether ``value`` starts a run of non-finite
        values (one finding per run, not one per step)."""
        if math.isfinite(value):
            exceeds, median = checks.exceeds_running_median(self.recent, value, self.factor)
            self.recent.append(value)
            self.was_finite = True
            return (median if exceeds else None), False
        turned = self.was_finite
        self.was_finite = False
        return None, turned


def monitor(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None, **options: Any
) -> TrainingMonitor:
    """A :class:`TrainingMonitor`, for ``with dlqa.monitor(model, optimizer) as m:``."""
    return TrainingMonitor(model, optimizer, **options)

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

Every step reads the loss (is it finite? then name the culprit now, while the weights that
produced it are still there) and computes the gradient norms (one fused call), which are read
32 steps at a time (a non-finite one still names its step and parameters; spikes and
explosions are tested over those batches); the confusion matrix keeps references to the
outputs and counts them in bulk. The expensive parts are sampled: every ``activation_every``
steps, hooks on every module look for non-finite activations and measure dead units of
ReLU-like activations (modules and functions), and the weights are snapshotted to measure one
optimizer update. When the loss turns non-finite on an unsampled step, the step's forward
pass is replayed with the hooks to name the module that produced the first non-finite value.

This class stores nothing; ``dlqa.monitor()`` (the runner's) gives it a ``recorder`` that
records the monitoring as a run in dlqa's store.
"""

from __future__ import annotations

import math
from array import array
from typing import Any, Protocol

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult
from dlqa.train import monitor_rules as rules
from dlqa.train import require_torch
from dlqa.train.monitor_confusion import ConfusionCounter
from dlqa.train.monitor_grads import ScalerWatch
from dlqa.train.monitor_hooks import ActivationScan
from dlqa.train.monitor_options import validate_options
from dlqa.train.monitor_series import SeriesWatch, SpikeWatch
from dlqa.train.monitor_step import StepObserver

torch = require_torch()


class MonitorRecorder(Protocol):
    """Records a monitor's run somewhere (``dlqa.runner.monitor_run`` stores it)."""

    def open(self, monitor: TrainingMonitor) -> int | None:
        """Start a run when monitoring starts; its id, if it has one."""

    def close(self, monitor: TrainingMonitor, exc: BaseException | None) -> None:
        """Store the results and finish the run: ``exc`` is what stopped training, if any."""


class TrainingMonitor(StepObserver):
    """Watches a training loop; see the module docstring for the calling pattern.

    ``step()`` must come after ``loss.backward()`` (it reads the gradients) and before
    ``optimizer.step()`` (the weights must still be the ones that produced the loss, so that a
    failing forward pass can be replayed, and a pre-step snapshot of the weights on sampled
    steps measures exactly one update; with the optimizer given, the update is read right after
    ``optimizer.step()`` through its step hook, which also works with gradient accumulation).

    Options: ``activation_every`` sampled steps (0 turns activation scans and update ratios
    off); ``grad_norm_factor`` times the running median of the last ``window`` steps is an
    explosion; a loss above ``spike_factor`` times its running median is a spike when the jump
    also exceeds ``spike_noise_factor`` robust standard deviations of the window and
    ``spike_min_jump`` times the loss's level at the start; ``num_classes`` fixes the confusion
    matrix's size (inferred otherwise); ``max_dead_fraction`` of dead units flags an
    activation; ``update_ratio_range`` is the healthy band of update-to-weight ratios;
    ``max_consecutive_skips`` steps in a row skipped by an AMP GradScaler are a non-finite
    gradient finding. Step numbers in ``findings`` count ``step()`` calls from 0.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        *,
        activation_every: int = 50,
        grad_norm_factor: float = rules.DEFAULT_GRAD_NORM_FACTOR,
        spike_factor: float = rules.DEFAULT_SPIKE_FACTOR,
        spike_noise_factor: float = rules.DEFAULT_SPIKE_NOISE_FACTOR,
        spike_min_jump: float = rules.DEFAULT_SPIKE_MIN_JUMP,
        window: int = rules.DEFAULT_WINDOW,
        num_classes: int | None = None,
        max_dead_fraction: float = rules.DEFAULT_MAX_DEAD_FRACTION,
        update_ratio_range: tuple[float, float] = (
            rules.DEFAULT_MIN_UPDATE_RATIO,
            rules.DEFAULT_MAX_UPDATE_RATIO,
        ),
        max_consecutive_skips: int = 16,
        recorder: MonitorRecorder | None = None,
    ) -> None:
        validate_options(
            model,
            optimizer,
            activation_every,
            window,
            num_classes,
            max_dead_fraction,
            update_ratio_range,
            factors={"grad_norm_factor": grad_norm_factor, "spike_factor": spike_factor},
            positives={
                "spike_noise_factor": spike_noise_factor,
                "spike_min_jump": spike_min_jump,
                "max_consecutive_skips": max_consecutive_skips,
            },
        )
        self.model = model
        self.optimizer = optimizer
        self.activation_every = activation_every
        self.grad_norm_factor = float(grad_norm_factor)
        self.spike_factor = float(spike_factor)
        self.spike_noise_factor = float(spike_noise_factor)
        self.spike_min_jump = float(spike_min_jump)
        self.window = window
        self.num_classes = num_classes
        self.max_dead_fraction = float(max_dead_fraction)
        self.update_ratio_range = (float(update_ratio_range[0]), float(update_ratio_range[1]))
        self.recorder = recorder
        self.run_id: int | None = None

        self._findings: list[dict[str, Any]] = []  # read through `findings`
        self._findings_unsorted = False
        self.confusion: list[np.ndarray] = []
        self.losses = array("d")  # one per step; NaN/inf kept as they came
        self._grad_norms = array("d")  # read through `grad_norms`
        self._pending_norms: list[list[torch.Tensor]] = []  # computed, not read yet
        self.dead_relu_fractions: dict[str, list[tuple[int, float]]] = {}
        self.update_ratios: dict[str, list[tuple[int, float]]] = {}
        self.amp = ScalerWatch(int(max_consecutive_skips))
        self.steps = 0
        self.epochs = 0
        self.activation_scans = 0

        self._attached = False
        self._recording = False
        self._handles: list[Any] = []
        # The optimizer's step hook, installed only while a sampled step's update is awaited.
        self._update_hook: Any = None
        self._scan: ActivationScan | None = None
        self._captured_inputs: tuple[tuple, dict] | None = None
        self._snapshot: tuple[int, dict[str, torch.Tensor]] | None = None
        self._loss_watch = SpikeWatch(
            window, self.spike_factor, self.spike_noise_factor, self.spike_min_jump
        )
        self._grad_norm_watch = SeriesWatch(window, self.grad_norm_factor)
        self._series_tested = 0  # steps whose loss and gradient norm the watches have seen
        self._loss_finite = True  # the last step's loss; a change to non-finite is a finding
        self._grads_finite = True
        self._flagged_dead: set[str] = set()
        self._flagged_ratio: set[str] = set()
        self._confusion = ConfusionCounter(num_classes)
        self._parameters: dict[str, torch.nn.Parameter] = {}
        self._trained: list[torch.nn.Parameter] = []

    # -- lifecycle -------------------------------------------------------------------------

    def attach(self) -> TrainingMonitor:
        """Start the run (with a recorder) and install the hooks (``with`` does this); a second
        call does nothing."""
        if self._attached:
            return self
        if self.recorder is not None and not self._recording:
            self.run_id = self.recorder.open(self)  # before the hooks: it may fail
            self._recording = True
        self._parameters = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        self._trained = list(self._parameters.values())
        self._handles.append(
            self.model.register_forward_pre_hook(self._capture_inputs, with_kwargs=True)
        )
        self._attached = True
        self._arm_scan_if_sampled(self.steps)
        return self

    def close(self, exc: BaseException | None = None) -> None:
        """Remove every hook, close an open epoch's confusion matrix and finish the run (as
        failed or interrupted when ``exc`` is what stopped training); a second call does
        nothing."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._drop_update_hook()
        if self._scan is not None:
            self._scan.remove()
            self._scan = None
        self._captured_inputs = None
        self._snapshot = None
        was_attached, self._attached = self._attached, False
        if was_attached:
            self._close_confusion()
        if self._recording:
            self._recording = False
            assert self.recorder is not None
            self.recorder.close(self, exc)

    def detach(self) -> None:
        """``close()`` after training that ended normally."""
        self.close(None)

    def __enter__(self) -> TrainingMonitor:
        return self.attach()

    def __exit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> None:
        self.close(exc)

    # -- per step --------------------------------------------------------------------------

    def step(
        self, loss: Any, *, outputs: Any = None, targets: Any = None, scaler: Any = None
    ) -> None:
        """Record one training step: after ``loss.backward()``, before ``optimizer.step()``.

        ``scaler``: the AMP ``GradScaler`` (``torch.amp`` or ``torch.cuda.amp``) when the
        loss was scaled; pass the unscaled loss."""
        if not self._attached:
            raise UsageError(
                "TrainingMonitor.step() called outside the monitor",
                hint="use `with dlqa.monitor(model, optimizer) as m:` (or call m.attach() first)",
            )
        if (outputs is None) != (targets is None):
            raise UsageError(
                "step() needs both outputs= and targets= for the confusion matrix, or neither"
            )
        self._observe_step(loss, outputs, scaler)
        if outputs is not None:
            self._confusion.add(outputs, targets)
        self.steps += 1
        self._captured_inputs = None  # do not keep the batch alive longer than the loop does
        if self.activation_every and self.steps % self.activation_every == 0:
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
            "monitor.loss_spikes": {
                "factor": self.spike_factor,
                "window": self.window,
                "noise_factor": self.spike_noise_factor,
                "min_jump": self.spike_min_jump,
            },
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
        from dlqa.train.monitor_checks import CHECK_IDS

        overrides = self.check_parameters()
        for check_id, values in (gates or {}).items():
            if check_id in CHECK_IDS:
                overrides[check_id] = {**overrides.get(check_id, {}), **values}
        specs = [get_spec(check_id) for check_id in CHECK_IDS]
        return Suite(specs, overrides, order=CHECK_IDS).run(self).results

    def to_dict(self, max_points: int | None = None) -> dict[str, Any]:
        """What to store with the run: settings, findings, confusion matrices and series
        (``max_points``: at most that many points per series, every step when None)."""
        settings = self.check_parameters() | {"activation_every": self.activation_every}
        return {
            "steps": self.steps,
            "epochs": self.epochs,
            "settings": settings,
            "findings": [rules.json_safe(finding) for finding in self.findings],
            "confusion": [matrix.tolist() for matrix in self.confusion],
            "losses": _series(self.losses, max_points),
            "grad_norms": _series(self.grad_norms, max_points),
            "dead_relu_fractions": {k: list(v) for k, v in self.dead_relu_fractions.items()},
            "update_ratios": {k: list(v) for k, v in self.update_ratios.items()},
            "amp": self.amp.to_dict(),
        }

    # -- internals -------------------------------------------------------------------------

    def _capture_inputs(self, module: Any, args: tuple, kwargs: dict) -> None:
        # A reference only (no copy): the batch is alive during the step anyway.
        if torch.is_grad_enabled():
            self._captured_inputs = (args, kwargs)

    def _arm_scan_if_sampled(self, step: int) -> None:
        if self.activation_every and step % self.activation_every == 0 and self._scan is None:
            self._scan = ActivationScan(self.model)

    def _after_update(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._measure_update()

    def _drop_update_hook(self) -> None:
        if self._update_hook is not None:
            self._update_hook.remove()
            self._update_hook = None

    def _close_confusion(self) -> None:
        matrix = self._confusion.close()
        if matrix is not None:
            self.confusion.append(matrix)


def _series(values: array, max_points: int | None) -> list[float | None]:
    """The series as JSON values; with ``max_points``, every k-th step (k chosen to fit)."""
    stride = 1 if not max_points else max(1, math.ceil(len(values) / max_points))
    return [v if math.isfinite(v) else None for v in values[::stride]]


def monitor(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None, **options: Any
) -> TrainingMonitor:
    """A :class:`TrainingMonitor` that stores nothing, for ``with monitor(model, opt) as m:``
    (``dlqa.monitor`` also records the run in dlqa's store)."""
    return TrainingMonitor(model, optimizer, **options)

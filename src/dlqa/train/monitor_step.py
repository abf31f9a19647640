"""What :class:`dlqa.train.monitor.TrainingMonitor` does with one step: read the loss and the
gradient norm, test them, record the sampled activation scan and measure updates.

A mixin, kept apart so that the monitor's lifecycle and its per-step work each fit in a
readable file; it reads and writes the monitor's attributes.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import Any

from dlqa.train import require_torch
from dlqa.train.monitor_grads import (
    gradient_norms,
    grads_unscaled,
    read_step,
    read_values,
    scale_tensor,
)
from dlqa.train.monitor_hooks import (
    LOSS_FUNCTION,
    ActivationScan,
    all_finite,
    module_label,
    replay_forward,
)
from dlqa.train.monitor_options import loss_tensor

torch = require_torch()


# The spike and explosion tests run over the values of this many steps at once: they need
# nothing of the step but its two numbers, and a loop over many steps runs with warm caches
# where one step at a time, between backward() and the optimizer, runs cold.
SERIES_BATCH = 32


class StepObserver:
    """The per-step half of the training monitor.

    Only what needs the step's own state happens during the step: reading the loss and the
    gradient norm, and, when one is not finite, naming the module and the parameters (the
    weights and gradients are gone after the optimizer step). Spikes and explosions are tested
    over batches of steps (``findings`` brings them up to date whenever it is read).
    """

    @property
    def findings(self: Any) -> list[dict[str, Any]]:
        """The raw findings so far, in step order: ``{"step", "kind", ..., "value"}``."""
        self._test_series()
        if self._findings_unsorted:  # tests over batches of steps report earlier steps later
            self._findings.sort(key=lambda finding: finding["step"])  # stable: same-step order
            self._findings_unsorted = False
        return self._findings

    @property
    def grad_norms(self: Any) -> array:
        """The total gradient norm of each step (NaN/inf kept as they came)."""
        self._read_pending_norms()
        return self._grad_norms

    def _observe_step(self: Any, loss: Any, outputs: Any, scaler: Any) -> None:
        grads = [p.grad for p in self._trained if p.grad is not None]
        if (
            self._scan is None
            and self._snapshot is None
            and self._update_hook is None
            and scaler is None
            and isinstance(loss, torch.Tensor)
            and len(grads) == len(self._trained)
        ):
            # The common step, kept short: it runs between backward() and the optimizer step
            # with cold caches, where every line costs. The gradient norms are computed now
            # (the gradients are gone after the step) but read with those of other steps.
            try:
                self._pending_norms.append(torch._foreach_norm(grads))
            except (AttributeError, RuntimeError):  # no foreach support (sparse, mixed devices)
                self._pending_norms.append(gradient_norms(grads))
            try:
                loss_value = loss.item()
            except RuntimeError:
                loss_tensor(loss)  # a loss of several values: says so
                raise
            self.losses.append(loss_value)
            if not self._loss_finite or not math.isfinite(loss_value):
                self._loss_state(self.steps, loss_value, None, outputs)
            if len(self._pending_norms) >= SERIES_BATCH:
                self._test_series()
            return
        self._read_pending_norms()  # the steps before this one come first
        step = self.steps
        if self.optimizer is None:
            self._measure_update()  # the previous sampled step's update, read from the weights
        elif self._update_hook is not None and self._snapshot is None:
            self._drop_update_hook()  # the update was measured (not from inside the hook)
        scan = self._scan
        if scan is not None:
            self._scan = None
            scan.remove()
            self._record_scan(step, scan)
        loss_value, norm, amp_state = self._read(loss, grads, scaler)
        self.losses.append(loss_value)
        if not self._loss_finite or not math.isfinite(loss_value):
            self._loss_state(step, loss_value, scan, outputs)
        self._grad_norms.append(norm)
        if amp_state is not None or not self._grads_finite or not math.isfinite(norm):
            self._gradient_state(step, norm, amp_state, self._nonfinite_gradients)
        if self.activation_every and step % self.activation_every == 0:
            self._snapshot_weights(step)

    def _read_pending_norms(self: Any) -> None:
        """Read the gradient norms of the steps that only computed them, all at once."""
        pending = self._pending_norms
        if not pending:
            return
        self._pending_norms = []
        values = read_values([norm for norms in pending for norm in norms])
        names = list(self._parameters)
        first = len(self._grad_norms)
        for offset in range(len(pending)):
            per_parameter = values[offset * len(names) : (offset + 1) * len(names)]
            norm = math.hypot(*per_parameter)  # hypot does not overflow
            self._grad_norms.append(norm)
            if not self._grads_finite or not math.isfinite(norm):

                def nonfinite(values: list[float] = per_parameter) -> list[str]:
                    return [n for n, v in zip(names, values, strict=True) if not math.isfinite(v)]

                self._gradient_state(first + offset, norm, None, nonfinite)

    def _read(
        self: Any, loss: Any, grads: list[torch.Tensor], scaler: Any
    ) -> tuple[float, float, str | None]:
        """``(loss, total gradient norm, AMP state)`` of this step."""
        loss_t, loss_value = loss_tensor(loss)
        scale_t, scale_value = scale_tensor(scaler)
        read_loss, norm, read_scale = read_step(loss_t, grads, scale_t)
        loss_value = loss_value if read_loss is None else read_loss
        scale_value = scale_value if read_scale is None else read_scale
        if scale_value is None:
            return loss_value, norm, None
        if scale_value > 0 and not grads_unscaled(scaler, self.optimizer):
            norm /= scale_value
        finite = (math.isfinite(norm), math.isfinite(loss_value))
        state = self.amp.observe(self.steps, scale_value, *finite)
        return loss_value, norm, state

    def _test_series(self: Any) -> None:
        """Run the spike and explosion tests over the steps not tested yet."""
        self._read_pending_norms()
        start = self._series_tested
        if start == len(self.losses):
            return
        for step in range(start, len(self.losses)):
            loss, norm = self.losses[step], self._grad_norms[step]
            if math.isfinite(loss):
                median = self._loss_watch.test(loss)
                if median is not None:
                    self._add(step, "loss_spike", loss, running_median=median)
            if math.isfinite(norm):
                median = self._grad_norm_watch.test(norm)
                if median is not None:
                    self._add(step, "grad_explosion", norm, running_median=median)
        self._series_tested = len(self.losses)

    def _add(self: Any, step: int, kind: str, value: float | None, **where: Any) -> None:
        if self._findings and step < self._findings[-1]["step"]:
            self._findings_unsorted = True
        self._findings.append({"step": step, "kind": kind, **where, "value": value})

    def _record_scan(self: Any, step: int, scan: ActivationScan) -> None:
        if not scan.saw_forward:
            return
        self.activation_scans += 1
        culprit = scan.nonfinite_culprit()
        # Once the loss is non-finite the weights usually are too: no new finding every scan.
        if culprit is not None and self._loss_finite:
            if not scan.exact:
                # The scan only saw a non-finite norm: replay the pass (weights unchanged yet)
                # with the exact test to name the module; nothing found there was a norm that
                # overflowed.
                exact, replayed = replay_forward(self.model, self._captured_inputs)
                if replayed:
                    culprit = scan.resolve(exact)
            if culprit is not None:
                self._add(step, "nonfinite_activation", None, **culprit, source="sampled scan")
        for key, fraction in scan.dead_fractions.items():
            self.dead_relu_fractions.setdefault(key, []).append((step, fraction))
            dead = fraction > self.max_dead_fraction
            if dead and key not in self._flagged_dead:
                self._add(step, "dead_relu", fraction, module=key)
            (self._flagged_dead.add if dead else self._flagged_dead.discard)(key)

    def _loss_state(
        self: Any, step: int, value: float, scan: ActivationScan | None, outputs: Any
    ) -> None:
        """A non-finite loss, or the first finite one after non-finite ones."""
        turned_nonfinite = self._loss_finite and not math.isfinite(value)
        self._loss_finite = math.isfinite(value)
        if not turned_nonfinite:
            return  # one finding per run of non-finite losses, not one per step
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

    def _blame_loss_function(self: Any, step: int, source: str, note: str) -> None:
        self._add(
            step, "nonfinite_activation", None, module=LOSS_FUNCTION, source=source, note=note
        )

    def _gradient_state(
        self: Any,
        step: int,
        norm: float,
        amp_state: str | None,
        nonfinite: Callable[[], list[str]],
    ) -> None:
        """A non-finite gradient norm, a step an AMP GradScaler skips, or the first finite
        norm after non-finite ones; ``nonfinite()`` names the parameters whose gradients are
        not finite."""
        if amp_state == "skipped":
            return  # the GradScaler skips this step and lowers its scale: not a finding
        if amp_state == "stuck":
            start = self.amp.run_start
            note = (
                f"gradients non-finite in {self.amp.run_length} steps in a row from step "
                f"{start}: the GradScaler skipped each and its scale fell to "
                f"{self.amp.scale_history[-1][1]:g}"
            )
            for name in nonfinite():
                module = module_label(name.rpartition(".")[0])
                self._add(
                    start, "nonfinite_gradient", None, parameter=name, module=module, note=note
                )
            return
        turned_nonfinite = self._grads_finite and not math.isfinite(norm)
        self._grads_finite = math.isfinite(norm)
        if not turned_nonfinite:
            return
        bad = nonfinite()
        for name in bad:
            module = module_label(name.rpartition(".")[0])
            self._add(step, "nonfinite_gradient", None, parameter=name, module=module)
        if not bad:  # every gradient finite, but their squares overflowed the norm
            self._add(step, "grad_explosion", norm, running_median=None, note="norm overflowed")

    def _nonfinite_gradients(self: Any) -> list[str]:
        return [
            name
            for name, p in self._parameters.items()
            if p.grad is not None and not bool(torch.isfinite(p.grad).all())
        ]

    def _snapshot_weights(self: Any, step: int) -> None:
        # Weights only (ndim >= 2) that got a gradient: frozen and unused parameters never move.
        with torch.no_grad():
            weights = {
                name: p.detach().clone()
                for name, p in self._parameters.items()
                if p.dim() >= 2 and p.grad is not None
            }
        self._snapshot = (step, weights) if weights else None
        if self._snapshot is not None and self.optimizer is not None and not self._update_hook:
            # Read right after optimizer.step(), also when gradients accumulate over steps.
            self._update_hook = self.optimizer.register_step_post_hook(self._after_update)

    def _measure_update(self: Any) -> None:
        if self._snapshot is None:
            return
        step, before = self._snapshot
        self._snapshot = None
        names = list(before)
        old = [before[name] for name in names]
        with torch.no_grad():
            current = [self._parameters[name].detach() for name in names]
            try:
                changes = torch._foreach_sub(current, old)
            except (AttributeError, RuntimeError):
                changes = [new - prior for new, prior in zip(current, old, strict=True)]
            values = read_values(gradient_norms(old) + gradient_norms(changes))
        low, high = self.update_ratio_range
        for name, weight_norm, change in zip(names, values, values[len(names) :], strict=False):
            if weight_norm == 0.0 or not math.isfinite(weight_norm):
                continue
            ratio = change / weight_norm
            if not math.isfinite(ratio):
                continue  # non-finite weights are the nonfinite check's finding
            self.update_ratios.setdefault(name, []).append((step, ratio))
            outside = not low <= ratio <= high
            if outside and name not in self._flagged_ratio:
                self._add(step, "update_ratio", ratio, parameter=name)
            (self._flagged_ratio.add if outside else self._flagged_ratio.discard)(name)

"""The overfit check's step budget, cut short when the run itself shows it cannot succeed.

``train.overfit_batch`` trains until the loss on the batch falls to the target or ``max_steps``
is spent. A setup that cannot learn (a learning rate of 0, parameters detached from the loss,
a softmax in front of cross-entropy) used to spend the whole budget; on a large model that is
most of the battery's time. This module decides, from the run's own loss curve, when the
budget can no longer be met: the best loss so far has improved so little over the last
``window`` steps that even ``speedup`` times that pace, kept up for every remaining step,
would leave it above the target at ``max_steps``.

Why this does not weaken the check: a pass still needs the target to be met, and an early
stop only ever gives a fail, where the run shows no sign of reaching the target. The projection is
deliberately generous, since curves that overfit often speed up (momentum building, a slow
start before the drop): on 48 tiny setups studied (correct and buggy MLPs, CNNs, transformers;
Adam and SGD), no run that met its target within the budget was stopped; the largest speed-up
such a run needed over its first 20 steps was 8.5x (SGD, momentum 0.9, lr 0.003), hence the
default 25, and the longest it went without a new best was 8 steps, against a window of 20.
What this gives up on is a model that sits on a flat plateau (a saddle) for a whole window and
then still learns the batch in time; ``window`` 0 turns the early stop off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Defaults of the check's plateau parameters (train.overfit_batch's ``plateau_window`` and
# ``plateau_speedup``): a window of 10% of the default 200-step budget, two eval points.
PLATEAU_WINDOW = 20
PLATEAU_SPEEDUP = 25.0


@dataclass(frozen=True)
class Plateau:
    """Why the run was stopped before its budget: the pace over the window and where it leads."""

    stopped_at: int  # the last step trained
    window_start: int  # the first step of the window the pace was measured over
    best: float  # the best loss at ``stopped_at``
    best_step: int  # the step at which that best was first measured
    improvement: float  # relative improvement of the best loss over the window, in [0, 1]
    projected: float  # the best loss at max_steps at ``speedup`` times the window's pace
    speedup: float
    max_steps: int

    def describe(self, target: str) -> str:
        return (
            f"the loss plateaued at {self.best:.4g} (best, first measured at step "
            f"{self.best_step}): "
            f"over steps {self.window_start}-{self.stopped_at} it improved by "
            f"{self.improvement:.1%}, and even {self.speedup:g}x that pace would leave it at "
            f"{self.projected:.4g} at step {self.max_steps}, above the target {target}; "
            f"stopped at step {self.stopped_at} of {self.max_steps}"
        )

    def to_dict(self) -> dict[str, float | int]:
        return {
            "stopped_at": self.stopped_at,
            "window": [self.window_start, self.stopped_at],
            "best_step": self.best_step,
            "improvement": self.improvement,
            "projected_loss": self.projected,
            "speedup": self.speedup,
        }


class Progress:
    """The best loss measured up to each step (train- or eval-mode, whichever is lower), and
    the plateau test on it. Steps count from 1 (step 1's train-mode loss is the first loss,
    measured before any update); index 0 holds the first loss as the baseline of step 1."""

    def __init__(
        self, first_loss: float, target: float, max_steps: int, window: int, speedup: float
    ):
        self.first_loss = first_loss
        self.target = target
        self.max_steps = max_steps
        self.window = window
        self.speedup = speedup
        self._best: list[float] = [first_loss]  # index = step
        self._best_step = 1

    def record(self, step: int, loss: float) -> None:
        """A loss measured at ``step`` (called once or twice per step: train, then eval)."""
        while len(self._best) <= step:
            self._best.append(self._best[-1])
        # NaN compares false: a non-finite loss never becomes the best.
        if loss < self._best[step]:
            self._best[step] = loss
            self._best_step = step

    @property
    def best(self) -> float:
        return self._best[-1]

    def plateau(self, step: int) -> Plateau | None:
        """The reason to stop after ``step``, or None to keep training."""
        if self.window <= 0 or step < self.window or step >= self.max_steps:
            return None
        now, then = self._best[step], self._best[step - self.window]
        # The pace is measured on a log scale (losses fall roughly geometrically while
        # overfitting); that needs positive losses and a positive target.
        if not (self.target > 0 and now > 0 and then > 0) or not math.isfinite(then):
            return None
        pace = math.log(then / now) / self.window  # per step, >= 0: the best never rises
        projected = now * math.exp(-self.speedup * pace * (self.max_steps - step))
        if projected <= self.target:
            return None
        return Plateau(
            stopped_at=step,
            window_start=step - self.window + 1,
            best=now,
            best_step=self._best_step,
            improvement=1.0 - now / then,
            projected=projected,
            speedup=self.speedup,
            max_steps=self.max_steps,
        )

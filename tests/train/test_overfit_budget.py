"""train.overfit_batch's step budget follows the run's progress: a run that plateaus above the
target stops early with a fail that says where, and the early stop changes no verdict: correct
models pass at the same step as with the whole budget, and every bug that prevents learning
fails as it does when the whole budget is spent."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from dlqa.core.registry import get_spec
from dlqa.core.results import CheckResult, Status
from dlqa.train.sanity import optimisation, run
from dlqa.train.sanity.overfit import PLATEAU_WINDOW, Progress
from dlqa.train.sanity.runner import battery_context
from tests.train.buggy_models import (
    CLASSES,
    BatchNormDropoutMLP,
    PlainMLP,
    SmallCNN,
    adam,
    image_batch,
    vector_batch,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MAX_STEPS = 200


def _overfit(
    model_factory: Callable[[], nn.Module],
    optimizer_factory: Callable[[Any], torch.optim.Optimizer],
    batch: tuple[torch.Tensor, torch.Tensor],
    **overrides: Any,
) -> CheckResult:
    """The check on its own, with the plateau parameters passed straight to it (the registry
    only accepts the parameters train.overfit_batch declares)."""
    params = {**get_spec("train.overfit_batch").resolve_params(None), **overrides}
    with battery_context(model_factory, nn.CrossEntropyLoss(), optimizer_factory, batch) as ctx:
        return optimisation.check_overfit_batch(ctx, params)


class NoZeroGradSGD(torch.optim.SGD):
    """The bug: gradients are never cleared, so every step adds all the previous ones."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        pass


class DetachedBodyMLP(nn.Module):
    """The bug: the body's output is detached, so only the output bias can learn."""

    def __init__(self) -> None:
        super().__init__()
        self.body = PlainMLP()
        self.bias = nn.Parameter(torch.zeros(CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).detach() + self.bias


def _sgd(lr: float, momentum: float = 0.0) -> Callable[[Any], torch.optim.Optimizer]:
    return lambda params: torch.optim.SGD(params, lr=lr, momentum=momentum)


CORRECT = {
    "cnn": (SmallCNN, adam(), image_batch()),
    "mlp_batchnorm_dropout": (BatchNormDropoutMLP, adam(), vector_batch()),
    # A slow start (momentum building up) before a late success: the first window's pace is
    # about 8 times too slow to reach the target in time, yet it gets there in ~110 steps.
    "cnn_sgd_slow_start": (SmallCNN, _sgd(0.003, 0.9), image_batch()),
}

PREVENTS_LEARNING = {
    "learning_rate_0": (PlainMLP, adam(0.0), vector_batch()),
    "learning_rate_too_low": (PlainMLP, adam(1e-5), vector_batch()),
    # With momentum the summed gradients make the loss diverge after a good start.
    "zero_grad_missing": (
        PlainMLP,
        lambda params: NoZeroGradSGD(params, lr=0.05, momentum=0.9),
        vector_batch(),
    ),
    "parameters_detached": (DetachedBodyMLP, adam(), vector_batch()),
    "softmax_before_cross_entropy": (lambda: PlainMLP(squash="softmax"), adam(), vector_batch()),
}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_models_pass_at_the_same_step_as_with_the_whole_budget(name):
    early = _overfit(*CORRECT[name])
    whole = _overfit(*CORRECT[name], plateau_window=0)
    assert early.status is Status.PASS, early.summary
    assert early.details["plateau"] is None
    assert early.details["steps"] == whole.details["steps"] == early.details["steps_run"]
    assert early.details["best_loss"] <= early.details["target_loss"]
    if name == "cnn_sgd_slow_start":
        assert early.details["steps"] > 100  # long past the first plateau windows


@pytest.mark.parametrize("name", sorted(PREVENTS_LEARNING))
def test_bugs_that_prevent_learning_fail_early_on_a_plateau_and_with_the_whole_budget(name):
    early = _overfit(*PREVENTS_LEARNING[name])
    assert early.status is Status.FAIL
    plateau = early.details["plateau"]
    assert plateau is not None, early.summary
    stopped = early.details["steps_run"]
    assert plateau["stopped_at"] == stopped < MAX_STEPS
    assert early.details["steps"] is None
    assert early.details["best_loss"] > early.details["target_loss"]
    assert plateau["projected_loss"] > early.details["target_loss"]
    assert "plateaued" in early.summary
    assert f"over steps {plateau['window'][0]}-{stopped}" in early.summary
    assert f"stopped at step {stopped} of {MAX_STEPS}" in early.summary
    # The evidence covers exactly the steps run, numbered as the summary numbers them.
    rows = early.evidence[0].items
    assert [row["step"] for row in rows] == list(range(1, stopped + 1))
    # Spending the whole budget changes nothing but the time taken.
    whole = _overfit(*PREVENTS_LEARNING[name], plateau_window=0)
    assert whole.status is Status.FAIL and whole.details["steps"] is None
    assert whole.details["plateau"] is None and whole.details["steps_run"] == MAX_STEPS
    assert f"did not overfit the batch in {MAX_STEPS} steps" in whole.summary


def test_learning_rate_0_stops_after_one_window_through_the_battery():
    (result,) = run(
        PlainMLP, nn.CrossEntropyLoss(), adam(0.0), vector_batch(), checks=["train.overfit_batch"]
    )
    assert result.status is Status.FAIL
    plateau = result.details["plateau"]
    assert plateau["stopped_at"] == PLATEAU_WINDOW == result.details["steps_run"]
    assert plateau["window"] == [1, PLATEAU_WINDOW]
    assert plateau["improvement"] == 0.0 and plateau["best_step"] == 1
    assert "improved by 0.0%" in result.summary


def test_a_budget_shorter_than_the_window_is_spent_in_full():
    short = _overfit(PlainMLP, adam(0.0), vector_batch(), max_steps=5)
    assert short.status is Status.FAIL and short.details["steps_run"] == 5
    assert short.details["plateau"] is None


# ------------------------------------------------------------ the plateau rule on its own


def _first_plateau(curve: list[float], max_steps: int = MAX_STEPS, every: int = 10) -> Any:
    progress = Progress(curve[0], 0.05 * curve[0], max_steps, PLATEAU_WINDOW, 25.0)
    for step, loss in enumerate(curve, start=1):
        progress.record(step, loss)
        if step % every == 0 and (plateau := progress.plateau(step)) is not None:
            return plateau
    return None


def test_a_flat_curve_stops_after_one_window():
    plateau = _first_plateau([2.3] * MAX_STEPS)
    assert plateau.stopped_at == PLATEAU_WINDOW and plateau.improvement == 0.0
    assert plateau.projected == pytest.approx(2.3)


def test_steady_or_accelerating_progress_towards_the_target_is_not_stopped():
    # Geometric decay reaching the target (5% of the first loss) at step 180.
    rate = math.log(20) / 180
    assert _first_plateau([2.3 * math.exp(-rate * s) for s in range(MAX_STEPS)]) is None
    # A slow start: a tenth of the pace needed for 80 steps, then fast enough to make it.
    slow, fast = rate / 10, math.log(20) / 100
    curve = [2.3 * math.exp(-slow * min(s, 80) - fast * max(s - 80, 0)) for s in range(200)]
    assert _first_plateau(curve) is None


def test_a_slow_but_hopeless_pace_and_a_divergence_stop():
    # 0.05% per step: even 25 times that pace misses the target by step 200.
    plateau = _first_plateau([2.3 * 0.9995**s for s in range(MAX_STEPS)])
    assert plateau is not None and plateau.stopped_at == PLATEAU_WINDOW
    # A good start, then the loss rises (and overflows): the best stays where it was.
    curve = [2.3 * 0.9**s for s in range(15)] + [10.0 * 2**s for s in range(185)]
    curve[30] = math.nan  # ignored: a non-finite loss is never the best
    plateau = _first_plateau(curve)
    assert plateau.best_step == 15 and plateau.best == pytest.approx(2.3 * 0.9**14)
    # At step 30 the window (steps 11-30) still holds the good start; at 40 it does not.
    assert plateau.stopped_at == 40 and plateau.window_start == 21
    assert plateau.improvement == 0.0


def test_no_early_stop_without_positive_losses_or_with_the_window_off():
    negative = Progress(-1.0, -0.05, MAX_STEPS, PLATEAU_WINDOW, 25.0)
    off = Progress(2.3, 0.115, MAX_STEPS, 0, 25.0)
    for step in range(1, 101):
        negative.record(step, -1.0)
        off.record(step, 2.3)
        assert negative.plateau(step) is None and off.plateau(step) is None

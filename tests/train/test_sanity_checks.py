"""Single checks: the initial-loss expectation, gates, determinism and mode checks, crashes."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dlqa.core.errors import ConfigError
from dlqa.core.results import Status
from dlqa.train.sanity import run
from dlqa.train.sanity.losses import expected_initial_loss, initial_loss_tolerance
from tests.train.buggy_models import CLASSES, PlainMLP, adam, vector_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _one(check_id, model_factory, loss_fn, batch, **options):
    (result,) = run(model_factory, loss_fn, adam(), batch, checks=[check_id], **options)
    return result


def _skewed_batch(rates, features=16, seed=5):
    """Class indices with the given class frequencies (of 40 samples)."""
    generator = torch.Generator().manual_seed(seed)
    targets = torch.cat([torch.full((round(r * 40),), c) for c, r in enumerate(rates)])
    return torch.randn(len(targets), features, generator=generator), targets


class PriorBiasMLP(nn.Module):
    """Output bias initialised to the log prior, weights scaled by ``scale``."""

    def __init__(self, log_prior, scale=1.0, features=16):
        super().__init__()
        self.layer = nn.Linear(features, len(log_prior))
        with torch.no_grad():
            self.layer.weight.mul_(scale)
            self.layer.bias.copy_(torch.as_tensor(log_prior))

    def forward(self, x):
        return self.layer(x)


def test_expected_cross_entropy_uses_ln_c_and_the_entropy_of_an_unbalanced_prior():
    outputs = torch.zeros(40, 3)
    targets = torch.tensor([0] * 30 + [1] * 6 + [2] * 4)
    expected = expected_initial_loss("cross_entropy", outputs, targets)
    prior = np.array([30, 6, 4]) / 40
    assert expected.uniform == pytest.approx(math.log(3))
    assert expected.prior == pytest.approx(float(-(prior * np.log(prior)).sum()))
    balanced = expected_initial_loss("cross_entropy", outputs, torch.arange(39) % 3)
    assert balanced.prior == pytest.approx(math.log(3))


def test_expected_binary_cross_entropy_uses_the_positive_rate_per_output():
    targets = torch.zeros(40, 2)
    targets[:10, 0] = 1.0  # 25% positives in column 0
    targets[:20, 1] = 1.0  # 50% in column 1
    expected = expected_initial_loss("bce_with_logits", torch.zeros(40, 2), targets)
    quarter = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert expected.uniform == pytest.approx(math.log(2))
    assert expected.prior == pytest.approx((quarter + math.log(2)) / 2)


def test_initial_loss_tolerance_narrows_with_batch_size():
    params = {"init_allowance": 0.1, "per_sample_std": 0.5, "sigmas": 3.0}
    small, large = (initial_loss_tolerance(math.log(10), b, params) for b in (8, 512))
    assert small > large > 0.1 * math.log(10)


def test_prior_initialised_bias_passes_and_oversized_logits_fail():
    batch = _skewed_batch([0.7, 0.2, 0.1])
    log_prior = [math.log(r) for r in (0.7, 0.2, 0.1)]
    good = _one(
        "train.initial_loss", lambda: PriorBiasMLP(log_prior, 0.1), nn.CrossEntropyLoss(), batch
    )
    assert good.status is Status.PASS, good.summary
    assert good.details["loss"] < good.details["expected_uniform"]
    bad = _one(
        "train.initial_loss", lambda: PriorBiasMLP([0, 0, 0], 25.0), nn.CrossEntropyLoss(), batch
    )
    assert bad.status is Status.FAIL
    assert bad.value > bad.threshold
    assert "initialisation" in bad.summary


def test_binary_cross_entropy_battery_and_sigmoid_before_the_loss():
    generator = torch.Generator().manual_seed(7)
    inputs = torch.randn(32, 16, generator=generator)
    targets = (torch.rand(32, 4, generator=generator) < 0.3).float()

    def logits_model():
        return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))

    results = run(logits_model, nn.BCEWithLogitsLoss(), adam(), (inputs, targets))
    failing = {r.check_id: r.summary for r in results if r.status.fails_gate}
    assert failing == {}
    squashed = _one(
        "train.initial_loss",
        lambda: nn.Sequential(logits_model(), nn.Sigmoid()),
        nn.BCEWithLogitsLoss(),
        (inputs, targets),
    )
    assert squashed.status is Status.FAIL and "sigmoid" in squashed.summary


@pytest.mark.filterwarnings("ignore:Using a target size")
def test_unrecognised_loss_skips_the_initial_loss_and_catches_a_broadcasting_shape():
    inputs = torch.randn(16, 4)
    targets = torch.randn(16)  # (B,) against (B, 1) outputs broadcasts to (B, B)
    shape, initial = run(
        lambda: nn.Linear(4, 1),
        nn.MSELoss(),
        adam(),
        (inputs, targets),
        checks=["train.initial_loss", "train.output_shape"],
    )
    assert shape.check_id == "train.output_shape" and shape.status is Status.FAIL
    assert "broadcast" in shape.summary
    assert initial.status is Status.SKIP and "loss_kind" in initial.summary


def test_declared_output_shape_with_wildcards():
    factory, loss = PlainMLP, nn.CrossEntropyLoss()
    ok = _one("train.output_shape", factory, loss, vector_batch(), expected_output_shape=(None, 10))
    wrong = _one("train.output_shape", factory, loss, vector_batch(), expected_output_shape=(32, 5))
    assert ok.status is Status.PASS
    assert wrong.status is Status.FAIL and "dimension 1 is 10, declared 5" in wrong.summary


def test_gates_override_budgets_level_and_enabled():
    loss = nn.CrossEntropyLoss()
    gates = {
        "train.overfit_batch": {"max_steps": 1, "level": "warn"},
        "train.modes": {"enabled": False},
    }
    results = {
        r.check_id: r
        for r in run(
            PlainMLP,
            loss,
            adam(),
            vector_batch(),
            gates=gates,
            checks=["train.overfit_batch", "train.modes"],
        )
    }
    assert results["train.overfit_batch"].status is Status.WARN
    assert results["train.overfit_batch"].details["max_steps"] == 1
    assert results["train.modes"].status is Status.SKIP
    with pytest.raises(ConfigError, match="max_step"):
        run(PlainMLP, loss, adam(), vector_batch(), gates={"train.overfit_batch": {"max_step": 5}})
    with pytest.raises(ConfigError, match="train.overfitting"):
        run(PlainMLP, loss, adam(), vector_batch(), gates={"train.overfitting": {}})


class UnseededNoiseMLP(PlainMLP):
    """Adds noise from an unseeded generator while training: runs cannot be repeated."""

    def __init__(self):
        super().__init__()
        self.noise = np.random.default_rng()

    def forward(self, x):
        if self.training:
            x = x + torch.as_tensor(self.noise.normal(size=x.shape), dtype=x.dtype)
        return super().forward(x)


def test_unseeded_randomness_fails_determinism_but_not_modes():
    results = run(
        UnseededNoiseMLP,
        nn.CrossEntropyLoss(),
        adam(),
        vector_batch(),
        checks=["train.determinism", "train.modes"],
    )
    determinism, modes = results
    assert determinism.status is Status.FAIL and "unseeded" in determinism.summary
    assert determinism.value > determinism.threshold
    assert modes.status is Status.PASS


class ForcedModeDropoutMLP(PlainMLP):
    def __init__(self, force: str):
        super().__init__()
        self.dropout = nn.Dropout(0.5)
        self.force = force

    def forward(self, x):
        if self.force == "eval":
            self.dropout.eval()  # the bug: dropout switched off for good
            x = self.dropout(x)
        else:
            x = nn.functional.dropout(x, 0.5, training=True)  # the bug: dropout in eval too
        return super().forward(x)


def test_modes_catch_dropout_stuck_off_and_dropout_stuck_on():
    loss = nn.CrossEntropyLoss()
    stuck_off = _one("train.modes", lambda: ForcedModeDropoutMLP("eval"), loss, vector_batch())
    assert stuck_off.status is Status.FAIL and "identical" in stuck_off.summary
    assert stuck_off.details["mode_dependent_layers"] == ["dropout"]
    stuck_on = _one("train.modes", lambda: ForcedModeDropoutMLP("train"), loss, vector_batch())
    assert stuck_on.status is Status.FAIL and "eval-mode passes differ" in stuck_on.summary
    assert stuck_on.evidence[0].kind == "samples" and stuck_on.evidence[0].total > 0


class _BackwardFails(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("backward is not implemented")


class BackwardFailsMLP(PlainMLP):
    def forward(self, x):
        return self.out(torch.relu(_BackwardFails.apply(self.hidden(x))))


def test_a_crashing_check_is_an_error_result_and_the_others_still_run():
    results = {
        r.check_id: r
        for r in run(
            BackwardFailsMLP,
            nn.CrossEntropyLoss(),
            adam(),
            vector_batch(),
            checks=["train.output_shape", "train.initial_loss", "train.gradients"],
        )
    }
    assert results["train.gradients"].status is Status.ERROR
    assert "RuntimeError" in results["train.gradients"].summary
    assert results["train.output_shape"].status is Status.PASS
    assert results["train.initial_loss"].status is Status.PASS


def test_functional_loss_is_recognised():
    result = _one("train.initial_loss", PlainMLP, nn.functional.cross_entropy, vector_batch())
    assert result.status is Status.PASS
    assert result.details["classes"] == CLASSES

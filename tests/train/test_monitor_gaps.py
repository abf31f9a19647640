"""The monitor's second round: dead units of functional activations, AMP GradScaler awareness,
and a loss-spike rule that ignores tiny absolute changes of a small loss."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = nn.functional

from dlqa.core.results import Status  # noqa: E402
from dlqa.train.monitor import TrainingMonitor, monitor  # noqa: E402
from dlqa.train.monitor_rules import loss_spikes, running_median_exceedances  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def by_id(results):
    return {r.check_id: r for r in results}


def data(n=128, features=10, seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, features, generator=generator)
    return inputs, ((inputs[:, 0] > 0).long() + (inputs[:, 1] > 0.5).long()) % 3


class FunctionalMLP(nn.Module):
    """Activations called as functions only: no nn.ReLU module to hook."""

    def __init__(self, activation=F.relu) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(10, 32), nn.Linear(32, 16), nn.Linear(16, 3)
        self.activation = activation

    def forward(self, x):
        x = self.activation(self.fc1(x))
        x = torch.relu(self.fc2(x))  # torch.relu, not F.relu: both are seen
        return self.fc3(x)


def train(model, m, steps, inputs, targets, lr=1e-3):
    optimizer = m.optimizer or torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), targets)
        loss.backward()
        m.step(loss)
        optimizer.step()


# -- dead units of functional activations ---------------------------------------------------


def test_a_dead_functional_relu_is_flagged_and_named_after_its_input():
    torch.manual_seed(0)
    model = FunctionalMLP()
    with torch.no_grad():
        model.fc2.bias.fill_(-100.0)  # every unit of fc2's ReLU is dead for any input
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    inputs, targets = data()
    with monitor(model, optimizer, activation_every=5) as m:
        train(model, m, 11, inputs, targets)
    assert set(m.dead_relu_fractions) == {"fc1/relu", "fc2/relu"}
    assert [step for step, _ in m.dead_relu_fractions["fc2/relu"]] == [0, 5, 10]
    assert m.dead_relu_fractions["fc2/relu"][-1][1] == 1.0
    assert m.dead_relu_fractions["fc1/relu"][-1][1] < 0.2
    result = by_id(m.results())["monitor.dead_relu"]
    assert result.status is Status.WARN
    assert result.details["flagged_modules"] == ["fc2/relu"]
    assert "`fc2/relu`: 100.0%" in result.summary


def test_a_healthy_functional_relu_model_is_not_flagged():
    torch.manual_seed(0)
    model = FunctionalMLP()
    inputs, targets = data()
    with monitor(model, torch.optim.SGD(model.parameters(), lr=0.05), activation_every=5) as m:
        train(model, m, 20, inputs, targets)
    result = by_id(m.results())["monitor.dead_relu"]
    assert result.status is Status.PASS, result.summary
    assert [f for f in m.findings if f["kind"] == "dead_relu"] == []


def test_gelu_counts_as_dead_only_deep_in_its_negative_range_and_leaky_relu_never():
    torch.manual_seed(0)
    inputs, targets = data()
    scores = {}
    for name, activation, bias in [
        ("gelu", F.gelu, -100.0),  # far below -3: nothing passes
        ("gelu", F.gelu, -0.5),  # below zero, but GELU still passes a gradient there
        ("leaky_relu", F.leaky_relu, -100.0),  # a leaky unit cannot die
    ]:
        model = FunctionalMLP(activation)
        with torch.no_grad():
            model.fc1.weight.mul_(0.01)
            model.fc1.bias.fill_(bias)
        with monitor(model, activation_every=1) as m:
            train(model, m, 1, inputs, targets)
        scores[(name, bias)] = {k: v[-1][1] for k, v in m.dead_relu_fractions.items()}
    assert scores[("gelu", -100.0)]["fc1/gelu"] == 1.0
    assert scores[("gelu", -0.5)]["fc1/gelu"] == 0.0
    assert "fc1/leaky_relu" not in scores[("leaky_relu", -100.0)]


def test_relu_modules_keep_their_module_names():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 8), nn.ReLU(inplace=True), nn.Linear(8, 3))
    with torch.no_grad():
        model[0].bias.fill_(-100.0)
    inputs, targets = data()
    with monitor(model, activation_every=1) as m:
        train(model, m, 2, inputs, targets)
    assert m.dead_relu_fractions == {"1": [(0, 1.0), (1, 1.0)]}  # in place: measured before


# -- AMP GradScaler ------------------------------------------------------------------------


def scaler_or_skip(**options):
    try:
        return torch.amp.GradScaler("cpu", **options)
    except (AttributeError, TypeError, RuntimeError) as exc:  # an older torch
        pytest.skip(f"no CPU GradScaler in this torch: {exc}")


def amp_loop(model, m, scaler, steps, overflow_at=(), unscale=False):
    """Training with a GradScaler; at the steps of ``overflow_at`` a gradient overflows (as
    float16 gradients do), so the scaler skips the step and halves its scale."""
    optimizer = m.optimizer
    inputs, targets = data()
    true_norms = []
    for step in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), targets)
        scaler.scale(loss).backward()
        if step in overflow_at:
            model[0].weight.grad[0, 0] = float("inf")
        if unscale:
            scaler.unscale_(optimizer)
        divisor = 1.0 if unscale else scaler.get_scale()
        grads = [p.grad / divisor for p in model.parameters()]
        true_norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
        m.step(loss, scaler=scaler)
        scaler.step(optimizer)
        scaler.update()
    return true_norms


@pytest.mark.parametrize("unscale", [False, True])
def test_steps_the_grad_scaler_skips_are_information_not_nan_findings(unscale):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = scaler_or_skip(init_scale=2.0**10, growth_interval=4)
    with monitor(model, optimizer, activation_every=0) as m:
        true_norms = amp_loop(model, m, scaler, 30, overflow_at={7, 19}, unscale=unscale)
    assert m.amp.skipped_steps == [7, 19]

    def scale_at(step):  # the history has the scale at each change
        return [scale for at, scale in m.amp.scale_history if at <= step][-1]

    assert scale_at(0) == 2.0**10 and scale_at(8) == scale_at(7) / 2  # halved after the skip
    assert len(m.amp.scale_history) >= 6  # it also doubled every 4 good steps
    # The norms the monitor records are the true (unscaled) ones, whatever the scale.
    for step, (seen, true) in enumerate(zip(m.grad_norms, true_norms, strict=True)):
        if step not in (7, 19):
            assert seen == pytest.approx(true, rel=1e-5)
    assert m.findings == []  # neither NaN nor explosion
    results = by_id(m.results())
    assert results["monitor.nonfinite"].status is Status.PASS
    assert results["monitor.grad_explosion"].status is Status.PASS
    amp = results["monitor.amp_scaler"]
    assert amp.status is Status.PASS and amp.value == 2.0 and amp.n == 30
    assert "skipped 2 of 30 steps" in amp.summary
    assert amp.evidence[0].items[0] == {"step": 0, "scale": 1024.0}


def test_without_the_scaler_a_growing_scale_looks_like_an_explosion():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = scaler_or_skip(init_scale=2.0, growth_interval=1)
    with monitor(model, optimizer, activation_every=0) as m:
        inputs, targets = data()
        for _ in range(20):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(inputs), targets)
            scaler.scale(loss).backward()
            m.step(loss)  # the scaler not passed: the monitor sees scaled gradients
            scaler.step(optimizer)
            scaler.update()
    assert any(f["kind"] == "grad_explosion" for f in m.findings)


def test_gradients_non_finite_at_every_scale_are_a_finding_at_the_first_skipped_step():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = scaler_or_skip()
    with monitor(model, optimizer, activation_every=0, max_consecutive_skips=8) as m:
        amp_loop(model, m, scaler, 20, overflow_at=set(range(5, 20)))
    gradients = [f for f in m.findings if f["kind"] == "nonfinite_gradient"]
    assert [(f["step"], f["parameter"]) for f in gradients] == [(5, "0.weight")]
    assert "8 steps in a row from step 5" in gradients[0]["note"]
    result = by_id(m.results())["monitor.nonfinite"]
    assert result.status is Status.FAIL and result.details["first_step"] == 5


# -- gradient norms read in batches -------------------------------------------------------


def test_a_nan_gradient_with_a_finite_loss_is_named_at_its_step():
    """The gradient norms of ordinary steps are read 32 at a time; the finding still names its
    step and parameter, and the findings stay in step order."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    inputs, targets = data()
    broken = inputs.clone()
    broken[3, 4] = float("nan")
    with monitor(model, optimizer, activation_every=0) as m:
        for step in range(40):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(broken if step == 20 else inputs), targets)
            loss.backward()
            if step == 5:
                model[2].weight.grad[1, 1] = float("nan")  # the loss stays finite
            m.step(loss)
            for p in model.parameters():  # keep the weights finite for the steps after
                p.grad.nan_to_num_(0.0)
            optimizer.step()
    assert math.isnan(m.grad_norms[5]) and math.isfinite(m.grad_norms[6])
    gradients = [
        (f["step"], f["parameter"]) for f in m.findings if f["kind"] == "nonfinite_gradient"
    ]
    assert gradients[0] == (5, "2.weight") and {step for step, _ in gradients} == {5, 20}
    # The NaN loss of step 20 was reported at once, the gradients of step 5 later: in order.
    assert [f["step"] for f in m.findings] == sorted(f["step"] for f in m.findings)
    assert [f["kind"] for f in m.findings if f["step"] == 20][:2] == [
        "nonfinite_loss",
        "nonfinite_activation",
    ]
    result = by_id(m.results())["monitor.nonfinite"]
    assert result.status is Status.FAIL and result.details["first_step"] == 5


# -- loss spikes ---------------------------------------------------------------------------


def demo_like_curve(steps=600, seed=0):
    """A loss converging from ln 10 to about 0.01, with the noise of small batches."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    clean = 2.3 * np.exp(-t / 60) + 0.01
    return clean * np.exp(rng.normal(0, 0.6, steps))


def run_series(values, **options):
    m = TrainingMonitor(nn.Linear(2, 2), activation_every=0, **options)
    with m:
        for value in values:
            m.step(float(value))
    return m


def test_a_converging_noisy_loss_has_no_spikes():
    values = demo_like_curve()
    assert running_median_exceedances(values, 50, 3.0)  # the ratio alone would cry wolf
    m = run_series(values)
    assert [f for f in m.findings if f["kind"] == "loss_spike"] == []
    assert by_id(m.results())["monitor.loss_spikes"].status is Status.PASS


def test_a_small_loss_that_triples_by_a_tiny_amount_is_no_spike():
    values = [2.3 * math.exp(-s / 20) + 0.001 for s in range(300)]
    values[250] = 0.003  # three times the converged loss: a meaningless change
    m = run_series(values)
    assert [f for f in m.findings if f["kind"] == "loss_spike"] == []


def test_a_real_spike_is_found_at_its_step():
    rng = np.random.default_rng(1)
    values = list(0.3 * np.exp(rng.normal(0, 0.1, 200)))
    values[150] = 3.0
    m = run_series(values)
    spikes = [f for f in m.findings if f["kind"] == "loss_spike"]
    assert [f["step"] for f in spikes] == [150]
    result = by_id(m.results())["monitor.loss_spikes"]
    assert result.status is Status.WARN
    event = result.evidence[0].items[0]
    assert event["step"] == 150 and event["jump"] == pytest.approx(3.0 - event["running_median"])
    # The same rule offline, with the check's parameters: gates may loosen it after the run.
    assert [e["step"] for e in loss_spikes(values, 50, 3.0, 5.0, 0.1)] == [150]
    loose = by_id(m.results({"monitor.loss_spikes": {"min_jump": 10.0}}))["monitor.loss_spikes"]
    assert loose.status is Status.PASS

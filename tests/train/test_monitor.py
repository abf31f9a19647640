"""The training monitor on real training loops with planted faults at known steps."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from dlqa.core.errors import UsageError  # noqa: E402
from dlqa.core.results import Status  # noqa: E402
from dlqa.train.monitor import TrainingMonitor, monitor  # noqa: E402
from dlqa.train.monitor_rules import loss_spikes  # noqa: E402
from tests.train.buggy_models import LogOfShifted  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def classification_data(n=128, features=10, classes=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, features, generator=generator)
    targets = (inputs[:, 0] > 0).long() + (inputs[:, 1] > 0.5).long()
    return inputs, targets % classes


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 3),
    )


def run_loop(model, optimizer, m, inputs, targets, steps, before_step=None, loss_fn=None):
    loss_fn = loss_fn or nn.functional.cross_entropy
    for step in range(steps):
        if before_step is not None:
            before_step(step)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = loss_fn(outputs, targets)
        loss.backward()
        m.step(loss, outputs=outputs, targets=targets)
        optimizer.step()


def by_id(results):
    return {r.check_id: r for r in results}


def mlp_with_log_layer():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(10, 16),
        nn.ReLU(),
        nn.Sequential(nn.Linear(16, 16), nn.Tanh(), LogOfShifted()),
        nn.Linear(16, 3),
    )


@pytest.mark.parametrize(("activation_every", "source"), [(50, "replay"), (1, "sampled scan")])
def test_nan_at_known_step_names_the_module_and_step(activation_every, source):
    model = mlp_with_log_layer()
    log_layer = model[2][2]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    inputs, targets = classification_data()

    def break_at_37(step):  # the argument of the log turns negative at step 37
        log_layer.shift = -5.0 if step == 37 else 100.0

    with monitor(model, optimizer, activation_every=activation_every) as m:
        run_loop(model, optimizer, m, inputs, targets, 45, before_step=break_at_37)

    activation = [f for f in m.findings if f["kind"] == "nonfinite_activation"]
    assert activation[0]["step"] == 37
    assert activation[0]["module"] == "2.2"
    assert activation[0]["module_type"] == "LogOfShifted"
    assert activation[0]["source"] == source
    assert [f["step"] for f in m.findings if f["kind"] == "nonfinite_loss"] == [37]
    bad_gradients = {f["parameter"] for f in m.findings if f["kind"] == "nonfinite_gradient"}
    assert "2.0.weight" in bad_gradients and "0.weight" in bad_gradients
    result = by_id(m.results())["monitor.nonfinite"]
    assert result.status is Status.FAIL
    assert "step 37" in result.summary and "`2.2` (LogOfShifted)" in result.summary
    # Stored with the run: strict JSON, the NaN loss written as a string.
    stored = json.loads(json.dumps(m.to_dict(), allow_nan=False))
    assert {"step": 37, "kind": "nonfinite_loss", "value": "nan"} in stored["findings"]
    json.dumps(result.to_dict(), allow_nan=False)


def test_nan_produced_by_the_loss_function_is_blamed_on_it():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    inputs, _ = classification_data()
    regression_targets = torch.ones(len(inputs), 3)

    def log_loss(outputs, targets):  # log of raw outputs: NaN as soon as one is negative
        return (torch.log(outputs) - targets).pow(2).mean()

    with monitor(model, optimizer, activation_every=0) as m:
        optimizer.zero_grad()
        loss = log_loss(model(inputs), regression_targets)
        loss.backward()
        m.step(loss)  # no outputs given: the replayed forward pass is finite
    culprit = [f for f in m.findings if f["kind"] == "nonfinite_activation"]
    assert culprit[0]["module"] == "(loss function)"
    assert culprit[0]["source"] == "replay"


def test_nan_in_the_inputs_is_blamed_on_the_inputs():
    model = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    inputs, targets = classification_data()
    inputs[5, 3] = float("nan")
    with monitor(model, optimizer, activation_every=0) as m:
        run_loop(model, optimizer, m, inputs, targets, 1)
    culprit = [f for f in m.findings if f["kind"] == "nonfinite_activation"]
    assert culprit[0]["module"] == "(model inputs)"


def test_replay_leaves_buffers_and_rng_unchanged():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), LogOfShifted())
    model[3].shift = -100.0
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    inputs, _ = classification_data()
    with monitor(model, optimizer, activation_every=0) as m:
        loss = model(inputs).mean()
        running_mean = model[1].running_mean.clone()
        rng_state = torch.get_rng_state()
        loss.backward()
        m.step(loss)
        assert torch.equal(model[1].running_mean, running_mean)
        assert torch.equal(torch.get_rng_state(), rng_state)
    assert any(f.get("source") == "replay" for f in m.findings)


def test_gradient_explosion_when_the_learning_rate_becomes_huge():
    torch.manual_seed(0)
    model = nn.Linear(5, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    inputs = torch.randn(64, 5)
    targets = inputs @ torch.tensor([[1.0], [-2.0], [0.5], [0.0], [3.0]])

    def raise_lr(step):
        if step == 20:
            optimizer.param_groups[0]["lr"] = 50.0

    with monitor(model, optimizer) as m:
        for step in range(26):
            raise_lr(step)
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(inputs), targets)
            loss.backward()
            m.step(loss)
            optimizer.step()

    explosions = [f for f in m.findings if f["kind"] == "grad_explosion"]
    # The huge step is taken at step 20: the gradient read at step 21 is the first to explode.
    assert explosions and explosions[0]["step"] == 21
    assert explosions[0]["value"] > 10 * explosions[0]["running_median"]
    result = by_id(m.results())["monitor.grad_explosion"]
    assert result.status is Status.WARN
    assert result.evidence[0].items[0]["step"] == 21


def test_loss_spike_on_a_corrupted_batch():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    inputs, targets = classification_data(n=256)
    wrong = (targets + 1) % 3

    with monitor(model, optimizer) as m:
        for step in range(60):
            batch_targets = wrong if step == 45 else targets
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(inputs), batch_targets)
            loss.backward()
            m.step(loss)
            optimizer.step()

    spikes = [f for f in m.findings if f["kind"] == "loss_spike"]
    assert [f["step"] for f in spikes] == [45]
    result = by_id(m.results())["monitor.loss_spikes"]
    assert result.status is Status.WARN
    assert [e["step"] for e in result.evidence[0].items] == [45]


def test_offline_spike_rule_matches_the_online_findings():
    rng = np.random.default_rng(3)
    series = np.exp(rng.normal(0, 0.6, 400)) + np.where(rng.random(400) < 0.03, 5.0, 0.0)
    series[100] = np.nan
    m = TrainingMonitor(
        nn.Linear(2, 2), window=20, spike_factor=2.5, spike_noise_factor=2.0, activation_every=0
    )
    with m:
        for value in series:
            m.step(float(value))
    online = [f["step"] for f in m.findings if f["kind"] == "loss_spike"]
    offline = [e["step"] for e in loss_spikes(series, 20, 2.5, 2.0, 0.1)]
    assert online == offline and len(online) >= 5


def test_dead_relu_layer_is_reported_with_its_fraction():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 3)
    )
    with torch.no_grad():
        model[2].bias[:12] = -1000.0  # 12 of 16 units can never fire
        model[2].bias[12:] = 1000.0  # the other 4 always fire
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    inputs, targets = classification_data()
    with monitor(model, optimizer, activation_every=5) as m:
        run_loop(model, optimizer, m, inputs, targets, 12)

    assert [step for step, _ in m.dead_relu_fractions["3"]] == [0, 5, 10]
    assert m.dead_relu_fractions["3"][-1][1] == pytest.approx(0.75)
    assert [f["module"] for f in m.findings if f["kind"] == "dead_relu"] == ["3"]
    result = by_id(m.results())["monitor.dead_relu"]
    assert result.status is Status.WARN
    assert result.value == pytest.approx(0.75)
    assert result.details["flagged_modules"] == ["3"]


def test_clean_training_passes_every_check():
    torch.manual_seed(0)
    model = small_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(64, 1, 8, 8, generator=generator)
    labels = torch.randint(0, 3, (64,), generator=generator)
    with monitor(model, optimizer, activation_every=10) as m:
        for _ in range(3):
            run_loop(model, optimizer, m, images, labels, 20)
            m.end_epoch()

    assert m.findings == []
    results = m.results()
    assert [r.check_id for r in results] == [
        "monitor.nonfinite",
        "monitor.grad_explosion",
        "monitor.loss_spikes",
        "monitor.dead_relu",
        "monitor.update_ratio",
        "monitor.amp_scaler",
    ]
    by_status = {r.check_id: r.status for r in results}
    assert by_status.pop("monitor.amp_scaler") is Status.SKIP  # no GradScaler passed
    assert set(by_status.values()) == {Status.PASS}, [r.summary for r in results]
    assert m.activation_scans == 6
    assert set(m.update_ratios) == {"0.weight", "3.weight", "6.weight"}
    assert len(m.confusion) == 3


def test_update_ratio_flags_a_layer_left_out_of_the_optimizer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model[2].parameters(), lr=0.1)  # model[0] forgotten
    inputs, targets = classification_data()
    with monitor(model, optimizer, activation_every=4) as m:
        run_loop(model, optimizer, m, inputs, targets, 9)
    assert [ratio for _, ratio in m.update_ratios["0.weight"]] == [0.0, 0.0, 0.0]
    assert all(1e-4 < ratio < 1e-1 for _, ratio in m.update_ratios["2.weight"])
    result = by_id(m.results())["monitor.update_ratio"]
    assert result.status is Status.WARN
    assert result.details["flagged_parameters"] == ["0.weight"]


def test_update_ratio_without_the_optimizer_compares_weights_at_the_next_step():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=5.0)
    inputs, targets = classification_data()
    with monitor(model, activation_every=2) as m:
        run_loop(model, optimizer, m, inputs, targets, 5)
    assert [step for step, _ in m.update_ratios["0.weight"]] == [0, 2]
    result = by_id(m.results())["monitor.update_ratio"]
    assert result.status is Status.WARN  # lr 5 moves the weights by far more than 10 %
    assert result.value > 0.1


def test_confusion_matrix_per_epoch_matches_the_counts():
    model = nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    rng = np.random.default_rng(0)
    expected = []
    with monitor(model, optimizer) as m:
        for _epoch in range(2):
            counts = np.zeros((3, 3), dtype=int)
            for _ in range(4):
                logits = torch.tensor(rng.normal(size=(16, 3)), dtype=torch.float32)
                labels = torch.tensor(rng.integers(0, 3, 16))
                labels[0] = -100  # ignore_index: not counted
                loss = model(torch.randn(16, 4)).sum()
                loss.backward()
                m.step(loss, outputs=logits, targets=labels)
                for true, predicted in zip(labels[1:], logits[1:].argmax(1), strict=True):
                    counts[true, predicted] += 1
            m.end_epoch()
            expected.append(counts)
    assert len(m.confusion) == 2
    for got, want in zip(m.confusion, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert m.confusion[0].sum() == 4 * 15


def test_hooks_are_removed_after_the_with_block_even_on_error():
    model = small_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    images = torch.randn(8, 1, 8, 8)
    labels = torch.randint(0, 3, (8,))
    with pytest.raises(RuntimeError, match="user code failed"), monitor(model, optimizer) as m:
        assert model._forward_pre_hooks and model[1]._forward_hooks  # step 0 is sampled
        run_loop(model, optimizer, m, images, labels, 2)
        raise RuntimeError("user code failed")
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
    assert not optimizer._optimizer_step_post_hooks
    with pytest.raises(UsageError, match="outside the monitor"):
        m.step(torch.tensor(1.0))

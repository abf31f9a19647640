"""The training monitor's boundary: options and step arguments that are usage errors, check
registration without torch, gates over the monitor's settings, and Lightning not installed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from dlqa.core.errors import UsageError  # noqa: E402
from dlqa.core.registry import get_spec  # noqa: E402
from dlqa.core.results import Status  # noqa: E402
from dlqa.train.monitor import TrainingMonitor, monitor  # noqa: E402


def by_id(results):
    return {r.check_id: r for r in results}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"activation_every": -1}, "activation_every"),
        ({"grad_norm_factor": 0.5}, "grad_norm_factor"),
        ({"window": 2}, "window"),
        ({"num_classes": 1}, "num_classes"),
        ({"update_ratio_range": (0.1, 0.01)}, "update_ratio_range"),
    ],
)
def test_bad_options_raise_a_clear_usage_error(options, message):
    with pytest.raises(UsageError, match=message):
        monitor(nn.Linear(2, 2), **options)


def test_bad_step_arguments_raise_usage_errors():
    model = nn.Linear(4, 3)
    with pytest.raises(UsageError, match="torch.nn.Module"):
        monitor("not a model")
    with monitor(model, num_classes=3) as m:
        with pytest.raises(UsageError, match="scalar loss"):
            m.step(torch.ones(3))
        with pytest.raises(UsageError, match="both outputs"):
            m.step(torch.tensor(1.0), outputs=torch.zeros(2, 3))
        m.step(torch.tensor(1.0), outputs=torch.zeros(2, 3), targets=torch.tensor([0, 5]))
        with pytest.raises(UsageError, match="reaches class 5 but num_classes is 3"):
            m.end_epoch()  # labels are counted in bulk, at the latest when the epoch closes


def test_checks_are_registered_with_documented_defaults_without_torch():
    spec = get_spec("monitor.grad_explosion")
    assert spec.defaults == {"factor": 10.0, "window": 50, "max_events": 0}
    assert set(spec.param_docs) == set(spec.defaults)
    assert get_spec("monitor.nonfinite").level == "fail"
    code = "import sys, dlqa.train.monitor_checks; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_gates_override_the_monitor_settings():
    m = TrainingMonitor(nn.Linear(2, 2), activation_every=0)
    with m:
        for value in [1.0] * 10 + [2.0] + [1.0] * 5:
            m.step(value)
    assert by_id(m.results())["monitor.loss_spikes"].status is Status.PASS
    strict = by_id(m.results({"monitor.loss_spikes": {"factor": 1.5, "level": "fail"}}))
    assert strict["monitor.loss_spikes"].status is Status.FAIL
    assert strict["monitor.loss_spikes"].evidence[0].items[0]["step"] == 10


@pytest.mark.skipif(
    any(importlib.util.find_spec(n) for n in ("lightning", "pytorch_lightning")),
    reason="Lightning is installed",
)
def test_lightning_adapter_without_lightning_says_how_to_install_it():
    sys.modules.pop("dlqa.train.lightning", None)
    with pytest.raises(UsageError, match="needs Lightning") as caught:
        importlib.import_module("dlqa.train.lightning")
    assert "pip install lightning" in str(caught.value)

"""Every train.* and monitor.* check declares its parameters' ranges; an override outside them is
a ConfigError that names the check and the parameter. Needs no torch."""

import subprocess
import sys

import pytest

from dlqa.core.errors import ConfigError
from dlqa.core.params import param_range
from dlqa.core.registry import all_specs, get_spec
from dlqa.train.checks import CHECK_ORDER

TRAIN_IDS = {*CHECK_ORDER, "train.fast_loop", "train.gradcheck", "train.metric_verification"}

# (check id, parameter, a value just outside its range, the nearest value inside it)
BOUNDS = [
    ("train.initial_loss", "init_allowance", -0.1, 0.0),
    ("train.initial_loss", "per_sample_std", -0.5, 0.0),
    ("train.initial_loss", "sigmas", -1.0, 0.0),
    ("train.gradients", "min_norm", -1e-9, 0.0),
    ("train.frozen", "steps", 0, 1),
    ("train.loss_decreases", "steps", 1, 2),
    ("train.loss_decreases", "min_relative_drop", -0.01, 0.0),
    ("train.loss_decreases", "min_relative_drop", 1.5, 1.0),
    ("train.overfit_batch", "max_steps", 0, 1),
    ("train.overfit_batch", "target_fraction", 0.0, 0.01),
    ("train.overfit_batch", "target_fraction", 1.0, 0.99),
    ("train.overfit_batch", "eval_every", 0, 1),
    ("train.overfit_batch", "plateau_window", -1, 0),
    ("train.overfit_batch", "plateau_speedup", 0.5, 1.0),
    ("train.batch_independence", "max_probes", 0, 1),
    ("train.batch_independence", "tolerance", -1e-6, 0.0),
    ("train.input_dependence", "steps", 0, 1),
    ("train.input_dependence", "min_relative_gap", -0.05, 0.0),
    ("train.input_dependence", "min_relative_gap", 1.1, 1.0),
    ("train.determinism", "steps", 0, 1),
    ("train.determinism", "tolerance", -1e-6, 0.0),
    ("train.determinism", "cuda_tolerance", -1e-3, 0.0),
    ("train.modes", "tolerance", -1e-6, 0.0),
    ("train.fast_loop", "min_drop", -0.5, 0.0),
    ("train.fast_loop", "timeout", 0.0, 0.5),
    ("train.gradcheck", "eps", 0.0, 1e-9),
    ("train.gradcheck", "atol", -1e-5, 0.0),
    ("train.gradcheck", "rtol", -1e-3, 0.0),
    ("train.metric_verification", "atol", -1e-6, 0.0),
    ("train.metric_verification", "max_examples", -1, 0),
    ("monitor.grad_explosion", "factor", 1.0, 1.5),
    ("monitor.grad_explosion", "window", 4, 5),
    ("monitor.grad_explosion", "max_events", -1, 0),
    ("monitor.loss_spikes", "factor", 0.5, 1.01),
    ("monitor.loss_spikes", "window", 0, 5),
    ("monitor.loss_spikes", "max_events", -1, 0),
    ("monitor.loss_spikes", "noise_factor", -1.0, 0.0),
    ("monitor.loss_spikes", "min_jump", -0.1, 0.0),
    ("monitor.dead_relu", "max_dead_fraction", 1.5, 1.0),
    ("monitor.dead_relu", "max_dead_fraction", -0.1, 0.0),
    ("monitor.update_ratio", "min_ratio", -1e-6, 0.0),
    ("monitor.update_ratio", "max_ratio", 0.0, 1.0),
]


def _specs():
    return [s for s in all_specs() if s.check_id.split(".")[0] in ("train", "monitor")]


def test_importing_the_checks_module_registers_every_train_check_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import dlqa.train.checks\n"
        "from dlqa.core.registry import _REGISTRY\n"
        "print(' '.join(sorted(i for i in _REGISTRY if i.startswith('train.'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == TRAIN_IDS


def test_every_parameter_has_a_range_and_a_doc_and_its_default_is_in_range():
    specs = _specs()
    assert {s.check_id for s in specs} >= TRAIN_IDS
    for spec in specs:
        spec.resolve_params()  # the defaults themselves pass
        for name in spec.defaults:
            assert param_range(spec.params_model, name), f"{spec.check_id}.{name} has no range"
            assert spec.param_docs.get(name), f"{spec.check_id}.{name} has no doc"


def test_the_table_below_covers_every_parameter():
    covered = {(check_id, name) for check_id, name, _, _ in BOUNDS}
    declared = {(s.check_id, name) for s in _specs() for name in s.defaults}
    assert declared == covered


@pytest.mark.parametrize(("check_id", "name", "outside", "inside"), BOUNDS)
def test_out_of_range_override_is_a_config_error_naming_the_parameter(
    check_id, name, outside, inside
):
    spec = get_spec(check_id)
    with pytest.raises(ConfigError, match=rf'gates\."{check_id}"\.{name}: '):
        spec.resolve_params({name: outside})
    assert spec.resolve_params({name: inside})[name] == inside


def test_several_bad_values_are_named_at_once():
    spec = get_spec("train.determinism")
    with pytest.raises(ConfigError) as raised:
        spec.resolve_params({"steps": 0, "tolerance": -1.0})
    assert "train.determinism" in str(raised.value)
    assert ".steps:" in str(raised.value) and ".tolerance:" in str(raised.value)

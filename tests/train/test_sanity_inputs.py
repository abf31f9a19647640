"""Bad input is one clear UsageError; the battery leaves the caller's state as it found it."""

import random
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from dlqa.core.errors import UsageError
from dlqa.core.registry import all_specs, get_spec
from dlqa.core.results import Status
from dlqa.train.checks import CHECK_ORDER
from dlqa.train.sanity import run
from tests.train.buggy_models import BatchNormDropoutMLP, PlainMLP, ScaledMLP, adam, vector_batch

LOSS = nn.CrossEntropyLoss()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_every_training_check_is_registered_and_documented():
    ids = {spec.check_id for spec in all_specs("train")}
    assert set(CHECK_ORDER) <= ids
    for check_id in CHECK_ORDER:
        spec = get_spec(check_id)
        assert spec.title and spec.description
        assert set(spec.param_docs) == set(spec.defaults), check_id


def test_the_train_stage_runs_only_checks_that_read_its_context():
    # gradcheck and metric verification read a layer / metric functions from the Python API.
    assert {spec.check_id for spec in all_specs("train")} == {*CHECK_ORDER, "train.fast_loop"}
    assert get_spec("train.gradcheck").stage == "gradcheck"
    assert get_spec("train.metric_verification").stage == "metrics"


def test_a_stage_context_without_a_model_skips_the_battery():
    no_model = SimpleNamespace(sanity=None, fast_loop=None)
    for check_id in CHECK_ORDER:
        spec = get_spec(check_id)
        result = spec.func(no_model, spec.resolve_params())
        assert result.check_id == check_id and result.status is Status.SKIP
        assert "[train] model" in result.summary


def test_check_ids_and_run_need_no_torch_to_import():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import dlqa, dlqa.train, dlqa.train.checks, dlqa.train.sanity\n"
        "from dlqa.core.registry import get_spec\n"
        "assert get_spec('train.batch_independence').title\n"
        "from dlqa.core.errors import UsageError\n"
        "try:\n"
        "    dlqa.train.sanity.run(None, None, None, None)\n"
        "except UsageError as exc:\n"
        "    print('usage:', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout and "pip install" in done.stdout


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (torch.randn(32, 16), r"pair \(inputs, targets\), got a Tensor"),
        ((torch.randn(32, 16), torch.zeros(32).long(), None), "3 items"),
        ((torch.randn(32, 16), [0] * 32), "targets must be a tensor"),
        ((torch.randn(32, 16), torch.zeros(31).long()), "32 inputs but 31 targets"),
        ((torch.randn(0, 16), torch.zeros(0).long()), "empty"),
    ],
)
def test_a_malformed_batch_is_one_usage_error(batch, message):
    with pytest.raises(UsageError, match=message):
        run(PlainMLP, LOSS, adam(), batch)


def test_a_loss_that_is_not_a_scalar_is_a_usage_error():
    with pytest.raises(UsageError, match="scalar") as caught:
        run(PlainMLP, nn.CrossEntropyLoss(reduction="none"), adam(), vector_batch())
    assert "reduction" in str(caught.value)


def _factory_that_raises():
    raise ValueError("bad width")


def test_broken_factories_are_usage_errors():
    # A model that raises or returns the wrong shape is a finding (test_sanity_model_bugs.py);
    # factories that do not deliver what the battery needs are the caller's mistake.
    with pytest.raises(UsageError, match="must return a torch.nn.Module"):
        run(lambda: "not a model", LOSS, adam(), vector_batch())
    with pytest.raises(UsageError, match="model_factory\\(\\) raised ValueError: bad width"):
        run(_factory_that_raises, LOSS, adam(), vector_batch())
    with pytest.raises(UsageError, match="torch.optim.Optimizer"):
        run(PlainMLP, LOSS, lambda params: None, vector_batch())
    with pytest.raises(UsageError, match="optimizer_factory.*raised TypeError"):
        run(
            PlainMLP, LOSS, lambda params: torch.optim.Adam(params, lr=1e-3, nope=1), vector_batch()
        )
    with pytest.raises(UsageError, match="must be callable"):
        run(PlainMLP, "cross_entropy", adam(), vector_batch())


def test_bad_options_are_usage_errors():
    with pytest.raises(UsageError, match="does not have"):
        run(ScaledMLP, LOSS, adam(), vector_batch(), frozen_buffers=("input_scael",))
    with pytest.raises(UsageError, match="unknown training check"):
        run(PlainMLP, LOSS, adam(), vector_batch(), checks=["train.overfit"])
    with pytest.raises(UsageError, match="loss_kind"):
        run(PlainMLP, LOSS, adam(), vector_batch(), loss_kind="hinge")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA is not available"):
            run(PlainMLP, LOSS, adam(), vector_batch(), device="cuda")


def test_global_random_state_is_restored():
    torch.manual_seed(1234)
    np.random.seed(99)
    random.seed(7)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(1234)
    np.random.seed(99)
    random.seed(7)
    run(BatchNormDropoutMLP, LOSS, adam(), vector_batch(), seed=5, device="auto")
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])
    assert random.random() == expected[2]


def test_a_factory_returning_the_same_model_leaves_it_unchanged():
    model = BatchNormDropoutMLP()
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    inputs, targets = vector_batch()
    inputs_before = inputs.clone()
    results = run(lambda: model, LOSS, adam(), (inputs, targets))
    # Every check started from the same weights, so the battery still passes...
    assert not [r.summary for r in results if r.status.fails_gate]
    # ...and the user's model, mode and batch are as they were.
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training is False
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(inputs, inputs_before)


def test_an_optimizer_that_ignores_some_parameters_fails_updates():
    def first_layer_only(params):
        return torch.optim.SGD(list(params)[:2], lr=0.1)

    (result,) = run(PlainMLP, LOSS, first_layer_only, vector_batch(), checks=["train.updates"])
    assert result.status is Status.FAIL
    assert result.details["not_held_by_optimizer"] == ["out.weight", "out.bias"]


def test_numpy_batches_are_accepted():
    inputs, targets = vector_batch()
    (result,) = run(
        PlainMLP, LOSS, adam(), (inputs.numpy(), targets.numpy()), checks=["train.gradients"]
    )
    assert result.status is Status.PASS


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_battery_on_cuda():
    results = run(BatchNormDropoutMLP, LOSS, adam(), vector_batch(), device="cuda")
    assert not [r.summary for r in results if r.status.fails_gate]
    determinism = next(r for r in results if r.check_id == "train.determinism")
    assert determinism.details["device"] == "cuda"


def test_run_setup_takes_a_training_setup():
    from dlqa.train.sanity import run_setup
    from dlqa.train.setup import TrainingSetup

    setup = TrainingSetup(PlainMLP, LOSS, adam(), vector_batch())
    (result,) = run_setup(setup, checks=["train.updates"])
    assert result.check_id == "train.updates" and result.status is Status.PASS

"""The battery end to end: correct models pass, each planted bug is caught by its own check and
by no other, and the evidence names what is wrong."""

import json

import pytest

from dlqa.core.results import Status
from dlqa.train.checks import CHECK_ORDER
from dlqa.train.sanity import run
from tests.train.buggy_models import buggy_setups, correct_setups

CORRECT = correct_setups()
BUGGY = buggy_setups()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _failing(results):
    return {r.check_id for r in results if r.status.fails_gate}


def _by_id(results):
    return {r.check_id: r for r in results}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_models_pass_every_check(name):
    results = run(**CORRECT[name].run_kwargs())
    assert [r.check_id for r in results] == list(CHECK_ORDER)
    assert _failing(results) == set(), [r.summary for r in results if r.status.fails_gate]
    # No frozen tensors in these models: the frozen check says so instead of passing silently.
    assert _by_id(results)["train.frozen"].status is Status.SKIP
    passed = {r.check_id for r in results if r.status is Status.PASS}
    assert passed == set(CHECK_ORDER) - {"train.frozen"}
    for result in results:
        json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_each_bug_is_caught_by_its_check_and_no_other(name):
    setup = BUGGY[name]
    results = run(**setup.run_kwargs())
    assert _failing(results) == set(setup.expected_failures), {
        r.check_id: r.summary for r in results if r.status.fails_gate
    }
    for result in results:
        json.dumps(result.to_dict(), allow_nan=False)


def test_batch_mixing_view_names_the_coupled_samples():
    result = _by_id(run(**BUGGY["view_mixes_batch"].run_kwargs()))["train.batch_independence"]
    assert "eval mode" in result.summary
    samples = result.evidence[0]
    assert samples.kind == "samples"
    first = samples.items[0]
    assert first["id"] not in first["depends_on"] and first["depends_on"]
    assert result.value > result.threshold


def test_parameters_left_out_of_the_optimizer_are_named():
    result = _by_id(run(**BUGGY["layer_left_out_of_optimizer"].run_kwargs()))["train.updates"]
    assert result.details["not_held_by_optimizer"] == ["hidden.weight", "hidden.bias"]
    rows = {row["name"]: row for row in result.evidence[0].items}
    assert rows["hidden.weight"]["held_by_optimizer"] is False
    assert rows["hidden.weight"]["value"] == 0.0
    # The parameters the optimizer holds report a positive update-to-weight ratio.
    assert rows["out.weight"]["value"] > 0 and "problem" not in rows["out.weight"]


def test_frozen_check_names_the_drifting_layer_and_the_overwritten_buffer():
    drifting = _by_id(run(**BUGGY["frozen_layer_updates"].run_kwargs()))["train.frozen"]
    assert drifting.details["changed"] == ["parameter frozen_projection.weight"]
    assert "parameter frozen_projection.bias" in drifting.details["watched"]
    buffer = _by_id(run(**BUGGY["constant_buffer_overwritten"].run_kwargs()))["train.frozen"]
    assert buffer.details["changed"] == ["buffer input_scale"]


def test_softmax_before_cross_entropy_is_explained():
    results = _by_id(run(**BUGGY["softmax_before_cross_entropy"].run_kwargs()))
    initial = results["train.initial_loss"]
    assert initial.details["outputs_look_like_probabilities"] is True
    assert "logits" in initial.summary
    overfit = results["train.overfit_batch"]
    assert overfit.details["steps"] is None
    assert overfit.details["best_loss"] > overfit.details["target_loss"]


def test_nan_log_fails_finite_outputs_and_skips_the_checks_that_depend_on_it():
    results = _by_id(run(**BUGGY["nan_producing_log"].run_kwargs()))
    finite = results["train.finite_outputs"]
    assert finite.evidence[0].kind == "samples" and finite.evidence[0].total > 0
    assert {"id", "nan", "inf"} <= set(finite.evidence[0].items[0])
    for check_id in ("train.gradients", "train.overfit_batch", "train.determinism"):
        assert results[check_id].status is Status.SKIP
        assert "train.finite_outputs" in results[check_id].summary

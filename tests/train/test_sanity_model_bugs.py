"""Model bugs are findings, not usage errors (issue 15): outputs without one row per sample, a
forward pass that raises, unregistered parameters, input mutation, tuple and dict outputs, a
detached loss. test_sanity_battery.py runs each buggy setup of buggy_models.model_bug_setups
and checks that it is caught by its own check and no other; this file checks what they say."""

from collections import namedtuple

import pytest
import torch
from torch import nn

from dlqa.core.errors import UsageError
from dlqa.core.results import Status
from dlqa.train.checks import CHECK_ORDER
from dlqa.train.sanity import run
from tests.train.buggy_models import (
    BATCH,
    CLASSES,
    DictOutputMLP,
    PlainMLP,
    TupleOutputMLP,
    adam,
    model_bug_setups,
    vector_batch,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BUGS = model_bug_setups()
LOSS = nn.CrossEntropyLoss()


def _by_id(results):
    return {r.check_id: r for r in results}


def _run_bug(name, **options):
    return _by_id(run(**{**BUGS[name].run_kwargs(), **options}))


def _one(check_id, model_factory, batch=None, loss_fn=LOSS, **options):
    (result,) = run(
        model_factory, loss_fn, adam(), batch or vector_batch(), checks=[check_id], **options
    )
    return result


# ---------------------------------------------------------------- output rows


def test_a_reshape_that_folds_features_into_the_batch_is_diagnosed():
    results = _run_bug("reshape_folds_features_into_batch")
    shape = results["train.output_shape"]
    assert shape.status is Status.FAIL
    rows = 4 * BATCH
    assert f"{rows} output rows for a batch of {BATCH}: a reshape moves features" in shape.summary
    assert "4 rows per sample" in shape.summary and "x.view(x.size(0), -1)" in shape.summary
    assert shape.details["shape"] == [rows, CLASSES]
    # The checks that need one output row per sample (or the loss) say why they skip...
    for check_id in ("train.initial_loss", "train.gradients", "train.batch_independence"):
        assert results[check_id].status is Status.SKIP
        assert "train.output_shape" in results[check_id].summary
    # ...and those that can still run, do.
    for check_id in (
        "train.finite_outputs",
        "train.input_mutation",
        "train.unregistered_parameters",
        "train.modes",
    ):
        assert results[check_id].status is Status.PASS, results[check_id].summary
    assert "loss was not computed" in results["train.finite_outputs"].summary


def test_pooling_over_the_batch_axis_is_diagnosed_as_a_reduction():
    shape = _run_bug("pooling_over_the_batch_axis")["train.output_shape"]
    assert shape.status is Status.FAIL
    assert f"12 output rows for a batch of {BATCH}" in shape.summary
    assert "the batch axis is reduced" in shape.summary


def test_a_scalar_output_and_a_single_row_are_reductions_over_the_batch():
    class MeanOfEverything(PlainMLP):
        def forward(self, x):
            return super().forward(x).mean()

    class MeanOverBatch(PlainMLP):
        def forward(self, x):
            return super().forward(x).mean(0, keepdim=True)

    scalar = _one("train.output_shape", MeanOfEverything, loss_fn=nn.MSELoss())
    assert scalar.status is Status.FAIL and "returned a scalar" in scalar.summary
    one_row = _one("train.output_shape", MeanOverBatch)
    assert one_row.status is Status.FAIL
    assert f"1 output row for a batch of {BATCH}" in one_row.summary
    assert "reduced" in one_row.summary


def test_a_sequence_first_output_is_told_to_put_the_batch_first():
    class SequenceFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(4, CLASSES)

        def forward(self, x):  # (B, T, 4) -> (T, B, C)
            return self.layer(x).transpose(0, 1)

    batch = (torch.randn(BATCH, 5, 4), torch.arange(BATCH) % CLASSES)
    shape = _one("train.output_shape", SequenceFirst, batch)
    assert shape.status is Status.FAIL
    assert "the batch is axis 1" in shape.summary and "batch_first" in shape.summary


def test_a_loss_that_raises_on_badly_shaped_outputs_is_a_shape_finding():
    too_few_classes = _one("train.output_shape", lambda: nn.Linear(16, 5))
    assert too_few_classes.status is Status.FAIL
    assert "the largest target class is 9 but there are only 5" in too_few_classes.summary
    assert "the loss raised" in too_few_classes.summary


# ---------------------------------------------------------------- forward errors


def test_a_forward_pass_that_raises_names_the_module():
    results = _run_bug("submodule_forward_raises")
    shape = results["train.output_shape"]
    assert shape.status is Status.ERROR
    assert shape.details["module"] == "blocks.1.attn"
    assert shape.details["module_type"] == "Attention"
    assert shape.details["exception"] == "RuntimeError"
    assert "blocks.1.attn (Attention)" in shape.summary and "RuntimeError" in shape.summary
    for check_id in set(CHECK_ORDER) - {"train.output_shape"}:
        assert results[check_id].status is Status.SKIP
    # (train.frozen skips first because the model has nothing frozen.)
    for check_id in set(CHECK_ORDER) - {"train.output_shape", "train.frozen"}:
        assert "forward pass raised" in results[check_id].summary


def test_a_model_that_does_not_take_the_batch_is_an_error_finding():
    # Formerly a usage error ("the model's forward pass or the loss raised ...").
    shape = _one("train.output_shape", lambda: nn.Linear(3, 10))
    assert shape.status is Status.ERROR
    assert "the model's own forward (Linear)" in shape.summary
    assert "mat1 and mat2" in shape.summary


def test_a_forward_pass_that_raises_only_in_eval_mode_is_an_error_of_the_checks_that_hit_it():
    class Head(nn.Linear):
        def forward(self, x):
            if not self.training:
                raise ValueError("eval mode is not supported")
            return super().forward(x)

    class EvalFails(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), Head(32, CLASSES))

        def forward(self, x):
            return self.body(x)

    results = _by_id(
        run(
            EvalFails,
            LOSS,
            adam(),
            vector_batch(),
            checks=["train.output_shape", "train.batch_independence", "train.modes"],
        )
    )
    assert results["train.output_shape"].status is Status.PASS
    for check_id in ("train.batch_independence", "train.modes"):
        result = results[check_id]
        assert result.status is Status.ERROR
        assert "body.2 (Head)" in result.summary and "eval mode is not supported" in result.summary
        assert result.details["module"] == "body.2"


# ---------------------------------------------------------------- unregistered parameters


def test_layers_in_a_plain_list_are_named_with_the_fix():
    result = _run_bug("layers_in_a_plain_list")["train.unregistered_parameters"]
    assert result.status is Status.FAIL
    assert result.details["unregistered"] == [
        "blocks[0].weight",
        "blocks[0].bias",
        "blocks[1].weight",
        "blocks[1].bias",
    ]
    rows = {row["name"]: row for row in result.evidence[0].items}
    assert rows["blocks[1].weight"]["shape"] == [64, 64]
    assert "nn.ModuleList" in rows["blocks[1].weight"]["problem"]
    assert "state_dict()" in result.summary


def test_a_requires_grad_tensor_attribute_is_named():
    result = _run_bug("requires_grad_tensor_attribute")["train.unregistered_parameters"]
    assert result.details["unregistered"] == ["scale"]
    assert "scale (64,) (a plain tensor attribute: use nn.Parameter)" in result.summary


class PlainDictHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(16, 32)
        self.heads = {"main": nn.Linear(32, CLASSES)}
        self.gains = [torch.ones(32, requires_grad=True)]

    def forward(self, x):
        return self.heads["main"](torch.relu(self.body(x)) * self.gains[0])


class FreshTensorInForward(PlainMLP):
    def forward(self, x):
        bias = torch.zeros(CLASSES, requires_grad=True)  # recreated on every call
        return super().forward(x) + bias


def test_plain_dicts_lists_of_tensors_and_tensors_made_in_forward_are_found():
    found = _one("train.unregistered_parameters", PlainDictHeads)
    rows = {row["name"]: row["problem"] for row in found.evidence[0].items}
    assert rows == {
        "heads['main'].weight": "a plain dict: use nn.ModuleDict",
        "heads['main'].bias": "a plain dict: use nn.ModuleDict",
        "gains[0]": "a plain list: use nn.ParameterList",
    }
    fresh = _one("train.unregistered_parameters", FreshTensorInForward)
    assert fresh.status is Status.FAIL
    (row,) = fresh.evidence[0].items
    assert row["name"].startswith("<unnamed") and "during the forward pass" in row["problem"]


def test_a_batch_that_requires_grad_is_not_a_parameter():
    inputs, targets = vector_batch()
    inputs.requires_grad_(True)
    result = _one("train.unregistered_parameters", PlainMLP, (inputs, targets))
    assert result.status is Status.PASS, result.summary
    assert "4 registered parameters" in result.summary


# ---------------------------------------------------------------- input mutation


def test_an_in_place_activation_on_the_input_is_reported_with_values():
    results = _run_bug("forward_mutates_its_input")
    result = results["train.input_mutation"]
    assert result.status is Status.FAIL
    assert result.summary.startswith("the forward pass changed its input in place: ")
    (row,) = result.evidence[0].items
    inputs, _ = vector_batch()
    assert row["changed"] == int((inputs < 0).sum()) and row["total"] == inputs.numel()
    assert row["before"] < 0 and row["after"] == 0.0
    assert row["before"] == pytest.approx(float(inputs[tuple(row["index"])]))
    # The other checks are not confused by it: each forward pass gets its own copy.
    assert results["train.determinism"].status is Status.PASS


def test_a_multiplication_in_place_changes_every_value_and_leaves_the_callers_batch_alone():
    class Doubles(PlainMLP):
        def forward(self, x):
            x.mul_(2)
            return super().forward(x)

    inputs, targets = vector_batch()
    kept = inputs.clone()
    results = _by_id(run(Doubles, LOSS, adam(), (inputs, targets)))
    mutation = results["train.input_mutation"]
    total = inputs.numel()
    assert f"{total:,} of {total:,} values" in mutation.summary
    assert torch.equal(inputs, kept)
    failing = {r.check_id for r in results.values() if r.status.fails_gate}
    assert failing == {"train.input_mutation"}


# ---------------------------------------------------------------- tuple and dict outputs


def test_tuple_and_dict_outputs_list_the_outputs_and_ask_for_output_key():
    tuple_shape = _run_bug("tuple_output_without_output_key")["train.output_shape"]
    assert "[0] (32, 10), [1] (32, 64)" in tuple_shape.summary
    assert "output_key" in tuple_shape.summary
    dict_shape = _run_bug("dict_output_without_output_key")["train.output_shape"]
    assert "'embedding' (32, 64), 'logits' (32, 10)" in dict_shape.summary
    assert dict_shape.details["outputs"] == [
        {"name": "'embedding'", "shape": "(32, 64)"},
        {"name": "'logits'", "shape": "(32, 10)"},
    ]


@pytest.mark.parametrize(("factory", "key"), [(TupleOutputMLP, 0), (DictOutputMLP, "logits")])
def test_output_key_picks_the_logits_and_the_battery_passes(factory, key):
    results = run(factory, LOSS, adam(), vector_batch(), output_key=key)
    assert [r.summary for r in results if r.status.fails_gate] == []
    assert _by_id(results)["train.frozen"].status is Status.SKIP


def test_output_key_of_a_named_tuple_may_be_its_field_name():
    Outputs = namedtuple("Outputs", ["logits", "hidden"])

    class NamedOutputs(PlainMLP):
        def forward(self, x):
            hidden = torch.relu(self.hidden(x))
            return Outputs(self.out(hidden), hidden)

    result = _one("train.output_shape", NamedOutputs, output_key="logits")
    assert result.status is Status.PASS and result.details["shape"] == [BATCH, CLASSES]


def test_an_output_key_that_does_not_fit_is_a_usage_error():
    with pytest.raises(UsageError, match="output_key='logit' is not one of") as caught:
        run(DictOutputMLP, LOSS, adam(), vector_batch(), output_key="logit")
    assert "'logits' (32, 10)" in str(caught.value)
    with pytest.raises(UsageError, match="output_key=2 is not one of"):
        run(TupleOutputMLP, LOSS, adam(), vector_batch(), output_key=2)
    with pytest.raises(UsageError, match="returns a single tensor"):
        run(PlainMLP, LOSS, adam(), vector_batch(), output_key=0)
    with pytest.raises(UsageError, match="an index \\(int\\) or a key"):
        run(TupleOutputMLP, LOSS, adam(), vector_batch(), output_key=1.5)


# ---------------------------------------------------------------- detached loss


def test_a_detached_loss_fails_gradients_and_skips_the_training_checks():
    results = _run_bug("detached_loss")
    gradients = results["train.gradients"]
    assert gradients.status is Status.FAIL
    assert "the loss is detached from the model: it has no grad_fn" in gradients.summary
    assert gradients.details["outputs_detached"] is False
    for check_id in ("train.updates", "train.overfit_batch", "train.determinism"):
        assert results[check_id].status is Status.SKIP
        assert "train.gradients" in results[check_id].summary


def _item_loss(outputs, targets):
    return torch.tensor(nn.functional.cross_entropy(outputs, targets).item())


def _no_grad_loss(outputs, targets):
    with torch.no_grad():
        return nn.functional.cross_entropy(outputs, targets)


class DetachedOutputs(PlainMLP):
    def forward(self, x):
        return super().forward(x).detach()


@pytest.mark.parametrize(
    ("factory", "loss_fn", "cause"),
    [
        (PlainMLP, _item_loss, "in the loss"),
        (PlainMLP, _no_grad_loss, "in the loss"),
        (DetachedOutputs, LOSS, "outputs are already detached"),
    ],
)
def test_every_way_of_cutting_the_loss_from_the_model_is_named(factory, loss_fn, cause):
    results = _by_id(run(factory, loss_fn, adam(), vector_batch(), loss_kind="cross_entropy"))
    gradients = results["train.gradients"]
    assert gradients.status is Status.FAIL and "no grad_fn" in gradients.summary
    assert cause in gradients.summary
    assert {r.check_id for r in results.values() if r.status.fails_gate} == {"train.gradients"}


# ---------------------------------------------------------------- the caller's mistakes


def test_the_callers_mistakes_stay_usage_errors():
    with pytest.raises(UsageError, match="pair"):
        run(PlainMLP, LOSS, adam(), torch.randn(BATCH, 16))
    with pytest.raises(UsageError, match="must return a torch.nn.Module"):
        run(lambda: None, LOSS, adam(), vector_batch())
    with pytest.raises(UsageError, match="optimizer_factory.*raised ValueError"):
        run(PlainMLP, LOSS, lambda params: torch.optim.SGD(params, lr=-1), vector_batch())

    def broken_loss(outputs, targets):
        raise TypeError("loss_fn() got an unexpected keyword")

    # Outputs of the right shape, and the loss still raises: the loss is the caller's.
    with pytest.raises(UsageError, match="loss_fn\\(outputs, targets\\) raised TypeError"):
        run(PlainMLP, broken_loss, adam(), vector_batch())

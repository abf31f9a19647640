"""gradcheck: correct backwards pass, wrong ones are named by input/parameter and index."""

import pytest

torch = pytest.importorskip("torch")

from dlqa.core.errors import UsageError  # noqa: E402
from dlqa.core.registry import get_spec  # noqa: E402
from dlqa.core.results import Status  # noqa: E402
from dlqa.train.gradcheck import check_gradcheck, gradcheck  # noqa: E402


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


class SquareMissingFactorTwo(Square):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return x * grad


class MultiplyWrongSecondGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * b, grad * b  # the second should be grad * a


class ScaleFunction(torch.autograd.Function):
    """y = x * scale (scale broadcast over the batch); ``half_bug`` halves d/dscale."""

    @staticmethod
    def forward(ctx, x, scale, half_bug):
        ctx.save_for_backward(x, scale)
        ctx.half_bug = half_bug
        return x * scale

    @staticmethod
    def backward(ctx, grad):
        x, scale = ctx.saved_tensors
        grad_scale = (grad * x).sum(0) * (0.5 if ctx.half_bug else 1.0)
        return grad * scale, grad_scale, None


class ScaledLinear(torch.nn.Module):
    def __init__(self, half_bug):
        super().__init__()
        self.linear = torch.nn.Linear(3, 4)
        self.scale = torch.nn.Parameter(torch.linspace(0.5, 2.0, 4))
        self.half_bug = half_bug

    def forward(self, x):
        return ScaleFunction.apply(self.linear(x), self.scale, self.half_bug)


def test_correct_custom_function_passes_on_a_random_input_built_from_a_shape():
    report = gradcheck(Square.apply, (4, 3))
    assert report.passed
    assert report.checked == 12
    assert report.worst["abs_err"] < 1e-5
    assert report.to_result().status is Status.PASS


def test_backward_missing_a_factor_two_fails_and_names_the_input():
    report = gradcheck(SquareMissingFactorTwo.apply, torch.randn(4, 3))
    assert not report.passed
    assert report.failing == ("input[0]",)
    worst = report.worst
    assert worst["name"] == "input[0]" and worst["kind"] == "input"
    row, col = worst["index"]
    # The outputs are projected on random weights, so the gradient is 2 * x * w: the bug shows
    # as an analytic value exactly half the finite-difference one.
    assert worst["analytic"] == pytest.approx(worst["numeric"] / 2, rel=1e-4)
    assert abs(worst["numeric"]) > 1e-3
    result = report.to_result()
    assert result.check_id == "train.gradcheck" and result.status is Status.FAIL
    assert f"input[0][{row}, {col}]" in result.summary
    assert result.evidence[0].kind == "inputs"
    assert result.evidence[0].items[0]["name"] == "input[0]"


def test_only_the_input_with_the_wrong_gradient_is_named():
    report = gradcheck(MultiplyWrongSecondGradient.apply, (2, 2), (2, 2))
    assert not report.passed
    assert report.failing == ("input[1]",)


def test_module_with_a_buggy_custom_layer_fails_naming_the_parameter_and_is_left_unchanged():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Tanh(), ScaledLinear(half_bug=True))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng_before = torch.get_rng_state()
    report = gradcheck(model, (5, 3))
    assert not report.passed
    assert report.failing == ("1.scale",)
    assert report.worst["kind"] == "parameter"
    result = report.to_result()
    assert "parameter 1.scale" in result.summary
    assert result.evidence[0].kind == "parameters"
    # The user's module and the global RNG are as they were.
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng_before)


def test_correct_module_with_dropout_and_batchnorm_passes_in_train_mode():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 3),
        torch.nn.BatchNorm1d(3),
        torch.nn.Dropout(0.3),
        ScaledLinear(half_bug=False),
    )
    assert model.training  # dropout is live: every evaluation must see the same mask
    report = gradcheck(model, (8, 3))
    assert report.passed, report.worst
    assert report.checked == 8 * 3 + sum(p.numel() for p in model.parameters())


def test_large_tensors_are_checked_on_a_sample_and_integer_inputs_pass_through():
    report = gradcheck(Square.apply, (60, 60), max_elements=50)
    assert report.passed and report.checked == 50
    embedding = torch.nn.Embedding(10, 3)
    report = gradcheck(embedding, torch.tensor([[1, 2], [3, 1]]))
    assert report.passed
    assert report.checked == 30  # the 10 x 3 weight; the index input is not differentiable


def test_nothing_to_check_and_non_tensor_outputs_are_usage_errors():
    with pytest.raises(UsageError, match="nothing to check"):
        gradcheck(lambda n: torch.ones(2) * n, 3)
    with pytest.raises(UsageError, match="no floating-point tensor"):
        gradcheck(lambda x: "not a tensor", (2,))


def test_registered_check_runs_gradcheck_and_honours_the_level():
    spec = get_spec("train.gradcheck")
    failing = check_gradcheck((SquareMissingFactorTwo.apply, [(3,)]), spec.resolve_params())
    assert failing.status is Status.FAIL
    warned = check_gradcheck(
        (SquareMissingFactorTwo.apply, [(3,)]), spec.resolve_params({"level": "warn"})
    )
    assert warned.status is Status.WARN
    assert check_gradcheck((Square.apply, [(3,)]), spec.resolve_params()).status is Status.PASS

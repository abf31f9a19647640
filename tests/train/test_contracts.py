"""Shape/dtype contracts: named dims bind across calls; messages name the tensor and both sides."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlqa.core.errors import UsageError  # noqa: E402
from dlqa.train.contracts import ContractError, contract, expect, shape_contract  # noqa: E402


def test_matching_tensor_passes_and_is_returned():
    images = torch.zeros(4, 3, 8, 8)
    assert expect(images, "B C H W", dtype="float", finite=True, name="images") is images
    assert expect(images, (None, 3, -1, 8), dtype=torch.float32) is images
    assert expect(images, "B ... W") is images
    assert expect(np.zeros((2, 5), dtype=np.int64), "N 5", dtype="int") is not None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("B C H", "images: expected shape (B, C, H), got (4, 3, 8, 9): 4 dims instead of 3"),
        ((None, 1, -1, -1), "images: expected shape (_, 1, _, _), got (4, 3, 8, 9): dim 1 is 3"),
        ("N C H N", "dim 3 (N) is 9, but N = 4 (bound by dim 0 of images)"),
        ("A B C D E ...", "at least 5 dims needed"),
    ],
)
def test_shape_mismatch_messages_name_the_tensor_and_both_shapes(spec, message):
    with pytest.raises(ContractError) as caught:
        expect(torch.zeros(4, 3, 8, 9), spec, name="images")
    assert message in str(caught.value)


def test_dtype_mismatch_names_expected_and_actual_dtype():
    with pytest.raises(ContractError, match=r"labels: expected dtype int64, got float32"):
        expect(torch.zeros(3), dtype=torch.int64, name="labels")
    with pytest.raises(ContractError, match=r"expected dtype float \(any float dtype\), got int64"):
        expect(torch.zeros(3, dtype=torch.int64), dtype="float")
    with pytest.raises(ContractError, match="got bool"):
        expect(torch.zeros(3, dtype=torch.bool), dtype="int")
    expect(torch.zeros(3, dtype=torch.float16), dtype=("float32", "float16"))
    expect(np.zeros(3, dtype=np.float32), dtype=np.float32)


def test_finite_reports_the_count_and_first_index():
    values = torch.ones(2, 3)
    values[1, 2] = float("nan")
    values[0, 1] = float("inf")
    with pytest.raises(ContractError, match=r"logits: 2 of 6 values are not finite .* \(0, 1\)"):
        expect(values, finite=True, name="logits")
    expect(values, "2 3")  # finite=False by default


def test_contract_error_is_both_a_usage_error_and_an_assertion_error():
    with pytest.raises(AssertionError):
        expect(torch.zeros(2), "3")
    with pytest.raises(UsageError):
        expect(torch.zeros(2), "3")
    with pytest.raises(ContractError, match="expected a tensor or array, got list"):
        expect([1, 2], "2", name="x")


def test_named_dims_bind_across_calls_within_a_contract_only():
    with contract() as dims:
        expect(torch.zeros(4, 3, 8, 8), "B C H W", name="x")
        expect(torch.zeros(4, 10), "B K", name="logits")
        assert dims == {"B": 4, "C": 3, "H": 8, "W": 8, "K": 10}
        with pytest.raises(
            ContractError, match=r"expected shape \(B=4\), got \(5\).*bound by dim 0"
        ):
            expect(torch.zeros(5), "B", name="targets")
        with contract() as inner:
            expect(torch.zeros(7), "T")
            assert inner["B"] == 4 and inner["T"] == 7
        assert "T" not in dims  # an inner scope does not leak
    # Outside a contract a name binds within one call only.
    expect(torch.zeros(5), "B")
    expect(torch.zeros(6), "B")


def test_a_failed_check_binds_nothing():
    with contract() as dims:
        with pytest.raises(ContractError):
            expect(torch.zeros(4, 2), "B 3")
        assert dims == {}
        expect(torch.zeros(6, 3), "B 3")
        assert dims == {"B": 6}


def test_malformed_specs_are_usage_errors_not_contract_errors():
    for spec in ("B 3.5", "B ... ...", (2, -3)):
        with pytest.raises(UsageError) as caught:
            expect(torch.zeros(2, 2), spec)
        assert not isinstance(caught.value, ContractError)


class Classifier(torch.nn.Module):
    def __init__(self, classes=5, drop_row=False):
        super().__init__()
        self.linear = torch.nn.Linear(3, classes)
        self.drop_row = drop_row

    @shape_contract(inputs={"x": {"shape": "B 3", "dtype": "float"}}, output="B K")
    def forward(self, x):
        out = self.linear(x)
        return out[1:] if self.drop_row else out


def test_shape_contract_on_forward_binds_inputs_and_output():
    assert Classifier()(torch.zeros(4, 3)).shape == (4, 5)
    with pytest.raises(
        ContractError, match=r"Classifier.forward output: expected shape \(B=4, K\)"
    ):
        Classifier(drop_row=True)(torch.zeros(4, 3))
    with pytest.raises(ContractError, match=r"Classifier.forward argument 'x': expected shape"):
        Classifier()(torch.zeros(4, 2))
    with pytest.raises(ContractError, match="expected dtype float"):
        Classifier()(torch.zeros(4, 3, dtype=torch.int64))


def test_shape_contract_on_a_function_with_tuple_output_and_optional_argument():
    @shape_contract(inputs={"x": "B D", "mask": "B"}, output=["B D", "B"])
    def split(x, mask=None):
        return x * 2, x.sum(1)

    assert split(torch.zeros(3, 2))[1].shape == (3,)  # mask None: not checked
    with pytest.raises(ContractError, match=r"split argument 'mask'.*\(B=3\), got \(4\)"):
        split(torch.zeros(3, 2), mask=torch.zeros(4))

    @shape_contract(output=["B", "B"])
    def one_value(x):
        return x

    with pytest.raises(ContractError, match="expected a tuple of 2 values, got one value"):
        one_value(torch.zeros(2))


def test_shape_contract_rejects_unknown_arguments_and_bad_specs_at_decoration():
    with pytest.raises(UsageError, match="no argument named y"):
        shape_contract(inputs={"y": "B"})(lambda x: x)
    with pytest.raises(UsageError, match="is not a dim"):
        shape_contract(inputs={"x": "B 2.5"})(lambda x: x)

"""Gates on noisy values: pass, fail or inconclusive from the interval, and the policy that
decides whether inconclusive blocks."""

import pytest

from dlqa.core.gates import apply_gate, decide, exit_code_of, gate_fails
from dlqa.core.results import CheckResult, Interval, Status

FAIL = {"level": "fail", "on_inconclusive": "fail"}


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(0.91, 0.95, Status.PASS), (0.80, 0.89, Status.FAIL), (0.85, 0.93, Status.INCONCLUSIVE)],
)
def test_decide_higher_is_better(low, high, expected):
    assert decide(Interval(low, high), 0.9, FAIL, higher_is_better=True) is expected


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(0.01, 0.04, Status.PASS), (0.06, 0.09, Status.FAIL), (0.03, 0.07, Status.INCONCLUSIVE)],
)
def test_decide_lower_is_better(low, high, expected):
    assert decide(Interval(low, high), 0.05, FAIL, higher_is_better=False) is expected


def test_decide_a_warn_gate_warns_instead_of_failing():
    params = {"level": "warn", "on_inconclusive": "fail"}
    assert decide(Interval(0.1, 0.2), 0.9, params, higher_is_better=True) is Status.WARN


def _inconclusive() -> CheckResult:
    return CheckResult("eval.accuracy", Status.INCONCLUSIVE, "cannot decide", n=40,
                       interval=Interval(0.8, 0.95), value=0.9, threshold=0.9)  # fmt: skip


def test_inconclusive_fails_its_gate_by_default():
    gated = apply_gate(_inconclusive(), FAIL)
    assert gated.details["on_inconclusive"] == "fail"
    assert gate_fails(gated) and exit_code_of([gated]) == 1
    # --allow-inconclusive relaxes it for the whole command; it is still not a pass.
    assert not gate_fails(gated, allow_inconclusive=True)
    assert exit_code_of([gated], allow_inconclusive=True) == 0
    assert gated.status is Status.INCONCLUSIVE


def test_a_gate_can_relax_inconclusive_to_a_warning():
    gated = apply_gate(_inconclusive(), {"level": "fail", "on_inconclusive": "warn"})
    assert gated.status is Status.INCONCLUSIVE and not gate_fails(gated)
    # A warn-level gate never fails, so neither does its inconclusive result.
    warn_level = apply_gate(_inconclusive(), {"level": "warn", "on_inconclusive": "fail"})
    assert not gate_fails(warn_level)


def test_allow_inconclusive_never_relaxes_a_failure_or_an_error():
    for status in (Status.FAIL, Status.ERROR):
        result = CheckResult("x.y", status, "s")
        assert gate_fails(result, allow_inconclusive=True)

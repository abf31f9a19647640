"""The pytest plugin's failure message: the same wording as the other views."""

from __future__ import annotations

import pytest

from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.pytest_plugin import CheckOutcome


def test_failure_message_shows_subject_interval_n_and_inconclusive_reason() -> None:
    undecided = CheckResult(
        "train.metric",
        Status.INCONCLUSIVE,
        "accuracy undecided",
        0.912,
        0.9,
        subject="val",
        n=400,
        interval=Interval(0.87, 0.94),
    )
    failed = CheckResult(
        "train.updates",
        Status.FAIL,
        "1 parameter did not change",
        evidence=[Evidence("parameters", [{"name": "head.bias", "value": 0.0}], 1)],
    )
    with pytest.raises(AssertionError) as info:
        CheckOutcome([failed, undecided]).assert_all()
    message = str(info.value)
    assert "train.metric[val] [inconclusive]: accuracy undecided" in message
    assert "value 0.912 [0.87, 0.94] 95% CI, n=400, threshold 0.9" in message
    assert "straddles the threshold 0.9 (n=400); fails the gate" in message
    assert "parameters, 1 in all:\n        - head.bias: value=0" in message
    # A result without an interval or n gets no value line.
    assert "train.updates [fail]: 1 parameter did not change\n      parameters" in message

import json

import numpy as np
import pytest

from dlqa.core.results import CheckResult, Evidence, Interval, Status


def test_status_gate_semantics():
    assert Status.FAIL.fails_gate and Status.ERROR.fails_gate
    # Undecided is not passed: by default an inconclusive result fails its gate.
    assert Status.INCONCLUSIVE.fails_gate
    assert not any(s.fails_gate for s in (Status.PASS, Status.WARN, Status.SKIP))
    assert Status("warn") is Status.WARN and str(Status.PASS) == "pass"


def test_result_with_subject_n_and_interval_round_trips():
    result = CheckResult(
        "eval.accuracy",
        Status.INCONCLUSIVE,
        "accuracy 0.90 on 40 images cannot decide >= 0.9",
        value=0.9,
        threshold=0.9,
        subject="golden",
        n=40,
        interval=Interval(0.77, 0.96, 0.95),
    )
    data = result.to_dict()
    assert data["subject"] == "golden" and data["n"] == 40
    assert data["interval"] == {"low": 0.77, "high": 0.96, "level": 0.95}
    assert CheckResult.from_dict(json.loads(json.dumps(data))) == result
    assert result.key == "eval.accuracy[golden]"


def test_a_v1_result_reads_with_empty_new_fields():
    v1 = {"check_id": "data.dark", "status": "pass", "summary": "s", "value": 0.0,
          "threshold": 0.0, "evidence": [], "details": {}}  # fmt: skip
    result = CheckResult.from_dict(v1)
    assert result.subject is None and result.n is None and result.interval is None


def test_to_dict_is_json_safe_whatever_the_check_put_in():
    result = CheckResult(
        "x.y",
        Status.FAIL,
        "s",
        value=np.float32(float("nan")),
        threshold=np.int64(3),
        n=np.int64(12),
        evidence=[Evidence("samples", [{"id": "a", "value": np.float64(np.inf)}], np.int64(1))],
        details={"array": np.arange(3), "nan": float("nan"), "tuple": (1, 2), "set": {"b", "a"}},
    )
    text = json.dumps(result.to_dict(), allow_nan=False)  # raises on NaN or numpy types
    data = json.loads(text)
    assert data["value"] is None and data["threshold"] == 3 and data["n"] == 12
    assert data["details"] == {"array": [0, 1, 2], "nan": None, "tuple": [1, 2], "set": ["a", "b"]}
    assert data["evidence"][0]["items"][0]["value"] is None


def test_interval_refuses_nonsense():
    with pytest.raises(ValueError, match="low <= high"):
        Interval(0.9, 0.1)
    with pytest.raises(ValueError, match="level"):
        Interval(0.1, 0.9, level=95)


def test_result_round_trips_through_dict():
    result = CheckResult(
        "data.dark",
        Status.WARN,
        "2 of 10 samples are too dark",
        value=0.2,
        threshold=0.0,
        evidence=[Evidence("samples", [{"id": "a.jpg"}, {"id": "b.jpg"}], 2, "darkest first")],
        details={"count": 2},
    )
    assert CheckResult.from_dict(result.to_dict()) == result


def test_flagged_ids_reads_samples_pairs_and_groups():
    result = CheckResult(
        "x.y",
        Status.FAIL,
        "s",
        evidence=[
            Evidence("samples", [{"id": "a"}, "b"], 2),
            Evidence("pairs", [{"ids": ["c", "d"]}], 1),
            Evidence("groups", [{"ids": ["e", "f", "g"]}], 1),
            Evidence("table", [{"label": "cat"}], 1),
        ],
    )
    assert result.flagged_ids() == {"a", "b", "c", "d", "e", "f", "g"}

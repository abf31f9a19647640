from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.demo.verify import PLANTED_CHECKS, verify_planted


def test_a_planted_problem_not_flagged_is_reported_missed():
    results = [
        CheckResult(
            "data.dark", Status.FAIL, "s", evidence=[Evidence("samples", [{"id": "d"}], 1)]
        ),
        CheckResult("data.unreadable", Status.FAIL, "s", evidence=[]),
        CheckResult(
            "data.split_leakage",
            Status.WARN,  # flagged, but the gate did not fail: not caught
            "s",
            evidence=[Evidence("pairs", [{"ids": ["a", "b"]}], 1)],
        ),
    ]
    planted = {"dark": ["d"], "corrupt": ["c"], "split_leakage": ["a", "b"]}
    outcomes = {o.problem: o for o in verify_planted(results, planted)}
    assert outcomes["dark"].caught
    assert not outcomes["corrupt"].caught and outcomes["corrupt"].missed_ids == ["c"]
    assert not outcomes["split_leakage"].caught and outcomes["split_leakage"].missed_ids == []
    assert set(PLANTED_CHECKS) >= set(planted)

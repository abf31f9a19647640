from dlqa.core.results import CheckResult, Evidence, Status


def test_status_gate_semantics():
    assert Status.FAIL.fails_gate and Status.ERROR.fails_gate
    assert not any(s.fails_gate for s in (Status.PASS, Status.WARN, Status.SKIP))
    assert Status("warn") is Status.WARN and str(Status.PASS) == "pass"


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

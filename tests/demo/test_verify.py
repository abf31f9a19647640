from pathlib import Path

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.demo.audio_part import AUDIO_PLANTED_PROBLEMS
from dlqa.demo.build import PLANTED_PROBLEMS, DemoProject
from dlqa.demo.eval_part import EVAL_PLANTED_PROBLEMS
from dlqa.demo.exp_part import ABLATION_PLANTED
from dlqa.demo.exp_part import PLANTED as EXP_PLANTED
from dlqa.demo.text_part import TEXT_PLANTED_PROBLEMS
from dlqa.demo.verify import PLANTED_CHECKS, unexpected_failures, verify_planted


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
    assert outcomes["dark"].caught and outcomes["dark"].part == "image"
    assert not outcomes["corrupt"].caught and outcomes["corrupt"].missed_ids == ["c"]
    assert not outcomes["split_leakage"].caught and outcomes["split_leakage"].missed_ids == []


def test_every_planted_problem_of_every_part_has_its_check(tmp_path: Path):
    assert list(PLANTED_CHECKS) == ["image", "audio", "text", "drift", "eval", "exp", "ablation"]
    assert set(PLANTED_CHECKS["image"]) == set(PLANTED_PROBLEMS)
    assert set(PLANTED_CHECKS["audio"]) == set(AUDIO_PLANTED_PROBLEMS)
    assert set(PLANTED_CHECKS["text"]) == set(TEXT_PLANTED_PROBLEMS)
    # The drift part plants nothing in any one sample: its problems are those of the project.
    project = DemoProject(root=tmp_path, data_dir=tmp_path / "data", planted={}, incoming=tmp_path)
    drift = project.planted_by_part()["drift"]
    assert set(PLANTED_CHECKS["drift"]) == set(drift)
    assert all(ids == [] for ids in drift.values())
    assert set(PLANTED_CHECKS["eval"]) == set(EVAL_PLANTED_PROBLEMS)
    assert set(PLANTED_CHECKS["exp"]) == set(EXP_PLANTED)
    assert set(PLANTED_CHECKS["ablation"]) == set(ABLATION_PLANTED)


def test_unexpected_failures_of_the_eval_part_are_eval_checks():
    results = [
        CheckResult("eval.accuracy", Status.INCONCLUSIVE, "s"),
        CheckResult("eval.regression_cases", Status.FAIL, "s"),
        CheckResult("data.dark", Status.FAIL, "s"),
    ]
    assert unexpected_failures(results, "eval") == ["eval.accuracy"]


def test_label_errors_are_verified_by_the_label_error_check_in_every_part():
    for part in ("image", "audio", "text"):
        assert PLANTED_CHECKS[part]["label_error"] == "data.label_errors", part
    assert PLANTED_CHECKS["drift"] == {
        "brightness_shift": "data.property_drift",
        "new_camera": "data.domain_classifier",
    }


def test_drift_is_caught_when_its_checks_fail_with_nothing_to_flag():
    results = [
        CheckResult("data.property_drift", Status.FAIL, "s"),
        CheckResult("data.domain_classifier", Status.WARN, "s"),
    ]
    planted = {"brightness_shift": [], "new_camera": []}
    outcomes = {o.problem: o for o in verify_planted(results, planted, "drift")}
    assert outcomes["brightness_shift"].caught
    assert outcomes["brightness_shift"].check_id == "data.property_drift"
    assert not outcomes["new_camera"].caught and outcomes["new_camera"].missed_ids == []
    assert unexpected_failures(results, "drift") == []


def test_problems_of_the_same_name_are_verified_per_part():
    flagged = [Evidence("samples", [{"id": "train/x.wav"}], 1)]
    results = [CheckResult("data.clipped", Status.FAIL, "s", evidence=flagged)]
    (outcome,) = verify_planted(results, {"clipped": ["train/x.wav"]}, "audio")
    assert outcome.caught and outcome.check_id == "data.clipped" and outcome.part == "audio"


def test_failures_with_nothing_planted_are_unexpected():
    results = [
        CheckResult("data.clipped", Status.FAIL, "s"),  # planted in audio
        CheckResult("data.dc_offset", Status.FAIL, "s"),  # nothing planted for it
        CheckResult("data.duration_outliers", Status.WARN, "s"),  # a warning does not fail
        CheckResult("train.gradients", Status.FAIL, "s"),  # training is judged on its own
    ]
    assert unexpected_failures(results, "audio") == ["data.dc_offset"]
    assert unexpected_failures(results, "text") == ["data.clipped", "data.dc_offset"]


def test_a_planted_cluster_is_caught_when_one_cluster_is_the_planted_samples():
    planted = [f"scan_{i}" for i in range(30)]

    def clusters(first: list[str], second: list[str]) -> list[CheckResult]:
        groups = [{"ids": first}, {"ids": second}]
        return [CheckResult("eval.embedding_clusters", Status.FAIL, "s",
                            evidence=[Evidence("groups", groups, 2)])]  # fmt: skip

    upright = [f"img_{i}" for i in range(30)]
    found = verify_planted(clusters(planted[:29] + ["img_0"], planted[29:] + upright[1:]),
                           {"two_meaning": planted}, "eval")[0]  # fmt: skip
    assert found.caught  # 29 of 30 scans in a cluster that is 29 of 30 scans
    mixed = verify_planted(clusters(planted[:15] + upright[:15], planted[15:] + upright[15:]),
                           {"two_meaning": planted}, "eval")[0]  # fmt: skip
    assert not mixed.caught and len(mixed.missed_ids) == 15  # a split, but not the planted one

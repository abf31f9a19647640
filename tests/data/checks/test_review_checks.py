"""data.review_error_rate and data.confirmed_label_errors on profiles with verdicts."""

from __future__ import annotations

import pytest

from dlqa.core.gates import gate_fails
from dlqa.core.intervals import wilson_interval
from dlqa.core.registry import all_specs, get_spec
from dlqa.core.results import Status
from dlqa.core.suite import Suite, run_check
from dlqa.data.review import ReviewedSample, ReviewVerdicts

REVIEW_CHECKS = ("data.review_error_rate", "data.confirmed_label_errors")


def cats_and_dogs(make_profile, cats: int = 60, dogs: int = 40):
    rows = [{"sample_id": f"cat/{i}.png", "label": "cat"} for i in range(cats)]
    rows += [{"sample_id": f"dog/{i}.png", "label": "dog"} for i in range(dogs)]
    return make_profile(rows)


def reviewed(profile, samples: list[ReviewedSample], **kwargs) -> object:
    profile.reviews = ReviewVerdicts("test", samples, review_ids=[1], **kwargs)
    return profile


def run(check_id: str, profile, **gate):
    spec = get_spec(check_id)
    [result] = run_check(spec, profile, spec.resolve_params(gate))
    return result


def ok(sample_id: str, label: str, random: bool = True) -> ReviewedSample:
    return ReviewedSample(sample_id, label, "ok", random=random, reviewer="ann")


def test_both_need_reviews_and_are_left_out_without_them(make_profile):
    profile = cats_and_dogs(make_profile)
    for check_id in REVIEW_CHECKS:
        assert get_spec(check_id).needs == frozenset({"reviews"})
    suite = Suite([s for s in all_specs("data") if s.check_id in REVIEW_CHECKS])
    suite.for_inputs(profile.inputs)
    assert suite.entries == []
    reviewed(profile, [ok("cat/0.png", "cat")])
    suite = Suite([s for s in all_specs("data") if s.check_id in REVIEW_CHECKS])
    suite.for_inputs(profile.inputs)
    assert [spec.check_id for spec, _ in suite.entries] == sorted(REVIEW_CHECKS)


def test_many_clean_reviews_pass_with_the_wilson_interval(make_profile):
    profile = cats_and_dogs(make_profile, cats=60, dogs=40)
    samples = [ok(f"cat/{i}.png", "cat") for i in range(60)]
    samples += [ok(f"dog/{i}.png", "dog") for i in range(40)]
    result = run("data.review_error_rate", reviewed(profile, samples))
    assert result.status is Status.PASS
    assert result.value == 0.0 and result.n == 100 and result.threshold == 0.05
    # Proportional draws: the effective size is the count, the interval Wilson's 0 of 100.
    assert result.interval.high == pytest.approx(wilson_interval(0, 100).high)
    assert result.details["n_effective"] == pytest.approx(100)
    per_class = {row["label"]: row for row in result.details["per_class"]}
    assert per_class["dog"]["n"] == 40 and per_class["dog"]["size"] == 40
    assert result.evidence[0].kind == "table" and len(result.evidence[0].items) == 2


def test_too_few_reviews_are_inconclusive_and_fail_the_gate_by_default(make_profile):
    profile = cats_and_dogs(make_profile)
    result = run("data.review_error_rate", reviewed(profile, [ok("cat/0.png", "cat")]))
    assert result.status is Status.INCONCLUSIVE
    assert "too few reviews" in result.summary
    assert gate_fails(result)
    relaxed = run("data.review_error_rate", profile, on_inconclusive="warn")
    assert not gate_fails(relaxed)


def test_many_errors_fail_and_flagged_reviews_stay_apart(make_profile):
    profile = cats_and_dogs(make_profile, cats=50, dogs=50)
    samples = [
        ReviewedSample(f"cat/{i}.png", "cat", "wrong_label", "dog", random=True)
        if i < 10
        else ok(f"cat/{i}.png", "cat")
        for i in range(30)
    ]
    samples += [ReviewedSample(f"dog/{i}.png", "dog", "bad_sample", random=False) for i in range(5)]
    result = run("data.review_error_rate", reviewed(profile, samples))
    assert result.status is Status.FAIL
    # Only cats were drawn at random: the estimate is theirs (the coverage says so).
    assert result.value == pytest.approx(10 / 30)
    assert result.details["coverage"] == 0.5
    assert result.details["flagged"]["n"] == 5 and result.details["flagged"]["errors"] == 5
    assert result.details["random"] == {"ok": 20, "wrong_label": 10, "bad_sample": 0}
    assert "10 wrong labels" in result.summary and "5 of 5 confirmed" in result.summary


def test_the_threshold_and_level_are_parameters(make_profile):
    profile = cats_and_dogs(make_profile)
    samples = [ok(f"cat/{i}.png", "cat") for i in range(60)]
    samples[0] = ReviewedSample("cat/0.png", "cat", "wrong_label", "dog", random=True)
    strict = run("data.review_error_rate", reviewed(profile, samples), max_error_rate=0.001)
    assert strict.status is Status.FAIL and strict.threshold == 0.001
    lenient = run("data.review_error_rate", profile, max_error_rate=0.5, confidence=0.9)
    assert lenient.status is Status.PASS and lenient.interval.level == 0.9


def test_only_flagged_reviews_give_no_estimate(make_profile):
    profile = cats_and_dogs(make_profile)
    samples = [ReviewedSample("cat/1.png", "cat", "wrong_label", "dog")]
    result = run("data.review_error_rate", reviewed(profile, samples, random_unreviewed=12))
    assert result.status is Status.INCONCLUSIVE and result.value is None and result.n == 0
    assert "no random draw reviewed yet (12 waiting)" in result.summary


def test_confirmed_wrong_labels_still_present_fail_with_the_suggested_label(make_profile):
    profile = cats_and_dogs(make_profile)
    samples = [
        ReviewedSample("cat/3.png", "cat", "wrong_label", "dog", "ears", reviewer="ann"),
        ReviewedSample("dog/7.png", "dog", "bad_sample", note="blank frame"),
        ok("cat/4.png", "cat"),
    ]
    result = run("data.confirmed_label_errors", reviewed(profile, samples))
    assert result.status is Status.FAIL and result.value == 2
    [evidence] = result.evidence
    assert evidence.kind == "samples" and evidence.total == 2
    first, second = evidence.items
    assert first["id"] == "cat/3.png" and first["label"] == "cat" and first["suggested"] == "dog"
    assert first["reason"] == "reviewed by ann: 'cat' should be 'dog' (ears)"
    assert second["id"] == "dog/7.png" and "not a usable sample (blank frame)" in second["reason"]
    assert result.details["wrong_label"] == 1 and result.details["bad_sample"] == 1


def test_relabelled_samples_are_fixed_and_removed_ones_are_gone(make_profile):
    rows = [
        {"sample_id": "cat/3.png", "label": "dog"},  # relabelled as the reviewer said
        {"sample_id": "cat/5.png", "label": "eel"},  # relabelled otherwise
        {"sample_id": "cat/6.png", "label": "cat"},
    ]
    profile = make_profile(rows)
    samples = [
        ReviewedSample("cat/3.png", "cat", "wrong_label", "dog"),
        ReviewedSample("cat/5.png", "cat", "wrong_label", "dog"),
        ok("cat/6.png", "cat"),
    ]
    result = run("data.confirmed_label_errors", reviewed(profile, samples, not_in_profile=2))
    assert result.status is Status.PASS and result.value == 0 and result.evidence == []
    fixed = {row["id"]: row for row in result.details["fixed"]}
    assert fixed["cat/3.png"]["as_suggested"] and fixed["cat/3.png"]["now"] == "dog"
    assert not fixed["cat/5.png"]["as_suggested"]
    assert result.details["not_in_profile"] == 2
    assert "2 relabelled since the review" in result.summary


def test_a_gate_may_allow_some_confirmed_errors(make_profile):
    profile = cats_and_dogs(make_profile)
    samples = [ReviewedSample("cat/3.png", "cat", "wrong_label", "dog")]
    result = run("data.confirmed_label_errors", reviewed(profile, samples), max_count=1)
    assert result.status is Status.PASS and result.evidence[0].total == 1

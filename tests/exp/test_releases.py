"""dlqa.exp.releases on constructed releases: the release gate (seeds, proportions with n,
values with intervals, undecidable ones), the history rows, and its SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from dlqa.core.results import Status
from dlqa.exp.releases import (
    CHECK_ID,
    NOT_ENOUGH_DATA,
    Release,
    history_svg,
    release_history,
    release_regression,
)

FAST = {"n_resamples": 500}


def env_diff(a: dict, b: dict) -> list[str]:
    return [
        f"{k}: {a.get(k)} -> {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
    ]


def by_metric(results: list) -> dict:
    assert all(r.check_id == CHECK_ID for r in results)
    return {r.subject: r for r in results}


def test_a_regression_beyond_noise_fails_and_shows_the_environment_diff() -> None:
    old = Release(
        "1.0", {"accuracy": [0.910, 0.905, 0.912, 0.908, 0.907]}, environment={"torch": "2.3"}
    )
    new = Release(
        "1.1", {"accuracy": [0.880, 0.884, 0.879, 0.886, 0.882]}, environment={"torch": "2.4"}
    )
    result = by_metric(release_regression(old, new, environment_diff=env_diff, **FAST))["accuracy"]
    assert result.status is Status.FAIL
    assert result.summary.startswith("accuracy: 1.0 -> 1.1: regressed by")
    assert "torch: 2.3 -> 2.4" in result.summary
    assert result.evidence[0].items == [{"difference": "torch: 2.3 -> 2.4"}]
    assert result.evidence[1].kind == "seed_groups"
    assert result.interval.high < 0 and result.n == 10 and result.details["method"] == "welch"
    assert result.to_dict()["details"]["previous_values"][0] == 0.910


def test_noise_passes_and_lower_is_better_is_read_the_right_way() -> None:
    old = Release("1.0", {"accuracy": [0.91, 0.90, 0.92], "loss": [0.30, 0.31, 0.29]})
    new = Release("1.1", {"accuracy": [0.905, 0.915, 0.90], "loss": [0.20, 0.21, 0.19]})
    results = by_metric(release_regression(old, new, higher_is_better={"loss": False}, **FAST))
    assert (
        results["accuracy"].status is Status.PASS and "within noise" in results["accuracy"].summary
    )
    assert results["loss"].status is Status.PASS and "improved" in results["loss"].summary
    results = by_metric(release_regression(old, new, **FAST))  # loss read as higher is better
    assert results["loss"].status is Status.FAIL


def test_proportions_with_n_use_newcombes_interval() -> None:
    # Newcombe (1998), table II example (h): 56/70 vs 48/80, method 10: 0.0524 to 0.3339.
    old = Release("1.0", {"accuracy": 56 / 70}, n={"accuracy": 70})
    new = Release("2.0", {"accuracy": 48 / 80}, n={"accuracy": 80})
    result = release_regression(old, new)[0]
    assert result.status is Status.FAIL and result.details["method"] == "newcombe"
    assert (result.interval.low, result.interval.high) == pytest.approx(
        (-0.3339, -0.0524), abs=1e-4
    )
    close = Release("2.0", {"accuracy": 0.79}, n={"accuracy": 70})
    assert release_regression(old, close)[0].status is Status.PASS


def test_single_values_with_intervals_are_combined_and_without_them_inconclusive() -> None:
    old = Release(
        "1.0",
        {"map": 0.50, "f1": 0.70, "bleu": 31.0},
        intervals={"map": (0.48, 0.52), "f1": (0.60, 0.80)},
    )
    new = Release(
        "1.1",
        {"map": 0.44, "f1": 0.66, "bleu": 29.0},
        intervals={"map": (0.42, 0.46), "f1": (0.56, 0.76)},
    )
    results = by_metric(release_regression(old, new))
    assert results["map"].status is Status.FAIL and results["map"].details["method"] == "mover"
    assert results["f1"].status is Status.PASS
    assert results["bleu"].status is Status.INCONCLUSIVE
    assert "one value cannot be told apart from noise" in results["bleu"].summary


def test_seeds_against_an_interval_and_metrics_on_one_side() -> None:
    old = Release("1.0", {"accuracy": 0.90, "gone": 1.0}, intervals={"accuracy": (0.89, 0.91)})
    new = Release("1.1", {"accuracy": [0.80, 0.81, 0.79], "new": 2.0})
    results = by_metric(release_regression(old, new))
    assert (
        results["accuracy"].status is Status.FAIL
        and results["accuracy"].details["method"] == "mover"
    )
    assert (
        results["gone"].status is Status.INCONCLUSIVE
        and "missing from 1.1" in results["gone"].summary
    )
    assert results["new"].status is Status.SKIP


def test_a_regression_significant_alone_but_not_after_holm_is_inconclusive() -> None:
    old = Release(
        "1.0",
        {f"m{i}": 0.50 for i in range(5)},
        intervals={f"m{i}": (0.45, 0.55) for i in range(5)},
    )
    worse = {f"m{i}": 0.50 for i in range(5)} | {"m0": 0.425}
    new = Release(
        "1.1",
        worse,
        intervals={f"m{i}": (v - 0.05, v + 0.05) for i, v in enumerate(worse.values())},
    )
    result = by_metric(release_regression(old, new))["m0"]
    assert result.status is Status.INCONCLUSIVE and "Holm" in result.summary


def test_bad_releases_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="no metrics"):
        Release("1.0", {})
    with pytest.raises(ValueError, match="needs a version"):
        Release(" ", {"a": 1.0})
    with pytest.raises(ValueError, match="finite number"):
        Release("1.0", {"a": [float("nan")]})
    with pytest.raises(ValueError, match="interval of a"):
        Release("1.0", {"a": 0.5}, intervals={"a": (0.6, 0.7)})
    with pytest.raises(ValueError, match="unknown metric"):
        Release("1.0", {"a": 0.5}, n={"b": 10})
    same = Release("1.0", {"a": 0.5})
    with pytest.raises(ValueError, match="higher_is_better"):
        release_regression(same, Release("1.1", {"a": 0.4}), higher_is_better={"lsos": False})
    with pytest.raises(ValueError, match="both releases are version 1.0"):
        release_regression(same, Release("1.0", {"a": 0.4}))


def test_round_trip() -> None:
    release = Release(
        "1.0", {"a": 0.5}, intervals={"a": (0.4, 0.6)}, n={"a": 100}, git={"commit": "abc"}
    )
    assert Release.from_dict(release.to_dict()) == release


def test_history_rows_and_not_enough_data() -> None:
    releases = [
        Release("1.0", {"accuracy": 0.80}, n={"accuracy": 500}, created_at="2026-01-01"),
        Release("1.1", {"accuracy": [0.84, 0.85, 0.83]}),
        Release("1.2", {"accuracy": 0.86, "f1": 0.7}, intervals={"accuracy": (0.85, 0.87)}),
    ]
    rows = release_history(releases)
    assert [(r["version"], r["metric"]) for r in rows] == [
        ("1.0", "accuracy"), ("1.1", "accuracy"), ("1.2", "accuracy"), ("1.2", "f1"),
    ]  # fmt: skip
    assert rows[0]["kind"] == "proportion" and rows[0]["low"] < 0.80 < rows[0]["high"]
    assert rows[1]["value"] == pytest.approx(0.84) and rows[1]["change"] == pytest.approx(0.04)
    assert rows[3]["low"] is None and rows[3]["change"] is None
    assert all(r["note"] is None for r in rows)
    assert history_svg(rows, "f1") is None  # one point: nothing to plot
    one = release_history(releases[:1])
    assert one[0]["note"] == NOT_ENOUGH_DATA and history_svg(one, "accuracy") is None
    with pytest.raises(ValueError, match="appears twice"):
        release_history([releases[0], Release("1.0", {"accuracy": 0.9})])
    with pytest.raises(ValueError, match="no releases"):
        release_history([])


def test_history_svg_escapes_crafted_texts() -> None:
    crafted = '<script>alert("x")</script>&\x07'
    releases = [Release("1.0", {"a<b": [0.5, 0.6]}), Release(crafted, {"a<b": 0.7}, n={"a<b": 50})]
    svg = history_svg(release_history(releases), "a<b")
    assert svg is not None and "<script" not in svg and "\x07" not in svg
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag.endswith("svg") and "href" not in svg
    texts = [t.text for t in root.iter() if t.tag.endswith("text")]
    assert "a<b by release" in texts
    assert any(t and t.startswith("<script>") for t in texts)
    assert len(list(root.iter("{http://www.w3.org/2000/svg}circle"))) == 2

import pytest

from dlqa.core.registry import get_spec
from dlqa.core.results import Status


def run(check_id, profile, **overrides):
    spec = get_spec(check_id)
    return spec.func(profile, spec.resolve_params(overrides))


def ids(result):
    return [item["id"] for ev in result.evidence for item in ev.items]


def test_unreadable_lists_each_broken_file_with_its_reason(make_profile):
    profile = make_profile(
        [
            {"sample_id": "ok.jpg"},
            {"sample_id": "empty.jpg", "error": "empty", "sha256": "e"},
            {
                "sample_id": "cut.jpg",
                "error": "truncated",
                "error_detail": "image file is truncated",
            },
        ]
    )
    result = run("data.unreadable", profile)
    assert result.status is Status.FAIL
    assert ids(result) == ["empty.jpg", "cut.jpg"]
    assert result.value == pytest.approx(2 / 3) and result.threshold == 0.0
    assert result.evidence[0].items[1]["reason"].startswith("truncated: image file")
    assert result.details["by_kind"] == {"empty": 1, "truncated": 1}


def test_a_probe_bug_is_an_error_of_dlqa_not_a_broken_file(make_profile):
    detail = "KeyError: 'luma' (in image.py:120, pixel_statistics_many)"
    profile = make_profile(
        [
            {"sample_id": "ok.jpg"},
            {"sample_id": "cut.jpg", "error": "truncated", "error_detail": "truncated"},
            {"sample_id": "fine.png", "error": "probe_error", "error_detail": detail},
        ]
    )
    result = run("data.unreadable", profile)
    assert result.status is Status.ERROR
    assert "a bug in dlqa, not in these files" in result.summary and detail in result.summary
    assert ids(result) == ["fine.png"]


def test_unreadable_passes_on_clean_data(make_profile):
    result = run("data.unreadable", make_profile([{"sample_id": "a"}, {"sample_id": "b"}]))
    assert result.status is Status.PASS and result.evidence == [] and result.value == 0.0


def test_format_mismatch(make_profile):
    profile = make_profile(
        [
            {"sample_id": "a.jpg"},
            {"sample_id": "b.jpg", "actual_format": "png", "format_mismatch": True},
        ]
    )
    result = run("data.format_mismatch", profile)
    assert result.status is Status.FAIL and ids(result) == ["b.jpg"]
    assert result.evidence[0].items[0]["reason"] == "PNG content in a .jpg file"


@pytest.mark.parametrize(
    ("check_id", "column", "bad", "good"),
    [
        ("data.dark", "brightness", 5.0, 120.0),
        ("data.bright", "brightness", 250.0, 120.0),
        ("data.low_contrast", "contrast", 2.0, 50.0),
        ("data.blurry", "relative_sharpness", 0.05, 0.8),
        ("data.low_information", "dominant_share", 1.0, 0.4),
    ],
)
def test_threshold_checks_flag_only_the_bad_sample(make_profile, check_id, column, bad, good):
    profile = make_profile(
        [{"sample_id": "good", column: good}, {"sample_id": "bad", column: bad}]
        + [{"sample_id": f"broken{i}", "error": "corrupt", column: None} for i in range(2)]
    )
    result = run(check_id, profile)
    assert ids(result) == ["bad"]
    assert result.status is Status.WARN  # these checks warn unless a gate says fail
    assert run(check_id, profile, level="fail").status is Status.FAIL
    assert run(check_id, profile, max_fraction=0.5).status is Status.PASS


def test_dark_ranks_darkest_first_and_respects_threshold(make_profile):
    profile = make_profile(
        [{"sample_id": "a", "brightness": 20.0}, {"sample_id": "b", "brightness": 3.0}]
    )
    assert ids(run("data.dark", profile)) == ["b", "a"]
    assert ids(run("data.dark", profile, max_brightness=10)) == ["b"]


def test_grayscale_and_odd_size(make_profile):
    photos = [{"sample_id": f"p{i}", "width": 800 + 10 * i, "height": 600} for i in range(20)]
    profile = make_profile(
        photos
        + [
            {"sample_id": "gray", "is_grayscale": True, "colorfulness": 0.3},
            {"sample_id": "tiny", "width": 30, "height": 30},
            {"sample_id": "strip", "width": 2000, "height": 200},
        ]
    )
    assert ids(run("data.grayscale", profile)) == ["gray"]
    assert ids(run("data.odd_size", profile)) == ["tiny", "strip"]

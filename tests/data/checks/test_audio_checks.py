"""Audio checks on profiles of synthesised clips: near-silent, truncated, clipped, DC offset,
mixed sample rates or channels, and durations unusual for their class."""

from __future__ import annotations

import numpy as np
import pytest

from dlqa.core.registry import all_specs, get_spec
from dlqa.core.results import Status
from dlqa.data.context import DataProfile
from tests.data.audio_signals import RATE, array_samples, audio_profile, tone, word

AUDIO_CHECKS = (
    "data.near_silent",
    "data.truncated",
    "data.clipped",
    "data.dc_offset",
    "data.sample_rate_mismatch",
    "data.duration_outliers",
)


def run(check_id: str, profile: DataProfile, **overrides):
    spec = get_spec(check_id)
    return spec.func(profile, spec.resolve_params(overrides))


def flagged(result) -> list[str]:
    return [item["id"] for evidence in result.evidence for item in evidence.items]


def reasons(result) -> list[str]:
    return [item["reason"] for evidence in result.evidence for item in evidence.items]


def profile_of(**clips: np.ndarray) -> DataProfile:
    return audio_profile(array_samples(list(clips.values()), ids=list(clips)))


def test_the_audio_checks_are_registered_for_audio_only():
    specs = {spec.check_id: spec for spec in all_specs("data")}
    for check_id in AUDIO_CHECKS:
        spec = specs[check_id]
        assert spec.applies_to("audio") and not spec.applies_to("image")
        assert set(spec.param_docs) == set(spec.defaults)


def test_a_minus_60_dbfs_tone_is_near_silent_and_a_minus_20_dbfs_one_is_not():
    profile = profile_of(quiet=tone(440, 1.0, -60), normal=tone(440, 1.0, -20))
    result = run("data.near_silent", profile)
    assert result.status is Status.WARN  # level "warn" by default
    assert flagged(result) == ["quiet"]
    assert reasons(result) == ["loudest second -63.3 dBFS RMS, peak -60.0 dBFS"]
    assert result.evidence[0].items[0]["value"] == pytest.approx(-60.0, abs=0.01)


def test_a_short_loud_word_in_a_long_quiet_clip_is_not_near_silent():
    long_clip = np.concatenate(
        [np.zeros(8 * RATE, np.float32), word(1), np.zeros(RATE, np.float32)]
    )
    result = run("data.near_silent", profile_of(sparse=long_clip))
    assert result.status is Status.PASS and result.value == 0.0


def test_near_silent_limits_are_parameters():
    profile = profile_of(soft=tone(440, 1.0, -30))
    assert run("data.near_silent", profile).status is Status.PASS
    assert flagged(run("data.near_silent", profile, max_peak_dbfs=-25.0)) == ["soft"]


def test_a_tone_cut_mid_cycle_is_truncated_and_a_faded_one_is_not():
    cut = tone(440, 1.0, -6)[: RATE // 2 + 37]  # faded in, cut off mid-cycle
    profile = profile_of(faded=tone(440, 1.0, -6), cut=cut, silence=np.zeros(RATE, np.float32))
    result = run("data.truncated", profile)
    assert result.status is Status.WARN and flagged(result) == ["cut"]
    assert reasons(result)[0].startswith("cut at the end: edge level end ")
    assert result.details["by_edge"] == {"end": 1}


def test_a_full_scale_square_wave_is_clipped_and_a_single_peak_is_not():
    square = np.sign(np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)).astype(np.float32)
    peak = tone(440, 1.0, -6)
    peak[100] = 1.0
    result = run("data.clipped", profile_of(square=square, peak=peak, clean=tone()))
    assert flagged(result) == ["square"]
    assert reasons(result)[0].endswith("% of samples clipped, in 880 runs")
    assert result.evidence[0].items[0]["value"] > 0.99


def test_a_dc_offset_above_the_limit_is_flagged():
    profile = profile_of(shifted=tone(440, 1.0, -20) + np.float32(0.05), centred=tone())
    result = run("data.dc_offset", profile)
    assert flagged(result) == ["shifted"]
    assert reasons(result) == ["mean sample value +0.0500 of full scale"]
    assert run("data.dc_offset", profile, max_dc_offset=0.1).status is Status.PASS


def test_sample_rates_and_channels_that_agree_pass():
    profile = audio_profile(array_samples([tone(), word(1), tone(880)]))
    result = run("data.sample_rate_mismatch", profile)
    assert result.status is Status.PASS and result.evidence == []
    assert result.details["expected"] == {"sample_rate": RATE, "channels": 1}


def test_the_minority_rate_and_channel_count_are_named():
    stereo = np.stack([tone(), tone()], axis=1)
    clips = [tone(), tone(), tone(), tone(440, 1.0, -6, rate=44_100), stereo]
    samples = array_samples(clips, [RATE, RATE, RATE, 44_100, RATE], ids=list("abcde"))
    result = run("data.sample_rate_mismatch", audio_profile(samples))
    assert result.status is Status.FAIL
    assert flagged(result) == ["d", "e"]
    assert reasons(result) == ["44100 Hz, mono", "16000 Hz, stereo"]
    assert "differ from the dataset's 16000 Hz mono" in result.summary
    assert result.details["sample_rates"] == {"16000": 4, "44100": 1}
    expected = run("data.sample_rate_mismatch", audio_profile(samples), sample_rate=44_100)
    assert flagged(expected) == ["a", "b", "c", "e"]


def test_a_clip_of_unusual_length_for_its_class_is_flagged():
    durations = [1.0] * 11 + [0.4]
    clips = [tone(440, d, -12) for d in durations] + [tone(440, 0.4, -12)] * 3
    labels = ["yes"] * 12 + ["no"] * 3  # "no" is too small a class to judge
    ids = [f"yes{i}" for i in range(12)] + ["no0", "no1", "no2"]
    profile = audio_profile(array_samples(clips, labels=labels, ids=ids))
    result = run("data.duration_outliers", profile)
    assert result.status is Status.WARN
    assert flagged(result) == ["yes11"]
    assert reasons(result) == ["0.40 s against a median of 1.00 s for class 'yes'"]
    assert result.details["classes_judged"] == 1


def test_small_differences_in_duration_are_not_outliers():
    clips = [tone(440, 1.0, -12)] * 11 + [tone(440, 1.1, -12)]
    profile = audio_profile(array_samples(clips, labels=["yes"] * 12))
    assert run("data.duration_outliers", profile).status is Status.PASS


def test_clips_that_did_not_decode_are_left_to_data_unreadable():
    cube = np.zeros((2, 2, 2), dtype=np.float32)
    profile = audio_profile(array_samples([cube, tone(440, 1.0, -60)], ids=["bad", "quiet"]))
    assert profile.decoded.tolist() == [False, True]
    for check_id in AUDIO_CHECKS:
        assert "bad" not in flagged(run(check_id, profile)), check_id
    assert flagged(run("data.unreadable", profile)) == ["bad"]


def test_audio_properties_feed_the_outlier_check():
    clips = [tone(440, 1.0, -12)] * 25 + [tone(440, 1.0, -32)]  # quiet, not near-silent
    profile = audio_profile(array_samples(clips, labels=["a"] * 26))
    result = run("data.property_outliers", profile)
    assert flagged(result) == ["clip25"]
    assert reasons(result)[0].startswith(("rms_dbfs", "peak_dbfs"))


def test_a_near_silent_clip_is_not_also_a_property_outlier():
    # It is data.near_silent's finding; reporting it as "unusually quiet" too would say one
    # thing twice. A quiet clip that is not near-silent is still an outlier of its class.
    clips = [tone(440, 1.0, -12)] * 25 + [tone(440, 1.0, -70)]
    profile = audio_profile(array_samples(clips, labels=["a"] * 26))
    assert flagged(run("data.near_silent", profile)) == ["clip25"]
    assert flagged(run("data.property_outliers", profile)) == []

"""Audio near-duplicates: spectrogram fingerprints survive a gain change, added noise, a time
shift and resampling, and do not pair different clips."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dlqa.core.registry import get_spec
from dlqa.core.results import Status
from dlqa.data import audio_fingerprint
from dlqa.data.audio_fingerprint import (
    AUDIO_NEAR_PARAMS,
    HOP_SECONDS,
    PATCH_FRAMES,
    SILENT,
    STEADY,
    find_audio_near_pairs,
)
from dlqa.data.audio_fingerprint import (
    audio_fingerprint as fingerprint_of,
)
from dlqa.data.context import DataProfile
from dlqa.data.profile import profile_source
from tests.data.audio_signals import (
    RATE,
    add_noise,
    array_samples,
    audio_profile,
    chirp,
    file_samples,
    noise_burst,
    resample,
    tone,
    word,
    write,
)

DEFAULTS = {name: param.default for name, param in AUDIO_NEAR_PARAMS.items()}
HIGH_RATE = 44_100


def copies_of(x: np.ndarray) -> dict[str, tuple[np.ndarray, int]]:
    """An original at 44.1 kHz and its near-duplicate copies."""
    return {
        "original": (x, HIGH_RATE),
        "gain": (x * np.float32(0.3), HIGH_RATE),
        "noise_20db": (add_noise(x, 20), HIGH_RATE),
        "noise_30db": (add_noise(x, 30, seed=7), HIGH_RATE),
        "shifted": (np.concatenate([np.zeros(int(0.3 * HIGH_RATE), np.float32), x]), HIGH_RATE),
        "trimmed": (x[int(0.37 * HIGH_RATE) :], HIGH_RATE),
        "resampled": (resample(x, HIGH_RATE, RATE), RATE),
    }


def near_pairs(clips: list[tuple[np.ndarray, int]], **params) -> dict[tuple[int, int], float]:
    profile = audio_profile(array_samples([c for c, _ in clips], [r for _, r in clips]))
    pairs, distances = find_audio_near_pairs(profile, {**DEFAULTS, **params})
    assert pairs.dtype == np.int64 and (pairs[:, 0] < pairs[:, 1]).all()
    return {tuple(p): float(d) for p, d in zip(pairs.tolist(), distances, strict=True)}


@pytest.mark.parametrize(
    "original",
    [word(5, 2.0, HIGH_RATE), chirp(300, 3000, 2.0, HIGH_RATE), noise_burst(3, 2.0, HIGH_RATE)],
    ids=["word", "chirp", "noise-burst"],
)
def test_each_kind_of_copy_is_a_near_duplicate_of_its_original(original):
    variants = copies_of(original)
    found = near_pairs(list(variants.values()))
    names = list(variants)
    for k, name in enumerate(names[1:], start=1):
        assert (0, k) in found, f"{name} copy not found"
        assert found[(0, k)] < 1 - DEFAULTS["audio_min_similarity"]
    assert found[(0, 1)] == pytest.approx(0.0, abs=0.005)  # a gain change keeps every bit


def test_a_trimmed_resampled_noisy_quieter_copy_is_still_found():
    x = word(8, 2.0, HIGH_RATE)
    copy = add_noise(resample(x[int(0.2 * HIGH_RATE) :], HIGH_RATE, RATE) * 0.5, 25)
    assert (0, 1) in near_pairs([(x, HIGH_RATE), (copy, RATE)])


def test_different_clips_are_not_paired():
    clips = [
        *(word(seed, 2.0) for seed in range(4)),
        chirp(200, 4000, 2.0),
        chirp(4000, 200, 2.0),  # the same sweep downwards
        chirp(500, 900, 2.0),
        *(noise_burst(seed) for seed in range(3)),
        tone(440, 2.0),
        tone(1000, 2.0),
    ]
    assert near_pairs([(c, RATE) for c in clips]) == {}


def test_a_steady_tone_has_no_keys_and_silence_is_told_apart():
    clip = np.concatenate([tone(440, 2.0, faded=None), np.zeros(RATE, np.float32)])
    keys = np.frombuffer(fingerprint_of(clip, RATE), dtype="<u8")
    frames = (3.0 - 0.048) / HOP_SECONDS + 1 - (PATCH_FRAMES - 1)
    assert len(keys) == pytest.approx(frames, abs=1)
    assert set(np.unique(keys[:100]).tolist()) == {STEADY}
    assert set(np.unique(keys[-30:]).tolist()) == {SILENT}
    speech = np.frombuffer(fingerprint_of(word(1), RATE), dtype="<u8")
    assert (speech > STEADY).mean() > 0.5


def test_clips_shorter_than_one_patch_have_an_empty_fingerprint():
    assert fingerprint_of(word(1, 0.2), RATE) == b""


def test_only_decoded_clips_are_paired_and_the_search_is_cached():
    x = word(2)
    samples = array_samples([x, x * np.float32(0.5), np.zeros((2, 2, 2), np.float32)])
    profile = audio_profile(samples)
    assert profile.decoded.tolist() == [True, True, False]
    pairs, _ = find_audio_near_pairs(profile, DEFAULTS)
    assert pairs.tolist() == [[0, 1]]
    calls = []
    original = audio_fingerprint._near_candidates
    try:
        audio_fingerprint._near_candidates = lambda *a: calls.append(a) or original(*a)
        find_audio_near_pairs(profile, {**DEFAULTS, "audio_min_similarity": 0.9})
    finally:
        audio_fingerprint._near_candidates = original
    assert calls == []  # the same overlap reuses the verified candidates


def test_the_overlap_parameter_decides_how_much_of_the_shorter_clip_must_be_shared():
    x = word(4, 3.4)
    head, later = x[: 2 * RATE], x[int(1.2 * RATE) : int(3.2 * RATE)]  # 0.8 s in common
    clips = [(head, RATE), (later, RATE), (x[int(2.4 * RATE) :], RATE)]
    found = near_pairs(clips)
    assert (0, 1) not in found  # 40 % of either clip: two windows of one recording
    assert (1, 2) in found  # the last second lies wholly inside the second clip
    assert (0, 1) in near_pairs(clips, audio_min_overlap=0.3)


def test_many_unrelated_clips_give_few_candidates():
    clips = [word(seed, 1.5) for seed in range(40)] + [noise_burst(s, 1.5) for s in range(40)]
    profile = audio_profile(array_samples(clips))
    keys, starts, lengths = audio_fingerprint._all_keys(profile)
    candidates = audio_fingerprint._vote(keys, starts, lengths)
    n = len(clips)
    assert len(candidates) < n * (n - 1) / 2 / 10  # far from every pair
    assert find_audio_near_pairs(profile, DEFAULTS)[0].tolist() == []


def test_near_and_exact_duplicate_checks_on_an_audio_profile(tmp_path):
    x = word(6)
    pcm = np.round(x * 32767).astype(np.int16)
    clips = [pcm, pcm / np.float32(32768), add_noise(x, 25), word(7)]
    profile = audio_profile(array_samples(clips, ids=["a", "a_float", "a_noisy", "b"]))
    exact = get_spec("data.exact_duplicates")
    result = exact.func(profile, exact.resolve_params())
    assert result.evidence[0].items == [{"ids": ["a", "a_float"], "labels": [None, None]}]
    near = get_spec("data.near_duplicates")
    result = near.func(profile, near.resolve_params())
    assert result.status is Status.FAIL
    found = {tuple(item["ids"]) for item in result.evidence[0].items}
    assert found == {("a", "a_noisy"), ("a_float", "a_noisy")}
    assert "spectrogram-fingerprint" in result.details["distance"]
    assert set(AUDIO_NEAR_PARAMS) <= set(result.details)


def test_parameters_are_named_for_audio_and_bounded():
    for name, param in AUDIO_NEAR_PARAMS.items():
        assert name.startswith("audio_") and param.doc
        assert param.ge is not None and param.le is not None
        assert param.ge <= param.default <= param.le


def test_copies_at_every_pair_of_rates_share_their_keys():
    x = word(9, 2.0, 48_000)
    rates = (48_000, 44_100, 22_050, 16_000)
    clips = [(resample(x, 48_000, rate), rate) for rate in rates]
    assert set(near_pairs(clips)) == set(itertools.combinations(range(len(rates)), 2))


class _Files:
    """A minimal audio source over files (folder sources are tested with the sources)."""

    kind, modality = "folder", "audio"

    def __init__(self, root, paths):
        self.root, self.paths = str(root), paths

    def __iter__(self):
        return iter(file_samples(self.paths, [p.stem.split("_")[0] for p in self.paths]))

    def __len__(self):
        return len(self.paths)


def test_a_profile_written_to_parquet_finds_the_copies(tmp_path):
    x = word(11, 2.0, HIGH_RATE)
    paths = [
        write(tmp_path / "yes_a.wav", x, HIGH_RATE),
        write(tmp_path / "yes_b.flac", resample(add_noise(x, 30), HIGH_RATE, RATE), RATE),
        write(tmp_path / "no_c.ogg", word(12), RATE),
    ]
    out = tmp_path / "profile.parquet"
    info = profile_source(_Files(tmp_path, paths), out)
    assert info.n_samples == 3 and info.n_errors == 0
    profile = DataProfile.from_parquet(out)
    assert profile.modality == "audio"
    pairs, distances = find_audio_near_pairs(profile, DEFAULTS)
    assert pairs.tolist() == [[0, 1]] and distances[0] < 0.15

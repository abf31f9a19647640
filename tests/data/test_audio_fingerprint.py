"""Audio near-duplicates: spectrogram fingerprints survive a gain change, added noise, a time
shift, resampling and lossy re-encoding, and do not pair different clips, not even notes or
syllables of one envelope or rhythm a semitone apart."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf
from scipy import signal

from dlqa.core.registry import get_spec
from dlqa.core.results import Status
from dlqa.data import audio_near_search
from dlqa.data.audio_fingerprint import (
    HOP_SECONDS,
    PATCH_FRAMES,
    PEAK_STEPS,
    PEAK_TOLERANCE,
    SILENT,
    STEADY,
    fingerprint_frames,
)
from dlqa.data.audio_fingerprint import (
    audio_fingerprint as fingerprint_of,
)
from dlqa.data.audio_near_search import AUDIO_NEAR_PARAMS, find_audio_near_pairs
from dlqa.data.chunk_probe import probe_chunk
from dlqa.data.context import DataProfile
from dlqa.data.profile import profile_source
from dlqa.sources.base import Sample
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
SEMITONE = 2 ** (1 / 12)


def reencoded(x: np.ndarray, rate: int, container: str) -> tuple[np.ndarray, int]:
    """``x`` through a lossy codec (libsndfile's MP3 or Ogg Vorbis) and decoded again."""
    buffer = io.BytesIO()
    sf.write(buffer, x, rate, format=container)
    buffer.seek(0)
    y, rate = sf.read(buffer, dtype="float32")
    return y, rate


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
        "mp3": reencoded(x, HIGH_RATE, "MP3"),
        "ogg": reencoded(x, HIGH_RATE, "OGG"),
    }


def hann_note(freq: float, rate: int = RATE, partials: int = 1) -> np.ndarray:
    """1 s of a sine (or of harmonics weighted 1/k) under a Hann envelope."""
    t = np.arange(rate) / rate
    x = sum(np.sin(2 * np.pi * k * freq * t) / k for k in range(1, partials + 1))
    return (0.3 * x * np.hanning(rate)).astype(np.float32)


def syllables(pitches: list[float], formants: list[tuple[float, ...]], rate: int = RATE):
    """2 s of five 0.25 s syllables, one every 0.35 s, each a pulse train at its pitch through
    three formant resonators under one envelope: every clip has the same rhythm."""
    out, n = np.zeros(2 * rate), int(0.25 * rate)
    for i, start in enumerate(np.arange(0.1, 1.7, 0.35)):
        source = signal.sawtooth(2 * np.pi * pitches[i] * np.arange(n) / rate)
        voiced = np.zeros(n)
        for centre, width in zip(formants[i], (80, 120, 200), strict=True):
            b, a = signal.iirpeak(centre, centre / width, rate)
            voiced += signal.lfilter(b, a, source)
        at = int(start * rate)
        out[at : at + n] += voiced * np.sin(np.pi * np.arange(n) / n) ** 1.5
    return (0.4 * out / np.abs(out).max()).astype(np.float32)


def keys_alone(profile: DataProfile) -> dict[tuple[int, int], float]:
    """Candidate pairs and their similarity by the fingerprint keys alone (no peaks: what the
    search did before it compared spectral peaks)."""
    keys, peaks, starts, lengths = audio_near_search._all_keys(profile)
    candidates = audio_near_search._vote(keys, starts, lengths)
    similarity = audio_near_search.verify(keys, 0 * peaks, starts, lengths, candidates, 0.5)
    return {(a, b): s for (a, b, _), s in zip(candidates.tolist(), similarity, strict=True)}


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
    keys, _ = fingerprint_frames(fingerprint_of(clip, RATE))
    frames = (3.0 - 0.048) / HOP_SECONDS + 1 - (PATCH_FRAMES - 1)
    assert len(keys) == pytest.approx(frames, abs=1)
    assert set(np.unique(keys[:100]).tolist()) == {STEADY}
    assert set(np.unique(keys[-30:]).tolist()) == {SILENT}
    speech, _ = fingerprint_frames(fingerprint_of(word(1), RATE))
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
    original = audio_near_search._near_candidates
    try:
        audio_near_search._near_candidates = lambda *a: calls.append(a) or original(*a)
        find_audio_near_pairs(profile, {**DEFAULTS, "audio_min_similarity": 0.9})
    finally:
        audio_near_search._near_candidates = original
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
    keys, _, starts, lengths = audio_near_search._all_keys(profile)
    candidates = audio_near_search._vote(keys, starts, lengths)
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
    assert "spectral peaks" in result.details["distance"]
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


def test_the_hann_tones_of_the_bug_report_are_not_paired():
    t = np.arange(16_000) / 16_000
    samples = [
        Sample(
            sample_id=str(i),
            index=i,
            array=0.3 * np.sin(2 * np.pi * (200 + 20 * i) * t) * np.hanning(16_000),
            sample_rate=16_000,
        )
        for i in range(10)
    ]
    profile = DataProfile(pa.Table.from_batches([probe_chunk((samples, [], "audio"))]))
    assert keys_alone(profile)[(6, 9)] > 0.9  # 320 and 380 Hz: one mel band, one envelope
    assert find_audio_near_pairs(profile, DEFAULTS)[0].tolist() == []
    pairs, _ = find_audio_near_pairs(profile, {**DEFAULTS, "audio_min_similarity": 0.5})
    assert pairs.tolist() == []


@pytest.mark.parametrize("rate", [RATE, HIGH_RATE])
@pytest.mark.parametrize("partials", [1, 4], ids=["sine", "harmonic"])
def test_notes_a_semitone_or_two_apart_under_one_envelope_are_not_paired(rate, partials):
    clips = [
        hann_note(base * SEMITONE**step, rate, partials)
        for base in (110, 200, 440, 1000)
        for step in (0, 1, 2)
    ]
    profile = audio_profile(array_samples(clips, rate))
    assert max(keys_alone(profile).values()) > 0.75  # the keys alone cannot tell them apart
    pairs, distances = find_audio_near_pairs(profile, {**DEFAULTS, "audio_min_similarity": 0.5})
    assert pairs.tolist() == [] or distances.min() > 0.35


def test_syllables_of_one_rhythm_a_semitone_or_two_apart_are_not_paired_but_copied_ones_are():
    rng = np.random.default_rng(3)
    pitches = rng.uniform(90, 220, size=5)
    formants = [tuple(f) for f in rng.uniform((300, 900, 2400), (900, 2500, 3500), (5, 3))]
    other_formants = [tuple(f) for f in rng.uniform((300, 900, 2400), (900, 2500, 3500), (5, 3))]
    x = syllables(list(pitches), formants)
    clips = [
        (x, RATE),
        (syllables(list(pitches * SEMITONE), formants), RATE),
        (syllables(list(pitches * SEMITONE**2), formants), RATE),
        (syllables(list(pitches), other_formants), RATE),
        (add_noise(resample(x, RATE, HIGH_RATE), 25), HIGH_RATE),
        reencoded(x, RATE, "MP3"),
    ]
    profile = audio_profile(array_samples([c for c, _ in clips], [r for _, r in clips]))
    assert keys_alone(profile)[(0, 1)] > 0.9  # one rhythm: the keys barely see the pitch
    assert set(near_pairs(clips)) == {(0, 4), (0, 5), (4, 5)}


def test_spectral_peaks_name_a_tones_frequency_and_noise_has_none_strong():
    for rate in (RATE, HIGH_RATE):
        keys, peaks = fingerprint_frames(fingerprint_of(hann_note(440.0, rate), rate))
        keyed = peaks[keys > STEADY]
        assert len(keyed) >= 10
        expected = 1 + round(np.log2(440.0 / 100.0) * PEAK_STEPS)
        loudest = (keyed & 0x7FF).astype(int)
        assert np.abs(loudest - expected).max() <= PEAK_TOLERANCE // 2
        assert (keyed & 0x8000 != 0).all()  # strong: a lasting, prominent partial
    keys, peaks = fingerprint_frames(fingerprint_of(noise_burst(1, 2.0), RATE))
    strong = sum(((peaks >> np.uint64(16 * slot + 15)) & np.uint64(1)).sum() for slot in range(4))
    assert (keys > STEADY).mean() > 0.9 and strong <= 0.01 * len(peaks)


def test_a_fingerprint_of_keys_alone_from_an_older_profile_is_still_searched():
    x = word(13)
    samples = array_samples([x, add_noise(x, 30), word(14)])
    table = pa.Table.from_batches([probe_chunk((samples, [], "audio"))])
    keys_only = [
        fingerprint_frames(blob)[0].astype("<u8").tobytes()
        for blob in table.column("fingerprint").to_pylist()
    ]
    column = table.schema.get_field_index("fingerprint")
    profile = DataProfile(table.set_column(column, "fingerprint", pa.array(keys_only)))
    keys, peaks, _, lengths = audio_near_search._all_keys(profile)
    assert len(keys) == lengths.sum() > 0 and not peaks.any()
    assert find_audio_near_pairs(profile, DEFAULTS)[0].tolist() == [[0, 1]]

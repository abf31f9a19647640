"""The demo's audio part: layout, ordinary clips, the planted clips and determinism."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

import dlqa.demo.audio_part as audio_module
from dlqa.data.audio_fingerprint import audio_fingerprint
from dlqa.data.audio_near_search import AUDIO_NEAR_PARAMS, find_audio_near_pairs
from dlqa.data.context import DataProfile
from dlqa.demo.audio_part import (
    AUDIO_CLASSES,
    AUDIO_PLANTED_PROBLEMS,
    DURATION_S,
    GAIN_CHANGE_DB,
    SAMPLE_RATE,
    AudioPart,
    build_audio_part,
    dbfs,
)

COPY_PROBLEMS = ("exact_duplicates", "near_duplicate")
# Two planted clips of their own, copies of nothing: each id is a planted file.
TWO_FILE_PROBLEMS = ("label_error",)
FULL_SCALE = 32767
EDGE = SAMPLE_RATE // 100  # 10 ms
ONSET = SAMPLE_RATE // 200  # 5 ms: fade-ins are at least 30 ms long


@dataclass(frozen=True)
class RecordedBuild:
    part: AudioPart
    synthesised: dict[bytes, str]  # int16 samples the synthesiser returned -> its class


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedBuild:
    """The default build, with the class of every clip synthesised recorded (the recorder only
    looks at what the synthesiser is asked for and returns: nothing else changes)."""
    synthesised: dict[bytes, str] = {}
    synthesise = audio_module._synthesise

    def recording(rng: np.random.Generator, class_name: str) -> np.ndarray:
        samples = synthesise(rng, class_name)
        synthesised[samples.tobytes()] = class_name
        return samples

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audio_module, "_synthesise", recording)
        part = build_audio_part(tmp_path_factory.mktemp("audio"), seed=0)
    return RecordedBuild(part=part, synthesised=synthesised)


@pytest.fixture(scope="module")
def part(recorded: RecordedBuild) -> AudioPart:
    return recorded.part


def all_ids(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def planted_files(part: AudioPart) -> set[str]:
    """Every file a plant added: the copy of a pair, or each id of any other problem."""
    return {
        sample_id
        for problem, ids in part.planted.items()
        for sample_id in (ids[:1] if problem in COPY_PROBLEMS else ids)
    }


def ordinary_ids(part: AudioPart) -> list[str]:
    return [i for i in all_ids(part.folder) if i not in planted_files(part)]


def read(part: AudioPart, sample_id: str) -> np.ndarray:
    samples, rate = sf.read(part.folder / sample_id, dtype="int16")
    assert rate == SAMPLE_RATE and samples.ndim == 1, sample_id
    return samples


def longest_run_at_full_scale(samples: np.ndarray) -> int:
    at_full = np.abs(samples.astype(np.int32)) >= FULL_SCALE
    longest = current = 0
    for flag in at_full:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return longest


def test_layout_is_split_class_folders_of_wav(part: AudioPart) -> None:
    ordinary = ordinary_ids(part)

    assert part.folder.name == "audio"
    assert sorted(p.name for p in part.folder.iterdir()) == ["test", "train"]
    assert len(ordinary) == 3 * 25 and all(i.endswith(".wav") for i in ordinary)
    for class_name in AUDIO_CLASSES:
        in_class = [i for i in ordinary if i.split("/")[1] == class_name]
        assert sum(i.startswith("test/") for i in in_class) == 5 and len(in_class) == 25


def test_ordinary_clips_are_unremarkable(part: AudioPart) -> None:
    # The label errors are ordinary clips too: only the folder they sit in is wrong.
    for sample_id in ordinary_ids(part) + part.planted["label_error"]:
        samples = read(part, sample_id)
        loud = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
        assert DURATION_S[0] <= len(samples) / SAMPLE_RATE <= DURATION_S[1], sample_id
        assert -30 <= dbfs(samples) <= -6, sample_id
        assert np.abs(samples).max() < 0.75 * FULL_SCALE, sample_id  # headroom, no clipping
        assert abs(float(samples.mean())) < 0.01 * loud, sample_id  # no DC offset
        # Faded in and out: both edges far quieter than the clip.
        assert dbfs(samples[:ONSET]) < dbfs(samples) - 15, sample_id
        assert dbfs(samples[-EDGE:]) < dbfs(samples) - 20, sample_id


def test_planted_keys_and_ids_exist(part: AudioPart) -> None:
    existing = set(all_ids(part.folder))

    assert tuple(part.planted) == AUDIO_PLANTED_PROBLEMS
    for problem, ids in part.planted.items():
        assert len(ids) == (2 if problem in COPY_PROBLEMS + TWO_FILE_PROBLEMS else 1)
        assert set(ids) <= existing
    assert len(planted_files(part)) == len(AUDIO_PLANTED_PROBLEMS) + len(TWO_FILE_PROBLEMS)


def test_near_silent_clip_is_below_minus_60_dbfs(part: AudioPart) -> None:
    (silent,) = part.planted["near_silent"]
    samples = read(part, silent)

    assert dbfs(samples) < -60 and np.any(samples != 0)  # hiss, not digital zero


def test_truncated_clip_stops_mid_sound(part: AudioPart) -> None:
    (truncated,) = part.planted["truncated"]
    samples = read(part, truncated)

    assert dbfs(samples[-EDGE:]) > dbfs(samples) - 6
    assert dbfs(samples[:ONSET]) < dbfs(samples) - 15  # it did fade in


def test_clipped_clip_has_runs_at_full_scale(part: AudioPart) -> None:
    (clipped,) = part.planted["clipped"]
    samples = read(part, clipped)

    assert longest_run_at_full_scale(samples) >= 10
    assert np.mean(np.abs(samples.astype(np.int32)) >= FULL_SCALE) > 0.05


def test_exact_duplicate_is_the_same_audio_as_flac(part: AudioPart) -> None:
    copy, original = part.planted["exact_duplicates"]

    assert copy.endswith(".flac") and original.endswith(".wav")
    assert sf.info(str(part.folder / copy)).format == "FLAC"
    assert copy.split("/")[:2] == original.split("/")[:2]
    assert (part.folder / copy).read_bytes() != (part.folder / original).read_bytes()
    assert np.array_equal(read(part, copy), read(part, original))


def test_near_duplicate_is_the_original_6_db_quieter(part: AudioPart) -> None:
    copy, original = part.planted["near_duplicate"]
    quiet, loud = read(part, copy), read(part, original)

    assert copy.split("/")[:2] == original.split("/")[:2]
    assert not np.array_equal(quiet, loud)
    expected = loud.astype(np.float64) * 10 ** (GAIN_CHANGE_DB / 20)
    assert np.abs(quiet - expected).max() <= 1.0  # one rounding step
    assert dbfs(quiet) == pytest.approx(dbfs(loud) + GAIN_CHANGE_DB, abs=0.05)


def test_label_errors_are_a_chirp_filed_as_noise_burst_and_a_burst_filed_as_tone(
    recorded: RecordedBuild,
) -> None:
    part = recorded.part
    chirp, burst = part.planted["label_error"]

    assert chirp.split("/")[:2] == ["train", "noise_burst"] and chirp.endswith(".wav")
    assert burst.split("/")[:2] == ["train", "tone"] and burst.endswith(".wav")
    assert recorded.synthesised[read(part, chirp).tobytes()] == "chirp"
    assert recorded.synthesised[read(part, burst).tobytes()] == "noise_burst"


def test_label_errors_copy_no_file(part: AudioPart) -> None:
    everything = all_ids(part.folder)
    digests = {i: hashlib.sha256((part.folder / i).read_bytes()).digest() for i in everything}
    decoded = {i: read(part, i).tobytes() for i in everything}

    for sample_id in part.planted["label_error"]:
        assert sum(d == digests[sample_id] for d in digests.values()) == 1, sample_id
        assert sum(d == decoded[sample_id] for d in decoded.values()) == 1, sample_id
    # Nor near any clip: see test_only_the_planted_copies_are_near_duplicates.


def near_pairs(part: AudioPart, ids: list[str]) -> set[tuple[str, str]]:
    """The near-duplicate check's own search over these clips, at its default threshold."""
    prints = [
        audio_fingerprint(sf.read(part.folder / i, dtype="float32")[0], SAMPLE_RATE) for i in ids
    ]
    table = pa.table(
        {"fingerprint": pa.array(prints, pa.binary()), "error": pa.nulls(len(ids), pa.string())}
    )
    params = {name: param.default for name, param in AUDIO_NEAR_PARAMS.items()}
    pairs, _ = find_audio_near_pairs(DataProfile(table), params)
    return {tuple(sorted((ids[a], ids[b]))) for a, b in pairs.tolist()}


def test_only_the_planted_copies_are_near_duplicates(part: AudioPart) -> None:
    everything = all_ids(part.folder)
    copies = {tuple(sorted(part.planted[p])) for p in COPY_PROBLEMS}

    assert near_pairs(part, everything) == copies


def tree_fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for sample_id in all_ids(folder):
        digest.update(sample_id.encode() + b"\0" + (folder / sample_id).read_bytes())
    return digest.hexdigest()


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = build_audio_part(tmp_path / "a", seed=3, n_per_class=5)
    second = build_audio_part(tmp_path / "b", seed=3, n_per_class=5)
    other = build_audio_part(tmp_path / "c", seed=4, n_per_class=5)

    assert first.planted == second.planted
    assert tree_fingerprint(first.folder) == tree_fingerprint(second.folder)
    assert tree_fingerprint(first.folder) != tree_fingerprint(other.folder)

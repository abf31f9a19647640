"""AudioArraySource and TextSource: in-memory clips and texts, and bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlqa.core.errors import UsageError
from dlqa.sources import ArraySource, AudioArraySource, TextSource


def test_array_source_is_image() -> None:
    assert ArraySource(np.zeros((1, 2, 2), np.uint8)).modality == "image"


def test_audio_list_with_one_rate_mono_and_stereo() -> None:
    clips = [np.zeros(800, np.float32), np.zeros((400, 2), np.int16)]

    source = AudioArraySource(clips, 8000, labels=["yes", "no"], splits=["train", "test"])
    samples = list(source)

    assert (source.modality, source.kind, source.root) == ("audio", "arrays", "<arrays>")
    assert [s.sample_id for s in samples] == ["0", "1"]
    assert [s.sample_rate for s in samples] == [8000, 8000]
    assert [(s.label, s.split) for s in samples] == [("yes", "train"), ("no", "test")]
    assert samples[1].array is clips[1] and samples[0].in_memory and samples[0].path is None


def test_audio_stack_with_a_rate_per_clip_and_ids() -> None:
    stack = np.zeros((3, 100), np.float64)

    samples = list(AudioArraySource(stack, np.array([8000, 16000, 22050]), ids=["a", "b", "c"]))

    assert [(s.sample_id, s.sample_rate, s.array.shape) for s in samples] == [
        ("a", 8000, (100,)), ("b", 16000, (100,)), ("c", 22050, (100,))]  # fmt: skip
    assert all(isinstance(s.sample_rate, int) for s in samples)


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        (0, "sample rate 0 is not a positive whole number"),
        (16000.0, "sample rate 16000.0 is not a positive whole number"),
        ("16k", "sample rate '16k'"),
        (True, "sample rate True"),
        ([8000], "1 sample rates for 2 waveforms"),
    ],
)
def test_bad_sample_rates(rate: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        AudioArraySource([np.zeros(10), np.zeros(10)], rate)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("waveforms", "message"),
    [
        (np.zeros(100), r"waveforms array has shape \(100,\)(?s:.*)\[waveform\]"),
        ([np.zeros((2, 16000))], r"reads as 16000 channels(?s:.*)waveform\.T"),
        ([np.zeros((2, 2, 2))], r"waveform 0 has shape \(2, 2, 2\)"),
        ([np.zeros(4, np.uint8)], "waveform 0 has dtype uint8"),
        ([[0.0, 0.1]], "waveform 0 is of type list, not a numpy array"),
        (np.zeros((2, 3, 100)), "reads as 100 channels"),
    ],
)
def test_bad_waveforms(waveforms: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        AudioArraySource(waveforms, 16000)  # type: ignore[arg-type]


def test_audio_lengths_and_ids_are_checked() -> None:
    clips = [np.zeros(10), np.zeros(10)]
    with pytest.raises(UsageError, match="3 labels for 2 waveforms"):
        AudioArraySource(clips, 8000, labels=["a", "b", "c"])
    with pytest.raises(UsageError, match="ids must be unique(?s:.*)one distinct id per waveform"):
        AudioArraySource(clips, 8000, ids=["x", "x"])


def test_texts_with_labels_and_default_ids() -> None:
    source = TextSource(["good", "bad", "fine"], labels=np.array([1, 0, 1]))
    samples = list(source)

    assert (source.modality, source.kind, source.root) == ("text", "texts", "<texts>")
    assert [(s.sample_id, s.text, s.label) for s in samples] == [
        ("0", "good", "1"), ("1", "bad", "0"), ("2", "fine", "1")]  # fmt: skip
    assert all(s.in_memory and s.path is None and s.array is None for s in samples)


def test_missing_texts_are_empty_texts() -> None:
    samples = list(TextSource([None, math.nan, "", np.str_("x")]))

    assert [s.text for s in samples] == ["", "", "", "x"]
    assert all(s.in_memory for s in samples)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("one long string", r"texts is a single str, not a sequence"),
        ([b"bytes"], r"text 0 is of type bytes, not str(?s:.*)decode"),
        (["ok", 3], r"text 1 is of type int, not str"),
        (42, r"texts is of type int, not a sequence"),
    ],
)
def test_bad_texts(texts: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        TextSource(texts)  # type: ignore[arg-type]


def test_text_lengths_and_ids_are_checked() -> None:
    with pytest.raises(UsageError, match="1 splits for 2 texts"):
        TextSource(["a", "b"], splits=["train"])
    with pytest.raises(UsageError, match="labels is a single str"):
        TextSource(["a", "b"], labels="ab")
    with pytest.raises(UsageError, match="ids must be unique"):
        TextSource(["a", "b"], ids=[1, "1"])

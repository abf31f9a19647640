"""Modality by extension and by the counts of a set of files."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from dlqa.core.errors import UsageError
from dlqa.data.probes.file import EXTENSION_FORMATS
from dlqa.sources.modality import (
    EXTENSION_MODALITIES,
    checked_modality,
    choose_modality,
    modality_of_name,
)


def test_the_sources_read_exactly_the_extensions_the_file_probe_knows() -> None:
    assert set(EXTENSION_MODALITIES) == set(EXTENSION_FORMATS)


@pytest.mark.parametrize(
    ("name", "modality"),
    [("a.JPG", "image"), ("x/b.tiff", "image"), ("c.Wave", "audio"), ("d.oga", "audio"),
     ("e.mp3", "audio"), ("f.TXT", "text"), ("g.md", None), ("noext", None)],
)  # fmt: skip
def test_modality_of_name(name: str, modality: str | None) -> None:
    assert modality_of_name(name) == modality


@pytest.mark.parametrize(
    ("counts", "chosen"),
    [
        ({"image": 5}, "image"),
        ({"image": 1, "text": 1}, "image"),  # a notes file beside an image: media first
        ({"audio": 500, "text": 500}, "audio"),  # a transcript beside each clip
        ({"text": 1000, "image": 1}, "text"),  # a stray image in a text corpus
        ({"image": 100, "audio": 3}, "image"),  # at most 3 strays
        ({"image": 1000, "audio": 90}, "image"),  # at most 10 %
    ],
)
def test_choose_modality(counts: dict[str, int], chosen: str) -> None:
    assert choose_modality(Counter(counts), "here") == chosen


@pytest.mark.parametrize(
    "counts",
    [{"image": 4, "audio": 4}, {"image": 500, "audio": 400}, {"text": 300, "image": 100}],
)
def test_a_tie_or_a_real_mix_is_an_error_naming_the_counts(counts: dict[str, int]) -> None:
    with pytest.raises(UsageError) as error:
        choose_modality(Counter(counts), "the folder 'd'")
    message = str(error.value)
    assert "the folder 'd' holds files of more than one modality" in message
    for modality, count in counts.items():
        assert f"{count} {modality} files" in message
    assert "--modality image|audio|text" in message


def test_unknown_modality_names_the_known_ones() -> None:
    assert checked_modality(None, "X") is None
    with pytest.raises(UsageError, match=r"X: unknown modality 'video'(?s:.*)image, audio, text"):
        checked_modality("video", "X")


def test_importing_the_sources_does_not_import_torch() -> None:
    code = "import sys, dlqa.sources; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"

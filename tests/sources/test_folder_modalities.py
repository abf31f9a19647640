"""FolderSource with audio and text files: detection, the modality option, skipped files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from dlqa.core.errors import UsageError
from dlqa.sources import FolderSource


def write_wav(path: Path, seconds: float = 0.1, rate: int = 8000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(seconds * rate)
    wave = 0.1 * np.sin(np.arange(frames) / 5.0)
    soundfile.write(path, wave, rate, format="WAV", subtype="PCM_16")


def write(root: Path, *relative_paths: str) -> None:
    for relative in relative_paths:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"some text\n")


def test_a_folder_of_wav_clips_is_audio_with_class_and_split_layout(tmp_path: Path) -> None:
    for name in ["train/yes/1.wav", "train/no/2.WAV", "test/yes/3.flac", "test/no/4.wave"]:
        write_wav(tmp_path / name)  # (a .flac name on WAV bytes: the probe's business)

    source = FolderSource(tmp_path)
    samples = list(source)

    assert source.modality == "audio"
    assert source.skipped == []
    assert [(s.sample_id, s.label, s.split) for s in samples] == [
        ("test/no/4.wave", "no", "test"),
        ("test/yes/3.flac", "yes", "test"),
        ("train/no/2.WAV", "no", "train"),
        ("train/yes/1.wav", "yes", "train"),
    ]
    assert all(Path(s.path).is_file() and s.array is None for s in samples)


def test_a_folder_of_txt_files_is_text(tmp_path: Path) -> None:
    write(tmp_path, "pos/a.txt", "neg/b.TXT", "loose.txt")

    source = FolderSource(tmp_path)

    assert source.modality == "text"
    assert [(s.sample_id, s.label) for s in source] == [
        ("loose.txt", None), ("neg/b.TXT", "neg"), ("pos/a.txt", "pos")]  # fmt: skip


def test_a_readme_beside_image_classes_is_listed_as_skipped(tmp_path: Path) -> None:
    write(tmp_path, "cat/1.png", "cat/2.png", "dog/3.png", "README.txt")

    source = FolderSource(tmp_path)

    assert source.modality == "image"
    assert [s.sample_id for s in source] == ["cat/1.png", "cat/2.png", "dog/3.png"]
    assert source.skipped == [
        {
            "path": "README.txt",
            "reason": "a text file (.txt), not a sample of this image dataset "
            "(--modality text reads them)",
        }
    ]


def test_many_files_of_another_modality_make_one_entry_per_extension(tmp_path: Path) -> None:
    write(tmp_path, *(f"cls/{i}.png" for i in range(50)))
    write(tmp_path, *(f"cls/{i}.txt" for i in range(4)), "cls/x.mp3", "notes.md")

    source = FolderSource(tmp_path)

    assert len(source) == 50
    assert source.skipped == [
        {
            "path": "cls/x.mp3",
            "reason": "an audio file (.mp3), not a sample of this image dataset "
            "(--modality audio reads them)",
        },
        {
            "path": "cls/0.txt",
            "reason": "the first of 4 text files (.txt), not samples of this image dataset "
            "(--modality text reads them)",
        },
    ]  # (notes.md is of no modality dlqa reads, and is left out as before)


def test_transcripts_beside_clips_leave_the_folder_audio(tmp_path: Path) -> None:
    for i in range(3):
        write_wav(tmp_path / "spk" / f"{i}.wav")
        write(tmp_path, f"spk/{i}.txt")

    source = FolderSource(tmp_path)

    assert source.modality == "audio" and len(source) == 3
    assert "the first of 3 text files" in source.skipped[0]["reason"]


def test_a_real_mix_is_an_error_naming_the_counts_and_the_option(tmp_path: Path) -> None:
    write(tmp_path, *(f"a/{i}.png" for i in range(6)), *(f"b/{i}.wav" for i in range(5)))

    with pytest.raises(UsageError) as error:
        FolderSource(tmp_path)

    message = str(error.value)
    assert "holds files of more than one modality (6 image files, 5 audio files)" in message
    assert "--modality" in message


def test_a_tie_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a/1.png", "b/2.ogg")

    with pytest.raises(UsageError, match=r"1 audio file, 1 image file"):
        FolderSource(tmp_path)


def test_the_modality_option_chooses_the_files(tmp_path: Path) -> None:
    write(tmp_path, *(f"a/{i}.png" for i in range(6)), *(f"b/{i}.wav" for i in range(5)))

    source = FolderSource(tmp_path, modality="audio")

    assert source.modality == "audio"
    assert [s.sample_id for s in source] == [f"b/{i}.wav" for i in range(5)]
    assert source.skipped[0]["path"] == "a/0.png"
    assert "the first of 6 image files (.png)" in source.skipped[0]["reason"]


def test_a_modality_with_no_files_says_what_there_is(tmp_path: Path) -> None:
    write(tmp_path, "a/1.png", "a/2.png")

    with pytest.raises(UsageError, match=r"no text files found under .* \(it has 2 image files\)"):
        FolderSource(tmp_path, modality="text")


def test_an_unknown_modality_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a/1.png")

    with pytest.raises(UsageError, match="unknown modality 'video'"):
        FolderSource(tmp_path, modality="video")


def test_symlink_entries_and_modality_entries_are_both_listed(tmp_path: Path) -> None:
    write(tmp_path, "cat/1.png", "cat/2.png", "cat/3.png", "cat/4.png", "cat/notes.txt")
    (tmp_path / "cat" / "loop").symlink_to("..", target_is_directory=True)

    source = FolderSource(tmp_path)

    assert [entry["path"] for entry in source.skipped] == ["cat/loop", "cat/notes.txt"]

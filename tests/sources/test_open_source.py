"""open_source: choosing the reader from what the path is."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlqa.core.errors import UsageError
from dlqa.sources import FolderSource, ManifestSource, open_source


def test_folder_opens_a_folder_source(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "1.png").write_bytes(b"x")

    source = open_source(str(tmp_path))

    assert isinstance(source, FolderSource)
    assert [s.label for s in source] == ["cat"]


@pytest.mark.parametrize("name", ["m.csv", "M.CSV"])
def test_manifest_file_opens_a_manifest_source_with_column_options(
    tmp_path: Path, name: str
) -> None:
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / name).write_text("file,cls,part\na.png,cat,val\n")

    source = open_source(
        tmp_path / name, path_column="file", label_column="cls", split_column="part"
    )

    assert isinstance(source, ManifestSource)
    assert [(s.sample_id, s.label, s.split) for s in source] == [("a.png", "cat", "val")]


def test_other_files_are_rejected_with_what_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")

    with pytest.raises(UsageError) as error:
        open_source(tmp_path / "notes.txt")

    message = str(error.value)
    assert "neither a folder nor a manifest" in message
    assert "'.txt'" in message
    assert ".parquet" in message and "root/<class>/<image>" in message


def test_missing_path_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        open_source(tmp_path / "nothing-here")


def test_text_column_and_modality_reach_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("body,label\nhello,a\n")

    source = open_source(tmp_path / "m.csv", text_column="body", modality="text")

    assert source.modality == "text"
    assert [s.text for s in source] == ["hello"]


def test_modality_reaches_the_folder(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "1.png").write_bytes(b"x")
    (tmp_path / "cat" / "1.txt").write_text("a caption")

    source = open_source(tmp_path, modality="text")

    assert source.modality == "text"
    assert [s.sample_id for s in source] == ["cat/1.txt"]


def test_a_text_column_for_a_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")

    with pytest.raises(UsageError, match="names a column of a manifest, but .* is a folder"):
        open_source(tmp_path, text_column="text")

"""FolderSource: class layouts, split layouts, ordering and bad inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlqa.core.errors import UsageError
from dlqa.sources import FolderSource


def touch(root: Path, *relative_paths: str) -> None:
    for relative in relative_paths:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not decoded by the source")


def test_class_layout_yields_sorted_samples_with_labels(tmp_path: Path) -> None:
    touch(tmp_path, "dog/b.png", "cat/z.JPG", "cat/a.jpeg", "dog/a.webp")

    samples = list(FolderSource(tmp_path))

    assert [s.sample_id for s in samples] == ["cat/a.jpeg", "cat/z.JPG", "dog/a.webp", "dog/b.png"]
    assert [s.label for s in samples] == ["cat", "cat", "dog", "dog"]
    assert [s.index for s in samples] == [0, 1, 2, 3]
    assert all(s.split is None for s in samples)
    assert samples[0].path == str((tmp_path / "cat" / "a.jpeg").resolve())
    assert Path(samples[0].path).is_file()


def test_split_layout_keeps_the_folder_spelling_as_split(tmp_path: Path) -> None:
    touch(tmp_path, "Train/cat/1.png", "Train/dog/2.png", "VAL/cat/3.png", "test/dog/4.bmp")

    source = FolderSource(tmp_path)
    samples = list(source)

    assert source.has_splits
    assert source.kind == "folder"
    assert {(s.sample_id, s.split, s.label) for s in samples} == {
        ("Train/cat/1.png", "Train", "cat"),
        ("Train/dog/2.png", "Train", "dog"),
        ("VAL/cat/3.png", "VAL", "cat"),
        ("test/dog/4.bmp", "test", "dog"),
    }


def test_folders_that_are_not_all_split_names_are_classes(tmp_path: Path) -> None:
    touch(tmp_path, "train/cat/1.png", "zebra/2.png")

    samples = list(FolderSource(tmp_path))

    assert [(s.label, s.split) for s in samples] == [("train", None), ("zebra", None)]
    assert samples[0].sample_id == "train/cat/1.png"


def test_nested_folders_take_the_class_folder_label(tmp_path: Path) -> None:
    touch(tmp_path, "cat/indoor/1.png", "cat/2.png")

    samples = list(FolderSource(tmp_path))

    assert [(s.sample_id, s.label) for s in samples] == [
        ("cat/2.png", "cat"),
        ("cat/indoor/1.png", "cat"),
    ]


def test_skips_hidden_entries_and_non_image_files(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "cat/1.png",
        "cat/.2.png",
        "cat/notes.txt",
        ".cache/x/3.png",
        "cat/.thumbs/4.png",
        "README.md",
    )

    assert [s.sample_id for s in FolderSource(tmp_path)] == ["cat/1.png"]


def test_every_image_extension_is_read_case_insensitively(tmp_path: Path) -> None:
    names = ["a.jpg", "b.JPEG", "c.jpe", "d.jfif", "e.Png", "f.gif", "g.bmp", "h.webp"]
    names += ["i.tif", "j.TIFF"]
    touch(tmp_path, *(f"cls/{name}" for name in names))

    assert len(FolderSource(tmp_path)) == len(names)


def test_order_is_the_same_whatever_the_creation_order(tmp_path: Path) -> None:
    names = [f"cls{c}/img{i}.png" for c in range(3) for i in range(20)]
    touch(tmp_path / "forward", *names)
    touch(tmp_path / "backward", *reversed(names))

    forward = [s.sample_id for s in FolderSource(tmp_path / "forward")]
    backward = [s.sample_id for s in FolderSource(tmp_path / "backward")]

    assert forward == backward == sorted(names)


def test_source_can_be_iterated_twice(tmp_path: Path) -> None:
    touch(tmp_path, "a/1.png", "b/2.png")
    source = FolderSource(tmp_path)

    assert list(source) == list(source)
    assert len(source) == 2


def test_a_flat_folder_is_profiled_without_labels(tmp_path: Path) -> None:
    touch(tmp_path, "b.png", "a.png", "nested/c.png")
    samples = list(FolderSource(tmp_path))
    # "nested" is a class folder; the loose images have no class.
    assert [(s.sample_id, s.label) for s in samples] == [
        ("a.png", None), ("b.png", None), ("nested/c.png", "nested")]  # fmt: skip


def test_images_beside_class_folders_are_unlabelled_samples(tmp_path: Path) -> None:
    touch(tmp_path, "loose.png", "cat/1.png", "train_extra/x.png")
    labels = {s.sample_id: s.label for s in FolderSource(tmp_path)}
    assert labels == {"loose.png": None, "cat/1.png": "cat", "train_extra/x.png": "train_extra"}


def test_images_directly_in_a_split_folder_are_unlabelled(tmp_path: Path) -> None:
    touch(tmp_path, "train/loose.png", "train/cat/1.png", "test/cat/2.png")
    samples = {s.sample_id: (s.label, s.split) for s in FolderSource(tmp_path)}
    assert samples["train/loose.png"] == (None, "train")
    assert samples["train/cat/1.png"] == ("cat", "train")


def test_a_symlink_back_to_the_root_does_not_relabel_the_dataset(tmp_path: Path) -> None:
    touch(tmp_path, "cat/1.png", "dog/2.png", "bird/3.png")
    (tmp_path / "bird" / "loop").symlink_to("..", target_is_directory=True)
    source = FolderSource(tmp_path)
    labels = {s.sample_id: s.label for s in source}
    assert labels == {"bird/3.png": "bird", "cat/1.png": "cat", "dog/2.png": "dog"}
    assert [entry["path"] for entry in source.skipped] == ["bird/loop"]
    assert "already read" in source.skipped[0]["reason"]


def test_a_symlink_out_of_the_root_is_not_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "data", tmp_path / "outside"
    touch(root, "cat/1.png")
    touch(outside, "x.png")
    (root / "cat" / "more").symlink_to(outside, target_is_directory=True)
    (root / "dog").symlink_to(outside, target_is_directory=True)
    source = FolderSource(root)
    assert [s.sample_id for s in source] == ["cat/1.png"]
    assert sorted(e["path"] for e in source.skipped) == ["cat/more", "dog"]
    assert all("outside the data root" in e["reason"] for e in source.skipped)


def test_dangling_symlinks_and_fifos_are_samples_for_the_probe_to_report(tmp_path: Path) -> None:
    touch(tmp_path, "cat/1.png")
    (tmp_path / "cat" / "annexed.png").symlink_to(tmp_path / "missing" / "content")
    os.mkfifo(tmp_path / "cat" / "pipe.png")
    assert [s.sample_id for s in FolderSource(tmp_path)] == [
        "cat/1.png", "cat/annexed.png", "cat/pipe.png"]  # fmt: skip


def test_a_name_that_is_not_utf8_is_a_sample_shown_losslessly(tmp_path: Path) -> None:
    touch(tmp_path, "cat/1.png")
    raw = os.path.join(os.fsencode(tmp_path), b"cat", b"\xff\xfe.png")
    with open(raw, "wb") as handle:
        handle.write(b"x")
    samples = {s.sample_id: s for s in FolderSource(tmp_path)}
    assert set(samples) == {"cat/1.png", "cat/\\xff\\xfe.png"}
    odd = samples["cat/\\xff\\xfe.png"]
    odd.sample_id.encode("utf-8")  # storable anywhere
    assert os.fsencode(odd.path) == raw  # and the file is still found by its real name


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        FolderSource(tmp_path / "nowhere")


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("x")

    with pytest.raises(UsageError) as error:
        FolderSource(tmp_path / "data.txt")

    assert "is a file, not a folder" in str(error.value)
    assert "manifest" in str(error.value)


def test_folder_without_images_explains_the_expected_layout(tmp_path: Path) -> None:
    touch(tmp_path, "cat/readme.md")  # (a .txt file would be a text sample)

    with pytest.raises(UsageError) as error:
        FolderSource(tmp_path)

    assert "no image files found" in str(error.value)
    assert "nor audio or text files" in str(error.value)
    assert "root/<split>/<class>/<image>" in str(error.value)
    assert ".png" in str(error.value)


def test_symlink_loop_does_not_recurse_forever(tmp_path: Path) -> None:
    touch(tmp_path, "cat/1.png")
    (tmp_path / "cat" / "again").symlink_to(tmp_path / "cat", target_is_directory=True)

    assert [s.sample_id for s in FolderSource(tmp_path)] == ["cat/1.png"]

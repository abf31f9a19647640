"""File probe: magic-byte formats, extension claims, mismatches, hashes and file errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlqa.data.probes.file import format_from_extension, format_from_magic, probe_file

PILLOW_FORMATS = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "bmp": "BMP",
    "webp": "WEBP",
    "tiff": "TIFF",
}


def small_image() -> Image.Image:
    return Image.fromarray(np.full((16, 24, 3), 120, dtype=np.uint8), "RGB")


@pytest.mark.parametrize("expected", sorted(PILLOW_FORMATS))
def test_magic_bytes_identify_each_supported_format(tmp_path: Path, expected: str) -> None:
    path = tmp_path / "image.bin"
    small_image().save(path, PILLOW_FORMATS[expected])
    assert format_from_magic(path.read_bytes()) == expected
    row = probe_file(str(path))
    assert row["actual_format"] == expected
    assert row["ext_format"] is None
    assert row["format_mismatch"] is None  # unknown extension: nothing to compare


def test_unknown_bytes_have_no_format() -> None:
    assert format_from_magic(b"just some bytes, not an image") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.JPG", "jpeg"),
        ("a.jpeg", "jpeg"),
        ("a.jpe", "jpeg"),
        ("a.jfif", "jpeg"),
        ("a.png", "png"),
        ("a.gif", "gif"),
        ("a.bmp", "bmp"),
        ("a.webp", "webp"),
        ("a.tif", "tiff"),
        ("dir/a.TIFF", "tiff"),
        ("a.txt", "text"),
        ("a.csv", None),
        ("noext", None),
    ],
)
def test_extension_claims(name: str, expected: str | None) -> None:
    assert format_from_extension(name) == expected


def test_png_named_jpg_is_a_format_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    small_image().save(path, "PNG")
    row = probe_file(str(path))
    assert (row["ext_format"], row["actual_format"], row["format_mismatch"]) == (
        "jpeg",
        "png",
        True,
    )
    assert row["error"] is None


def test_matching_extension_is_not_a_mismatch_and_hash_is_of_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpeg"
    small_image().save(path, "JPEG")
    row = probe_file(str(path))
    assert row["format_mismatch"] is False
    assert row["file_size"] == path.stat().st_size
    assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_empty_file_is_an_empty_finding(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    row = probe_file(str(path))
    assert row["error"] == "empty"
    assert row["file_size"] == 0


@pytest.mark.parametrize("make_path", [lambda d: d / "missing.jpg", lambda d: d])
def test_unreadable_path_is_a_finding_not_an_exception(tmp_path: Path, make_path) -> None:
    row = probe_file(str(make_path(tmp_path)))
    assert row["error"] == "unreadable"
    assert row["error_detail"]
    assert row["sha256"] is None

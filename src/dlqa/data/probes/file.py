"""File probe: read the bytes once, hash them, and compare the real format with the extension."""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Any

# Extension (lower case, with dot) -> format it claims.
EXTENSION_FORMATS = {
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".jpe": "jpeg",
    ".jfif": "jpeg",
    ".png": "png",
    ".gif": "gif",
    ".bmp": "bmp",
    ".webp": "webp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".wav": "wav",
    ".wave": "wav",
    ".flac": "flac",
    ".ogg": "ogg",
    ".oga": "ogg",
    ".mp3": "mp3",
    ".txt": "text",
}


def format_from_magic(data: bytes) -> str | None:
    """The format the leading bytes identify, or None when they match none we know (plain
    text has no magic bytes: a ``.txt`` file is judged by what it is not)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    return _audio_or_text_format(data)


def _audio_or_text_format(data: bytes) -> str | None:
    if data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE":
        return "wav"
    if data.startswith(b"fLaC"):
        return "flac"
    if data.startswith(b"OggS"):
        return "ogg"
    # An ID3 tag, or an MPEG audio frame sync (11 set bits) with layer III.
    if data.startswith(b"ID3") or (
        len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x06 == 0x02
    ):
        return "mp3"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16 text"
    if data.startswith(b"\x1f\x8b"):
        return "gzip"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    if data.startswith(b"%PDF"):
        return "pdf"
    return None


def format_from_extension(path: str) -> str | None:
    """The format a file name claims by its extension, or None for an unknown extension."""
    # os.path, not PurePath: this runs once per sample and a PurePath costs microseconds.
    return EXTENSION_FORMATS.get(os.path.splitext(os.path.basename(path))[1].lower())


def read_file_bytes(path: str) -> tuple[bytes | None, dict[str, Any]]:
    """Read a file once. Returns its bytes (None on failure) and the file probe's columns.

    Failures are findings, not exceptions: ``error`` is "unreadable" when the file cannot be
    read and "empty" when it has no bytes.
    """
    row: dict[str, Any] = {
        "file_size": None,
        "error": None,
        "error_detail": None,
        "ext_format": format_from_extension(path),
        "actual_format": None,
        "format_mismatch": None,
        "sha256": None,
    }
    try:
        # Opening a FIFO would block for ever, and a device may never end: only regular
        # files are read; a dangling symlink fails here with its reason.
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            row["error"] = "unreadable"
            row["error_detail"] = f"not a regular file: {_file_kind(mode)}"
            return None, row
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        row["error"] = "unreadable"
        row["error_detail"] = f"{type(exc).__name__}: {exc.strerror or exc}"
        return None, row
    row["file_size"] = len(data)
    row["sha256"] = hashlib.sha256(data).hexdigest()
    if not data:
        row["error"] = "empty"
        row["error_detail"] = "the file has 0 bytes"
        return None, row
    actual = format_from_magic(data)
    row["actual_format"] = actual
    if actual is not None and row["ext_format"] is not None:
        row["format_mismatch"] = actual != row["ext_format"]
    return data, row


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def probe_file(path: str) -> dict[str, Any]:
    """The file probe's columns for one file (size, formats, mismatch, sha256, error)."""
    _, row = read_file_bytes(path)
    return row

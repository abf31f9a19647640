"""What stored media bytes are, by their leading bytes, and their ``data:`` URIs for the HTML.

Thumbnails and audio previews are artifacts whose bytes the HTML embeds. What the bytes are
is read from the bytes themselves, never from a name or a stored media type: a blob that is
not a format browsers show or play is not embedded at all.
"""

from __future__ import annotations

import base64

# (offset, bytes) that must all match, and the media type they mean.
_Signature = tuple[tuple[tuple[int, bytes], ...], str]

_IMAGE_SIGNATURES: tuple[_Signature, ...] = (
    (((0, b"\xff\xd8\xff"),), "image/jpeg"),
    (((0, b"\x89PNG\r\n\x1a\n"),), "image/png"),
    (((0, b"GIF87a"),), "image/gif"),
    (((0, b"GIF89a"),), "image/gif"),
)
_AUDIO_SIGNATURES: tuple[_Signature, ...] = (
    (((0, b"OggS"),), "audio/ogg"),
    (((0, b"RIFF"), (8, b"WAVE")), "audio/wav"),
    (((0, b"fLaC"),), "audio/flac"),
)


def _sniff(data: bytes, signatures: tuple[_Signature, ...]) -> str | None:
    for parts, media_type in signatures:
        if all(data[offset : offset + len(magic)] == magic for offset, magic in parts):
            return media_type
    return None


def _data_uri(data: bytes, media_type: str | None) -> str | None:
    if media_type is None:
        return None
    return f"data:{media_type};base64," + base64.b64encode(data).decode("ascii")


def image_media_type(data: bytes) -> str | None:
    """``image/jpeg``, ``image/png`` or ``image/gif`` by the leading bytes; None otherwise."""
    return _sniff(data, _IMAGE_SIGNATURES)


def audio_media_type(data: bytes) -> str | None:
    """``audio/ogg``, ``audio/wav`` or ``audio/flac`` by the leading bytes; None otherwise."""
    return _sniff(data, _AUDIO_SIGNATURES)


def image_data_uri(data: bytes) -> str | None:
    """A ``data:image/...;base64,`` URI of stored image bytes; None when they are not an
    image format that browsers show (JPEG, PNG, GIF)."""
    return _data_uri(data, image_media_type(data))


def audio_data_uri(data: bytes) -> str | None:
    """A ``data:audio/...;base64,`` URI of a stored audio preview; None when the bytes are
    not Ogg, WAV or FLAC."""
    return _data_uri(data, audio_media_type(data))


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of PNG bytes from their header; None for anything else."""
    if image_media_type(data) != "image/png" or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")

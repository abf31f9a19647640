"""What a WAV file's RIFF header says, for the faults that libsndfile reads past silently.

libsndfile trusts the file over the header: a ``data`` chunk that declares more bytes than
the file holds (a cut download, a recorder that died) is read as far as it goes, and one that
declares fewer is read only that far (the rest of the audio is dropped). Both are findings.
It also names an encoding it cannot decode only as a "malformed 'fmt ' chunk"; the format
tag says which codec it was.
"""

from __future__ import annotations

import struct

# Format tags libsndfile decodes, and names of a few common ones it does not.
_DECODED_TAGS = {0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0xFFFE}
_TAG_NAMES = {
    0x0050: "MPEG audio",
    0x0055: "MPEG Layer III",
    0x0160: "Windows Media Audio",
    0x0161: "Windows Media Audio",
    0x0162: "Windows Media Audio Pro",
    0x0092: "Dolby AC-3",
    0x00FF: "AAC",
    0x1610: "AAC (ADTS)",
    0x2000: "Dolby AC-3",
    0x6750: "Vorbis",
}
# A streamed WAV whose writer never went back to fill in the size.
_UNKNOWN_SIZES = {0, 0xFFFFFFFF}


def is_wav(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def _chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(id, start of the payload, declared size) of each top-level chunk, up to ``data``."""
    chunks, position = [], 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        (size,) = struct.unpack_from("<I", data, position + 4)
        chunks.append((chunk_id, position + 8, size))
        if chunk_id == b"data":
            break
        position += 8 + size + (size & 1)
    return chunks


def unsupported_encoding(data: bytes) -> str | None:
    """ "unsupported codec: ..." for a WAV whose format tag libsndfile does not decode."""
    for chunk_id, start, size in _chunks(data):
        if chunk_id == b"fmt " and size >= 2 and start + 2 <= len(data):
            (tag,) = struct.unpack_from("<H", data, start)
            if tag in _DECODED_TAGS:
                return None
            name = _TAG_NAMES.get(tag, "an encoding libsndfile does not decode")
            return f"unsupported codec: WAV format tag 0x{tag:04X} ({name})"
    return None


def _looks_like_chunk(data: bytes, position: int) -> bool:
    header = data[position : position + 8]
    if len(header) < 8:
        return False
    if not all(0x20 <= byte <= 0x7E for byte in header[:4]):
        return False
    (size,) = struct.unpack_from("<I", header, 4)
    return position + 8 + size <= len(data) + 1


def length_problem(data: bytes) -> tuple[str, str] | None:
    """("truncated" or "corrupt", why) when the ``data`` chunk's declared size disagrees with
    the bytes there; None when it agrees (or the size is unknown, as streamed files have)."""
    for chunk_id, start, size in _chunks(data):
        if chunk_id != b"data" or size in _UNKNOWN_SIZES:
            continue
        available = len(data) - start
        if size > available + 1:  # +1: a writer may leave out the pad byte
            return (
                "truncated",
                f"the WAV header declares {size} bytes of audio but the file holds "
                f"{available}: it was cut off",
            )
        rest = data[start + size :]
        if len(rest) < 8 or not rest.strip(b"\x00"):
            return None  # nothing after the audio, a pad byte, or zero padding
        if _looks_like_chunk(data, start + size) or _looks_like_chunk(data, start + size + 1):
            return None  # metadata chunks (LIST, id3, ...) after the audio
        return (
            "corrupt",
            f"the WAV header declares {size} bytes of audio but {len(rest)} more bytes "
            "follow that are not a chunk: the header understates the audio, whose end "
            "decoders drop",
        )
    return None

"""Text probe: decode a text (file bytes or an in-memory string) and measure it.

Files are read as UTF-8, which is what a training pipeline almost always does: a UTF-8 BOM is
stripped, a UTF-16 BOM decodes as UTF-16 (the file probe already calls it "utf-16 text" and a
format mismatch; the text is still measured), and bytes that are not UTF-8 become U+FFFD and
are counted, never raised. What the probe measures is in ``TEXT_FIELDS``; the duplicate key
(``content_hash``) is a hash of the normalised text (``normalise_text``), and the normalised
text is the pending work that ``text_minhash`` turns into signatures once per chunk.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import sys
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyarrow as pa

from dlqa.data.probes.file import format_from_magic
from dlqa.data.text_minhash import SIGNATURE_BYTES
from dlqa.sources.base import Sample

SNIPPET_CHARS = 200

TEXT_FIELDS: tuple[pa.Field, ...] = (
    pa.field("n_chars", pa.int32()),  # code points of the decoded text
    pa.field("n_tokens", pa.int32()),  # whitespace-separated words
    pa.field("n_lines", pa.int32()),
    pa.field("is_empty", pa.bool_()),  # nothing but whitespace, control or invisible chars
    pa.field("control_chars", pa.int32()),  # C0/C1 controls and DEL, other than \t \n \r
    pa.field("invisible_chars", pa.int32()),  # zero-width, bidi controls, a BOM inside text
    pa.field("first_oddity", pa.int32()),  # char offset of the first control/invisible char
    pa.field("mojibake_chars", pa.int32()),  # chars recovered by undoing a UTF-8-as-cp1252 read
    pa.field("mojibake_score", pa.float32()),  # their share of the non-ASCII chars, 0..1
    pa.field("mojibake_example", pa.string()),  # the first one and its repair: "Ã© -> é"
    pa.field("invalid_bytes", pa.int32()),  # bytes that are not valid in the decoding codec
    pa.field("replacement_chars", pa.int32()),  # U+FFFD in the text (lossy decoding, then or now)
    # The codec the bytes are in as far as the probe can tell: "utf-8", "utf-8-sig",
    # "utf-16-le", "utf-16-be", "cp1252" (not UTF-8 but valid Windows-1252, read as UTF-8
    # anyway), "binary" (NUL bytes), "unknown"; "str" for an in-memory text.
    pa.field("encoding", pa.string()),
    pa.field("snippet", pa.string()),  # the first SNIPPET_CHARS chars, for evidence
    pa.field("minhash", pa.binary(SIGNATURE_BYTES)),  # MinHash signature (text_minhash.py)
)
TEXT_COLUMNS: tuple[str, ...] = tuple(field.name for field in TEXT_FIELDS)

# C0 and C1 control characters and DEL, except tab, newline and carriage return (form feed and
# vertical tab count: they break line-based tokenisers and are rare outside old documents).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Invisible characters that change what a text means to a model without being seen: zero-width
# space and word joiners, invisible operators, a BOM inside the text, bidirectional embeddings,
# overrides and isolates ("Trojan Source"), interlinear annotations, Hangul fillers and the
# Mongolian vowel separator (used for invisible names), noncharacters. Not the zero-width
# (non-)joiners, soft hyphen or directional marks: real Persian, Indic, emoji and typeset text
# need them.
_INVISIBLE = re.compile(
    "[\u115f\u1160\u180e\u200b\u2060-\u2064\u202a-\u202e\u2066-\u2069\u3164\ufeff\uffa0"
    "\ufff9-\ufffb\ufffe\uffff]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_UTF16_BOMS = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def _ascii_fold(code: int) -> int:
    """What ``normalise_text`` makes of an ASCII character (the same rule as the Unicode
    path, as one byte): punctuation and controls a space, capitals lower case."""
    category = unicodedata.category(chr(code))
    if category[0] == "P" or category == "Cc":
        return 32
    return ord(chr(code).lower())


# ASCII normalisation in one bytes.translate (the bytes >= 128 never occur: ASCII input).
_ASCII_FOLD = bytes(_ascii_fold(code) if code < 128 else code for code in range(256))


_invalid = threading.local()  # bytes the handler below replaced, per thread


def _count_invalid(error: UnicodeDecodeError) -> tuple[str, int]:
    """A decode error handler that replaces like "replace" and counts the bytes it replaced
    (in ``_invalid.bytes``, set to 0 by ``_decode_bytes`` before it decodes)."""
    _invalid.bytes += error.end - error.start
    return "\ufffd", error.end


codecs.register_error("dlqa-count", _count_invalid)


@cache
def _punctuation_table() -> dict[int, str]:
    """Every Unicode punctuation (P*) and control (Cc) code point to a space; format characters
    (Cf: zero-width space, soft hyphen, BOM) to nothing, so they do not split a word. Built on
    first use (70 ms), not at import: every dlqa command imports the modalities."""
    table: dict[int, str] = {}
    for code in range(sys.maxunicode + 1):
        category = unicodedata.category(chr(code))
        if category[0] == "P" or category == "Cc":
            table[code] = " "
        elif category == "Cf":
            table[code] = ""
    return table


def normalise_text(text: str) -> str:
    """The text that duplicates are judged on: Unicode NFKC, case folded, punctuation,
    control and format characters removed (as word breaks), whitespace collapsed to single
    spaces. "Hello,  WORLD!" and "hello world" are the same text."""
    if text.isascii():  # the common case, twice as fast through bytes (the same result)
        folded = text.encode("ascii").translate(_ASCII_FOLD)
        return b" ".join(folded.split()).decode("ascii")
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.translate(_punctuation_table()).split())


def content_hash(normalised: str) -> str:
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=16).hexdigest()


def decode_text(sample: Sample, data: bytes | None) -> tuple[dict[str, Any], str | None]:
    """The text probe's columns of one sample, and its normalised text for the chunk's
    MinHash (None when there is nothing to hash). ``data`` is the file's bytes, None for an
    in-memory text (``sample.text``, a string or bytes). Undecodable bytes are counted,
    never raised."""
    sha256 = None
    if data is None:
        value: Any = sample.text
        if isinstance(value, str):
            text, invalid, encoded = _in_memory(value)
            row = measure_text(text)
            row.update(sha256=hashlib.sha256(encoded).hexdigest(), encoding="str")
            row["invalid_bytes"] = invalid
            return _keyed(row, text)
        if not isinstance(value, (bytes, bytearray)):
            return {
                "error": "corrupt",
                "error_detail": f"the text is a {type(value).__name__}, not a string",
            }, None
        data = bytes(value)
        sha256 = hashlib.sha256(data).hexdigest()
    binary = format_from_magic(data)
    if binary in _BINARY_FORMATS:
        # A gzip, zip, PDF, image or audio file named .txt: not a text with bad bytes but no
        # text at all. data.unreadable says so (and data.format_mismatch, from the extension).
        return {"error": "corrupt", "error_detail": f"{binary.upper()} data, not text"}, None
    text, invalid, encoding = _decode_bytes(data)
    row = measure_text(text)
    row.update(invalid_bytes=invalid, encoding=encoding)
    if sha256 is not None:  # a file's is the file probe's
        row["sha256"] = sha256
    return _keyed(row, text)


# Formats that the file probe recognises and that hold no text ("utf-16 text" does).
_BINARY_FORMATS = frozenset(
    {"gzip", "zip", "pdf", "jpeg", "png", "gif", "bmp", "webp", "tiff", "wav", "flac", "ogg",
     "mp3"}
)  # fmt: skip


def _keyed(row: dict[str, Any], text: str) -> tuple[dict[str, Any], str | None]:
    """``row`` with its ``content_hash``, and the normalised text (None when empty)."""
    if row["is_empty"]:
        row["content_hash"] = None  # empty texts are data.empty_text's, not duplicates
        return row, None
    normalised = normalise_text(text)
    # A text of punctuation only ("...") is keyed on itself, not on "" shared with the others.
    row["content_hash"] = content_hash(normalised or " ".join(text.split()))
    return row, normalised or None


def _decode_bytes(data: bytes) -> tuple[str, int, str]:
    """(text, count of undecodable bytes, encoding) of a file's bytes."""
    codec, encoding, body = "utf-8", "utf-8", data
    if data.startswith(codecs.BOM_UTF8):
        encoding, body = "utf-8-sig", data[len(codecs.BOM_UTF8) :]
    else:
        for bom, name in _UTF16_BOMS:
            if data.startswith(bom):
                codec, encoding, body = name, name, data[len(bom) :]
    try:
        return body.decode(codec), 0, encoding
    except UnicodeDecodeError:
        pass
    _invalid.bytes = 0
    text = body.decode(codec, errors="dlqa-count")
    invalid = int(_invalid.bytes)
    if codec == "utf-8":
        encoding = _guess_legacy_encoding(body)
    return text, invalid, encoding


def _guess_legacy_encoding(data: bytes) -> str:
    """What bytes that are not UTF-8 probably are: "binary" with NUL bytes, "cp1252" when they
    decode as Windows-1252 (a superset of Latin-1 in practice), else "unknown"."""
    if b"\x00" in data:
        return "binary"
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "unknown"
    return "cp1252"


def _in_memory(text: str) -> tuple[str, int, bytes]:
    """An in-memory text, how many lone surrogates it held (bytes smuggled in by
    ``surrogateescape``: Arrow and UTF-8 cannot hold them, so they become U+FFFD), and its
    UTF-8 bytes."""
    try:
        return text, 0, text.encode("utf-8")
    except UnicodeEncodeError:
        cleaned, count = _SURROGATE.subn("\ufffd", text)
        return cleaned, count, cleaned.encode("utf-8")


def measure_text(text: str) -> dict[str, Any]:
    """The measured columns of a decoded text (all but ``invalid_bytes`` and ``encoding``)."""
    n_chars = len(text)
    controls, invisibles, first = _oddities(text)
    empty = not text or text.isspace()
    if not empty and (controls or invisibles):
        empty = not _INVISIBLE.sub("", _CONTROL.sub("", text)).strip()
    mojibake = None if text.isascii() else find_mojibake(text)
    return {
        "n_chars": n_chars,
        "n_tokens": len(text.split()),
        "n_lines": text.count("\n") + (1 if text and not text.endswith("\n") else 0),
        "is_empty": empty,
        "control_chars": controls,
        "invisible_chars": invisibles,
        "first_oddity": first,
        "mojibake_chars": 0 if mojibake is None else mojibake.chars,
        "mojibake_score": 0.0 if mojibake is None else mojibake.score,
        "mojibake_example": None if mojibake is None else mojibake.example,
        "replacement_chars": text.count("\ufffd"),
        "snippet": text[:SNIPPET_CHARS],
    }


def _oddities(text: str) -> tuple[int, int, int | None]:
    """Counts of control and invisible characters, and the offset of the first of either."""
    control = _CONTROL.search(text)
    invisible = None if text.isascii() else _INVISIBLE.search(text)
    if control is None and invisible is None:
        return 0, 0, None
    controls = len(_CONTROL.findall(text, control.start())) if control else 0
    invisibles = len(_INVISIBLE.findall(text, invisible.start())) if invisible else 0
    first = min(m.start() for m in (control, invisible) if m is not None)
    return controls, invisibles, first


# ------------------------------------------------------------------ mojibake

# UTF-8 read as Windows-1252 (or Latin-1) turns each byte of a multi-byte character into one
# character: "é" (C3 A9) becomes "Ã©", "’" (E2 80 99) "â€™". Undoing it, the characters go
# back to their bytes (cp1252's specials to theirs, the rest by code point: Latin-1 and C1
# controls), and a well-formed UTF-8 sequence in those bytes is a character recovered.
_CP1252_SPECIALS = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_TO_BYTES = {ord(char): ord(char.encode("cp1252")) for char in _CP1252_SPECIALS}
# Two or more such characters in a row: one alone is never a recoverable sequence.
_MOJIBAKE_RUN = re.compile(f"[\u0080-\u00ff{_CP1252_SPECIALS}]{{2,}}")
# Well-formed UTF-8 multi-byte sequences.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]"
    rb"|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
# What follows a capital letter in real text: quotes, dashes, an ellipsis, a no-break space
# (French puts one before ":" and "»"), and cp1252's own letters (Czech capitals "ÍŽ").
# "CAFÉ»", "Gruß“", "OPCIÓ…", "DÉCONSEILLÉ\xa0:", "PROHLÍŽEČ", "Iné…“" are well-formed UTF-8
# once turned back into bytes; a sequence whose continuation bytes are all such characters
# is only counted after the leads "Â" and "Ã" (no word ends in them, and they are the most
# common mojibake: "Â«" for "«", "Ã“" for "Ó").
_WORD_NEIGHBOURS = frozenset("«»“”„‘’‚…‹›–—\xa0ŠŒŽšœž".encode("cp1252"))
_SURE_LEADS = (0xC2, 0xC3)
# "â€" starts every misread curly quote, dash and ellipsis (U+2010-U+203F); when the third
# byte was lost (0x9D, undefined in cp1252, is often dropped) nothing is left to recover, but
# the pair on its own is still mojibake: no language writes "â€".
_BROKEN_PUNCTUATION = "\u00e2\u20ac"


@dataclass(frozen=True)
class Mojibake:
    chars: int  # characters recovered (or broken "â€" pairs)
    score: float  # share of the text's non-ASCII characters that are mojibake, 0..1
    example: str  # the first one and its repair, "Ã© -> é"


def find_mojibake(text: str) -> Mojibake | None:
    """The UTF-8-read-as-cp1252 mojibake of a text, or None. Real accented or non-Latin text
    is not mojibake: "café", "São Paulo", "Привет" have no recoverable sequence."""
    chars = covered = 0
    punctuation = 0  # recovered sequences that start with "â€"
    example = None
    for run in _MOJIBAKE_RUN.finditer(text):
        misread = run.group()
        raw = misread.translate(_TO_BYTES).encode("latin-1")
        for match in _UTF8_SEQUENCE.finditer(raw):
            sequence = match.group()
            if sequence[0] not in _SURE_LEADS and _WORD_NEIGHBOURS.issuperset(sequence[1:]):
                continue
            chars += 1
            covered += match.end() - match.start()
            punctuation += sequence.startswith(b"\xe2\x80")
            if example is None:
                original = misread[match.start() : match.end()]
                example = f"{original} -> {sequence.decode('utf-8')}"
    broken = text.count(_BROKEN_PUNCTUATION) - punctuation
    if broken > 0:
        chars += broken
        covered += 2 * broken
        example = example or f"{_BROKEN_PUNCTUATION} -> a lost curly quote, dash or ellipsis"
    if not chars:
        return None
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return Mojibake(chars, min(1.0, covered / non_ascii), str(example))

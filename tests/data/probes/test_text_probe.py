"""Text probe: decoding (UTF-8, BOMs, invalid bytes), lengths, empty texts, control and
invisible characters, mojibake, and the normalised-text hash that exact duplicates use."""

from __future__ import annotations

import codecs
from pathlib import Path

import pyarrow as pa
import pytest

from dlqa.data.chunk_probe import probe_chunk
from dlqa.data.probes.text import (
    SNIPPET_CHARS,
    TEXT_COLUMNS,
    decode_text,
    find_mojibake,
    normalise_text,
)
from dlqa.data.text_minhash import SIGNATURE_BYTES
from dlqa.sources.base import Sample


def misread(text: str) -> str:
    """``text`` as UTF-8 bytes read as Windows-1252: what mojibake is."""
    return text.encode("utf-8").decode("cp1252")


def probe(text: str | bytes | None = None, data: bytes | None = None) -> dict:
    row, _ = decode_text(Sample(sample_id="s", index=0, text=text), data)
    return row


def rows_of(tmp_path: Path, files: dict[str, bytes]) -> dict[str, dict]:
    """The profile rows of text files, probed as a worker probes a chunk."""
    samples = []
    for index, (name, data) in enumerate(files.items()):
        path = tmp_path / name
        path.write_bytes(data)
        samples.append(Sample(sample_id=name, index=index, path=str(path)))
    batch = probe_chunk((samples, [], "text"))
    return {row["sample_id"]: row for row in batch.to_pylist()}


# ------------------------------------------------------------------ normalisation


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Hello,  WORLD!", "hello world"),  # case, punctuation, whitespace
        ("ﬁne ＡＢＣ", "fine abc"),  # NFKC: ligature, full-width letters
        ("Straße", "STRASSE"),  # case folding, not just lower()
        ("tab\there\nnew  line", "tab here new line"),
        ("“quoted” — dash…", '"quoted" - dash...'),  # Unicode punctuation
        ("zero\u200bwidth", "zerowidth"),  # a format character joins, never splits
    ],
)
def test_texts_equal_after_normalisation_share_their_content_hash(a: str, b: str) -> None:
    assert normalise_text(a) == normalise_text(b)
    assert probe(a)["content_hash"] == probe(b)["content_hash"]
    assert probe(a)["sha256"] != probe(b)["sha256"]  # the raw texts still differ


def test_different_texts_have_different_content_hashes() -> None:
    assert probe("the cat sat")["content_hash"] != probe("the dog sat")["content_hash"]
    # Punctuation only: keyed on itself, not on an empty normalised text shared by all.
    assert probe("...")["content_hash"] != probe("!!!")["content_hash"]


def test_ascii_and_unicode_paths_normalise_alike() -> None:
    ascii_text = "It's a TEST, (really) -- of_the [system]."
    assert normalise_text(ascii_text) == "it s a test really of the system"
    # A non-ASCII word sends the whole text down the Unicode path: the rest is unchanged.
    assert normalise_text(ascii_text + " Été") == normalise_text(ascii_text) + " été"
    for code in range(128):
        text = f"a{chr(code)}B"
        assert normalise_text(text + " é") == normalise_text(text) + " é", repr(chr(code))


# ------------------------------------------------------------------ lengths, empty


def test_lengths_tokens_and_lines() -> None:
    row = probe("one two  three\nfour\n")
    assert (row["n_chars"], row["n_tokens"], row["n_lines"]) == (20, 4, 2)
    assert probe("no newline")["n_lines"] == 1 and probe("")["n_lines"] == 0
    assert row["snippet"] == "one two  three\nfour\n" and row["encoding"] == "str"
    assert len(probe("x" * 1000)["snippet"]) == SNIPPET_CHARS


@pytest.mark.parametrize("text", ["", "   ", " \n\t ", "\u200b\u200b", "\x00 \ufeff"])
def test_empty_and_whitespace_only_texts_decode_and_are_empty(text: str) -> None:
    row, work = decode_text(Sample(sample_id="s", index=0, text=text), None)
    assert row.get("error") is None  # not an error: data.empty_text's finding
    assert row["is_empty"] is True
    assert row["content_hash"] is None and work is None  # no duplicate key, no signature


def test_text_with_content_is_not_empty() -> None:
    assert probe(" a ")["is_empty"] is False
    assert probe("\u200bword")["is_empty"] is False


# ------------------------------------------------------------------ control characters


def test_control_characters_are_counted_but_tab_newline_return_are_not() -> None:
    assert probe("a\tb\nc\r\n")["control_chars"] == 0
    row = probe("ok\x00 then \x07 bell \x1b[0m and \x85 C1 and \x7f")
    assert row["control_chars"] == 5
    assert row["first_oddity"] == 2


def test_invisible_characters_are_counted_apart() -> None:
    row = probe("pay\u200b pal \u202eevil\u202c \ufeff")
    assert row["control_chars"] == 0 and row["invisible_chars"] == 4
    assert row["first_oddity"] == 3
    # Joiners, soft hyphens and direction marks are legitimate in real text.
    assert probe("👩\u200d💻 co\u00adop \u200f")["invisible_chars"] == 0


# ------------------------------------------------------------------ mojibake


@pytest.mark.parametrize(
    ("text", "repair"),
    [
        ("cafÃ©", "é"),
        ("â€œquotedâ€\x9d", "“"),
        ("Ã¼ber", "ü"),
        ("itâ€™s", "’"),
        (misread("привет"), "п"),
        (misread("中文"), "中"),
        (misread("😀 smile"), "😀"),
        (misread("Ólafur «Ó»"), "Ó"),
        ("a lost quote â€ here", "lost"),  # the third byte dropped
    ],
)
def test_mojibake_is_found_with_its_repair(text: str, repair: str) -> None:
    found = find_mojibake(text)
    assert found is not None and found.chars >= 1 and found.score > 0.5
    assert repair in found.example
    row = probe(text)
    assert row["mojibake_chars"] == found.chars and row["mojibake_example"] == found.example


@pytest.mark.parametrize(
    "text",
    [
        "café",
        "über",
        "São Paulo",
        "Ça va? À bientôt, garçon",
        "中文文本，测试",
        "Привет, мир",
        "Ελληνικά",
        "«CAFÉ»",  # a capital before a closing quote is real French
        "„Grüße“ und „Gruß“",
        "DÉCONSEILLÉ\xa0: cette clé",
        "PROHLÍŽEČ",
        "OPCIÓ…",
        "naïve – résumé — “smart” quotes…",
    ],
)
def test_real_accented_and_non_latin_text_is_not_mojibake(text: str) -> None:
    assert find_mojibake(text) is None
    assert probe(text)["mojibake_chars"] == 0


def test_mojibake_score_is_its_share_of_the_non_ascii_text() -> None:
    found = find_mojibake("naïve, résumé, déjà vu: cafÃ©")
    assert found is not None and found.chars == 1
    assert found.score == pytest.approx(2 / 7)


# ------------------------------------------------------------------ bytes


def test_cp1252_bytes_read_as_utf8_are_counted_not_raised() -> None:
    row = probe(data="café crème".encode("cp1252"))
    assert row["invalid_bytes"] == 2 and row["replacement_chars"] == 2
    assert row["encoding"] == "cp1252"
    assert row["snippet"] == "caf\ufffd cr\ufffdme"


def test_utf8_bom_is_stripped() -> None:
    row = probe(data=codecs.BOM_UTF8 + "héllo".encode())
    assert row["encoding"] == "utf-8-sig" and row["snippet"] == "héllo"
    assert row["invisible_chars"] == 0 and row["content_hash"] == probe("héllo")["content_hash"]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_bom_is_decoded_and_measured(codec: str) -> None:
    bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
    row = probe(data=bom + "Grüße, world".encode(codec))
    assert row["encoding"] == codec and row["snippet"] == "Grüße, world"
    assert row["invalid_bytes"] == 0 and row["n_tokens"] == 2


def test_in_memory_bytes_and_surrogates() -> None:
    row = probe(text=b"bytes \xff text")
    assert row["invalid_bytes"] == 1 and row["sha256"] is not None
    smuggled = b"caf\xe9".decode("utf-8", "surrogateescape")
    row = probe(text=smuggled)
    assert row["invalid_bytes"] == 1 and row["snippet"] == "caf\ufffd"


def test_a_text_that_is_not_a_string_is_corrupt() -> None:
    row = probe(text=3.5)  # type: ignore[arg-type]
    assert row["error"] == "corrupt" and "float" in row["error_detail"]


def test_files_through_the_chunk_probe(tmp_path: Path) -> None:
    rows = rows_of(
        tmp_path,
        {
            "good.txt": b"plain text file\n",
            "latin.txt": "façade".encode("latin-1"),
            "wide.txt": "wide text".encode("utf-16"),
            "packed.txt": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
            "blank.txt": b"  \n",
        },
    )
    assert rows["good.txt"]["error"] is None and rows["good.txt"]["invalid_bytes"] == 0
    assert rows["good.txt"]["sha256"] is not None  # the file probe's hash of the bytes
    assert rows["latin.txt"]["invalid_bytes"] == 1 and rows["latin.txt"]["error"] is None
    wide = rows["wide.txt"]
    assert wide["actual_format"] == "utf-16 text" and wide["format_mismatch"] is True
    assert wide["snippet"] == "wide text"
    packed = rows["packed.txt"]
    assert packed["actual_format"] == "gzip" and packed["format_mismatch"] is True
    assert packed["error"] == "corrupt" and packed["error_detail"] == "GZIP data, not text"
    assert rows["blank.txt"]["is_empty"] is True and rows["blank.txt"]["minhash"] is None


def test_a_chunk_of_in_memory_texts_has_every_column() -> None:
    texts = ["first text here", "", "second text, longer than the first one"]
    samples = [Sample(sample_id=f"t{k}", index=k, text=t) for k, t in enumerate(texts)]
    batch = probe_chunk((samples, [], "text"))
    assert set(TEXT_COLUMNS) <= set(batch.schema.names)
    assert batch.schema.field("minhash").type == pa.binary(SIGNATURE_BYTES)
    rows = batch.to_pylist()
    assert [row["error"] for row in rows] == [None, None, None]
    assert [row["minhash"] is not None for row in rows] == [True, False, True]


def test_a_gzip_file_named_txt_is_unreadable_not_mojibake() -> None:
    import gzip

    from dlqa.data.probes.text import decode_text
    from dlqa.sources.base import Sample

    row, normalised = decode_text(Sample("a.txt", 0, path="a.txt"), gzip.compress(b"hello"))
    assert row["error"] == "corrupt" and row["error_detail"] == "GZIP data, not text"
    assert normalised is None

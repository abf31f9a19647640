"""ManifestSource for text datasets (a text column) and for audio paths; bad text input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile

from dlqa.core.errors import UsageError
from dlqa.sources import ManifestSource


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_csv_text_column_makes_a_text_dataset_named_by_row_number(tmp_path: Path) -> None:
    manifest = write_bytes(
        tmp_path / "reviews.csv",
        b'review,label,stars\ngreat film,pos,5\n"slow, long\nand dull",neg,1\n',
    )

    source = ManifestSource(manifest, text_column="review")
    samples = list(source)

    assert source.modality == "text"
    assert [s.sample_id for s in samples] == ["0", "1"]
    assert [s.text for s in samples] == ["great film", "slow, long\nand dull"]
    assert [s.label for s in samples] == ["pos", "neg"]
    assert all(s.path is None and s.in_memory for s in samples)
    assert samples[1].metadata == {"stars": "1"}


def test_text_samples_take_the_id_column_and_a_path_column_is_metadata(tmp_path: Path) -> None:
    rows = [
        {"uid": "a7", "text": "hello", "label": "x", "path": "ignored.png"},
        {"uid": "b8", "text": "world", "label": "y", "path": "also.png"},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")

    samples = list(ManifestSource(manifest, text_column="text", id_column="uid"))

    assert [(s.sample_id, s.text, s.path) for s in samples] == [
        ("a7", "hello", None), ("b8", "world", None)]  # fmt: skip
    assert samples[0].metadata == {"path": "ignored.png"}


def test_parquet_text_column_with_null_and_nan_cells_are_empty_texts(tmp_path: Path) -> None:
    table = pa.table({"text": ["fine", None, "ok"], "label": ["a", "b", "c"]})
    pq.write_table(table, tmp_path / "m.parquet")
    pq.write_table(pa.table({"text": [1.5, float("nan")]}), tmp_path / "n.parquet")

    source = ManifestSource(tmp_path / "m.parquet", text_column="text")
    numbers = ManifestSource(tmp_path / "n.parquet", text_column="text", label_column=None)

    assert [s.text for s in source] == ["fine", "", "ok"]
    assert [s.text for s in numbers] == ["1.5", ""]


def test_empty_csv_and_jsonl_text_cells_are_empty_texts(tmp_path: Path) -> None:
    csv = write_bytes(tmp_path / "m.csv", b'text,label\n,a\n"",b\nx,c\n')
    jsonl = write_bytes(tmp_path / "m.jsonl", b'{"text": null, "label": "a"}\n{"label": "b"}\n')

    assert [s.text for s in ManifestSource(csv, text_column="text")] == ["", "", "x"]
    assert [s.text for s in ManifestSource(jsonl, text_column="text")] == ["", ""]


def test_cp1252_bytes_in_a_csv_survive_as_replacement_characters(tmp_path: Path) -> None:
    data = "text,label\ncaf\u00e9 cr\u00e8me,food\nplain,other\n".encode("cp1252")
    manifest = write_bytes(tmp_path / "m.csv", data)

    samples = list(ManifestSource(manifest, text_column="text"))

    assert [s.text for s in samples] == ["caf\ufffd cr\ufffdme", "plain"]
    assert [s.label for s in samples] == ["food", "other"]


def test_invalid_utf8_in_other_csv_columns_is_replaced_too(tmp_path: Path) -> None:
    manifest = write_bytes(tmp_path / "m.csv", b"text,label,note\nhi,caf\xe9,n\xe9\n")

    (sample,) = ManifestSource(manifest, text_column="text")

    assert sample.label == "caf\ufffd"
    assert sample.metadata == {"note": "n\ufffd"}


def test_a_binary_parquet_text_column_is_decoded_with_replacement(tmp_path: Path) -> None:
    table = pa.table({"text": pa.array([b"ok", b"bad \xff", None], pa.binary())})
    pq.write_table(table, tmp_path / "m.pq")

    source = ManifestSource(tmp_path / "m.pq", text_column="text", label_column=None)

    assert [s.text for s in source] == ["ok", "bad \ufffd", ""]


def test_ragged_csv_rows_are_one_error_naming_each_row(tmp_path: Path) -> None:
    lines = ["text,label", "fine,a", "unquoted, comma,b", '"multi', 'line",c', "short"]
    manifest = write_bytes(tmp_path / "m.csv", ("\n".join(lines) + "\n").encode())

    with pytest.raises(UsageError) as error:
        ManifestSource(manifest, text_column="text")

    message = str(error.value)
    assert "could not read manifest" in message
    assert "2 row(s) have a different number of fields than the header (2)" in message
    assert "data row 2 has 3 ('unquoted, comma,b')" in message
    assert "data row 4 has 1 ('short')" in message
    assert "quote every field" in message
    assert error.value.exit_code == 2


def test_many_ragged_rows_are_capped(tmp_path: Path) -> None:
    lines = ["text,label"] + [f"t{i},a,extra" for i in range(9)]
    manifest = write_bytes(tmp_path / "m.csv", ("\n".join(lines) + "\n").encode())

    with pytest.raises(UsageError, match=r"9 row\(s\).*data row 5 has 3 .*\(9 in all\)"):
        ManifestSource(manifest, text_column="text")


def test_a_jsonl_line_that_is_not_json_is_an_error_naming_the_line(tmp_path: Path) -> None:
    lines = [b'{"text": "a", "label": "x"}', b"", b"not json", b'["a", "list"]', b'{"text": 1']
    manifest = write_bytes(tmp_path / "m.jsonl", b"\n".join(lines) + b"\n")

    with pytest.raises(UsageError) as error:
        ManifestSource(manifest, text_column="text")

    message = str(error.value)
    assert "could not read manifest" in message and "3 line(s) are not JSON objects" in message
    assert "line 3: Expecting value at column 1" in message
    assert "line 4: a JSON list, not an object" in message
    assert "line 5: " in message


def test_jsonl_with_mixed_types_and_invalid_utf8_is_read_line_by_line(tmp_path: Path) -> None:
    lines = [
        b'{"text": "caf\xe9", "label": 1, "score": 2.0}',
        b'{"text": 42, "label": "two", "extra": {"k": [1]}, "flag": true}',
    ]
    manifest = write_bytes(tmp_path / "m.jsonl", b"\n".join(lines) + b"\n")

    samples = list(ManifestSource(manifest, text_column="text"))

    assert [s.text for s in samples] == ["caf\ufffd", "42"]
    assert [s.label for s in samples] == ["1", "two"]
    assert samples[0].metadata == {"score": "2", "extra": None, "flag": None}
    assert samples[1].metadata == {"score": None, "extra": '{"k": [1]}', "flag": "true"}


def test_a_missing_text_column_names_the_columns_present(tmp_path: Path) -> None:
    manifest = write_bytes(tmp_path / "m.csv", b"body,label\nhi,a\n")

    with pytest.raises(UsageError) as error:
        ManifestSource(manifest, text_column="text")

    message = str(error.value)
    assert "no text column 'text'; columns present: 'body', 'label'" in message
    assert "--text-column" in message and "text_column" in message
    assert "path" not in message.split("hint")[0]  # no path column is needed


def test_a_text_column_with_another_modality_is_an_error(tmp_path: Path) -> None:
    manifest = write_bytes(tmp_path / "m.csv", b"text,label\nhi,a\n")

    with pytest.raises(UsageError, match="makes a text dataset, but the modality asked"):
        ManifestSource(manifest, text_column="text", modality="image")


def test_duplicate_ids_of_a_text_manifest_are_reported(tmp_path: Path) -> None:
    manifest = write_bytes(tmp_path / "m.csv", b"id,text,label\nk,a,x\nk,b,y\n")

    with pytest.raises(UsageError, match="1 duplicate ids in column 'id': 'k'"):
        ManifestSource(manifest, text_column="text", id_column="id")


def test_audio_paths_make_an_audio_manifest(tmp_path: Path) -> None:
    for name in ("a.wav", "b.flac"):
        soundfile.write(tmp_path / name, np.zeros(800), 8000)
    manifest = write_bytes(tmp_path / "m.csv", b"path,label\na.wav,yes\nb.flac,no\n")

    source = ManifestSource(manifest)

    assert source.modality == "audio"
    assert [s.sample_id for s in source] == ["a.wav", "b.flac"]


def test_txt_paths_make_a_text_manifest_read_from_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    manifest = write_bytes(tmp_path / "m.csv", b"path,label\na.txt,x\n")

    (sample,) = ManifestSource(manifest)

    assert ManifestSource(manifest).modality == "text"
    assert sample.path == str(tmp_path / "a.txt") and sample.text is None


def test_path_modality_mix_is_an_error_and_the_option_settles_it(tmp_path: Path) -> None:
    names = [f"{i}.png" for i in range(4)] + [f"{i}.wav" for i in range(4)]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    rows = "\n".join(f"{name},c" for name in names)
    manifest = write_bytes(tmp_path / "m.csv", f"path,label\n{rows}\n".encode())

    with pytest.raises(UsageError, match=r"4 audio files, 4 image files(?s:.*)--modality"):
        ManifestSource(manifest)
    source = ManifestSource(manifest, modality="image")
    assert source.modality == "image" and len(source) == 8  # listed rows all stay samples


def test_unknown_extensions_default_to_image(tmp_path: Path) -> None:
    (tmp_path / "blob").write_bytes(b"x")
    manifest = write_bytes(tmp_path / "m.csv", b"path,label\nblob,c\n")

    assert ManifestSource(manifest).modality == "image"


def test_a_path_that_is_not_utf8_finds_its_file(tmp_path: Path) -> None:
    raw_name = b"caf\xe9.png"  # a Latin-1 file name, and the manifest written with its bytes
    with open(os.path.join(os.fsencode(tmp_path), raw_name), "wb") as handle:
        handle.write(b"x")
    manifest = write_bytes(tmp_path / "m.csv", b"path,label\n" + raw_name + b",c\n")

    (sample,) = ManifestSource(manifest)

    assert sample.sample_id == "caf\\xe9.png"
    assert Path(sample.path).is_file()


def test_a_manifest_without_a_label_column_is_unlabelled(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "t.csv", b"id,text\na,first text\nb,second text\n")
    source = ManifestSource(path, text_column="text", id_column="id")
    assert [(s.sample_id, s.label) for s in source] == [("a", None), ("b", None)]


def test_a_label_column_spelled_otherwise_is_still_an_error(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "t.csv", b"text,Label\nfirst,x\n")
    with pytest.raises(UsageError, match="did you mean 'Label'"):
        ManifestSource(path, text_column="text")
    named = write_bytes(tmp_path / "n.csv", b"text,y\nfirst,x\n")
    with pytest.raises(UsageError, match="no label column 'category'"):
        ManifestSource(named, text_column="text", label_column="category")

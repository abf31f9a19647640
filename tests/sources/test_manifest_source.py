"""ManifestSource: CSV, Parquet and JSONL manifests, metadata and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dlqa.core.errors import UsageError
from dlqa.sources import ManifestSource


def make_images(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"image bytes")


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def test_csv_manifest_reads_paths_labels_splits_and_metadata(tmp_path: Path) -> None:
    make_images(tmp_path, "img/a.png", "img/b.png", "img/c.png")
    manifest = write_csv(
        tmp_path / "labels.csv",
        """
path,label,split,source,score
img/b.png,7,train,scanner,0.5
img/a.png,cat,test,,2
img/c.png,dog,train,phone,
""",
    )

    source = ManifestSource(manifest)
    samples = list(source)

    assert source.kind == "manifest"
    assert source.root == str(manifest.resolve())
    # Manifest row order is kept (the index is the data row position).
    assert [s.sample_id for s in samples] == ["img/b.png", "img/a.png", "img/c.png"]
    assert [s.index for s in samples] == [0, 1, 2]
    assert [s.label for s in samples] == ["7", "cat", "dog"]
    assert [s.split for s in samples] == ["train", "test", "train"]
    assert samples[0].path == str((tmp_path / "img" / "b.png").resolve())
    assert samples[0].metadata == {"source": "scanner", "score": "0.5"}
    assert samples[1].metadata == {"source": None, "score": "2"}
    assert samples[2].metadata == {"source": "phone", "score": None}


def test_csv_values_are_kept_as_written_text(tmp_path: Path) -> None:
    make_images(tmp_path, "a.png")
    manifest = write_csv(tmp_path / "m.csv", "id,path,label,code\n007,a.png,01,0042")

    (sample,) = ManifestSource(manifest, id_column="id")

    assert sample.sample_id == "007"
    assert sample.label == "01"
    assert sample.metadata == {"code": "0042"}


def test_parquet_manifest_with_typed_columns(tmp_path: Path) -> None:
    make_images(tmp_path, "x/1.png", "x/2.png")
    table = pa.table(
        {
            "file": ["x/1.png", "x/2.png"],
            "target": [3.0, 4.0],  # integer labels stored as floats, as pandas does
            "width": pa.array([10, None], pa.int64()),
            "ok": [True, False],
        }
    )
    pq.write_table(table, tmp_path / "m.parquet")

    samples = list(
        ManifestSource(tmp_path / "m.parquet", path_column="file", label_column="target")
    )

    assert [s.label for s in samples] == ["3", "4"]
    assert [s.split for s in samples] == [None, None]
    assert samples[0].metadata == {"width": "10", "ok": "true"}
    assert samples[1].metadata == {"width": None, "ok": "false"}


def test_categorical_parquet_labels_read_as_their_names(tmp_path: Path) -> None:
    make_images(tmp_path, "a.png", "b.png")
    labels = pa.array(["cat", "dog"]).dictionary_encode()  # how pandas stores a category
    pq.write_table(pa.table({"path": ["a.png", "b.png"], "label": labels}), tmp_path / "m.pq")

    assert [s.label for s in ManifestSource(tmp_path / "m.pq")] == ["cat", "dog"]


def test_jsonl_manifest_with_id_column_and_absolute_path(tmp_path: Path) -> None:
    make_images(tmp_path / "elsewhere", "z.jpg")
    make_images(tmp_path / "here", "y.jpg")
    rows = [
        {"uid": 11, "path": str(tmp_path / "elsewhere" / "z.jpg"), "label": "a", "note": "n"},
        {"uid": 12, "path": "y.jpg", "label": "b", "note": None},
    ]
    manifest = tmp_path / "here" / "m.ndjson"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")

    samples = list(ManifestSource(manifest, id_column="uid"))

    assert [s.sample_id for s in samples] == ["11", "12"]
    assert samples[0].path == str(tmp_path / "elsewhere" / "z.jpg")
    assert samples[1].path == str((tmp_path / "here" / "y.jpg").resolve())
    assert [s.metadata for s in samples] == [{"note": "n"}, {"note": None}]


def test_backslash_paths_become_posix_ids(tmp_path: Path) -> None:
    make_images(tmp_path, "sub/a.png")
    manifest = write_csv(tmp_path / "m.csv", "path,label\nsub\\a.png,x")

    (sample,) = ManifestSource(manifest)

    assert sample.sample_id == "sub/a.png"
    assert Path(sample.path).is_file()


def test_metadata_survives_many_batches(tmp_path: Path) -> None:
    count = 10_000
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(count):
        (folder / f"{i}.png").write_bytes(b"")
    table = pa.table(
        {
            "path": [f"imgs/{i}.png" for i in range(count)],
            "label": [str(i % 3) for i in range(count)],
            "row": list(range(count)),
        }
    )
    pq.write_table(table, tmp_path / "m.pq", row_group_size=999)

    samples = list(ManifestSource(tmp_path / "m.pq"))

    assert len(samples) == count
    assert [s.metadata["row"] for s in samples] == [str(i) for i in range(count)]
    assert [s.index for s in samples] == list(range(count))


def test_missing_path_column_names_columns_and_the_option(tmp_path: Path) -> None:
    manifest = write_csv(tmp_path / "m.csv", "file,label\na.png,x")

    with pytest.raises(UsageError) as error:
        ManifestSource(manifest)

    message = str(error.value)
    assert "no path column 'path'" in message
    assert "'file', 'label'" in message
    assert "--path-column" in message
    assert "path_column" in message and "dlqa.toml" in message


def test_missing_label_column_suggests_a_close_name(tmp_path: Path) -> None:
    make_images(tmp_path, "a.png")
    manifest = write_csv(tmp_path / "m.csv", "path,Label\na.png,x")

    with pytest.raises(UsageError) as error:
        ManifestSource(manifest)

    assert "no label column 'label' (did you mean 'Label'?)" in str(error.value)
    assert "--label-column" in str(error.value)


def test_default_split_column_is_optional_but_a_named_one_is_required(tmp_path: Path) -> None:
    make_images(tmp_path, "a.png")
    manifest = write_csv(tmp_path / "m.csv", "path,label\na.png,x")

    assert next(iter(ManifestSource(manifest))).split is None
    with pytest.raises(UsageError, match=r"(?s)no split column .subset.*--split-column"):
        ManifestSource(manifest, split_column="subset")


def test_missing_id_column_is_an_error(tmp_path: Path) -> None:
    make_images(tmp_path, "a.png")
    manifest = write_csv(tmp_path / "m.csv", "path,label\na.png,x")

    with pytest.raises(UsageError, match="no id column 'uid'"):
        ManifestSource(manifest, id_column="uid")


def test_na_like_labels_are_class_names_and_only_an_empty_cell_is_unlabelled(tmp_path: Path):
    names = ["NA", "null", "None", "nan", "N/A", "NaN", "NULL", "#N/A", "none"]
    make_images(tmp_path, *(f"{i}.png" for i in range(len(names) + 3)))
    rows = [f"{i}.png,{name},{name}" for i, name in enumerate(names)]
    k = len(names)
    rows += [f"{k}.png,,", f'{k + 1}.png,"",x', f"{k + 2}.png,   ,y"]
    manifest = write_csv(tmp_path / "m.csv", "path,label,note\n" + "\n".join(rows))

    samples = list(ManifestSource(manifest))

    assert [s.label for s in samples] == [*names, None, None, None]
    assert [s.metadata["note"] for s in samples[:k]] == names
    assert samples[k].metadata == {"note": None}  # an empty metadata cell is still missing


def test_null_and_nan_labels_in_parquet_and_jsonl_are_unlabelled(tmp_path: Path) -> None:
    make_images(tmp_path, "a.png", "b.png", "c.png")
    pq.write_table(
        pa.table({"path": ["a.png", "b.png", "c.png"], "label": [1.0, float("nan"), None]}),
        tmp_path / "m.pq",
    )
    assert [s.label for s in ManifestSource(tmp_path / "m.pq")] == ["1", None, None]

    rows = [{"path": "a.png", "label": "None"}, {"path": "b.png", "label": None}]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert [s.label for s in ManifestSource(tmp_path / "m.jsonl")] == ["None", None]


def test_empty_paths_name_the_rows(tmp_path: Path) -> None:
    make_images(tmp_path, "0.png", "2.png")
    manifest = write_csv(tmp_path / "m.csv", "path,label\n0.png,a\n,b\n2.png,c\n  ,d")

    with pytest.raises(UsageError) as error:
        ManifestSource(manifest)

    message = str(error.value)
    assert "2 row(s) have an empty or missing path in column 'path'" in message
    assert "data rows 2, 4" in message
    assert "do not exist" not in message and "duplicate" not in message


def test_every_problem_is_reported_at_once_with_row_numbers(tmp_path: Path) -> None:
    make_images(tmp_path, "a.png", "b.png")
    lines = ["id,path,label", "k1,a.png,x", "k1,b.png,y", ",a.png,z", "k2,gone.png,NA"]
    lines += ["d,b.png,x" for _ in range(8)]  # one id repeated on many rows
    manifest = write_csv(tmp_path / "m.csv", "\n".join(lines))

    with pytest.raises(UsageError) as error:
        ManifestSource(manifest, id_column="id", split_column="subset")

    message = str(error.value)
    assert "has 4 problems" in message
    assert "no split column 'subset'" in message and "--split-column" in message
    assert "1 row(s) have an empty or missing id in column 'id'; data rows 3 " in message
    assert "1 of 12 listed file(s) do not exist: 'gone.png' (row 4)" in message
    assert "2 duplicate ids in column 'id': 'k1' (rows 1, 2), 'd' (rows 5, 6, 7, 8, 9, " in message
    assert "(8 in all)" in message  # the rows of one value are capped too
    assert "fix: each row must name a different sample" in message
    assert "header not counted" in message


def test_missing_columns_are_reported_together(tmp_path: Path) -> None:
    manifest = write_csv(tmp_path / "m.csv", "file,Label\na.png,x")

    with pytest.raises(UsageError) as error:
        ManifestSource(manifest, id_column="uid")

    message = str(error.value)
    assert "has 3 problems" in message
    assert "no path column 'path'" in message
    assert "no label column 'label' (did you mean 'Label'?)" in message
    assert "no id column 'uid'" in message
    assert "--path-column" in message and "--label-column" in message


def test_many_duplicate_paths_are_capped(tmp_path: Path) -> None:
    make_images(tmp_path, *(f"{i}.png" for i in range(9)))
    lines = ["path,label"] + [f"{i}.png,x" for i in range(9) for _ in range(2)]
    manifest = write_csv(tmp_path / "m.csv", "\n".join(lines))

    with pytest.raises(UsageError) as error:
        ManifestSource(manifest)

    message = str(error.value)
    assert "9 duplicate paths (used as sample ids): '0.png' (rows 1, 2)" in message
    assert "'4.png' (rows 9, 10), ... (9 in all)" in message
    assert "5.png" not in message


def test_missing_files_are_listed_with_their_count(tmp_path: Path) -> None:
    make_images(tmp_path, "here.png")
    lines = ["path,label", "here.png,a"] + [f"gone{i}.png,a" for i in range(7)]
    manifest = write_csv(tmp_path / "m.csv", "\n".join(lines))

    with pytest.raises(UsageError) as error:
        ManifestSource(manifest)

    message = str(error.value)
    assert "7 of 8 listed file(s) do not exist" in message
    assert "'gone0.png'" in message and "'gone4.png'" in message
    assert "gone5.png" not in message
    assert "(7 in all)" in message


def test_duplicate_paths_are_rejected_as_duplicate_ids(tmp_path: Path) -> None:
    make_images(tmp_path, "a.png")
    manifest = write_csv(tmp_path / "m.csv", "path,label\na.png,x\na.png,y")

    with pytest.raises(UsageError) as error:
        ManifestSource(manifest)

    assert "duplicate paths" in str(error.value)
    assert "'a.png'" in str(error.value)
    assert "--id-column" in str(error.value)


def test_duplicate_ids_in_the_id_column_are_rejected(tmp_path: Path) -> None:
    make_images(tmp_path, "a.png", "b.png")
    manifest = write_csv(tmp_path / "m.csv", "id,path,label\nk,a.png,x\nk,b.png,y")

    with pytest.raises(UsageError, match="1 duplicate ids in column 'id': 'k'"):
        ManifestSource(manifest, id_column="id")


def test_empty_manifest_is_rejected(tmp_path: Path) -> None:
    manifest = write_csv(tmp_path / "m.csv", "path,label")

    with pytest.raises(UsageError, match="has no rows"):
        ManifestSource(manifest)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("m.parquet", b"this is not parquet at all"),
        ("m.jsonl", b'{"path": "a.png", "label": \n'),
        ("m.csv", b"path,label\na.png,x,extra,fields\n"),
        ("m.csv", b""),
    ],
)
def test_garbled_manifests_are_usage_errors(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)

    with pytest.raises(UsageError, match="could not read manifest"):
        ManifestSource(tmp_path / name)


def test_unknown_extension_and_missing_manifest(tmp_path: Path) -> None:
    (tmp_path / "m.xlsx").write_bytes(b"x")

    with pytest.raises(UsageError, match="unknown extension '.xlsx'"):
        ManifestSource(tmp_path / "m.xlsx")
    with pytest.raises(UsageError, match="does not exist"):
        ManifestSource(tmp_path / "absent.csv")

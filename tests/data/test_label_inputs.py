"""Inputs of data.label_errors: probabilities and embeddings files (CSV and Parquet), every
bad input a UsageError that says what is wrong, and dlqa's own model."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dlqa.core.errors import EXIT_USAGE, UsageError
from dlqa.data.chunk_probe import probe_chunk
from dlqa.data.context import DataProfile
from dlqa.data.label_inputs import (
    LabelModel,
    build_label_model,
    read_embeddings,
    read_pred_probs,
)
from dlqa.sources import TextSource

TOPICS = {
    "fruit": "apple banana cherry grape lemon mango orange peach pear plum",
    "tools": "hammer wrench pliers saw drill chisel screwdriver spanner file clamp",
    "weather": "rain snow wind storm cloud thunder fog hail sunshine frost",
}


def _texts(n_per_class: int = 20) -> tuple[list[str], list[str], list[str]]:
    rng = np.random.default_rng(0)
    texts, labels, ids = [], [], []
    for label, words in TOPICS.items():
        vocabulary = words.split()
        for k in range(n_per_class):
            texts.append(" ".join(rng.choice(vocabulary, 12)))
            labels.append(label)
            ids.append(f"{label}_{k:03d}")
    return texts, labels, ids


def _profile(texts, labels, ids) -> DataProfile:
    source = TextSource(texts, labels=labels, ids=ids)
    return DataProfile(pa.Table.from_batches([probe_chunk((list(source), [], "text"))]))


@pytest.fixture
def small():
    """Four samples with ids that look like numbers, two classes."""
    ids = ["007", "008", "009", "010"]
    return _profile(["a b", "c d", "e f", "g h"], ["cat", "cat", "dog", "dog"], ids)


GOOD = "id,cat,dog\n010,0.1,0.9\n007,0.8,0.2\n009,0.3,0.7\n008,0.6,0.4\n"


def _write(tmp_path, text: str, name: str = "pred.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_probabilities_aligned_with_the_profile_rows(tmp_path, small) -> None:
    model = read_pred_probs(_write(tmp_path, GOOD), small)
    assert isinstance(model, LabelModel)
    assert model.class_names == ["cat", "dog"]
    # Ids stay text ("007", not 7) and rows follow the profile, not the file.
    assert model.probs.tolist() == [[0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.1, 0.9]]
    assert model.origin == "probabilities from pred.csv"
    assert model.label_indices(small).tolist() == [0, 0, 1, 1]


def test_parquet_probabilities_read_the_same(tmp_path, small) -> None:
    table = pa.table(
        {
            "id": ["008", "007", "010", "009"],
            "dog": [0.4, 0.2, 0.9, 0.7],
            "cat": [0.6, 0.8, 0.1, 0.3],
        }
    )
    pq.write_table(table, tmp_path / "pred.parquet")
    model = read_pred_probs(tmp_path / "pred.parquet", small)
    assert model.class_names == ["dog", "cat"]
    assert model.probs[:, 1].tolist() == [0.8, 0.6, 0.3, 0.1]
    assert model.label_indices(small).tolist() == [1, 1, 0, 0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sample,cat,dog\n007,0.5,0.5\n", "no 'id' column"),
        (GOOD + "999,0.5,0.5\n", "1 of the 5 ids .* are not sample ids .*'999'"),
        ("id,cat,dog\n007,0.5,0.5\n008,0.5,0.5\n", "no row for 2 of the 4 labelled samples"),
        (GOOD + "007,0.5,0.5\n", "repeats 1 ids: '007'"),
        ("id,cat\n007,1\n008,1\n009,1\n010,1\n", "no column for 1 labels of the data: 'dog'"),
        ("id\n007\n008\n009\n010\n", "no class columns"),
        (GOOD.replace("0.1,0.9", "0.1,0.8"), r"not probabilities .*'010' \(sum 0.9\)"),
        (GOOD.replace("0.1,0.9", "-2.0,3.0"), "not probabilities"),
        (GOOD.replace("0.1,0.9", "0.1,"), "NaN or empty cells: ids '010'"),
        (GOOD.replace("0.1,0.9", "nan,0.9"), "NaN or empty cells"),
        (GOOD.replace("0.1,0.9", "x,0.9"), "column 'cat' .* is not numeric"),
    ],
    ids=[
        "no-id", "unknown-id", "missing-rows", "duplicate-id", "missing-class", "no-classes",
        "bad-sum", "negative", "empty-cell", "nan", "not-numeric",
    ],
)  # fmt: skip
def test_bad_probabilities_are_usage_errors(tmp_path, small, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        read_pred_probs(_write(tmp_path, text), small)
    assert caught.value.exit_code == EXIT_USAGE


def test_sums_within_the_tolerance_pass(tmp_path, small) -> None:
    model = read_pred_probs(_write(tmp_path, GOOD.replace("0.1,0.9", "0.1,0.9005")), small)
    assert model.probs[3, 1] == pytest.approx(0.9005)


def test_missing_file_and_unreadable_file(tmp_path, small) -> None:
    with pytest.raises(UsageError, match="no probabilities file"):
        read_pred_probs(tmp_path / "absent.csv", small)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(UsageError, match="cannot read the probabilities file"):
        read_pred_probs(tmp_path / "bad.parquet", small)


def test_a_class_column_without_samples_is_allowed(tmp_path, small) -> None:
    text = "id,cat,dog,bird\n007,0.8,0.1,0.1\n008,0.6,0.4,0\n009,0.3,0.7,0\n010,0.1,0.9,0\n"
    model = read_pred_probs(_write(tmp_path, text), small)
    assert model.class_names == ["cat", "dog", "bird"]


EMBEDDINGS = "id,e0,e1\n007,1,0\n008,0.9,0.1\n009,0,1\n010,0.1,0.9\n"


def test_embeddings_csv_and_parquet_list_column(tmp_path, small) -> None:
    features = read_embeddings(_write(tmp_path, EMBEDDINGS, "emb.csv"), small)
    assert features.tolist() == [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]
    table = pa.table(
        {"id": ["010", "009", "008", "007"], "vector": [[0.1, 0.9], [0, 1], [0.9, 0.1], [1, 0]]}
    )
    pq.write_table(table, tmp_path / "emb.parquet")
    assert read_embeddings(tmp_path / "emb.parquet", small).tolist() == features.tolist()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,e0\n007,1\n008,1\n", "has 2 rows for 4 samples"),
        (EMBEDDINGS + "011,0,0\n", "are not sample ids"),
        (EMBEDDINGS.replace("009,0,1", "009,nan,1"), "NaN, infinite or empty values: ids '009'"),
        ("e0,e1\n1,0\n", "no 'id' column"),
        ("id\n007\n008\n009\n010\n", "no columns besides 'id'"),
    ],
    ids=["wrong-length", "unknown-id", "nan", "no-id", "no-dimensions"],
)
def test_bad_embeddings_are_usage_errors(tmp_path, small, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        read_embeddings(_write(tmp_path, text, "emb.csv"), small)


def test_ragged_list_embeddings_are_a_usage_error(tmp_path, small) -> None:
    table = pa.table(
        {"id": ["007", "008", "009", "010"], "v": [[1.0, 0.0], [1.0], [0.0, 1.0], [0.5, 0.5]]}
    )
    pq.write_table(table, tmp_path / "emb.parquet")
    with pytest.raises(UsageError, match="do not all have one length"):
        read_embeddings(tmp_path / "emb.parquet", small)


def test_nothing_asked_means_no_model(small) -> None:
    assert build_label_model(small, TextSource(["x"])) is None


def test_own_model_on_text(tmp_path) -> None:
    texts, labels, ids = _texts()
    labels[0] = "tools"  # a fruit text labelled tools
    source = TextSource(texts, labels=labels, ids=ids)
    profile = _profile(texts, labels, ids)
    ticks: list[int] = []
    model = build_label_model(profile, source, own_model=True, on_progress=ticks.append)
    assert model is not None and sum(ticks) == len(texts)
    assert model.origin == "dlqa's 5-fold logistic regression on TF-IDF features"
    assert model.class_names == ["fruit", "tools", "weather"]
    assert model.probs.shape == (60, 3) and model.features.shape[0] == 60
    assert model.probs.sum(axis=1) == pytest.approx(1.0)
    # Out of fold, the mislabelled fruit text still looks like fruit.
    assert model.probs[0].argmax() == 0


def test_own_model_follows_the_profile_rows_whatever_the_source_order() -> None:
    texts, labels, ids = _texts(10)
    profile = _profile(texts, labels, ids)
    backwards = TextSource(texts[::-1], labels=labels[::-1], ids=ids[::-1])
    model = build_label_model(profile, backwards, own_model=True)
    forwards = build_label_model(profile, TextSource(texts, labels=labels, ids=ids), own_model=True)
    first = model.features[0].toarray()
    assert np.abs(first - forwards.features[0].toarray()).max() < 1e-6
    assert np.isfinite(model.probs).all()


def test_embeddings_with_and_without_probabilities(tmp_path, small) -> None:
    emb = _write(tmp_path, EMBEDDINGS, "emb.csv")
    own = build_label_model(small, TextSource(["x"]), embeddings=emb)
    assert own.origin == "dlqa's 5-fold logistic regression on your embeddings from emb.csv"
    assert own.features.shape == (4, 2)
    # Two samples per class is fewer than the 5 folds: no prediction, not a wrong one.
    assert np.isnan(own.probs).all()
    given = build_label_model(
        small, TextSource(["x"]), pred_probs=_write(tmp_path, GOOD), embeddings=emb
    )
    assert given.origin == "probabilities from pred.csv, neighbours on embeddings from emb.csv"
    assert given.features.shape == (4, 2) and np.isfinite(given.probs).all()

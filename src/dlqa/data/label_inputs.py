"""What data.label_errors reads: out-of-fold class probabilities for the profile's samples,
from the user (``--pred-probs FILE``) or from dlqa's own k-fold model on features it extracts
or on the user's embeddings (``--label-errors``, ``--embeddings FILE``).

Both files are CSV or Parquet with a column ``id`` holding the sample ids dlqa reports. A
probabilities file has one numeric column per class name; an embeddings file one numeric
column per dimension (or one list column). Anything that would make the check answer about
the wrong samples or from broken numbers is a UsageError that says what to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dlqa.core.errors import UsageError
from dlqa.data.context import DataProfile
from dlqa.data.label_features import FOLDS, extract_features, out_of_fold_probs
from dlqa.sources.base import Source

ID_COLUMN = "id"
ROW_SUM_TOLERANCE = 1e-3
_SHOWN = 5  # ids quoted in a message
_FEATURE_KINDS = {
    "image": "colour and gradient features",
    "text": "TF-IDF features",
    "audio": "log-mel statistics",
}


@dataclass
class LabelModel:
    """Out-of-fold class probabilities aligned with the profile's rows (row i = profile row
    i; NaN rows: no prediction), ``class_names[j]`` naming column j, optional ``features``
    (n, d) dense or sparse for the neighbour score, and where they came from."""

    probs: np.ndarray
    class_names: list[str]
    origin: str  # one sentence: "probabilities from pred.csv"
    features: Any = None
    folds: int | None = None  # dlqa's own model: the k of its k-fold cross-validation

    def label_indices(self, profile: DataProfile) -> np.ndarray:
        """Each profile row's label as a column index (-1: no label, or a label without a
        column)."""
        names, codes = profile.codes("label")
        column = {name: j for j, name in enumerate(self.class_names)}
        lookup = np.array([column.get(name, -1) for name in names] + [-1], dtype=np.int64)
        return lookup[np.where(codes >= 0, codes, len(names))]


# ------------------------------------------------------------------ files


def _read_table(path: Path, what: str) -> pa.Table:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if not path.is_file():
        raise UsageError(f"no {what} file at {path}", hint="check the path")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pq.read_table(path)
        # Ids stay text: "007" must not become the number 7.
        options = pacsv.ConvertOptions(column_types={ID_COLUMN: pa.string()})
        return pacsv.read_csv(path, convert_options=options)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UsageError(
            f"cannot read the {what} file {path}: {exc}",
            hint="give a CSV file (a header row) or a Parquet file (.parquet)",
        ) from None


def _quoted(values: list[Any]) -> str:
    shown = ", ".join(repr(v) for v in values[:_SHOWN])
    return shown + (f" and {len(values) - _SHOWN} more" if len(values) > _SHOWN else "")


def _profile_rows(table: pa.Table, path: Path, profile: DataProfile, what: str) -> np.ndarray:
    """The profile row of each of the file's rows; a UsageError for a missing id column,
    duplicate ids or ids that are not the profile's."""
    if ID_COLUMN not in table.column_names:
        raise UsageError(
            f"the {what} file {path} has no '{ID_COLUMN}' column (it has "
            f"{_quoted(table.column_names)})",
            hint=f"add a column '{ID_COLUMN}' holding the sample ids that dlqa reports "
            "(`dlqa data profile` lists them)",
        )
    ids = table.column(ID_COLUMN).cast(pa.string())
    if ids.null_count:
        raise UsageError(f"the {what} file {path} has {ids.null_count} rows without an id")
    counts = pc.value_counts(ids)
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1)).to_pylist()
    if repeated:
        raise UsageError(
            f"the {what} file {path} repeats {len(repeated)} ids: {_quoted(repeated)}",
            hint="give each sample one row",
        )
    rows = profile.rows_of(ids.to_pylist())
    unknown = np.flatnonzero(rows < 0)
    if len(unknown):
        names = ids.take(pa.array(unknown[:_SHOWN])).to_pylist()
        raise UsageError(
            f"{len(unknown)} of the {len(rows)} ids in the {what} file {path} are not sample "
            f"ids of this dataset ({len(profile.ids)} samples): {_quoted(names)}"
            + (" ..." if len(unknown) > _SHOWN else ""),
            hint="use the ids dlqa reports for this source (file paths relative to the "
            "root, or the manifest's id column)",
        )
    return rows


def _missing_samples(rows: np.ndarray, profile: DataProfile, path: Path, what: str) -> None:
    """A UsageError when a labelled sample that decoded has no row in the file: judging only
    some of them would silently report on a part of the dataset."""
    covered = np.zeros(profile.n, dtype=bool)
    covered[rows] = True
    needed = profile.decoded & (profile.codes("label")[1] >= 0)
    missing = np.flatnonzero(needed & ~covered)
    if len(missing):
        raise UsageError(
            f"the {what} file {path} has no row for {len(missing)} of the {int(needed.sum())} "
            f"labelled samples: {_quoted(profile.ids.take(missing[:_SHOWN]))}",
            hint="give one row for every sample (the ids dlqa reports)",
        )


def _numeric(table: pa.Table, name: str, path: Path, what: str) -> np.ndarray:
    column = table.column(name)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        raise UsageError(
            f"column {name!r} of the {what} file {path} is not numeric ({column.type})",
            hint="every column but 'id' must hold numbers",
        )
    return column.cast(pa.float64()).fill_null(np.nan).to_numpy()


def read_pred_probs(path: Path | str, profile: DataProfile) -> LabelModel:
    """Out-of-fold predicted probabilities from a CSV or Parquet file: ``id`` plus one
    numeric column per class name. Every labelled sample that decoded needs a row; every
    label of the data needs a column; rows must be finite probabilities summing to 1 (within
    1e-3)."""
    path = Path(path)
    what = "probabilities"
    table = _read_table(path, what)
    rows = _profile_rows(table, path, profile, what)
    class_names = [name for name in table.column_names if name != ID_COLUMN]
    if not class_names:
        raise UsageError(
            f"the probabilities file {path} has no class columns",
            hint="add one column per class, named as the labels are",
        )
    _missing_samples(rows, profile, path, what)
    label_names, codes = profile.codes("label")
    used = np.unique(codes[codes >= 0])
    absent = [label_names[c] for c in used if label_names[c] not in set(class_names)]
    if absent:
        raise UsageError(
            f"the probabilities file {path} has no column for {len(absent)} labels of the "
            f"data: {_quoted(absent)}",
            hint=f"name one column after each label (columns: {_quoted(class_names)})",
        )
    values = np.column_stack([_numeric(table, name, path, what) for name in class_names])
    ids = table.column(ID_COLUMN).cast(pa.string())
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if len(bad):
        raise UsageError(
            f"{len(bad)} rows of the probabilities file {path} hold NaN or empty cells: ids "
            f"{_quoted(ids.take(pa.array(bad[:_SHOWN])).to_pylist())}",
            hint="give a probability for every class in every row",
        )
    negative = np.flatnonzero((values < 0).any(axis=1) | (values > 1 + ROW_SUM_TOLERANCE).any(1))
    sums = values.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
    if len(negative) or len(off):
        wrong = np.union1d(negative, off)
        shown = ", ".join(
            f"{i!r} (sum {s:.4g})"
            for i, s in zip(
                ids.take(pa.array(wrong[:_SHOWN])).to_pylist(), sums[wrong[:_SHOWN]], strict=True
            )
        )
        raise UsageError(
            f"{len(wrong)} rows of the probabilities file {path} are not probabilities "
            f"(values in 0..1 summing to 1 within {ROW_SUM_TOLERANCE:g}): {shown}",
            hint="write the softmax of the model's outputs, not logits, with a column for "
            "every class the model predicts",
        )
    probs = np.full((profile.n, len(class_names)), np.nan)
    probs[rows] = values
    return LabelModel(probs, class_names, f"probabilities from {path.name}")


def read_embeddings(path: Path | str, profile: DataProfile) -> np.ndarray:
    """Per-sample embeddings (n, d) aligned with the profile's rows, from a CSV or Parquet
    file: ``id`` plus one numeric column per dimension, or one list column. One row per
    sample, every value finite. Samples that did not decode may be left out (NaN rows)."""
    path = Path(path)
    what = "embeddings"
    table = _read_table(path, what)
    rows = _profile_rows(table, path, profile, what)
    names = [name for name in table.column_names if name != ID_COLUMN]
    if not names:
        raise UsageError(
            f"the embeddings file {path} has no columns besides '{ID_COLUMN}'",
            hint="add one numeric column per dimension",
        )
    first = table.column(names[0]).type
    if len(names) == 1 and (pa.types.is_list(first) or pa.types.is_fixed_size_list(first)):
        lists = table.column(names[0]).to_pylist()
        widths = {len(v) if v is not None else -1 for v in lists}
        if len(widths) != 1 or -1 in widths:
            raise UsageError(
                f"the embeddings in column {names[0]!r} of {path} do not all have one length "
                f"(lengths {sorted(widths)[:_SHOWN]})",
                hint="give every sample an embedding of the same dimension",
            )
        values = np.asarray(lists, dtype=np.float64)
    else:
        values = np.column_stack([_numeric(table, name, path, what) for name in names])
    decodable = int(profile.decoded.sum())
    if len(rows) not in (profile.n, decodable):
        raise UsageError(
            f"the embeddings file {path} has {len(rows)} rows for {profile.n} samples"
            + (f" ({decodable} that decode)" if decodable != profile.n else ""),
            hint="give one embedding per sample",
        )
    _missing_samples(rows, profile, path, what)
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if len(bad):
        ids = table.column(ID_COLUMN).cast(pa.string()).take(pa.array(bad[:_SHOWN]))
        raise UsageError(
            f"{len(bad)} embeddings in {path} hold NaN, infinite or empty values: ids "
            f"{_quoted(ids.to_pylist())}",
            hint="give every sample a finite embedding",
        )
    out = np.full((profile.n, values.shape[1]), np.nan)
    out[rows] = values
    return out


# ------------------------------------------------------------------ the model


def build_label_model(
    profile: DataProfile,
    source: Source,
    *,
    pred_probs: Path | str | None = None,
    embeddings: Path | str | None = None,
    own_model: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> LabelModel | None:
    """What data.label_errors judges, or None when nothing was asked for (the check then
    skips, so that plain profiles stay fast).

    * ``pred_probs``: the user's probabilities (with ``embeddings``: also the neighbour
      score on them). dlqa's own features are not mixed in: a crude feature's neighbours
      would dilute a good model's probabilities.
    * ``embeddings`` alone: dlqa's k-fold logistic regression on them, and the neighbour score.
    * ``own_model``: features dlqa extracts from every sample (``source`` is read again),
      then the same model and neighbour score.
    """
    if pred_probs is not None:
        model = read_pred_probs(pred_probs, profile)
        if embeddings is not None:
            model.features = read_embeddings(embeddings, profile)
            model.origin += f", neighbours on embeddings from {Path(embeddings).name}"
        return model
    if embeddings is not None:
        features = read_embeddings(embeddings, profile)
        kind = f"your embeddings from {Path(embeddings).name}"
    elif own_model:
        features = _own_features(profile, source, on_progress)
        kind = _FEATURE_KINDS.get(profile.modality, "features")
    else:
        return None
    class_names, codes = profile.codes("label")
    labels = np.where(codes >= 0, codes, -1).astype(np.int64)
    if not features.shape[0] or features.shape[1] == 0:
        usable = np.zeros(profile.n, dtype=bool)
    elif isinstance(features, np.ndarray):
        usable = np.isfinite(features).all(axis=1)
    else:  # sparse TF-IDF: an empty text has an empty row
        usable = np.asarray(features.getnnz(axis=1) > 0)
    labels[~usable | ~profile.decoded] = -1
    probs = out_of_fold_probs(features, labels, len(class_names), folds=FOLDS)
    origin = f"dlqa's {FOLDS}-fold logistic regression on {kind}"
    return LabelModel(probs, list(class_names), origin, features=features, folds=FOLDS)


def _own_features(
    profile: DataProfile, source: Source, on_progress: Callable[[int], None] | None
) -> Any:
    """Features of every sample, in the profile's row order (rows the source did not give
    back stay empty)."""
    from scipy import sparse

    ids, features, decoded = extract_features(source, profile.modality, on_progress)
    rows = profile.rows_of(ids)
    found = rows >= 0
    keep = found & decoded
    if sparse.issparse(features):
        # A selector matrix: row r of the result is the source's row that is profile row r.
        source_row = np.full(profile.n, -1)
        source_row[rows[keep]] = np.flatnonzero(keep)
        have = np.flatnonzero(source_row >= 0)
        selector = sparse.csr_matrix(
            (np.ones(len(have), dtype=np.float32), (have, source_row[have])),
            shape=(profile.n, features.shape[0]),
        )
        return (selector @ features).tocsr()
    out = np.full((profile.n, features.shape[1]), np.nan, dtype=np.float32)
    out[rows[keep]] = features[keep]
    return out

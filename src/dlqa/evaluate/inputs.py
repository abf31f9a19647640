"""The arrays an evaluation reads, checked once at the door.

Every problem with what a user passes (probabilities that do not sum to 1, a NaN, a label
outside the class list, a slice of the wrong length) is a :class:`UsageError` that names it,
raised before any check runs: a metric computed from such input would be a number about
nothing, and a check that crashed on it would blame dlqa for the user's array.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from dlqa.core.errors import UsageError
from dlqa.evaluate.metrics import probability_array

# The case sets the checks know by name; any other name is a set whose metrics are shown.
CASE_SETS = ("golden", "regression")
TEST_SET = "test"
_SHOWN_BAD = 5  # offending positions named in a message


def _positions(mask: np.ndarray) -> str:
    where = np.flatnonzero(mask)
    shown = ", ".join(str(int(i)) for i in where[:_SHOWN_BAD])
    more = f" and {where.size - _SHOWN_BAD} more" if where.size > _SHOWN_BAD else ""
    return f"{shown}{more}"


def check_probs(probs: ArrayLike) -> np.ndarray:
    """``probs`` as an ``(n, C)`` float array of probabilities (float32 stays float32), or a
    UsageError naming the first row that is not (NaN, negative, not summing to 1: logits
    passed by mistake)."""
    shape = np.shape(probs)
    if len(shape) == 2 and shape[1] < 2:
        raise UsageError(f"probs must be an (n, C) array with C >= 2 classes, got shape {shape}")
    try:
        return probability_array(probs)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc), hint="one row per sample: softmax(logits), C >= 2") from None


class RowIds(Sequence[str]):
    """The default sample ids "0".."n-1", made only for the rows a view shows."""

    def __init__(self, n: int) -> None:
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [str(i) for i in range(self._n)[index]]
        position = range(self._n)[int(index)]  # IndexError beyond n, as a tuple's
        return str(position)


def check_labels(labels: ArrayLike, n: int, class_names: Sequence[str]) -> np.ndarray:
    """``labels`` as int64 class indices within the class list, or a UsageError."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise UsageError(f"labels must be a 1-D array of class indices, got shape {array.shape}")
    if array.shape[0] != n:
        raise UsageError(f"labels has {array.shape[0]} values but probs has {n} rows")
    if array.dtype.kind == "f" and np.isfinite(array).all() and (array == np.round(array)).all():
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise UsageError(
            f"labels must be integer class indices, got dtype {array.dtype}",
            hint="map class names to their index in class_names first",
        )
    array = array.astype(np.int64, copy=False)
    outside = (array < 0) | (array >= len(class_names))
    if outside.any():
        values = sorted({int(v) for v in array[outside]})[:_SHOWN_BAD]
        raise UsageError(
            f"{outside.sum()} label(s) are outside the {len(class_names)} classes the model "
            f"outputs (values {values}, at rows {_positions(outside)})",
            hint="the eval set has classes the model does not know; "
            "fix the labels or evaluate a model trained on these classes",
        )
    return array


def check_class_names(class_names: Sequence[str] | None, n_classes: int) -> tuple[str, ...]:
    if class_names is None:
        return tuple(str(i) for i in range(n_classes))
    if isinstance(class_names, (str, bytes)):
        raise UsageError("class_names must be a list of names, index i naming class i")
    names = tuple(str(name) for name in class_names)
    if len(names) != n_classes:
        raise UsageError(
            f"class_names has {len(names)} names but probs has {n_classes} columns",
            hint="name every output column of the model, in order",
        )
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise UsageError(f"class_names repeats {twice}: each class needs its own name")
    return names


def check_sample_ids(sample_ids: Sequence[Any] | None, n: int) -> Sequence[str]:
    if sample_ids is None:
        return RowIds(n)
    ids = tuple(str(sample_id) for sample_id in sample_ids)
    if len(ids) != n:
        raise UsageError(f"sample_ids has {len(ids)} ids but probs has {n} rows")
    if len(set(ids)) != n:
        raise UsageError("sample_ids must be unique: some id names two samples")
    return ids


def check_slices(slices: Mapping[str, ArrayLike] | None, n: int) -> dict[str, np.ndarray]:
    checked: dict[str, np.ndarray] = {}
    for name, values in (slices or {}).items():
        array = np.asarray(values, dtype=object if _is_text(values) else None)
        if array.ndim != 1 or array.shape[0] != n:
            raise UsageError(
                f"slice {name!r} has shape {array.shape}; it needs one value per sample ({n})"
            )
        checked[str(name)] = array
    return checked


def _is_text(values: Any) -> bool:
    return any(isinstance(v, str) for v in list(values)[:100])


def check_embeddings(embeddings: ArrayLike | None, n: int) -> np.ndarray | None:
    if embeddings is None:
        return None
    array = np.asarray(embeddings, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != n:
        raise UsageError(
            f"embeddings must be an (n, d) array with n = {n} rows, got shape {array.shape}"
        )
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise UsageError(f"embeddings have NaN or infinite values in rows {_positions(bad)}")
    return array


def check_sets(sets: Mapping[str, ArrayLike] | None, n: int) -> dict[str, np.ndarray]:
    """Set name -> sorted unique sample indices; ``test`` is every sample outside the named
    case sets unless it is given."""
    checked: dict[str, np.ndarray] = {}
    for name, indices in (sets or {}).items():
        array = np.asarray(indices)
        if array.dtype == bool and array.shape == (n,):
            array = np.flatnonzero(array)
        if array.size and (array.ndim != 1 or array.dtype.kind not in "iu"):
            raise UsageError(f"set {name!r} must be a list of sample indices (or a boolean mask)")
        array = array.astype(np.int64).ravel()
        outside = (array < 0) | (array >= n)
        if outside.any():
            raise UsageError(f"set {name!r} has indices outside 0..{n - 1}: {array[outside][:5]}")
        checked[str(name)] = np.unique(array)
    if TEST_SET not in checked:
        in_cases = np.zeros(n, dtype=bool)
        for indices in checked.values():
            in_cases[indices] = True
        checked[TEST_SET] = np.flatnonzero(~in_cases)
    if checked[TEST_SET].size == 0:
        raise UsageError(
            "no test samples: every sample is in a case set",
            hint="pass the test samples too, or name them with sets={'test': indices}",
        )
    return checked

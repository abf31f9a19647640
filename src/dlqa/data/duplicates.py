"""Near-duplicate search over 64-bit perceptual hashes (exact groups: ``exact_groups.py``).

Near-duplicate search is exact (every pair within the distance is returned) and never builds
an n x n matrix. It uses multi-index hashing with the pigeonhole principle: the 64 bits are
split into ``b`` blocks; two hashes within Hamming distance ``r`` differ in at most ``r``
blocks, so they agree exactly on at least ``b - r`` of them. For every combination of
``b - r`` blocks the hashes are sorted by those blocks, members of equal-key runs become
candidates, and candidates are verified on the full 64 bits. A pair agreeing on several
combinations is kept only in the first, so no global deduplication is needed. Identical hashes
are collapsed first and expanded at the end, so large groups of exact copies cost only the
pairs they produce.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.data.hash_index import (
    concatenate_pairs,
    pairs_within_runs,
    plan_block_count,
    popcount64,
    search_brute_force,
    search_tables,
)

# Measured by benchmarks/near_duplicate_threshold.py together with the confirming correlation
# (dlqa.data.crop_hashes.DEFAULT_MIN_CORRELATION): see that module for the figures.
# (pHash sets exactly 32 of 64 bits, so distances between its hashes are even.)
DEFAULT_MAX_DISTANCE: int = 10

MAX_SUPPORTED_DISTANCE = 32  # beyond half the bits "near" stops meaning anything


class InvalidHashInputError(UsageError, ValueError):
    """Bad argument to a duplicate search: a UsageError (exit code 2) and a ValueError."""


def _as_uint64(values: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Hashes as a 1-D uint64 array, and a mask of present entries when some were missing.

    int64 is reinterpreted bit for bit, because stores without unsigned 64-bit integers keep
    hashes that way. Floats are refused: a float64 cannot hold 64 hash bits.
    """
    if hasattr(values, "is_null") and hasattr(values, "fill_null"):  # pyarrow (Chunked)Array
        present = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        filled = values.fill_null(0).to_numpy(zero_copy_only=False)
        hashes, _ = _as_uint64(filled, name)
        return hashes, (present if not present.all() else None)
    # Plain sequences are checked element by element (None marks a missing hash).
    array = values if isinstance(values, np.ndarray) else np.array(values, dtype=object)
    if array.ndim != 1:
        raise InvalidHashInputError(
            f"{name} must be a 1-D array of 64-bit hashes, got shape {array.shape}"
        )
    kind = array.dtype.kind
    if kind == "u":
        return array.astype(np.uint64, copy=False), None
    if kind == "i":
        if array.dtype == np.int64:
            return array.view(np.uint64), None
        if array.size and array.min() < 0:
            raise InvalidHashInputError(
                f"{name} holds negative {array.dtype} values; pass the hashes as uint64"
            )
        return array.astype(np.uint64), None
    if kind == "O":
        return _object_hashes_as_uint64(array, name)
    hint = "floats cannot hold 64 hash bits; " if kind == "f" else ""
    raise InvalidHashInputError(
        f"{name} must hold 64-bit integer hashes (uint64), got dtype {array.dtype}",
        hint=f"{hint}read the hash column as uint64 (or int64)",
    )


def _object_hashes_as_uint64(array: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    hashes = np.zeros(array.size, dtype=np.uint64)
    present = np.ones(array.size, dtype=bool)
    for position, value in enumerate(array):
        if value is None:
            present[position] = False
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise InvalidHashInputError(
                f"{name}[{position}] is {value!r}; hashes must be integers (or None if missing)"
            )
        value = int(value)
        if not -(1 << 63) <= value < (1 << 64):
            raise InvalidHashInputError(f"{name}[{position}] = {value} does not fit in 64 bits")
        hashes[position] = value & ((1 << 64) - 1)
    return hashes, (present if not present.all() else None)


def hamming_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise number of differing bits between 64-bit hashes (broadcasting), as int64."""
    left = np.asarray(a)
    right = np.asarray(b)
    left = left.view(np.uint64) if left.dtype == np.int64 else left.astype(np.uint64, copy=False)
    right = (
        right.view(np.uint64) if right.dtype == np.int64 else right.astype(np.uint64, copy=False)
    )
    return popcount64(np.bitwise_xor(left, right)).astype(np.int64)


def _check_max_distance(max_distance: Any) -> int:
    if isinstance(max_distance, (bool, np.bool_)) or not isinstance(
        max_distance, (int, np.integer)
    ):
        raise InvalidHashInputError(
            f"max_distance must be an integer number of bits, got {max_distance!r}"
        )
    if not 0 <= max_distance <= MAX_SUPPORTED_DISTANCE:
        raise InvalidHashInputError(
            f"max_distance must be between 0 and {MAX_SUPPORTED_DISTANCE} bits, got {max_distance}",
            hint=f"the default, {DEFAULT_MAX_DISTANCE}, catches resized, re-encoded and "
            "brightened copies and about 95 % of 2.5 % border crops",
        )
    return int(max_distance)


def find_near_duplicate_pairs(
    hashes: np.ndarray,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    *,
    valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of samples whose 64-bit hashes differ in at most ``max_distance`` bits.

    ``hashes`` is uint64 (int64 is reinterpreted bit for bit; None entries or a pyarrow null
    count as missing). ``valid`` marks the samples that have a hash; the others are ignored.
    Returns ``(pairs, distances)``: pairs is int64 of shape (k, 2) with i < j, sorted
    lexicographically, distances is int64 of shape (k,). Identical hashes (distance 0) are
    included. The search is exact.
    """
    radius = _check_max_distance(max_distance)
    values, present = _as_uint64(hashes, "hashes")
    if valid is not None:
        mask = np.asarray(valid)
        if mask.dtype != bool or mask.shape != values.shape:
            raise InvalidHashInputError(
                f"valid must be a boolean array of shape {values.shape}, "
                f"got {mask.dtype} of shape {mask.shape}"
            )
        present = mask if present is None else present & mask
    # Samples grouped by hash: one sort, in the smallest index type (memory at scale).
    index_type = np.int32 if values.size < np.iinfo(np.int32).max else np.int64
    if present is None:
        order = np.argsort(values)
        members = order.astype(index_type)
        sorted_values = values[order]
    else:
        sample_index = np.flatnonzero(present).astype(index_type)
        order = np.argsort(values[sample_index])
        members = sample_index[order]
        sorted_values = values[sample_index[order]]
        del sample_index
    del order
    same_as_next = sorted_values[1:] == sorted_values[:-1]
    group_starts = np.flatnonzero(np.concatenate(([members.size > 0], ~same_as_next)))
    distinct = sorted_values[group_starts]
    del sorted_values
    group_sizes = np.diff(np.append(group_starts, members.size))

    parts_left, parts_right, parts_distance = [], [], []
    for left_pos, right_pos in pairs_within_runs(same_as_next):
        left, right = members[left_pos], members[right_pos]
        parts_left.append(np.minimum(left, right))
        parts_right.append(np.maximum(left, right))
        parts_distance.append(np.zeros(left_pos.size, dtype=np.uint8))
    del same_as_next

    if radius > 0 and distinct.size >= 2:
        n_blocks = plan_block_count(distinct, radius)
        if n_blocks is None:
            group_left, group_right, distance = search_brute_force(distinct, radius)
        else:
            group_left, group_right, distance = search_tables(distinct, radius, n_blocks)
        # Each pair of distinct hashes stands for every pair of their samples.
        sizes_left, sizes_right = group_sizes[group_left], group_sizes[group_right]
        pair_counts = sizes_left * sizes_right
        source = np.repeat(np.arange(group_left.size), pair_counts)
        rank = np.arange(source.size) - np.repeat(np.cumsum(pair_counts) - pair_counts, pair_counts)
        left = members[group_starts[group_left][source] + rank // sizes_right[source]]
        right = members[group_starts[group_right][source] + rank % sizes_right[source]]
        parts_left.append(np.minimum(left, right))
        parts_right.append(np.maximum(left, right))
        parts_distance.append(distance[source])

    left, right, distance = concatenate_pairs(parts_left, parts_right, parts_distance)
    order = np.lexsort((right, left))
    pairs = np.stack([left[order], right[order]], axis=1).astype(np.int64)
    return pairs.reshape(-1, 2), distance[order].astype(np.int64)

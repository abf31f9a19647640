"""Near-duplicate search over 64-bit perceptual hashes (exact groups: ``exact_groups.py``).

The search is exact (every pair within the distance r is returned) and never builds an n x n
matrix. Identical hashes are collapsed first and expanded at the end, so groups of exact
copies cost only the pairs they produce. The distinct hashes go through multi-index tables
(``hash_index.py``) of a covering design (R. Pagh, "Locality-sensitive hashing without false
negatives", SODA 2016): the bits are split into groups with radii whose (radius + 1) add up to
r + 1, so a close pair is within its radius in some group (pigeonhole); each bit i of a group
gets a vector m(i) in GF(2)^(radius + 1), and each non-zero v a table keyed on the bits with
<m(i), v> = 1. The differing bits of a pair within the radius span at most radius dimensions,
so some v is orthogonal to them all: that table's key avoids them. For r = 10, two groups of
32 bits with radii 5 and 4 make 94 tables of 16-bit keys, where the classic split into 14
blocks (a table per 4 of them) makes 1,001 tables of 18-bit keys, with 2.6 times the
candidate pairs on 2M hashes. The plan (``plan_search``) picks the design and where each
hash bit goes from the hashes themselves, or brute force for few hashes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.data.hash_index import (
    HASH_BITS,
    BitPermutation,
    default_threads,
    pairs_within_runs,
    popcount64,
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
        plan = plan_search(distinct, radius)
        if plan is None:
            group_left, group_right, distance = search_brute_force(distinct, radius)
        else:
            permuted = plan.permutation.apply(distinct)  # distances do not change
            group_left, group_right, distance = search_tables(permuted, radius, plan.tables)
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


def search_brute_force(
    hashes: np.ndarray, max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same result as ``search_tables`` by comparing all pairs, a block of rows at a time."""
    n = hashes.size
    found_left, found_right, found_distance = [], [], []
    rows_per_chunk = max(1, (1 << 22) // max(n, 1))  # bounds the rows x columns block
    for start in range(0, n, rows_per_chunk):
        stop = min(n, start + rows_per_chunk)
        distance = popcount64(hashes[start:stop, None] ^ hashes[None, start:])
        rows, cols = np.nonzero(distance <= max_distance)
        cols_global = cols + start
        keep = cols_global > rows + start
        found_left.append((rows[keep] + start).astype(np.int64))
        found_right.append(cols_global[keep].astype(np.int64))
        found_distance.append(distance[rows[keep], cols[keep]])
    return concatenate_pairs(found_left, found_right, found_distance)


def concatenate_pairs(
    left: list[np.ndarray], right: list[np.ndarray], distance: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not left:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.uint8)
    return np.concatenate(left), np.concatenate(right), np.concatenate(distance)


# --- designs -----------------------------------------------------------------------------------


def covering_vectors(size: int, dimensions: int) -> list[int]:
    """m(i) for ``size`` bits in GF(2)^dimensions, as integers, chosen so that every key (the
    bits i with <m(i), v> = 1, for each non-zero v) is large: with as many bits as half the
    vectors, an affine hyperplane (each key holds half the bits, one all of them); with as
    many as the non-zero vectors, all of them (each key holds half); with more, all of them
    again and the zero vector last (that bit is in no key: the place for a constant bit);
    otherwise the best of a few seeded random choices (by smallest key, then total)."""
    nonzero = (1 << dimensions) - 1
    if size == (nonzero + 1) // 2:
        return [(vector << 1) | 1 for vector in range(size)]
    if size >= nonzero:
        return [1 + i % nonzero for i in range(size - 1)] + ([0] if size > nonzero else [nonzero])
    rng = np.random.default_rng(size * 64 + dimensions)
    tables = np.arange(1, nonzero + 1, dtype=np.uint64)
    best, best_score = [], (-1, 0)
    for _ in range(64):
        vectors = rng.choice(np.arange(1, nonzero + 1, dtype=np.uint64), size, replace=False)
        keys = (popcount64(vectors[:, None] & tables[None, :]) & 1).sum(axis=0)
        score = (int(keys.min()), int(keys.sum()))
        if score > best_score:
            best, best_score = vectors.tolist(), score
    return best


def covering_tables(groups: Sequence[tuple[Sequence[int], int]]) -> list[int]:
    """Key masks of the covering design for groups of (bit positions, radius): exact for any
    distance below the sum of (radius + 1) over the groups (see ``covering_vectors``)."""
    tables = []
    for positions, radius in groups:
        dimensions = radius + 1
        vectors = covering_vectors(len(positions), dimensions)
        for v in range(1, 1 << dimensions):
            tables.append(
                sum(
                    1 << bit
                    for bit, vector in zip(positions, vectors, strict=True)
                    if (vector & v).bit_count() % 2
                )
            )
    return tables


# --- the plan: a design, and which hash bit goes where -----------------------------------------

# Costs in ns on one core, measured on this search (2M hashes, and 5K-60K for the brute
# force): per hash per table (permute, sort, cut into runs), per table (lookup tables, Python),
# per candidate pair (contiguous verification passes), per pair of the brute force. Threads
# share the tables out, at about this efficiency.
_COST_PER_ELEMENT = 15.0
_COST_PER_TABLE = 1.0e6
_COST_PER_CANDIDATE = 1.7
_COST_PER_BRUTE_PAIR = 2.3
_THREAD_EFFICIENCY = 0.75
_MAX_TABLES = 4096
_SAMPLE = 1 << 14  # hashes the candidates of a design are counted on
_SAMPLED_TABLES = 48  # tables counted, at most, per design
_COSTED = 3  # designs costed on the sample: the cheapest by the uniform model


@dataclass(frozen=True)
class SearchPlan:
    """The design to search with and the bit permutation to apply to the hashes first."""

    name: str
    tables: list[int]
    permutation: BitPermutation
    candidates: float  # estimated
    cost: float  # estimated, ns


def designs(max_distance: int) -> Iterator[tuple[str, list[int]]]:
    """(name, key masks) of the covering designs worth costing for ``max_distance``: the bits
    in one to four groups (halves, thirds, quarters), radii as even as they go."""
    for n_groups in range(1, min(4, max_distance + 1) + 1):
        # radii whose (radius + 1) add up to max_distance + 1, the larger first
        base, extra = divmod(max_distance + 1 - n_groups, n_groups)
        radii = [base + 1 if group < extra else base for group in range(n_groups)]
        if sum((1 << (radius + 1)) - 1 for radius in radii) > _MAX_TABLES:
            continue
        cuts = [round(HASH_BITS * group / n_groups) for group in range(n_groups + 1)]
        groups = [(range(cuts[g], cuts[g + 1]), radii[g]) for g in range(n_groups)]
        yield f"covering radii {radii}", covering_tables(groups)


def plan_search(hashes: np.ndarray, max_distance: int) -> SearchPlan | None:
    """The cheapest exact design for these hashes, or None when brute force is cheaper.

    Real perceptual hashes are not uniform (the DC bit is always set, neighbouring frequencies
    go together), so a table keyed on k bits holds more than n^2 / 2^(k+1) candidates. The few
    designs cheapest for uniform bits are costed again with their candidates counted on a
    sample of the hashes themselves (pairs in a random sample scale as its size squared),
    the bits placed by ``informative_bits_first``.
    """
    n = hashes.size
    pairs = n * (n - 1) / 2
    parallel = max(1.0, default_threads() * _THREAD_EFFICIENCY)

    def cost(tables: list[int], candidates: float) -> float:
        work = len(tables) * (n * _COST_PER_ELEMENT + _COST_PER_TABLE)
        return (work + candidates * _COST_PER_CANDIDATE) / min(parallel, len(tables))

    uniform = sorted(
        (cost(tables, pairs * sum(2.0 ** -mask.bit_count() for mask in tables)), name, tables)
        for name, tables in designs(max_distance)
    )
    rng = np.random.default_rng(0)  # the same plan for the same hashes
    sample = hashes if n <= _SAMPLE else rng.choice(hashes, _SAMPLE, replace=False)
    scale = pairs / max(1, sample.size * (sample.size - 1) / 2)
    best: SearchPlan | None = None
    best_cost = pairs * _COST_PER_BRUTE_PAIR
    for _, name, tables in uniform[:_COSTED]:
        permutation = informative_bits_first(sample, tables)
        candidates = sampled_candidates(permutation.apply(sample), tables, rng) * scale
        if cost(tables, candidates) < best_cost:
            best_cost = cost(tables, candidates)
            best = SearchPlan(name, tables, permutation, candidates, best_cost)
    return best


def informative_bits_first(sample: np.ndarray, tables: Sequence[int]) -> BitPermutation:
    """Hash bits to positions: the least predictable bits (collision probability p^2 +
    (1 - p)^2 lowest) to the positions that most tables key on, so a constant bit goes where
    no key reads it (measured on 2M real hashes: 1.2 times the candidates of uniform bits).
    Positions used alike are taken in a seeded shuffled order."""
    bits = (sample[:, None] >> np.arange(HASH_BITS, dtype=np.uint64)) & np.uint64(1)
    ones = bits.mean(axis=0) if sample.size else np.full(HASH_BITS, 0.5)
    predictable = ones * ones + (1 - ones) * (1 - ones)
    uses = [sum((mask >> position) & 1 for mask in tables) for position in range(HASH_BITS)]
    shuffled = np.random.default_rng(1).permutation(HASH_BITS).tolist()
    positions = sorted(shuffled, key=lambda position: -uses[position])  # stable
    destination = [0] * HASH_BITS
    for bit, position in zip(np.argsort(predictable, kind="stable"), positions, strict=True):
        destination[int(bit)] = position
    return BitPermutation(destination)


def sampled_candidates(
    sample: np.ndarray, tables: Sequence[int], rng: np.random.Generator
) -> float:
    """Candidate pairs of all tables among ``sample``: counted on each table, or on a random
    choice of them when there are many (scaled to all)."""
    chosen: Sequence[int] = range(len(tables))
    if len(tables) > _SAMPLED_TABLES:
        chosen = rng.choice(len(tables), _SAMPLED_TABLES, replace=False).tolist()
    total = 0.0
    for table in chosen:
        keys = np.sort(sample & np.uint64(tables[table]))
        runs = np.diff(np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1], [True]))))
        total += float((runs * (runs - 1)).sum()) / 2
    return total * len(tables) / len(chosen)

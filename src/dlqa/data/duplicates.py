"""Exact and near-duplicate search over content keys and 64-bit perceptual hashes.

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

from collections.abc import Iterator
from itertools import combinations
from math import comb
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dlqa.core.errors import UsageError

# Measured by benchmarks/near_duplicate_threshold.py together with the confirming correlation
# (dlqa.data.crop_hashes.DEFAULT_MIN_CORRELATION): see that module for the figures.
# (pHash sets exactly 32 of 64 bits, so distances between its hashes are even.)
DEFAULT_MAX_DISTANCE: int = 10

HASH_BITS = 64
MAX_SUPPORTED_DISTANCE = 32  # beyond half the bits "near" stops meaning anything

# Rough relative costs for the model that picks the block count (from timings on 2 cores):
# per element per table (key build + sort + run scan), per candidate pair verified, per table
# (Python overhead), and per pair of the chunked brute force used when it is cheaper. Fitted
# on 160,000 hashes of smooth 32 x 32 images (12 to 15 blocks: 1.4, 1.2, 2.3, 5.5 s) and
# 800,000 random hashes (13 to 15 blocks: 9.5, 15.6, 37.5 s): 11-16 ns per element per table,
# 2-3 ns per candidate now that dense steps of the run scan read the sorted hashes in order.
_COST_PER_ELEMENT = 1.0
_COST_PER_CANDIDATE = 0.15
_COST_PER_TABLE = 2_000.0
_COST_PER_BRUTE_PAIR = 0.4
_BRUTE_CHUNK_ELEMENTS = 1 << 22  # bounds the rows x columns block of the brute force
_MAX_TABLES = 200_000
_SAMPLED_PLAN_MIN = 4_096  # below this the uniform model is good enough and sampling costs more

_BYTE_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint8)


class InvalidHashInputError(UsageError, ValueError):
    """Bad argument to a duplicate search: a UsageError (exit code 2) and a ValueError."""


def _popcount64(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64, as uint8."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values)
    as_bytes = np.ascontiguousarray(values).view(np.uint8).reshape(*values.shape, 8)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=-1, dtype=np.uint8)


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
    return _popcount64(np.bitwise_xor(left, right)).astype(np.int64)


def find_exact_groups(keys: Any) -> list[np.ndarray]:
    """Indices of samples sharing a key (e.g. a sha256), groups of two or more.

    Each group is sorted; groups are ordered by their first index. None, NaN and empty keys
    (samples that could not be read) are ignored. Arrow and fixed-width numpy keys are grouped
    without turning them into Python objects; only the members of groups are listed.
    """
    if isinstance(keys, (pa.Array, pa.ChunkedArray)):
        return _groups_from_codes(_arrow_key_codes(keys))
    if isinstance(keys, np.ndarray) and keys.dtype.kind in "USiuf":
        return _groups_from_codes(_numpy_key_codes(keys))
    codes = np.full(len(keys), -1, dtype=np.int64)
    number_of_key: dict[Any, int] = {}
    for index, key in enumerate(keys):
        if key is None or (isinstance(key, float) and key != key):
            continue
        if isinstance(key, (str, bytes)) and len(key) == 0:
            continue
        codes[index] = number_of_key.setdefault(key, len(number_of_key))
    return _groups_from_codes(codes)


def _arrow_key_codes(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A code per key (-1 for ignored keys): by sorting the raw bytes when every key has one
    length (content hashes), else with Arrow's hash table."""
    codes = _fixed_width_key_codes(keys)
    return codes if codes is not None else _hashed_key_codes(keys)


_COMPARE_ROWS = 65_536  # sorted neighbours compared at a time (bounds the copies)


def _fixed_width_key_codes(keys: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Codes of string or binary keys that all have the same length (null and empty keys
    ignored), from a sort of their bytes viewed as fixed-width records: no hash table, which
    for 400,000 sha256 hex digests held 140 MB against 30 here. None when lengths differ."""
    kind = keys.type
    if not (pa.types.is_string(kind) or pa.types.is_binary(kind)):
        return None
    array = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    lengths = pc.binary_length(array).fill_null(0).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(lengths > 0)
    codes = np.full(len(array), -1, dtype=np.int64)
    if not rows.size:
        return codes
    width = int(lengths[rows[0]])
    if not (lengths[rows] == width).all():
        return None
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset :]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)
    starts = offsets[rows].astype(np.int64)
    if starts[-1] - starts[0] == width * (rows.size - 1):  # values back to back
        records = data[starts[0] : starts[0] + width * rows.size]
    else:
        records = data[starts[:, None] + np.arange(width)].reshape(-1)
    records = records.view(f"S{width}")
    order = np.argsort(records, kind="stable")
    same_as_next = np.empty(max(rows.size - 1, 0), dtype=bool)
    for start in range(0, same_as_next.size, _COMPARE_ROWS):
        stop = min(start + _COMPARE_ROWS, same_as_next.size)
        same_as_next[start:stop] = (
            records[order[start:stop]] == records[order[start + 1 : stop + 1]]
        )
    codes[rows[order]] = np.concatenate(([0], np.cumsum(~same_as_next)))
    return codes


def _hashed_key_codes(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A code per key (-1 for ignored keys) computed in Arrow."""
    ignored = keys.is_null()
    kind = keys.type
    if (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    ):
        ignored = pc.or_(ignored, pc.equal(pc.binary_length(keys), 0))
    elif pa.types.is_floating(kind):
        ignored = pc.or_(ignored, pc.is_nan(keys))
    codes = pc.index_in(keys, value_set=pc.unique(keys).drop_null())
    codes = pc.if_else(ignored, pa.scalar(None, type=codes.type), codes).fill_null(-1)
    return codes.to_numpy().astype(np.int64, copy=False)


def _numpy_key_codes(keys: np.ndarray) -> np.ndarray:
    if keys.ndim != 1:
        keys = keys.reshape(-1)
    if not keys.size:
        return np.zeros(0, dtype=np.int64)
    _, codes = np.unique(keys, return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    if keys.dtype.kind in "US":
        codes[keys == keys.dtype.type()] = -1
    elif keys.dtype.kind == "f":
        codes[np.isnan(keys)] = -1
    return codes


def _groups_from_codes(codes: np.ndarray) -> list[np.ndarray]:
    """Rows sharing a code (>= 0), groups of two or more, each sorted, by first row."""
    keep = codes >= 0
    if not keep.any():
        return []
    counts = np.bincount(codes[keep])
    repeated = np.zeros(codes.size, dtype=bool)
    repeated[keep] = counts[codes[keep]] >= 2
    members = np.flatnonzero(repeated)
    if not members.size:
        return []
    member_codes = codes[members]
    order = np.argsort(member_codes, kind="stable")  # rows ascending inside each group
    members, member_codes = members[order], member_codes[order]
    groups = np.split(members, np.flatnonzero(np.diff(member_codes)) + 1)
    groups.sort(key=lambda group: int(group[0]))
    return [group.astype(np.int64, copy=False) for group in groups]


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


def _block_layout(n_blocks: int) -> tuple[list[int], list[int]]:
    """Widths and bit offsets of ``n_blocks`` contiguous blocks covering 64 bits."""
    base, extra = divmod(HASH_BITS, n_blocks)
    widths = [base + 1 if block < extra else base for block in range(n_blocks)]
    offsets = [sum(widths[:block]) for block in range(n_blocks)]
    return widths, offsets


def _plan(hashes: np.ndarray, max_distance: int) -> int | None:
    """Block count of the cheapest multi-index search, or None when brute force is cheaper.

    Real perceptual hashes are far from uniform (their bits are correlated), so a table keyed
    on k bits holds many more candidates than n^2 / 2^(k+1): the candidates of a few tables
    of each block count are counted on the hashes themselves (one sort each), and the plan
    uses those counts (measured: on 160,000 hashes of smooth images the uniform model picked
    15 blocks, 3x slower than the 13 the counts pick).
    """
    n = hashes.size
    pairs = n * (n - 1) / 2
    best_blocks, best_cost = None, pairs * _COST_PER_BRUTE_PAIR
    for n_blocks in range(max_distance + 1, HASH_BITS + 1):
        tables = comb(n_blocks, max_distance)
        if tables > _MAX_TABLES:
            break
        scan_cost = tables * (n * _COST_PER_ELEMENT + _COST_PER_TABLE)
        if scan_cost >= best_cost:
            continue  # cannot win even without candidates
        widths, _ = _block_layout(n_blocks)
        key_bits = sum(sorted(widths)[: n_blocks - max_distance])  # the weakest table
        candidates = tables * pairs / 2.0**key_bits
        if n >= _SAMPLED_PLAN_MIN and candidates * _COST_PER_CANDIDATE > scan_cost / 100:
            candidates = tables * _sampled_candidates(hashes, n_blocks, max_distance)
        cost = scan_cost + candidates * _COST_PER_CANDIDATE
        if cost < best_cost:
            best_blocks, best_cost = n_blocks, cost
    return best_blocks


def _sampled_candidates(hashes: np.ndarray, n_blocks: int, max_distance: int) -> float:
    """Mean number of candidate pairs in a few of the tables of ``n_blocks`` blocks."""
    widths, offsets = _block_layout(n_blocks)
    kept = n_blocks - max_distance
    samples = {
        tuple(range(kept)),
        tuple(range(n_blocks - kept, n_blocks)),
        tuple(range(0, n_blocks, max(1, n_blocks // kept)))[:kept],
    }
    counts = []
    for table in samples:
        mask = sum(((1 << widths[block]) - 1) << offsets[block] for block in table)
        key = np.sort(hashes & np.uint64(mask))
        starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1], [True])))
        runs = np.diff(starts).astype(np.float64)
        counts.append(float((runs * (runs - 1) / 2).sum()))
    return sum(counts) / len(counts)


def _pairs_within_runs(
    same_as_next: np.ndarray, first_step: int = 1, active: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every pair of positions (p, q), p < q, inside runs of a sorted array, in batches.

    ``same_as_next[p]`` says position p + 1 is in the same run as p. Batch k holds the pairs
    k apart; the positions still having k successors shrink each step, so the total work is
    the number of pairs and no batch is longer than the array. ``first_step`` and ``active``
    (the positions p whose p + first_step is in their run) resume a scan part way.
    """
    step = first_step
    if active is None:
        active = np.flatnonzero(same_as_next)
    while active.size:
        yield active, active + step
        step += 1
        last = active + step - 1
        active = active[last < same_as_next.size]
        active = active[same_as_next[active + step - 1]]


# A step of the candidate scan reads the whole sorted array while at least this fraction of
# its positions still has a partner that far away in its run (contiguous reads beat gathers).
_DENSE_STEP_FRACTION = 0.125


class _Scratch:
    """Buffers one table scan reuses: per-table temporaries the size of the hash array would
    otherwise be allocated and freed thousands of times, which fragments the heap (measured:
    the process grew 270 MB for 89 MB of live arrays on 800,000 hashes)."""

    def __init__(self, size: int) -> None:
        self.key = np.empty(size, dtype=np.uint64)
        self.low_bits = np.empty(size, dtype=np.uint64)
        self.members = np.empty(size, dtype=np.intp)
        self.ordered = np.empty(size, dtype=np.uint64)
        self.differing = np.empty(size, dtype=np.uint64)
        self.bit_counts = np.empty(size, dtype=np.uint8)
        self.same_as_next = np.empty(size, dtype=bool)
        self.chained = np.empty(size, dtype=bool)
        self.close = np.empty(size, dtype=bool)


def _popcount64_into(values: np.ndarray, out: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values, out=out)
    out[...] = _popcount64(values)
    return out


def _close_pairs_in_runs(
    ordered: np.ndarray, same_as_next: np.ndarray, max_distance: int, scratch: _Scratch
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Pairs of positions (p, q) inside runs whose ``ordered`` hashes are within
    ``max_distance``, with the differing bits, in batches.

    Dense steps (many positions with a partner k ahead) compare ``ordered[:-k]`` with
    ``ordered[k:]`` in one contiguous pass into ``scratch``; once few positions remain, only
    those are read.
    """
    size = same_as_next.size
    chained = scratch.chained[:size]  # chained[p]: p and p + step lie in one run
    np.copyto(chained, same_as_next)
    step = 1
    while chained.size:
        active_count = int(np.count_nonzero(chained))
        if not active_count:
            return
        if active_count < _DENSE_STEP_FRACTION * chained.size:
            break
        length = chained.size
        differing = np.bitwise_xor(ordered[:-step], ordered[step:], out=scratch.differing[:length])
        counts = _popcount64_into(differing, scratch.bit_counts[:length])
        close = np.less_equal(counts, max_distance, out=scratch.close[:length])
        np.logical_and(close, chained, out=close)
        positions = np.flatnonzero(close)
        if positions.size:
            yield positions, positions + step, differing[positions]
        # p and p + step + 1 share a run when p, p + step do and so do p + step, p + step + 1
        chained = np.logical_and(chained[:-1], same_as_next[step:], out=chained[:-1])
        step += 1
    else:
        return
    for left, right in _pairs_within_runs(same_as_next, step, np.flatnonzero(chained)):
        differing = ordered[left] ^ ordered[right]
        close = np.flatnonzero(_popcount64(differing) <= max_distance)
        if close.size:
            yield left[close], right[close], differing[close]


def _search_tables(
    hashes: np.ndarray, max_distance: int, n_blocks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) of distinct hashes within ``max_distance``, by multi-index hashing."""
    tables = list(combinations(range(n_blocks), n_blocks - max_distance))
    # Threads were measured not to help: numpy's sort holds the GIL and dominates each table.
    return _BlockIndex(hashes, n_blocks).scan(tables, max_distance)


def _block_dtype(width: int) -> type[np.unsignedinteger]:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if width <= np.iinfo(dtype).bits:
            return dtype
    return np.uint64


class _BlockIndex:
    """The hashes cut into blocks, ready to be sorted by any combination of blocks.

    Blocks are kept in the smallest unsigned type that holds them (a byte each for the usual
    5-bit blocks), so the index costs a few bytes per hash, not eight per block; every table
    is built and scanned in the same preallocated buffers.
    """

    def __init__(self, hashes: np.ndarray, n_blocks: int) -> None:
        self.hashes = hashes
        self.widths, self.offsets = _block_layout(n_blocks)
        self.blocks = [
            ((hashes >> np.uint64(offset)) & np.uint64((1 << width) - 1)).astype(
                _block_dtype(width)
            )
            for width, offset in zip(self.widths, self.offsets, strict=True)
        ]
        self.index_bits = max(1, (hashes.size - 1).bit_length())
        self.positions = np.arange(hashes.size, dtype=np.uint64)
        self.scratch = _Scratch(hashes.size)

    def scan(
        self, tables: list[tuple[int, ...]], max_distance: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        found_left: list[np.ndarray] = []
        found_right: list[np.ndarray] = []
        found_distance: list[np.ndarray] = []
        # prefixes[d]: key of the first d + 1 blocks of the table, in a buffer of its own
        depth_limit = max((len(table) for table in tables), default=1) - 1
        prefixes = [np.empty(self.hashes.size, dtype=np.uint64) for _ in range(depth_limit)]
        previous: tuple[int, ...] = ()
        for table in tables:
            shared = 0  # leading blocks in common with the previous table: prefixes to keep
            while shared < min(len(table) - 1, len(previous)) and table[shared] == previous[shared]:
                shared += 1
            for depth in range(shared, len(table) - 1):
                block = table[depth]
                if depth == 0:
                    np.copyto(prefixes[0], self.blocks[block], casting="unsafe")
                else:
                    np.left_shift(
                        prefixes[depth - 1], np.uint64(self.widths[block]), out=prefixes[depth]
                    )
                    np.bitwise_or(prefixes[depth], self.blocks[block], out=prefixes[depth])
            previous = table
            members, key = self._sorted_table(table, prefixes[: len(table) - 1])
            for left, right, distance in self._verified_candidates(
                table, members, key, max_distance
            ):
                found_left.append(np.minimum(left, right))
                found_right.append(np.maximum(left, right))
                found_distance.append(distance)
        return _concatenate(found_left, found_right, found_distance)

    def _sorted_table(
        self, table: tuple[int, ...], prefixes: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the hashes sorted by the table's key, and the sorted keys."""
        last = table[-1]
        key_bits = sum(self.widths[block] for block in table)
        scratch = self.scratch
        if key_bits + self.index_bits <= HASH_BITS:
            # The position packed below the key: a plain sort of it beats an argsort.
            key = scratch.key
            if prefixes:
                np.left_shift(prefixes[-1], np.uint64(self.widths[last]), out=key)
                np.bitwise_or(key, self.blocks[last], out=key)
            else:
                np.copyto(key, self.blocks[last], casting="unsafe")
            key <<= np.uint64(self.index_bits)
            key |= self.positions
            key.sort()
            low_bits = np.bitwise_and(
                key, np.uint64((1 << self.index_bits) - 1), out=scratch.low_bits
            )
            np.copyto(scratch.members, low_bits, casting="unsafe")
            key >>= np.uint64(self.index_bits)
            return scratch.members, key
        key = self.blocks[last].astype(np.uint64)
        if prefixes:
            key |= prefixes[-1] << np.uint64(self.widths[last])
        members = np.argsort(key, kind="stable")
        return members, key[members]

    def _verified_candidates(
        self, table: tuple[int, ...], members: np.ndarray, key: np.ndarray, max_distance: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        # A pair agreeing on several block combinations is kept only in the first of them
        # (lexicographic order), so no global deduplication is needed.
        in_table = set(table)
        earlier_masks = [
            np.uint64(((1 << self.widths[block]) - 1) << self.offsets[block])
            for block in range(table[-1])
            if block not in in_table
        ]
        scratch = self.scratch
        size = key.size
        same_as_next = np.equal(key[1:], key[:-1], out=scratch.same_as_next[: max(size - 1, 0)])
        # The hashes in table order: candidates are then read from neighbouring positions.
        ordered = np.take(self.hashes, members, out=scratch.ordered[:size])
        for left_pos, right_pos, differing in _close_pairs_in_runs(
            ordered, same_as_next, max_distance, scratch
        ):
            for mask in earlier_masks:
                keep = (differing & mask) != 0
                left_pos, right_pos, differing = left_pos[keep], right_pos[keep], differing[keep]
            if left_pos.size:
                yield members[left_pos], members[right_pos], _popcount64(differing)


def _search_brute_force(
    hashes: np.ndarray, max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same result as ``_search_tables`` by comparing all pairs, a block of rows at a time."""
    n = hashes.size
    found_left, found_right, found_distance = [], [], []
    rows_per_chunk = max(1, _BRUTE_CHUNK_ELEMENTS // max(n, 1))
    for start in range(0, n, rows_per_chunk):
        stop = min(n, start + rows_per_chunk)
        distance = _popcount64(hashes[start:stop, None] ^ hashes[None, start:])
        rows, cols = np.nonzero(distance <= max_distance)
        cols_global = cols + start
        keep = cols_global > rows + start
        found_left.append((rows[keep] + start).astype(np.int64))
        found_right.append(cols_global[keep].astype(np.int64))
        found_distance.append(distance[rows[keep], cols[keep]])
    return _concatenate(found_left, found_right, found_distance)


def _concatenate(
    left: list[np.ndarray], right: list[np.ndarray], distance: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not left:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.uint8)
    return np.concatenate(left), np.concatenate(right), np.concatenate(distance)


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
    for left_pos, right_pos in _pairs_within_runs(same_as_next):
        left, right = members[left_pos], members[right_pos]
        parts_left.append(np.minimum(left, right))
        parts_right.append(np.maximum(left, right))
        parts_distance.append(np.zeros(left_pos.size, dtype=np.uint8))
    del same_as_next

    if radius > 0 and distinct.size >= 2:
        n_blocks = _plan(distinct, radius)
        if n_blocks is None:
            group_left, group_right, distance = _search_brute_force(distinct, radius)
        else:
            group_left, group_right, distance = _search_tables(distinct, radius, n_blocks)
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

    left, right, distance = _concatenate(parts_left, parts_right, parts_distance)
    order = np.lexsort((right, left))
    pairs = np.stack([left[order], right[order]], axis=1).astype(np.int64)
    return pairs.reshape(-1, 2), distance[order].astype(np.int64)

"""The multi-index hash tables behind the near-duplicate search (``duplicates.py``): the
cost model that picks the block count, the sorted block keys, the scan of equal-key runs that
verifies candidates on all 64 bits, and the chunked brute force used when it is cheaper."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from math import comb

import numpy as np

HASH_BITS = 64

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


def popcount64(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64, as uint8."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values)
    as_bytes = np.ascontiguousarray(values).view(np.uint8).reshape(*values.shape, 8)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=-1, dtype=np.uint8)


def _block_layout(n_blocks: int) -> tuple[list[int], list[int]]:
    """Widths and bit offsets of ``n_blocks`` contiguous blocks covering 64 bits."""
    base, extra = divmod(HASH_BITS, n_blocks)
    widths = [base + 1 if block < extra else base for block in range(n_blocks)]
    offsets = [sum(widths[:block]) for block in range(n_blocks)]
    return widths, offsets


def plan_block_count(hashes: np.ndarray, max_distance: int) -> int | None:
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


def pairs_within_runs(
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
    out[...] = popcount64(values)
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
    for left, right in pairs_within_runs(same_as_next, step, np.flatnonzero(chained)):
        differing = ordered[left] ^ ordered[right]
        close = np.flatnonzero(popcount64(differing) <= max_distance)
        if close.size:
            yield left[close], right[close], differing[close]


def search_tables(
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
        return concatenate_pairs(found_left, found_right, found_distance)

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
                yield members[left_pos], members[right_pos], popcount64(differing)


def search_brute_force(
    hashes: np.ndarray, max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same result as ``search_tables`` by comparing all pairs, a block of rows at a time."""
    n = hashes.size
    found_left, found_right, found_distance = [], [], []
    rows_per_chunk = max(1, _BRUTE_CHUNK_ELEMENTS // max(n, 1))
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

"""The multi-index tables behind the near-duplicate search (``duplicates.py``).

A table is a set of key bits. A design (a list of tables, ``duplicates.covering_tables``) is
exact for a radius r when any two hashes within r bits agree on all the key bits of at least
one table: sorting the hashes by each table's key then puts every close pair in one run of
equal keys, where it is verified on all 64 bits.

Each table sorts the hashes themselves with their bits permuted so that the key comes first
(a bit permutation keeps Hamming distances): no positions to carry along, no gather, and a
run's members sit side by side, compared in contiguous passes. A pair is kept only in the
first table whose key it agrees on, so no global deduplication is needed. Tables run on a few
threads: numpy releases the GIL in the sorts, lookups and ufunc loops that do the work.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

HASH_BITS = 64
_LANE_BITS = 16  # bit permutations look 16 bits up at a time
_CHUNK = 1 << 18  # sorted values scanned at a time: measured faster than 1 << 16 or 1 << 20
# The scan of runs (_close_pairs_in_runs) compacts the runs once fewer than this fraction of
# positions has a partner at the current step, and lists the remaining pairs one by one once
# that is cheaper than the steps left, at these costs (ns, one core; the fraction and the
# listing cost chosen by timing the scan of 2M random and 2M real hashes).
_DENSE_STEP_FRACTION = 0.1
_NS_PER_STEP = 10_000.0
_NS_PER_STEP_POSITION = 1.2
_NS_PER_LISTED_PAIR = 32.0
_PAIR_BATCH = 1 << 18  # candidate pairs materialised at a time in the tail of long runs
_MAX_THREADS = 8

_BYTE_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint8)


def popcount64(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64, as uint8."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values)
    as_bytes = np.ascontiguousarray(values).view(np.uint8).reshape(*values.shape, 8)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=-1, dtype=np.uint8)


def _popcount64_into(values: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.bitwise_count(values, out=out) if hasattr(np, "bitwise_count") else popcount64(values)


class BitPermutation:
    """A permutation of the 64 bits (``destination[bit]``), applied with one 65,536-entry
    lookup table per 16-bit lane. When one 32-bit half stays as it is at the bottom (what
    ``key_first`` makes of a key within a half), only the other half is looked up, in tables
    of 32-bit values (half the cache)."""

    def __init__(self, destination: Sequence[int]) -> None:
        self.destination = list(destination)
        kept = [
            half
            for half in (0, 1)
            if self.destination[32 * half : 32 * half + 32] == list(range(32))
        ]
        self.kept_half = kept[0] if kept else None
        dtype, offset = (np.uint32, 32) if kept else (np.uint64, 0)
        self.tables = []  # (lane, table)
        for lane in range(HASH_BITS // _LANE_BITS):
            if lane // 2 != self.kept_half:
                targets = self.destination[lane * _LANE_BITS : (lane + 1) * _LANE_BITS]
                # a table per byte (256 entries), then one for every pair of bytes
                low, high = (
                    _byte_table(targets[half : half + 8], dtype, offset) for half in (0, 8)
                )
                self.tables.append((lane, (high[:, None] | low[None, :]).ravel()))

    @classmethod
    def key_first(cls, mask: int) -> BitPermutation:
        """The key bits of ``mask`` to the top; below them the other bits of the halves that
        hold key bits; at the bottom a half without key bits, as it is."""
        keyed = [(mask >> (32 * half)) & 0xFFFFFFFF != 0 for half in (0, 1)]
        key = [bit for bit in range(HASH_BITS) if (mask >> bit) & 1]
        rest = [bit for bit in range(HASH_BITS) if not (mask >> bit) & 1]
        rest.sort(key=lambda bit: keyed[bit // 32])  # stable: order kept inside
        destination = [0] * HASH_BITS
        for target, bit in enumerate(rest + key):
            destination[bit] = target
        return cls(destination)

    def inverse(self) -> BitPermutation:
        source = [0] * HASH_BITS
        for bit, target in enumerate(self.destination):
            source[target] = bit
        return BitPermutation(source)

    def apply_to_int(self, value: int) -> int:
        return sum(1 << self.destination[bit] for bit in range(HASH_BITS) if (value >> bit) & 1)

    def apply(
        self,
        hashes: np.ndarray,
        out: np.ndarray | None = None,
        lanes: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        """The permuted hashes. ``lanes``: their ``hash_lanes``, when the caller has them."""
        hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
        lanes = hash_lanes(hashes) if lanes is None else lanes
        looked_up = None
        for lane, table in self.tables:  # indexing beats np.take with 16-bit indices
            part = table[lanes[lane]]
            looked_up = part if looked_up is None else np.bitwise_or(looked_up, part, out=part)
        out = np.empty(hashes.size, dtype=np.uint64) if out is None else out
        if self.kept_half is None:
            out[...] = looked_up
        elif np.little_endian:
            halves = out.view(np.uint32).reshape(-1, 2)
            halves[:, 0] = hashes.view(np.uint32).reshape(-1, 2)[:, self.kept_half]
            halves[:, 1] = looked_up
        else:
            np.left_shift(looked_up.astype(np.uint64), np.uint64(32), out=out)
            out |= (hashes >> np.uint64(32 * self.kept_half)) & np.uint64(0xFFFFFFFF)
        return out


def _byte_table(targets: Sequence[int], dtype: type, offset: int) -> np.ndarray:
    """Where each of the 256 values of a byte sends its bits (bit b to ``targets[b] - offset``)."""
    values = np.arange(256, dtype=dtype)
    table = np.zeros(256, dtype=dtype)
    for bit, target in enumerate(targets):
        table |= ((values >> dtype(bit)) & dtype(1)) << dtype(target - offset)
    return table


def hash_lanes(hashes: np.ndarray) -> list[np.ndarray]:
    """The four 16-bit lanes of each hash (lane 0 the lowest bits), as contiguous arrays."""
    return [(hashes >> np.uint64(lane)).astype(np.uint16) for lane in range(0, 64, _LANE_BITS)]


@dataclass
class SearchStats:
    """What the last table search did (read by benchmarks: candidates are the work)."""

    n_hashes: int = 0
    n_tables: int = 0
    threads: int = 1
    candidates: int = 0
    found: int = 0  # close pairs met, each as often as tables agree on it
    pairs: int = 0


_last_stats = SearchStats()


def last_search_stats() -> SearchStats:
    """Statistics of the most recent ``search_tables`` call in this process."""
    return _last_stats


def default_threads() -> int:
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, min(len(affinity) if affinity else os.cpu_count() or 1, _MAX_THREADS))


def search_tables(
    hashes: np.ndarray, max_distance: int, tables: Sequence[int], *, threads: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) of distinct hashes within ``max_distance``, by multi-index hashing.

    ``tables`` are the key masks of a design exact for ``max_distance`` (as built by
    ``duplicates.covering_tables``): a design that some set of differing bits defeats makes
    the search miss those pairs.
    """
    global _last_stats
    threads = default_threads() if threads is None else max(1, threads)
    search = _TableSearch(hashes, list(tables), max_distance)
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(search.run, range(len(search.masks))))
    left, right, distance = (np.concatenate([r[k] for r in results]) for k in range(3))
    _last_stats = SearchStats(
        hashes.size, len(search.masks), threads, sum(r[3] for r in results),
        sum(r[4] for r in results), left.size,
    )  # fmt: skip
    return left, right, distance


class _TableSearch:
    def __init__(self, hashes: np.ndarray, masks: list[int], max_distance: int) -> None:
        self.hashes, self.masks, self.max_distance = hashes, masks, max_distance
        self.order = np.argsort(hashes, kind="stable")  # found hashes back to positions
        self.sorted_hashes = hashes[self.order]
        self.lanes = hash_lanes(hashes)
        self.local = threading.local()

    def run(self, table: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
        """(i, j, distance) of the pairs whose first agreeing table this is, the candidates
        checked and the close pairs met."""
        mask = self.masks[table]
        permutation = BitPermutation.key_first(mask)
        scratch = self.local.__dict__.setdefault("scratch", _Scratch())
        values = permutation.apply(
            self.hashes, scratch.array("values", self.hashes.size, np.uint64), self.lanes
        )
        values.sort()
        # the earlier tables' keys in this table's bit order: a pair that agrees on one of them
        # was kept there
        earlier = _EarlierKeys([permutation.apply_to_int(m) for m in self.masks[:table]])
        shift = np.uint64(HASH_BITS - mask.bit_count())
        found: list[list[np.ndarray]] = [[_EMPTY], [_EMPTY], [_EMPTY]]
        candidates = met = 0
        for start, stop in _chunks(values, shift):
            for left, right, differing, count in _close_pairs_in_runs(
                values[start:stop], shift, self.max_distance, scratch
            ):
                candidates += count
                met += left.size
                keep = earlier.none_agrees(differing)
                for part, array in zip(found, (left, right, differing), strict=True):
                    part.append(array[keep])
        left, right, differing = (np.concatenate(part) for part in found)
        inverse = permutation.inverse()
        i, j = (self._positions(inverse.apply(side)) for side in (left, right))
        return np.minimum(i, j), np.maximum(i, j), popcount64(differing), candidates, met

    def _positions(self, values: np.ndarray) -> np.ndarray:
        return self.order[np.searchsorted(self.sorted_hashes, values)]


class _EarlierKeys:
    """Tells the close pairs that agree on the key of some earlier table.

    A lookup per byte of the differing bits gives the tables whose key reads one of those bits
    (a bit per table, 64 tables a word): 8 lookups a pair and word instead of a test per
    earlier table (the close pairs of look-alikes are met in dozens of tables)."""

    def __init__(self, keys: list[int]) -> None:
        self.words = -(-len(keys) // 64)
        self.reads = np.zeros((8, 256, self.words), dtype=np.uint64)
        self.all_tables = []  # a bit for each table, per word
        byte_values = np.arange(256, dtype=np.uint64)[:, None]
        for word in range(self.words):
            chosen = np.array(keys[64 * word : 64 * (word + 1)], dtype=np.uint64)
            bits = np.uint64(1) << np.arange(chosen.size, dtype=np.uint64)
            self.all_tables.append(np.bitwise_or.reduce(bits))
            for position in range(8):
                key_bytes = (chosen >> np.uint64(8 * position)) & np.uint64(0xFF)
                reads = (byte_values & key_bytes[None, :]) != 0
                self.reads[position, :, word] = np.bitwise_or.reduce(
                    np.where(reads, bits, np.uint64(0)), axis=1
                )

    def none_agrees(self, differing: np.ndarray) -> np.ndarray:
        keep = np.ones(differing.size, dtype=bool)
        as_bytes = differing.view(np.uint8).reshape(-1, 8)
        for word in range(self.words):
            reads = np.zeros(differing.size, dtype=np.uint64)
            for position in range(8):
                reads |= self.reads[
                    position, as_bytes[:, position if np.little_endian else 7 - position], word
                ]
            keep &= (~reads & self.all_tables[word]) == 0
        return keep


def _chunks(values: np.ndarray, shift: np.uint64) -> Iterator[tuple[int, int]]:
    """Slices of about _CHUNK sorted values, cut between runs of equal keys."""
    size, start, width = values.size, 0, int(shift)
    while start < size:
        stop = min(size, start + _CHUNK)
        if stop < size:
            key = int(values[stop]) >> width
            cut = int(np.searchsorted(values[start:stop], np.uint64(key << width)))
            if cut:
                stop = start + cut
            elif (key + 1) << width < 1 << HASH_BITS:  # one run longer than a chunk
                stop = start + int(np.searchsorted(values[start:], np.uint64((key + 1) << width)))
            else:
                stop = size
        yield start, stop
        start = stop


class _Scratch:
    """Per-thread buffers reused by every table and chunk (allocating per chunk fragments the
    heap: 270 MB of growth was measured for 89 MB of live arrays on 800,000 hashes)."""

    def __init__(self) -> None:
        self.buffers: dict[tuple[str, type], np.ndarray] = {}

    def array(self, name: str, size: int, dtype: type) -> np.ndarray:
        buffer = self.buffers.get((name, dtype))
        if buffer is None or buffer.size < size:
            buffer = self.buffers[name, dtype] = np.empty(max(size, _CHUNK), dtype=dtype)
        return buffer[:size]


def _close_pairs_in_runs(
    values: np.ndarray, shift: np.uint64, max_distance: int, scratch: _Scratch
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """Pairs of sorted ``values`` with equal keys (``value >> shift``) within ``max_distance``
    bits, with their differing bits (and, first, the number of candidate pairs).

    Step k compares ``values[:-k]`` with ``values[k:]`` in contiguous passes (a close pair
    that straddles two runs shows key bits in its difference and is dropped). When few of the
    positions still have a partner k ahead, the runs longer than k are gathered into a shorter
    array, so the work stays a few positions per candidate pair: nothing for hashes alone in
    their run, and for a cluster of look-alikes only the cluster. A remainder that costs less
    so is listed pair by pair (a step costs a few calls, however short).
    """
    size = values.size
    if size < 2:
        return
    key_changes = np.bitwise_xor(values[1:], values[:-1]) >> shift != 0
    if key_changes.all():
        return
    starts = np.flatnonzero(np.concatenate(([True], key_changes)))
    lengths = np.diff(np.append(starts, size))
    histogram = np.bincount(lengths)
    run_length = np.arange(histogram.size)
    longer = np.cumsum(histogram[::-1])[::-1]  # runs of at least s, for each s
    members_longer = np.cumsum((histogram * run_length)[::-1])[::-1]
    partners = members_longer[1:] - run_length[:-1] * longer[1:]  # with a partner s ahead
    remaining = np.cumsum(partners[::-1])[::-1]  # pairs at least s apart
    yield _EMPTY, _EMPTY, _EMPTY, int(remaining[1])
    for step in range(1, partners.size):
        if partners[step] < _DENSE_STEP_FRACTION * values.size:
            keep = lengths > step
            starts, lengths = starts[keep], lengths[keep]
            values = values[_ranges(starts, lengths)]
            starts = np.cumsum(lengths) - lengths
        steps_left = partners.size - step
        if remaining[step] * _NS_PER_LISTED_PAIR < steps_left * (
            _NS_PER_STEP + values.size * _NS_PER_STEP_POSITION
        ):
            yield from _far_pairs(values, starts, starts + lengths, step, max_distance)
            return
        length = values.size - step
        differing = np.bitwise_xor(
            values[:length], values[step:], out=scratch.array("differing", length, np.uint64)
        )
        counts = _popcount64_into(differing, scratch.array("counts", length, np.uint8))
        close = np.flatnonzero(
            np.less_equal(counts, max_distance, out=scratch.array("close", length, bool))
        )
        if close.size:
            close = close[differing[close] >> shift == 0]
            yield values[close], values[close + step], differing[close], 0


_EMPTY = np.empty(0, dtype=np.uint64)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of range(start, start + length) for each pair."""
    total = int(lengths.sum())
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return shift + np.arange(total, dtype=shift.dtype)


def _far_pairs(
    values: np.ndarray, starts: np.ndarray, ends: np.ndarray, min_offset: int, max_distance: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """Close pairs (p, q), q - p >= min_offset, in the runs [starts, ends), listed in batches."""
    spans = ends - starts - min_offset  # positions of each run with a partner far enough
    long = spans > 0
    if not long.any():
        return
    ends, spans = ends[long], spans[long]
    lefts = _ranges(starts[long], spans)
    partners = np.repeat(ends, spans) - lefts - min_offset
    bounds = np.cumsum(partners)
    cuts = np.searchsorted(bounds, np.arange(_PAIR_BATCH, int(bounds[-1]), _PAIR_BATCH))
    for batch_left, batch_partners in zip(
        np.split(lefts, cuts), np.split(partners, cuts), strict=True
    ):
        left = np.repeat(batch_left, batch_partners)
        right = _ranges(batch_left + min_offset, batch_partners)
        differing = values[left] ^ values[right]
        close = np.flatnonzero(popcount64(differing) <= max_distance)
        yield values[left[close]], values[right[close]], differing[close], 0


def pairs_within_runs(
    same_as_next: np.ndarray, first_step: int = 1, active: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every pair of positions (p, q), p < q, inside runs of a sorted array, in batches.

    ``same_as_next[p]`` says position p + 1 is in the same run as p. Batch k holds the pairs
    k apart (no batch is longer than the array); ``first_step`` and ``active`` (the positions
    p whose p + first_step is in their run) resume a scan part way."""
    step = first_step
    active = np.flatnonzero(same_as_next) if active is None else active
    while active.size:
        yield active, active + step
        step += 1
        last = active + step - 1
        active = active[last < same_as_next.size]
        active = active[same_as_next[active + step - 1]]

"""Time, peak memory and recall of the near-duplicate search on a million images.

Each image has two 64-bit hashes, its full-image hash and its centre hash, as the probes write
them; the search the check runs (find_near_duplicate_samples) covers both, so a million images
mean two million hashes. Two sets of hashes:

* ``--hashes real`` (default): the pHashes of a million images made from the real images this
  machine ships (crops, composites and re-encodings, with planted near-duplicates: resized,
  re-encoded, brightened and border-cropped copies), computed by dlqa's own image probe and
  cached under benchmarks/_data/real_hashes (see _real_hashes.py; the first run builds them
  with every core and says how long it took). Their bits are correlated like real ones.
* ``--hashes random``: seeded random hashes (full and centre independent) with planted pairs at
  every distance 0..max_distance: half copies (full hash near the original's full hash), half
  border crops (full hash near the original's centre hash).

Recall is over the planted pairs within the distance (all of them for random hashes; a real
copy can move its hash further, so how many are within is reported too): it must be 1.0, the
search is exact. Exactness is also checked against brute force for a sample of images (each
against all others). Peak memory is the process's resident high-water mark (VmHWM), also
above the mark before the search. Ends with one JSON line.

    python benchmarks/near_duplicates.py [--hashes real|random] [--n 1000000] [--planted 1000]
        [--seed 0] [--workers N] [--check-sample 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dlqa.data.crop_hashes import find_near_duplicate_samples  # noqa: E402
from dlqa.data.duplicates import DEFAULT_MAX_DISTANCE, hamming_distance  # noqa: E402
from dlqa.data.hash_index import last_search_stats  # noqa: E402


def peak_rss_mb() -> float:
    """Resident-memory high-water mark of this process (Linux), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def hashes_with_planted_pairs(
    n: int, planted: int, max_distance: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full and centre hashes of n images; ``planted`` disjoint (i, j) pairs where j's full
    hash is i's full hash (a copy) or i's centre hash (a crop) with k bits flipped."""
    rng = np.random.default_rng(seed)
    top = np.iinfo(np.uint64).max
    full = rng.integers(0, top, n, dtype=np.uint64, endpoint=True)
    center = rng.integers(0, top, n, dtype=np.uint64, endpoint=True)
    positions = rng.choice(n, size=2 * planted, replace=False).reshape(planted, 2)
    for number, (source, copy) in enumerate(positions):
        flips = rng.choice(64, size=number % (max_distance + 1), replace=False)
        mask = np.uint64(sum(1 << int(bit) for bit in flips))
        full[copy] = (full[source] if number % 2 else center[source]) ^ mask
    return full, center, np.sort(positions, axis=1)


def sample_distance(
    full: np.ndarray, center: np.ndarray, i: np.ndarray, j: np.ndarray
) -> np.ndarray:
    """The distance the search uses for samples i and j: full vs full, or one's full vs the
    other's centre, whichever is smallest."""
    return np.minimum.reduce(
        [
            hamming_distance(full[i], full[j]),
            hamming_distance(full[i], center[j]),
            hamming_distance(center[i], full[j]),
        ]
    )


def brute_force_check(
    full: np.ndarray, center: np.ndarray, pairs: np.ndarray, max_distance: int, count: int
) -> tuple[int, int, int]:
    """(pairs missed, pairs returned wrongly, pairs expected) for ``count`` random samples,
    each compared with every other sample by brute force."""
    rng = np.random.default_rng(12345)
    n = len(full)
    found = set((pairs[:, 0] * n + pairs[:, 1]).tolist())
    expected = missed = wrong = 0
    for sample in rng.choice(n, size=min(count, n), replace=False).tolist():
        distance = sample_distance(full, center, np.full(n, sample), np.arange(n))
        close = np.flatnonzero(distance <= max_distance)
        close = close[close != sample]
        expected += close.size
        codes = np.minimum(close, sample) * n + np.maximum(close, sample)
        missed += sum(int(code) not in found for code in codes)
        returned = np.flatnonzero((pairs[:, 0] == sample) | (pairs[:, 1] == sample))
        wrong += returned.size - (close.size - sum(int(c) not in found for c in codes))
    return missed, wrong, expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", choices=("real", "random"), default="real")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--planted", type=int, default=1_000)
    parser.add_argument("--max-distance", type=int, default=DEFAULT_MAX_DISTANCE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes that build the real hashes (first run only)")  # fmt: skip
    parser.add_argument("--check-sample", type=int, default=200,
                        help="samples checked against brute force")  # fmt: skip
    args = parser.parse_args()

    info: dict = {}
    if args.hashes == "real":
        from _real_hashes import load_or_build

        data = load_or_build(args.n, args.planted, args.seed, args.workers)
        full, center, planted, info = data["full"], data["center"], data["planted"], data["info"]
        how = "cached" if info["cached"] else "built"
        print(
            f"real hashes {how}: {info['counts']} (generation took {info['generation_seconds']}"
            f" s with {info['workers']} processes)"
        )
    else:
        full, center, planted = hashes_with_planted_pairs(
            args.n, args.planted, args.max_distance, args.seed
        )
    planted = np.sort(planted, axis=1)

    rss_before = peak_rss_mb()
    started = time.perf_counter()
    pairs, distances = find_near_duplicate_samples(full, center, args.max_distance)
    seconds = time.perf_counter() - started
    peak_extra = peak_rss_mb() - rss_before
    stats = last_search_stats()

    n = np.int64(args.n)
    found = set((pairs[:, 0] * n + pairs[:, 1]).tolist())
    reachable = sample_distance(full, center, planted[:, 0], planted[:, 1]) <= args.max_distance
    within = planted[reachable]
    recalled = sum(int(i * n + j) in found for i, j in within)
    recall = recalled / max(1, len(within))
    missed, wrong, expected = brute_force_check(
        full, center, pairs, args.max_distance, args.check_sample
    )
    print(
        f"{args.n:,} images ({2 * args.n:,} hashes, {args.hashes}), max distance "
        f"{args.max_distance}: {seconds:.1f} s, peak RSS {peak_rss_mb():.0f} MiB "
        f"({peak_extra:.0f} MiB above the mark before the search); {len(pairs):,} pairs found "
        f"(distance histogram {np.bincount(distances, minlength=args.max_distance + 1).tolist()})"
    )
    print(
        f"search: {stats.n_tables} tables over {stats.n_hashes:,} distinct hashes, "
        f"{stats.candidates:,} candidate pairs verified, {stats.threads} threads; planted "
        f"pairs within the distance {len(within)}/{len(planted)}, recalled {recalled}; "
        f"brute force on {args.check_sample} samples: {missed} of {expected} pairs missed, "
        f"{wrong} returned wrongly"
    )
    print(
        json.dumps(
            {
                "benchmark": "near_duplicates",
                "hashes": args.hashes,
                "n_images": args.n,
                "n_hashes": 2 * args.n,
                "max_distance": args.max_distance,
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "peak_rss_above_start_mb": round(peak_extra, 1),
                "planted_pairs": len(planted),
                "planted_within_distance": int(reachable.sum()),
                "recall": recall,
                "pairs_found": len(pairs),
                "candidate_pairs": stats.candidates,
                "tables": stats.n_tables,
                "threads": stats.threads,
                "brute_force_checked_samples": args.check_sample,
                "brute_force_missed": missed,
                "brute_force_wrong": wrong,
                "generation_seconds": info.get("generation_seconds"),
            }
        )
    )


if __name__ == "__main__":
    main()

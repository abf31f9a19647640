"""Time, peak memory and recall of the near-duplicate search on a million images.

Each image has two random 64-bit hashes (seeded), its full-image hash and its centre hash, as
the probes write them; the search the check runs (find_near_duplicate_samples) covers both,
so a million images mean two million hashes. Planted pairs at every distance 0..max_distance:
half are copies (full hash near the original's full hash), half are border crops (full hash
near the original's centre hash). Every planted pair must be found (recall 1.0). Peak memory
is the process's resident high-water mark (VmHWM) minus the mark before the search.

    python benchmarks/near_duplicates.py [--n 1000000] [--planted 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from dlqa.data.crop_hashes import find_near_duplicate_samples
from dlqa.data.duplicates import DEFAULT_MAX_DISTANCE


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--planted", type=int, default=1_000)
    parser.add_argument("--max-distance", type=int, default=DEFAULT_MAX_DISTANCE)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    full, center, planted = hashes_with_planted_pairs(
        args.n, args.planted, args.max_distance, args.seed
    )
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    pairs, distances = find_near_duplicate_samples(full, center, args.max_distance)
    seconds = time.perf_counter() - started
    peak_extra = peak_rss_mb() - rss_before

    n = np.int64(args.n)
    found = set((pairs[:, 0] * n + pairs[:, 1]).tolist())
    recalled = sum(int(i * n + j) in found for i, j in planted)
    recall = recalled / len(planted)
    print(
        f"{args.n:,} images ({2 * args.n:,} hashes), max distance {args.max_distance}: "
        f"{seconds:.1f} s, "
        f"peak RSS {peak_rss_mb():.0f} MiB ({peak_extra:.0f} MiB above the mark before the "
        f"search); {len(pairs):,} pairs found (distance histogram "
        f"{np.bincount(distances, minlength=args.max_distance + 1).tolist()}); "
        f"planted pairs recalled {recalled}/{len(planted)}"
    )
    print(
        json.dumps(
            {
                "benchmark": "near_duplicates",
                "n_images": args.n,
                "n_hashes": 2 * args.n,
                "max_distance": args.max_distance,
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "peak_rss_above_start_mb": round(peak_extra, 1),
                "planted_pairs": len(planted),
                "recall": recall,
                "pairs_found": len(pairs),
            }
        )
    )


if __name__ == "__main__":
    main()

"""Measure the Hamming threshold that separates transformed copies from unrelated images.

Builds unrelated images offline (crops of bundled photographs plus generated scenes), makes
each one's transformed copies (90 % resize, JPEG q60, +10 % brightness, 2.5 % border crop kept
at the smaller size), hashes everything with the probes' perceptual_hash and prints:
distances image -> copy per transform, distances between unrelated images, the expected
false pairs per million images at candidate thresholds, and the chosen threshold: the largest
one whose unrelated-pair rate stays within MAX_UNRELATED_PAIR_RATE (catching every copy is not
possible without pairing many unrelated images, because of the 2.5 % crop's tail).

    python benchmarks/near_duplicate_threshold.py [--seed 0] [--crops-per-photo 80]
        [--procedural-per-kind 600]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _images import EXTRA_TRANSFORMS, TRANSFORMS, unrelated_images  # noqa: E402

from dlqa.data.duplicates import DEFAULT_MAX_DISTANCE, hamming_distance  # noqa: E402
from dlqa.data.probes.phash import perceptual_hash  # noqa: E402

MARGIN_BITS = 2  # pHash sets 32 of 64 bits, so distances move in steps of 2
DATASET_SIZE = 1_000_000
# At most one unrelated pair in 500,000 (about one false partner per image at 500k images).
MAX_UNRELATED_PAIR_RATE = 2e-6


def unrelated_distance_histogram(hashes: np.ndarray, categories: np.ndarray) -> tuple:
    """Counts of distances 0..64 over unrelated pairs, and the closest pair per category pair."""
    counts = np.zeros(65, dtype=np.int64)
    closest: dict[str, int] = {}
    for row in range(hashes.size - 1):
        distances = hamming_distance(hashes[row], hashes[row + 1 :])
        counts += np.bincount(distances, minlength=65)
        others = categories[row + 1 :]
        for other in np.unique(others):
            name = " x ".join(sorted((categories[row], other)))
            nearest = int(distances[others == other].min())
            closest[name] = min(closest.get(name, 64), nearest)
    return counts, closest


def quantile_from_histogram(counts: np.ndarray, fraction: float) -> int:
    return int(np.searchsorted(np.cumsum(counts), fraction * counts.sum(), side="left"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crops-per-photo", type=int, default=80)
    parser.add_argument("--procedural-per-kind", type=int, default=600)
    args = parser.parse_args()

    started = time.perf_counter()
    images = unrelated_images(args.seed, args.crops_per_photo, args.procedural_per_kind)
    categories = np.array([category for category, _ in images])
    hashes = np.array([perceptual_hash(image) for _, image in images], dtype=np.uint64)
    all_transforms = {**TRANSFORMS, **EXTRA_TRANSFORMS}
    copy_distances = {
        name: hamming_distance(
            hashes,
            np.array([perceptual_hash(transform(image)) for _, image in images], dtype=np.uint64),
        )
        for name, transform in all_transforms.items()
    }
    built = time.perf_counter() - started
    kinds = ", ".join(
        f"{kind}: {int((categories == kind).sum())}" for kind in np.unique(categories)
    )
    print(f"{len(images)} unrelated images ({kinds}); built and hashed in {built:.1f} s")

    print("\nimage -> transformed copy (bits):")
    print(f"  {'transform':<22}{'max':>5}{'p99':>6}{'mean':>7}  histogram (distance: count)")
    for name, distances in copy_distances.items():
        values, value_counts = np.unique(distances, return_counts=True)
        histogram = {int(d): int(c) for d, c in zip(values, value_counts, strict=True)}
        tag = "" if name in TRANSFORMS else "  (extra, informational)"
        print(
            f"  {name:<22}{distances.max():>5}{np.percentile(distances, 99):>6.0f}"
            f"{distances.mean():>7.2f}  {histogram}{tag}"
        )
    per_transform_max = {name: int(copy_distances[name].max()) for name in TRANSFORMS}
    max_transform = max(per_transform_max.values())

    counts, closest = unrelated_distance_histogram(hashes, categories)
    total_pairs = int(counts.sum())
    print(f"\nunrelated pairs: {total_pairs}")
    print(
        f"  min {int(np.flatnonzero(counts)[0])}, "
        f"p0.01% {quantile_from_histogram(counts, 1e-4)}, "
        f"p0.1% {quantile_from_histogram(counts, 1e-3)}, "
        f"p1% {quantile_from_histogram(counts, 1e-2)}, "
        f"median {quantile_from_histogram(counts, 0.5)}"
    )
    print("  closest pair per category pair:", json.dumps(dict(sorted(closest.items()))))

    pairs_per_dataset = DATASET_SIZE * (DATASET_SIZE - 1) / 2
    cumulative = np.cumsum(counts)
    print(
        f"\nthreshold: unrelated pairs paired, expected false pairs among {DATASET_SIZE:,} images"
    )
    print("  (none seen: the 95 % upper bound 3 / pairs after '<'), share of copies caught")
    for threshold in range(0, 23, 2):
        seen = int(cumulative[threshold])
        rate = seen / total_pairs
        expected = rate * pairs_per_dataset if seen else 3 / total_pairs * pairs_per_dataset
        per_million = f"{'' if seen else '< '}{expected:.3g}"
        caught = " ".join(
            f"{name}={np.mean(copy_distances[name] <= threshold):.4f}" for name in TRANSFORMS
        )
        print(
            f"  <= {threshold:>2}: {seen:>8} (rate {rate:.2e}), per 1M {per_million:>9}  {caught}"
        )

    # Every copy cannot be caught without pairing many unrelated images (the crop tail overlaps
    # the unrelated tail), so the rule is: the largest threshold whose unrelated-pair rate stays
    # within the budget, i.e. the most copies caught while pairing almost no unrelated images.
    rates = cumulative / total_pairs
    within_budget = [t for t in range(0, 33, 2) if rates[t] <= MAX_UNRELATED_PAIR_RATE]
    chosen = max(within_budget) if within_budget else 0
    catch_all = max_transform + MARGIN_BITS
    caught = {name: float(np.mean(copy_distances[name] <= chosen)) for name in TRANSFORMS}
    print(
        f"\nlargest copy distance {max_transform}; catching every copy with a {MARGIN_BITS}-bit "
        f"margin needs {catch_all}, which pairs {int(cumulative[catch_all])} of {total_pairs} "
        f"unrelated pairs (rate {rates[catch_all]:.2e})"
    )
    print(
        f"chosen: {chosen}, the largest threshold with an unrelated-pair rate <= "
        f"{MAX_UNRELATED_PAIR_RATE:g} ({int(cumulative[chosen])} of {total_pairs}); "
        f"copies caught: {json.dumps(caught)}"
    )
    if chosen != DEFAULT_MAX_DISTANCE:
        print(f"NOTE: DEFAULT_MAX_DISTANCE is {DEFAULT_MAX_DISTANCE}, this run suggests {chosen}")
    false_pairs = int(cumulative[chosen])
    summary = {
        "benchmark": "near_duplicate_threshold",
        "threshold": chosen,
        "default_max_distance": DEFAULT_MAX_DISTANCE,
        "max_transform_distance": max_transform,
        "per_transform_max": per_transform_max,
        "per_transform_p99": {
            name: float(np.percentile(copy_distances[name], 99)) for name in TRANSFORMS
        },
        "per_transform_caught_at_threshold": caught,
        "extra_transform_max": {name: int(copy_distances[name].max()) for name in EXTRA_TRANSFORMS},
        "images": len(images),
        "min_unrelated_distance": int(np.flatnonzero(counts)[0]),
        "unrelated_p0.01%": quantile_from_histogram(counts, 1e-4),
        "unrelated_p0.1%": quantile_from_histogram(counts, 1e-3),
        "unrelated_p1%": quantile_from_histogram(counts, 1e-2),
        "unrelated_pairs": total_pairs,
        "false_pairs_at_threshold": false_pairs,
        "false_pairs_per_million_images_at_threshold": rates[chosen] * pairs_per_dataset,
        "threshold_catching_every_copy": catch_all,
        "false_pairs_at_that": int(cumulative[catch_all]),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

"""Measure the Hamming threshold that separates transformed copies from unrelated images.

Builds unrelated images offline (crops of bundled photographs plus generated scenes), makes
each one's transformed copies (90 % resize, JPEG q60, +10 % brightness, 2.5 % border crop kept
at the smaller size), saves each as a PNG and probes it exactly as `dlqa data profile` does
(decode at the working size, full-image and centre hashes). The distance of a pair is what
the near-duplicate check uses: the smallest of full-vs-full and full-vs-centre either way.
Prints the distances image -> copy per transform, the distances between unrelated images, the
expected false pairs per million images at candidate thresholds, and the chosen threshold:
the smallest that catches every copy with MARGIN_BITS to spare.

    python benchmarks/near_duplicate_threshold.py [--seed 0] [--crops-per-photo 80]
        [--procedural-per-kind 600]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _images import EXTRA_TRANSFORMS, TRANSFORMS, unrelated_images  # noqa: E402

from dlqa.data.duplicates import DEFAULT_MAX_DISTANCE, hamming_distance  # noqa: E402
from dlqa.data.probes.image import probe_image_bytes  # noqa: E402

MARGIN_BITS = 2  # pHash sets 32 of 64 bits, so distances move in steps of 2
DATASET_SIZE = 1_000_000


def probe_hashes(image) -> tuple[int, int]:  # noqa: ANN001
    """(full, centre) hashes of an image saved as PNG and probed like any file."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", compress_level=1)
    row = probe_image_bytes(buffer.getvalue())
    return row["phash"], row["phash_center"]


def hash_arrays(images: list) -> tuple[np.ndarray, np.ndarray]:
    pairs = [probe_hashes(image) for image in images]
    return (
        np.array([full for full, _ in pairs], dtype=np.uint64),
        np.array([center for _, center in pairs], dtype=np.uint64),
    )


def pair_distance(full_a, center_a, full_b, center_b) -> np.ndarray:  # noqa: ANN001
    """The near-duplicate check's distance: min of full/full, centre/full and full/centre."""
    return np.minimum(
        hamming_distance(full_a, full_b),
        np.minimum(hamming_distance(center_a, full_b), hamming_distance(full_a, center_b)),
    )


def unrelated_distance_histogram(
    full: np.ndarray, center: np.ndarray, categories: np.ndarray
) -> tuple:
    """Counts of distances 0..64 over unrelated pairs, the closest pair per category pair,
    and the indices of the closest pairs overall (to look at)."""
    counts = np.zeros(65, dtype=np.int64)
    closest: dict[str, int] = {}
    nearest_pairs: list[tuple[int, int, int]] = []
    for row in range(full.size - 1):
        distances = pair_distance(full[row], center[row], full[row + 1 :], center[row + 1 :])
        for column in np.flatnonzero(distances <= 10):
            nearest_pairs.append((int(distances[column]), row, row + 1 + int(column)))
        counts += np.bincount(distances, minlength=65)
        others = categories[row + 1 :]
        for other in np.unique(others):
            name = " x ".join(sorted((categories[row], other)))
            nearest = int(distances[others == other].min())
            closest[name] = min(closest.get(name, 64), nearest)
    return counts, closest, sorted(nearest_pairs)


def quantile_from_histogram(counts: np.ndarray, fraction: float) -> int:
    return int(np.searchsorted(np.cumsum(counts), fraction * counts.sum(), side="left"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crops-per-photo", type=int, default=80)
    parser.add_argument("--procedural-per-kind", type=int, default=600)
    parser.add_argument("--save-nearest", help="folder for PNGs of the closest unrelated pairs")
    args = parser.parse_args()

    started = time.perf_counter()
    images = unrelated_images(args.seed, args.crops_per_photo, args.procedural_per_kind)
    categories = np.array([category for category, _ in images])
    full, center = hash_arrays([image for _, image in images])
    all_transforms = {**TRANSFORMS, **EXTRA_TRANSFORMS}
    copy_distances = {}
    for name, transform in all_transforms.items():
        copy_full, copy_center = hash_arrays([transform(image) for _, image in images])
        copy_distances[name] = pair_distance(full, center, copy_full, copy_center)
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

    counts, closest, nearest_pairs = unrelated_distance_histogram(full, center, categories)
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
    if args.save_nearest:
        save_nearest(images, nearest_pairs[:12], Path(args.save_nearest))

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

    # The rule: the fewest errors in all, copies of the four required transforms missed plus
    # unrelated pairs paired (the smallest threshold on a tie). Catching every copy is shown too.
    rates = cumulative / total_pairs
    catch_all = max_transform + MARGIN_BITS
    errors = {
        t: int(sum((copy_distances[name] > t).sum() for name in TRANSFORMS) + cumulative[t])
        for t in range(0, 33, 2)
    }
    print("  errors (copies missed + unrelated pairs paired):", json.dumps(errors))
    chosen = min(errors, key=lambda t: (errors[t], t))
    caught = {name: float(np.mean(copy_distances[name] <= chosen)) for name in TRANSFORMS}
    print(
        f"\nlargest copy distance {max_transform}; catching every copy with a {MARGIN_BITS}-bit "
        f"margin needs {catch_all}, which pairs {int(cumulative[catch_all])} of {total_pairs} "
        f"unrelated pairs (rate {rates[catch_all]:.2e})"
    )
    print(
        f"chosen: {chosen}, the fewest errors ({errors[chosen]}); it pairs "
        f"{int(cumulative[chosen])} of {total_pairs} unrelated pairs; "
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
        "copies_missed_at_threshold": errors[chosen] - false_pairs,
        "false_pairs_per_million_images_at_threshold": rates[chosen] * pairs_per_dataset,
        "threshold_catching_every_copy": catch_all,
        "false_pairs_at_that": int(cumulative[catch_all]),
    }
    print(json.dumps(summary))


def save_nearest(images: list, pairs: list[tuple[int, int, int]], folder: Path) -> None:
    """Side-by-side PNGs of the closest 'unrelated' pairs, to judge them by eye."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for rank, (distance, a, b) in enumerate(pairs):
        left, right = (images[i][1].convert("RGB").resize((160, 160)) for i in (a, b))
        canvas = Image.new("RGB", (330, 160), "white")
        canvas.paste(left, (0, 0))
        canvas.paste(right, (170, 0))
        name = f"{rank:02d}_d{distance}_{images[a][0]}_{images[b][0]}.png"
        canvas.save(folder / name)
    print(f"  saved {len(pairs)} closest unrelated pairs to {folder}")


if __name__ == "__main__":
    main()

"""Measure the Hamming threshold that separates transformed copies from unrelated images.

Builds unrelated images offline (crops of bundled photographs plus generated scenes), makes
each one's transformed copies (90 % resize, JPEG q60, +10 % brightness, 2.5 % border crop kept
at the smaller size), saves each as a PNG and probes it exactly as `dlqa data profile` does
(decode at the working size, full-image and centre hashes). The distance of a pair is what
the near-duplicate check uses: the smallest of full-vs-full and full-vs-centre either way.
Prints the distances image -> copy per transform, the distances between unrelated images, the
confirming correlations of the structure grids, and the chosen (distance, correlation): the
pair with the fewest errors in all, copies missed plus unrelated pairs confirmed.

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

from dlqa.data.crop_hashes import (  # noqa: E402
    DEFAULT_MAX_COLOUR_DISTANCE,
    DEFAULT_MIN_CORRELATION,
    confirm_pairs,
    pair_colour_distance,
    structure_correlation,
)
from dlqa.data.duplicates import DEFAULT_MAX_DISTANCE, hamming_distance  # noqa: E402
from dlqa.data.probes.image import probe_image_bytes  # noqa: E402

CANDIDATE_LIMIT = 14  # unrelated pairs up to this distance are kept as candidates
CORRELATIONS = (0.0, 0.6, 0.7, 0.8, 0.9)  # the defaults must be among these values
COLOUR_LIMITS = (8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 255.0)


def probe_signature(image) -> dict:  # noqa: ANN001
    """Hashes and grids of an image saved as PNG and probed like any file."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", compress_level=1)
    return probe_image_bytes(buffer.getvalue())


def hash_arrays(images: list) -> tuple[np.ndarray, ...]:
    """(full hashes, centre hashes, full grids, centre grids, full colours, centre colours)."""
    rows = [probe_signature(image) for image in images]

    def grids(key: str) -> np.ndarray:
        return np.stack([np.frombuffer(row[key], dtype=np.uint8) for row in rows])

    return (
        np.array([row["phash"] for row in rows], dtype=np.uint64),
        np.array([row["phash_center"] for row in rows], dtype=np.uint64),
        grids("grid"),
        grids("grid_center"),
        grids("colour"),
        grids("colour_center"),
    )


def copy_colour_distance(original: tuple, copy: tuple) -> np.ndarray:
    """The colour distance of each image to its copy (smallest of the three pairings)."""
    pairs = np.stack([np.arange(len(original[0]))] * 2, axis=1)
    both = np.concatenate([original[4], copy[4]]), np.concatenate([original[5], copy[5]])
    return pair_colour_distance(pairs + [0, len(original[0])], *both)


def copy_correlation(original: tuple, copy: tuple) -> np.ndarray:
    """The confirming correlation of each image with its copy (best of the three pairings)."""
    grid_a, center_a = original[2], original[3]
    grid_b, center_b = copy[2], copy[3]
    return np.maximum.reduce(
        [
            structure_correlation(grid_a, grid_b),
            structure_correlation(center_a, grid_b),
            structure_correlation(grid_a, center_b),
        ]
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
        for column in np.flatnonzero(distances <= CANDIDATE_LIMIT):
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
    signatures = hash_arrays([image for _, image in images])
    full, center, grids, center_grids, colours, center_colours = signatures
    all_transforms = {**TRANSFORMS, **EXTRA_TRANSFORMS}
    copy_distances, copy_correlations, copy_colours = {}, {}, {}
    for name, transform in all_transforms.items():
        copies = hash_arrays([transform(image) for _, image in images])
        copy_distances[name] = pair_distance(full, center, copies[0], copies[1])
        copy_correlations[name] = copy_correlation(signatures, copies)
        copy_colours[name] = copy_colour_distance(signatures, copies)
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

    # Candidates are pairs within the hash distance; a candidate is confirmed when its
    # structure grids correlate. Errors at (distance, correlation): copies missed (too far, or
    # not confirmed) plus unrelated pairs confirmed. The choice has the fewest errors; on a tie
    # the larger distance and then the lower correlation (catch more copies).
    candidates = np.array([(a, b) for d, a, b in nearest_pairs], dtype=np.int64).reshape(-1, 2)
    candidate_distance = np.array([d for d, _, _ in nearest_pairs], dtype=np.int64)
    candidate_correlation = confirm_pairs(candidates, grids, center_grids)
    candidate_colour = pair_colour_distance(candidates, colours, center_colours)
    print("\nimage -> copy: confirming correlation min / p1, colour distance p99 / max")
    for name in all_transforms:
        values, colour = copy_correlations[name], copy_colours[name]
        print(
            f"  {name:<22} {values.min():.3f} / {np.percentile(values, 1):.3f}    "
            f"{np.percentile(colour, 99):.1f} / {colour.max():.1f}"
        )
    grid_rows = []
    for distance in range(6, CANDIDATE_LIMIT + 1, 2):
        for correlation in CORRELATIONS:
            for colour_limit in COLOUR_LIMITS:
                missed = {
                    name: int(
                        (
                            (copy_distances[name] > distance)
                            | (copy_correlations[name] < correlation)
                            | (copy_colours[name] > colour_limit)
                        ).sum()
                    )
                    for name in TRANSFORMS
                }
                false_pairs = int(
                    (
                        (candidate_distance <= distance)
                        & (candidate_correlation >= correlation)
                        & (candidate_colour <= colour_limit)
                    ).sum()
                )
                grid_rows.append((distance, correlation, colour_limit, missed, false_pairs))
    print("\ndistance, correlation, colour: copies missed per transform, unrelated pairs kept")
    for distance, correlation, colour_limit, missed, false_pairs in grid_rows:
        print(
            f"  <= {distance:>2}, >= {correlation:.2f}, <= {colour_limit:g}: "
            f"{json.dumps(missed)}, {false_pairs}"
        )
    best = min(
        grid_rows,
        key=lambda row: (sum(row[3].values()) + row[4], -row[0], row[1], -row[2]),
    )
    chosen, chosen_correlation, chosen_colour, missed, false_pairs = best
    n_copies = len(images) * len(TRANSFORMS)
    caught = {name: 1 - missed[name] / len(images) for name in TRANSFORMS}
    unconfirmed_false = int((candidate_distance <= chosen).sum())
    print(
        f"\nchosen: distance <= {chosen}, correlation >= {chosen_correlation:.2f}, "
        f"colour distance <= {chosen_colour:g}: "
        f"{sum(missed.values())} of {n_copies} copies missed, {false_pairs} of {total_pairs} "
        f"unrelated pairs confirmed ({unconfirmed_false} candidates before confirmation)"
    )
    defaults = (DEFAULT_MAX_DISTANCE, DEFAULT_MIN_CORRELATION, DEFAULT_MAX_COLOUR_DISTANCE)
    at_defaults = next(row for row in grid_rows if row[:3] == defaults)
    print(
        f"at the defaults {defaults}: {sum(at_defaults[3].values())} of {n_copies} copies "
        f"missed {json.dumps(at_defaults[3])}, {at_defaults[4]} unrelated pairs kept"
    )
    summary = {
        "benchmark": "near_duplicate_threshold",
        "threshold": chosen,
        "min_correlation": chosen_correlation,
        "max_colour_distance": chosen_colour,
        "default_max_distance": DEFAULT_MAX_DISTANCE,
        "default_min_correlation": DEFAULT_MIN_CORRELATION,
        "default_max_colour_distance": DEFAULT_MAX_COLOUR_DISTANCE,
        "images": len(images),
        "categories": {kind: int((categories == kind).sum()) for kind in np.unique(categories)},
        "per_transform_max_distance": per_transform_max,
        "per_transform_caught": caught,
        "copies_missed": sum(missed.values()),
        "copies": n_copies,
        "unrelated_pairs": total_pairs,
        "unrelated_candidates_at_threshold": unconfirmed_false,
        "false_pairs_at_threshold": false_pairs,
        "min_unrelated_distance": int(np.flatnonzero(counts)[0]),
        "copies_missed_at_defaults": sum(at_defaults[3].values()),
        "caught_at_defaults": {name: 1 - at_defaults[3][name] / len(images) for name in TRANSFORMS},
        "false_pairs_at_defaults": at_defaults[4],
        "extra_transform_max_distance": {
            name: int(copy_distances[name].max()) for name in EXTRA_TRANSFORMS
        },
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

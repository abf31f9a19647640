"""Near-duplicates that survive border crops: each sample also hashes its own central crop.

A DCT perceptual hash is robust to resizing, re-encoding and brightness, but a border crop
rescales the content about its centre, which flips many bits (a 2.5 % crop on each side moves
a hash by up to ~20 bits, as far as unrelated images). So every sample carries a second hash,
of its central 95 %: the hash of a cropped copy lands next to the *centre* hash of its
original. Pairs are found in one search over both sets of hashes, keeping full-vs-full and
full-vs-centre matches of different samples.
"""

from __future__ import annotations

import numpy as np

from dlqa.data.duplicates import find_near_duplicate_pairs


def find_near_duplicate_samples(
    full: np.ndarray,
    center: np.ndarray,
    max_distance: int,
    *,
    valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of samples whose full hashes, or one's full and the other's centre hash,
    are within ``max_distance``; each pair once, with the smallest distance found."""
    full = np.asarray(full, dtype=np.uint64)
    center = np.asarray(center, dtype=np.uint64)
    n = len(full)
    if valid is None:
        valid = np.ones(n, dtype=bool)
    pairs, distances = find_near_duplicate_pairs(
        np.concatenate([full, center]), max_distance, valid=np.concatenate([valid, valid])
    )
    if not len(pairs):
        return pairs.reshape(0, 2), distances
    a, b = pairs[:, 0], pairs[:, 1]
    # centre-vs-centre matches add nothing a full hash does not show, and only add noise
    keep = ((a < n) | (b < n)) & ((a % n) != (b % n))
    samples = np.sort(np.stack([a[keep] % n, b[keep] % n], axis=1), axis=1)
    distances = distances[keep]
    # Keep each sample pair once, at its smallest distance.
    order = np.lexsort((distances, samples[:, 1], samples[:, 0]))
    samples, distances = samples[order], distances[order]
    first = np.ones(len(samples), dtype=bool)
    first[1:] = np.any(samples[1:] != samples[:-1], axis=1)
    return samples[first], distances[first]

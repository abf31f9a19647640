"""Near-duplicate images of a profile: candidate pairs from the perceptual hashes (full image,
or one's full image against the other's centre, which catches border crops), confirmed by the
structure grids (their correlation, and their largest local difference, which tells two
different objects on the same layout apart) and the colour layouts of the two images.

The candidates of one hash distance are cached on the profile: the near-duplicate,
conflicting-label and leakage checks share them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.params import Param
from dlqa.data.context import DataProfile, fixed_binary_rows, release_arrow_memory
from dlqa.data.crop_hashes import (
    DEFAULT_MAX_COLOUR_DISTANCE,
    DEFAULT_MAX_LOCAL_DIFFERENCE,
    DEFAULT_MIN_CORRELATION,
    confirm_pairs,
    find_near_duplicate_samples,
    pair_colour_distance,
    pair_local_difference,
)
from dlqa.data.duplicates import DEFAULT_MAX_DISTANCE, MAX_SUPPORTED_DISTANCE

# The parameters of the duplicate checks that image near-duplicates read.
IMAGE_NEAR_PARAMS: dict[str, Param] = {
    "max_distance": Param(
        DEFAULT_MAX_DISTANCE,
        doc=(
            "images: largest Hamming distance between 64-bit perceptual hashes that counts as "
            f"a duplicate (at most {MAX_SUPPORTED_DISTANCE}: beyond half the bits, near means "
            "nothing)"
        ),
        ge=0,
        le=MAX_SUPPORTED_DISTANCE,
    ),
    "min_correlation": Param(
        DEFAULT_MIN_CORRELATION,
        doc=(
            "images: smallest correlation of the 16 x 16 structure grids (gradients removed) "
            "that confirms a candidate pair; 0 keeps every candidate"
        ),
        ge=-1.0,
        le=1.0,
    ),
    "max_colour_distance": Param(
        DEFAULT_MAX_COLOUR_DISTANCE,
        doc=(
            "images: largest mean difference of the 4 x 4 opponent-colour layouts (colour "
            "levels, 0 to 510) that confirms a candidate pair; 255 ignores colour (a grayscale "
            "copy of a colour image)"
        ),
        ge=0.0,
        le=510.0,
    ),
    "max_local_difference": Param(
        DEFAULT_MAX_LOCAL_DIFFERENCE,
        doc=(
            "images: largest mean difference (gray levels, after matching brightness) over any "
            "1/8-of-the-side window of the 16 x 16 grids that confirms a candidate pair: two "
            "different cards or objects on the same layout differ where they differ; 255 "
            "ignores it"
        ),
        ge=0.0,
        le=255.0,
    ),
}


def find_image_near_pairs(
    profile: DataProfile, params: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of decoded images within ``max_distance`` on the perceptual hashes,
    confirmed by structure grids that correlate at least ``min_correlation`` and colour
    layouts at most ``max_colour_distance`` apart and no window of the grids more than
    ``max_local_difference`` apart; with their hash distances."""
    max_distance = int(params["max_distance"])
    pairs, distances, correlations, colours, local = profile.cached(
        ("image_near_candidates", max_distance), lambda: _near_candidates(profile, max_distance)
    )
    confirmed = (
        (correlations >= params["min_correlation"])
        & (colours <= params["max_colour_distance"])
        & (local <= params["max_local_difference"])
    )
    return pairs[confirmed], distances[confirmed]


def _near_candidates(profile: DataProfile, max_distance: int) -> tuple[np.ndarray, ...]:
    """Candidate pairs within the hash distance, their distances, structure correlations,
    colour distances and local differences."""
    full, center = profile.column("phash"), profile.column("phash_center")
    valid = full.is_valid().to_numpy() & center.is_valid().to_numpy() & profile.decoded
    pairs, distances = find_near_duplicate_samples(
        full.fill_null(0).to_numpy().astype(np.uint64, copy=False),
        center.fill_null(0).to_numpy().astype(np.uint64, copy=False),
        max_distance,
        valid=valid,
    )
    del full, center, valid
    # Only the samples in candidate pairs need their grids.
    members, local = np.unique(pairs, return_inverse=True)
    correlations, colours = np.ones(len(pairs)), np.zeros(len(pairs))
    differences = np.zeros(len(pairs))
    if len(pairs):
        grids, known = signature_rows(profile, "grid", members)
        center_grids, _ = signature_rows(profile, "grid_center", members)
        colour, _ = signature_rows(profile, "colour", members)
        center_colour, _ = signature_rows(profile, "colour_center", members)
        inner_grids = _inner_grids(profile, members, grids)
        local = local.reshape(pairs.shape)
        # A pair with a missing signature (a profile without them) stays a hash match.
        both = known[local[:, 0]] & known[local[:, 1]]
        correlations[both] = confirm_pairs(local[both], grids, center_grids)
        colours[both] = pair_colour_distance(local[both], colour, center_colour)
        differences[both] = pair_local_difference(local[both], grids, center_grids, inner_grids)
    release_arrow_memory()
    return pairs, distances, correlations, colours, differences


def _inner_grids(profile: DataProfile, members: np.ndarray, grids: np.ndarray) -> np.ndarray:
    """The inner (central 88 %) grids; the full grids where a profile predates them (a deep
    crop is then judged on the other alignments only)."""
    if not profile.has_column("grid_inner"):
        return grids
    inner, known = signature_rows(profile, "grid_inner", members)
    return np.where(known[:, None], inner, grids)


def signature_rows(
    profile: DataProfile, name: str, indices: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The signature rows (grids, colour layouts) of some samples as (k, width) uint8, and
    which ones exist; read for those rows only."""
    return fixed_binary_rows(profile.take(name, indices))

"""The context that dataset checks read: the per-sample profile table plus shared, cached work."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dlqa.data.crop_hashes import (
    confirm_pairs,
    find_near_duplicate_samples,
    pair_colour_distance,
)
from dlqa.data.duplicates import find_exact_groups


class DataProfile:
    """A profiled dataset. Columns come back as numpy arrays; duplicate searches are cached
    because several checks (duplicates, conflicting labels, leakage) share them."""

    def __init__(self, table: pa.Table, source: str = "") -> None:
        self.table = table
        self.source = source
        self._candidates: dict[int, tuple[np.ndarray, ...]] = {}

    @classmethod
    def from_parquet(cls, path: Path | str, source: str = "") -> DataProfile:
        return cls(pq.read_table(path), source=source)

    @property
    def n(self) -> int:
        return self.table.num_rows

    def strings(self, name: str) -> np.ndarray:
        """A string column as an object array (None where null)."""
        return np.asarray(self.table.column(name).to_pylist(), dtype=object)

    def numbers(self, name: str) -> np.ndarray:
        """A numeric column as float64 (NaN where null)."""
        column = self.table.column(name).cast(pa.float64())
        return column.to_numpy(zero_copy_only=False)

    def flags(self, name: str) -> np.ndarray:
        """A boolean column (False where null)."""
        return self.table.column(name).fill_null(False).to_numpy(zero_copy_only=False)

    @cached_property
    def ids(self) -> np.ndarray:
        return self.strings("sample_id")

    @cached_property
    def labels(self) -> np.ndarray:
        return self.strings("label")

    @cached_property
    def splits(self) -> np.ndarray:
        return self.strings("split")

    @cached_property
    def has_splits(self) -> bool:
        return any(s is not None for s in self.splits)

    @cached_property
    def decoded(self) -> np.ndarray:
        """True for samples that decoded (no file error)."""
        return self.table.column("error").is_null().to_numpy(zero_copy_only=False)

    @cached_property
    def exact_groups(self) -> list[np.ndarray]:
        """Groups of samples whose content hashes are identical (decoded or not)."""
        return find_exact_groups(self.strings("sha256"))

    @cached_property
    def _sha_group(self) -> np.ndarray:
        group = np.full(self.n, -1, dtype=np.int64)
        for number, members in enumerate(self.exact_groups):
            group[members] = number
        return group

    def _near_candidates(self, max_distance: int) -> tuple[np.ndarray, ...]:
        """Candidate pairs within the hash distance, their distances, structure correlations
        and colour distances (cached: several checks share them)."""
        if max_distance not in self._candidates:
            full, center = self.table.column("phash"), self.table.column("phash_center")
            valid = (
                full.is_valid().to_numpy(zero_copy_only=False)
                & center.is_valid().to_numpy(zero_copy_only=False)
                & self.decoded
            )
            pairs, distances = find_near_duplicate_samples(
                full.fill_null(0).to_numpy(zero_copy_only=False).astype(np.uint64),
                center.fill_null(0).to_numpy(zero_copy_only=False).astype(np.uint64),
                max_distance,
                valid=valid,
            )
            # Only the samples in candidate pairs need their grids.
            members, local = np.unique(pairs, return_inverse=True)
            correlations, colours = np.ones(len(pairs)), np.zeros(len(pairs))
            if len(pairs):
                grids, known = self._grids("grid", members)
                center_grids, _ = self._grids("grid_center", members)
                colour, _ = self._grids("colour", members)
                center_colour, _ = self._grids("colour_center", members)
                local = local.reshape(pairs.shape)
                # A pair with a missing signature (a profile without them) stays a hash match.
                both = known[local[:, 0]] & known[local[:, 1]]
                correlations[both] = confirm_pairs(local[both], grids, center_grids)
                colours[both] = pair_colour_distance(local[both], colour, center_colour)
            self._candidates[max_distance] = (pairs, distances, correlations, colours)
        return self._candidates[max_distance]

    def _grids(self, name: str, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The structure grids of some samples as (k, 256) uint8, and which ones exist."""
        rows = self.table.column(name).take(pa.array(indices, type=pa.int64())).to_pylist()
        known = np.array([row is not None for row in rows], dtype=bool)
        width = self.table.schema.field(name).type.byte_width
        data = b"".join(row if row is not None else bytes(width) for row in rows)
        return np.frombuffer(data, dtype=np.uint8).reshape(len(rows), -1), known

    def near_pairs(
        self,
        max_distance: int,
        min_correlation: float = 0.0,
        max_colour_distance: float = 255.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (i < j) within ``max_distance`` on the perceptual hashes (full image, or one's
        full image against the other's centre, which catches border crops), confirmed by
        structure grids that correlate at least ``min_correlation`` and colour layouts at most
        ``max_colour_distance`` apart; with their hash distances."""
        pairs, distances, correlations, colours = self._near_candidates(max_distance)
        confirmed = (correlations >= min_correlation) & (colours <= max_colour_distance)
        return pairs[confirmed], distances[confirmed]

    def exact_pairs(self) -> np.ndarray:
        """Byte-identical samples paired with the first of their group (a star, not a clique:
        k copies give k - 1 pairs, and a group with two labels or splits still shows a pair
        that differs)."""
        pairs = [(int(members[0]), int(m)) for members in self.exact_groups for m in members[1:]]
        return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)

    def duplicate_pairs(
        self,
        max_distance: int,
        min_correlation: float = 0.0,
        max_colour_distance: float = 255.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact and near duplicates together: (pairs, distances), distance 0 for exact copies."""
        near, distances = self.near_pairs(max_distance, min_correlation, max_colour_distance)
        exact = self.exact_pairs()
        pairs = np.concatenate([exact, near]) if len(near) else exact
        dist = np.concatenate([np.zeros(len(exact), dtype=np.int64), distances.astype(np.int64)])
        if not len(pairs):
            return pairs, dist
        keyed = pairs[:, 0] * np.int64(self.n) + pairs[:, 1]
        _, first = np.unique(keyed, return_index=True)
        return pairs[first], dist[first]

    def is_exact_pair(self, pairs: np.ndarray) -> np.ndarray:
        group_a, group_b = self._sha_group[pairs[:, 0]], self._sha_group[pairs[:, 1]]
        return (group_a >= 0) & (group_a == group_b)

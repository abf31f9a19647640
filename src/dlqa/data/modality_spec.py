"""What a modality declares to the data stage (see ``modalities.py``, which lists them).

A :class:`Modality` names its columns of the per-sample table, how a worker probes one sample
(``decode``) and finishes a chunk's work together (``finish``), the numeric properties that
outlier checks, diffs and histograms summarise, and how its near-duplicates are found.
Everything else (the file probe, the common columns, exact duplicates, labels, splits) is
shared, so the dataset checks work on every modality.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from dlqa.core.params import Param
from dlqa.data.context import DataProfile
from dlqa.sources.base import Sample

# decode(sample, file bytes or None for an in-memory sample) -> (its columns, pending work)
Decode = Callable[[Sample, bytes | None], tuple[dict[str, Any], Any]]
# finish(pending work of a chunk) -> the remaining columns of each, in order
Finish = Callable[[list[Any]], list[dict[str, Any]]]
# near_pairs(profile, the duplicate check's params) -> (pairs i < j, their distances)
NearPairs = Callable[[DataProfile, dict[str, Any]], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class OutlierScale:
    """How ``data.property_outliers`` judges a property: on a log scale (it spans orders of
    magnitude and is skewed), and the smallest spread, as a standard deviation in the judged
    units, a group is taken to have (a class of near-identical samples has almost none, and
    without a floor measurement noise would be many "standard deviations")."""

    log_scale: bool
    min_sigma: float


@dataclass(frozen=True)
class Modality:
    name: str
    fields: tuple[pa.Field, ...]
    decode: Decode
    near_pairs: NearPairs
    finish: Finish | None = None
    # Parameters of the duplicate checks that this modality's near-pair search reads.
    near_params: Mapping[str, Param] = field(default_factory=dict)
    # What "distance" means in a near-duplicate pair's evidence.
    distance_meaning: str = ""
    numeric_properties: tuple[str, ...] = ()
    histogram_properties: tuple[str, ...] = ()
    outlier_properties: Mapping[str, OutlierScale] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

"""What the data stage knows about each kind of sample: image, audio or text.

A :class:`Modality` names its columns of the per-sample table, the file formats it reads, how a
worker probes one sample (``decode``) and finishes a chunk's work together (``finish``), the
numeric properties that outlier checks, diffs and histograms summarise, and how its
near-duplicates are found. Everything else (the file probe, the common columns, exact
duplicates, labels, splits) is shared, so the dataset checks work on every modality.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from dlqa.core.errors import UsageError
from dlqa.core.params import Param
from dlqa.data.columns import COMMON_FIELDS, META_PREFIX, MODALITY_KEY
from dlqa.data.context import DataProfile
from dlqa.data.image_duplicates import IMAGE_NEAR_PARAMS, find_image_near_pairs
from dlqa.data.probes import image
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

    def __iter__(self):  # (log_scale, min_sigma), for unpacking
        return iter((self.log_scale, self.min_sigma))


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


def _decode_image(sample: Sample, data: bytes | None) -> tuple[dict[str, Any], Any]:
    if data is None:
        return image.probe_array(sample.array), None
    return image.decode_image_bytes(data)


def _finish_images(works: list[Any]) -> list[dict[str, Any]]:
    return image.pixel_statistics_many(works)


IMAGE = Modality(
    name="image",
    fields=image.IMAGE_FIELDS,
    decode=_decode_image,
    finish=_finish_images,
    near_pairs=find_image_near_pairs,
    near_params=IMAGE_NEAR_PARAMS,
    distance_meaning="Hamming distance between 64-bit perceptual hashes",
    numeric_properties=image.IMAGE_NUMERIC_PROPERTIES,
    histogram_properties=image.IMAGE_HISTOGRAM_PROPERTIES,
    # Floors: brightness, contrast and entropy by what a reduced-size (draft) JPEG decode
    # moves them against a full decode (see probes/image.py); sizes 1 %.
    outlier_properties={
        "brightness": OutlierScale(False, 1.0),
        "contrast": OutlierScale(False, 0.4),
        "entropy": OutlierScale(False, 0.2),
        "colorfulness": OutlierScale(False, 1.0),
        "sharpness": OutlierScale(True, 0.05),
        "width": OutlierScale(True, 0.01),
        "height": OutlierScale(True, 0.01),
        "aspect_ratio": OutlierScale(True, 0.01),
    },
)

MODALITIES: dict[str, Modality] = {m.name: m for m in (IMAGE,)}


def get_modality(name: str) -> Modality:
    """The modality called ``name``; a usage error naming the known ones otherwise."""
    try:
        return MODALITIES[name]
    except KeyError:
        raise UsageError(
            f"unknown modality {name!r}", hint=f"modalities: {', '.join(sorted(MODALITIES))}"
        ) from None


def modality_of(profile: DataProfile) -> Modality:
    return get_modality(profile.modality)


def all_near_params() -> dict[str, Param]:
    """The near-duplicate parameters of every modality (the duplicate checks take them all,
    and each modality reads its own)."""
    merged: dict[str, Param] = {}
    for modality in MODALITIES.values():
        merged.update(modality.near_params)
    return merged


def profile_schema(modality: Modality, meta_keys: list[str]) -> pa.Schema:
    """The common columns, the modality's, then one string column per metadata key; the
    modality's name in the schema's metadata."""
    fields = [*COMMON_FIELDS, *modality.fields]
    fields += [pa.field(META_PREFIX + key, pa.string()) for key in meta_keys]
    return pa.schema(fields, metadata={MODALITY_KEY: modality.name.encode()})

"""The modalities the data stage knows: image (here), audio and text (their own modules).

What a modality declares is in ``modality_spec.py``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from dlqa.core.errors import UsageError
from dlqa.core.params import Param
from dlqa.data.audio_modality import AUDIO
from dlqa.data.columns import COMMON_FIELDS, META_PREFIX, MODALITY_KEY
from dlqa.data.context import DataProfile
from dlqa.data.image_duplicates import IMAGE_NEAR_PARAMS, find_image_near_pairs
from dlqa.data.modality_spec import Modality, OutlierScale
from dlqa.data.probes import image
from dlqa.data.text_modality import TEXT
from dlqa.sources.base import Sample


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

MODALITIES: dict[str, Modality] = {m.name: m for m in (IMAGE, AUDIO, TEXT)}


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

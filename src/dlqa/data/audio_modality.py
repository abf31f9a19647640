"""The audio modality (being built: no columns and no near-duplicates yet)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.data.context import DataProfile
from dlqa.data.modality_spec import Modality
from dlqa.sources.base import Sample


def _decode(sample: Sample, data: bytes | None) -> tuple[dict[str, Any], Any]:
    return {"error": "corrupt", "error_detail": "audio probing is not built yet"}, None


def _near_pairs(profile: DataProfile, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, 2), dtype=np.int64), np.zeros(0)


AUDIO = Modality(name="audio", fields=(), decode=_decode, near_pairs=_near_pairs)

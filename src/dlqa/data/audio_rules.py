"""The rules of the audio checks that say what is wrong with a clip at its root (near-silent,
clipped), shared by those checks and by ``data.property_outliers``, which leaves the clips they
claim out: a near-silent clip is near-silent, not also "unusually quiet for its class"."""

from __future__ import annotations

import numpy as np

from dlqa.data.context import DataProfile

# A clip whose loudest second is below -50 dBFS RMS, or whose peak is below -40 dBFS, has
# nothing, or almost nothing, to hear (a -60 dBFS tone is near-silent, -20 dBFS is not).
NEAR_SILENT_RMS_DBFS = -50.0
NEAR_SILENT_PEAK_DBFS = -40.0
# More than 0.1 % of a clip's samples in runs at full scale is clipping.
CLIPPED_FRACTION = 0.001


def near_silent_mask(
    profile: DataProfile,
    rms_limit: float = NEAR_SILENT_RMS_DBFS,
    peak_limit: float = NEAR_SILENT_PEAK_DBFS,
) -> np.ndarray:
    """Decoded clips whose loudest second or peak is below the limits."""
    loudest, peak = profile.numbers("loudest_window_dbfs"), profile.numbers("peak_dbfs")
    with np.errstate(invalid="ignore"):
        return profile.decoded & ((loudest < rms_limit) | (peak < peak_limit))


def clipped_mask(profile: DataProfile, limit: float = CLIPPED_FRACTION) -> np.ndarray:
    """Decoded clips with more than ``limit`` of their samples in clipped runs."""
    fraction = profile.numbers("clipped_fraction")
    with np.errstate(invalid="ignore"):
        return profile.decoded & (fraction > limit)


def claimed_at_root(profile: DataProfile) -> np.ndarray:
    """Clips that data.near_silent or data.clipped report by their default rules."""
    return near_silent_mask(profile) | clipped_mask(profile)

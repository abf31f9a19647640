"""The audio modality: WAV, FLAC, OGG and MP3 files (or in-memory waveforms), probed by
``probes/audio.py``, near-duplicates by spectrogram fingerprints (``audio_fingerprint.py``,
``audio_near_search.py``)."""

from __future__ import annotations

from dlqa.data.audio_near_search import AUDIO_NEAR_PARAMS, find_audio_near_pairs
from dlqa.data.modality_spec import Modality, OutlierScale
from dlqa.data.probes.audio import (
    AUDIO_FIELDS,
    AUDIO_HISTOGRAM_PROPERTIES,
    AUDIO_NUMERIC_PROPERTIES,
    decode_audio,
)

AUDIO = Modality(
    name="audio",
    fields=AUDIO_FIELDS,
    decode=decode_audio,
    near_pairs=find_audio_near_pairs,
    near_params=AUDIO_NEAR_PARAMS,
    distance_meaning=(
        "1 - the similarity of two clips at their best time alignment: the lower of the "
        "fingerprint bits and the strong spectral peaks they share (0: the same audio; "
        "about 0.5: unrelated clips)"
    ),
    numeric_properties=AUDIO_NUMERIC_PROPERTIES,
    histogram_properties=AUDIO_HISTOGRAM_PROPERTIES,
    # Floors: levels 1 dB (what a loudness difference must exceed to be heard), durations
    # 1 % (a class of clips cut to exactly one length has no spread at all), the silent share
    # 5 % of the clip.
    # Duration is data.duration_outliers' (per class, the same robust statistics): judged
    # here too, a clip would be reported twice.
    outlier_properties={
        "rms_dbfs": OutlierScale(False, 1.0),
        "peak_dbfs": OutlierScale(False, 1.0),
        "silent_fraction": OutlierScale(False, 0.05),
    },
)

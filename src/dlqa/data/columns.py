"""The per-sample profile table: one row per sample, written as Arrow batches to Parquet.

Probes fill these columns; dataset checks, snapshots, diffs and reports read them. Manifest
metadata columns are kept after the fixed ones, named ``meta.<column>`` (as strings).
"""

from __future__ import annotations

import pyarrow as pa

PROFILE_SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),  # path relative to the source root, or the manifest id
        ("index", pa.int64()),  # position in the source
        ("path", pa.string()),  # absolute path; null for in-memory arrays
        ("label", pa.string()),
        ("split", pa.string()),
        ("file_size", pa.int64()),
        # null when the sample decoded; else "empty", "truncated", "corrupt" or "unreadable"
        ("error", pa.string()),
        ("error_detail", pa.string()),
        ("ext_format", pa.string()),  # format the extension claims ("jpeg", "png", ...)
        ("actual_format", pa.string()),  # format the magic bytes say
        ("format_mismatch", pa.bool_()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("aspect_ratio", pa.float32()),  # width / height
        ("mode", pa.string()),  # Pillow mode: "RGB", "L", "RGBA", "P", "CMYK", "I;16", ...
        ("channels", pa.int8()),
        ("colorfulness", pa.float32()),  # mean per-pixel max-min over RGB, 0..255
        ("is_grayscale", pa.bool_()),  # colour image whose channels are effectively equal
        ("brightness", pa.float32()),  # mean luma, 0..255
        ("contrast", pa.float32()),  # standard deviation of luma, 0..255
        ("sharpness", pa.float32()),  # variance of the Laplacian at the working size
        ("entropy", pa.float32()),  # Shannon entropy of the luma histogram, bits (0..8)
        ("sha256", pa.string()),  # content hash of the file bytes (or of the array)
        ("phash", pa.uint64()),  # 64-bit perceptual hash
        ("phash_center", pa.uint64()),  # perceptual hash of the central 95 % (border crops)
        ("grid", pa.binary(256)),  # 16 x 16 luma grid that confirms near-duplicate candidates
        ("grid_center", pa.binary(256)),  # the same of the central 95 %
        ("colour", pa.binary(32)),  # 4 x 4 opponent-colour layout, confirms candidates too
        ("colour_center", pa.binary(32)),  # the same of the central 95 %
    ]
)

PROFILE_COLUMNS = PROFILE_SCHEMA.names

# Numeric image properties that dataset checks, diffs and reports summarise.
NUMERIC_PROPERTIES = (
    "width",
    "height",
    "aspect_ratio",
    "brightness",
    "contrast",
    "sharpness",
    "entropy",
    "colorfulness",
    "file_size",
)

META_PREFIX = "meta."

# The `error` of a sample on which dlqa's own probe code raised: a bug in dlqa, not in the file.
PROBE_ERROR = "probe_error"

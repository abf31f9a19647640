"""The per-sample profile table: one row per sample, written as Arrow batches to Parquet.

Every profile has the common columns below, then the columns of its modality (image, audio or
text: ``dlqa.data.modalities``), then the manifest's metadata columns, named ``meta.<column>``
(as strings). The modality is stored in the Parquet file's metadata (``MODALITY_KEY``).
"""

from __future__ import annotations

import pyarrow as pa

COMMON_FIELDS: tuple[pa.Field, ...] = (
    pa.field("sample_id", pa.string()),  # path relative to the source root, or the manifest id
    pa.field("index", pa.int64()),  # position in the source
    pa.field("path", pa.string()),  # absolute path; null for in-memory samples
    pa.field("label", pa.string()),
    pa.field("split", pa.string()),
    pa.field("file_size", pa.int64()),
    # null when the sample decoded; else "empty", "truncated", "corrupt" or "unreadable"
    pa.field("error", pa.string()),
    pa.field("error_detail", pa.string()),
    pa.field("ext_format", pa.string()),  # format the extension claims ("jpeg", "wav", ...)
    pa.field("actual_format", pa.string()),  # format the leading bytes say
    pa.field("format_mismatch", pa.bool_()),
    pa.field("sha256", pa.string()),  # hash of the file bytes (or of the in-memory sample)
    # Hash of the decoded content where that differs from the bytes: the same audio in another
    # container or bit depth, the same text after normalisation. Null: the bytes are the content.
    pa.field("content_hash", pa.string()),
)

COMMON_COLUMNS: tuple[str, ...] = tuple(field.name for field in COMMON_FIELDS)

META_PREFIX = "meta."

# Key of the Parquet file metadata that names the profile's modality.
MODALITY_KEY = b"dlqa.modality"

# The `error` of a sample on which dlqa's own probe code raised: a bug in dlqa, not in the file.
PROBE_ERROR = "probe_error"

"""Dataset checks. Importing this package registers them (ids ``data.*``)."""

from dlqa.data.checks import (
    audio,
    balance,
    batches,
    drift,
    duplicates,
    label_errors,
    labels,
    outliers,
    review,
    samples,
    text,
)

__all__ = [
    "audio",
    "balance",
    "batches",
    "drift",
    "duplicates",
    "label_errors",
    "labels",
    "outliers",
    "review",
    "samples",
    "text",
]

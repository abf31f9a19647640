"""Readers that yield samples: folder trees, CSV/Parquet/JSONL manifests, in-memory arrays."""

from dlqa.sources.arrays import ArraySource
from dlqa.sources.base import Sample, Source
from dlqa.sources.folder import IMAGE_EXTENSIONS, SPLIT_NAMES, FolderSource
from dlqa.sources.manifest import MANIFEST_FORMATS, ManifestSource
from dlqa.sources.open import open_source

__all__ = [
    "IMAGE_EXTENSIONS",
    "MANIFEST_FORMATS",
    "SPLIT_NAMES",
    "ArraySource",
    "FolderSource",
    "ManifestSource",
    "Sample",
    "Source",
    "open_source",
]

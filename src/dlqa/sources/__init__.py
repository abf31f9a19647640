"""Readers that yield samples: folder trees, CSV/Parquet/JSONL manifests, in-memory arrays and
texts, and torch datasets (torch itself is imported only by the user's own code)."""

from dlqa.sources.arrays import ArraySource, AudioArraySource
from dlqa.sources.base import Sample, Source
from dlqa.sources.folder import SPLIT_NAMES, FolderSource
from dlqa.sources.manifest import MANIFEST_FORMATS, ManifestSource
from dlqa.sources.modality import (
    AUDIO_EXTENSIONS,
    IMAGE_EXTENSIONS,
    MODALITY_NAMES,
    TEXT_EXTENSIONS,
)
from dlqa.sources.open import open_source
from dlqa.sources.texts import TextSource
from dlqa.sources.torch_dataset import DatasetSource

__all__ = [
    "AUDIO_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "MANIFEST_FORMATS",
    "MODALITY_NAMES",
    "SPLIT_NAMES",
    "TEXT_EXTENSIONS",
    "ArraySource",
    "AudioArraySource",
    "DatasetSource",
    "FolderSource",
    "ManifestSource",
    "Sample",
    "Source",
    "TextSource",
    "open_source",
]

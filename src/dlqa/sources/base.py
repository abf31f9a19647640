"""A sample and the source protocol every reader implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Sample:
    sample_id: str  # path relative to the source root (POSIX separators), or the manifest id
    index: int  # position in the source
    path: str | None = None  # absolute path of the file; None for in-memory samples
    label: str | None = None
    split: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # In-memory content: an image (H, W) or (H, W, C) uint8, or an audio waveform (frames,) or
    # (frames, channels) with its sample_rate; or a text.
    array: np.ndarray | None = None
    sample_rate: int | None = None
    text: str | None = None
    # Why the source could not give this sample's content (a torch Dataset item that raised):
    # a sample with neither a path nor content is probed as unreadable.
    error: str | None = None

    @property
    def in_memory(self) -> bool:
        return self.array is not None or self.text is not None


class Source(Protocol):
    """Anything that yields samples. ``root`` names it in reports and snapshots."""

    root: str  # folder, manifest path, "<arrays>", "<texts>" or "<dataset ClassName>"
    kind: str  # "folder", "manifest", "arrays", "texts", "dataset"
    modality: str  # "image", "audio" or "text": what its samples are

    def __iter__(self) -> Iterator[Sample]: ...

    def __len__(self) -> int: ...


class InMemorySource(Source, Protocol):
    """A source of in-memory samples that can hand one back by position, so that views can
    show the evidence (thumbnails, waveforms, players) of samples that have no file."""

    def sample_at(self, index: int) -> Sample: ...

"""A map-style ``torch.utils.data.Dataset`` (``len`` and ``dataset[i]``) as a source.

torch is an optional extra: this module never imports it (see :mod:`dataset_items`), and
any object with ``__len__`` and ``__getitem__`` whose items are (input, label) pairs will do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.sources.arrays import checked_sample_rate
from dlqa.sources.base import Sample
from dlqa.sources.dataset_items import (
    ItemError,
    describe,
    input_modality,
    split_item,
    to_image,
    to_label,
    to_text,
    to_waveform,
)
from dlqa.sources.memory import Values, as_list, sample_ids
from dlqa.sources.modality import checked_modality

_OWNER = "DatasetSource"
_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "image": to_image,
    "audio": to_waveform,
    "text": to_text,
}


class DatasetSource:
    """The items of a map-style dataset, ``dataset[0]`` to ``dataset[len(dataset) - 1]``.

    Each item is an (input, label) pair (further elements are ignored; an item that is not a
    tuple or list is an unlabelled input). Each input is profiled as a file of its kind:

    - a ``str`` is a text;
    - a PIL image, or a 2-D or 3-D tensor or array, is an image: tensors are read as
      (C, H, W) and arrays as (H, W, C), and turned into (H, W, C) uint8. uint8 values are
      kept, 0..1 floats are scaled by 255, values within 0..255 are rounded, and anything
      else, such as a tensor normalised to mean 0, is **min-max scaled per image** to 0..255:
      its shape, blur and duplicates are then measured as they are, but its brightness and
      contrast are those of the rescaled image, not of the original photograph;
    - a 1-D tensor or array is a waveform at ``sample_rate`` Hz (required for audio); with
      ``modality="audio"``, a 2-D one is (frames, channels) or, as torchaudio gives,
      (channels, frames): the shorter axis is taken as the channels.

    ``modality`` ("image", "audio" or "text") is detected from the first item unless given.
    A label that is a class index names ``class_names[index]`` when they are given, else it
    is the index as a string; a tensor scalar is its value. ``ids`` default to the positions.

    An item whose ``__getitem__`` raises, or whose input or label cannot be read as the
    modality's, is still a sample: one with no content and the reason in ``Sample.error``,
    which the profile reports as unreadable. Items are read (and augmentations run) in the
    process that iterates the source, one at a time.
    """

    kind = "dataset"

    def __init__(
        self,
        dataset: Any,
        *,
        modality: str | None = None,
        sample_rate: int | None = None,
        class_names: Values | None = None,
        ids: Values | None = None,
    ) -> None:
        modality = checked_modality(modality, _OWNER)
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise UsageError(
                f"{_OWNER}: a {type(dataset).__name__} has no len() and [index]: only a "
                "map-style dataset can be profiled",
                hint="an IterableDataset has no length; collect its items into a list, or "
                "use ArraySource, AudioArraySource or TextSource",
            )
        self._dataset = dataset
        self._count = len(dataset)
        self.root = f"<dataset {type(dataset).__name__}>"
        if self._count == 0:
            raise UsageError(f"{_OWNER}: the dataset has no items")
        self.modality: str = modality or _detected_modality(dataset)
        if self.modality == "audio" and sample_rate is None:
            raise UsageError(
                f"{_OWNER}: the items are audio clips, and a waveform needs its sample rate",
                hint="pass sample_rate=16000 (the rate the dataset's clips are sampled at)",
            )
        self._sample_rate = (
            None if self.modality != "audio" else checked_sample_rate(sample_rate, _OWNER)
        )
        self._class_names: list[str] | None = (
            None
            if class_names is None
            else [str(name) for name in as_list(class_names, "class_names", _OWNER)]
        )
        self._ids = sample_ids(ids, self._count, _OWNER, "item")

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Sample]:
        for index in range(self._count):
            yield self.sample_at(index)

    def sample_at(self, index: int) -> Sample:
        """The sample of ``dataset[index]`` (a broken item: a sample carrying the error)."""
        sample_id = self._ids[index]
        try:
            item = self._dataset[index]
        except Exception as exc:  # one broken item must not stop the profile: it is a finding
            return Sample(sample_id, index, error=f"dataset[{index}] raised {_said(exc)}")
        try:
            raw_input, raw_label = split_item(item)
            label = to_label(raw_label, self._class_names)
            content = _CONVERTERS[self.modality](raw_input)
        except Exception as exc:  # ItemError, or a PIL image that fails to load
            return Sample(sample_id, index, error=f"dataset[{index}]: {_said(exc)}")
        if self.modality == "text":
            return Sample(sample_id, index, label=label, text=content)
        return Sample(sample_id, index, label=label, array=content, sample_rate=self._sample_rate)

    def __repr__(self) -> str:
        return f"DatasetSource({self.root}, modality={self.modality!r}, samples={len(self)})"


def _said(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ItemError) else f"{type(exc).__name__}: {exc}"


def _detected_modality(dataset: Sequence[Any]) -> str:
    hint = 'pass modality="image", "audio" or "text"'
    try:
        item = dataset[0]
    except Exception as exc:
        raise UsageError(
            f"{_OWNER}: dataset[0] raised {type(exc).__name__}: {exc}, so the modality cannot "
            "be told from it",
            hint=hint,
        ) from exc
    raw_input, _ = split_item(item)
    modality = input_modality(raw_input)
    if modality is None:
        raise UsageError(
            f"{_OWNER}: the input of dataset[0] is {describe(raw_input)}, which is not an "
            "image (PIL image, 2-D or 3-D tensor or array), a waveform (1-D) or a text (str)",
            hint=hint,
        )
    return modality

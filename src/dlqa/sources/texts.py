"""In-memory texts: a list of strings, one sample each."""

from __future__ import annotations

import math
from collections.abc import Iterator

from dlqa.core.errors import UsageError
from dlqa.sources.base import Sample
from dlqa.sources.memory import Values, as_list, optional_strings, sample_ids


class TextSource:
    """Texts held in memory; ids default to the positions ``"0"``, ``"1"``, ...

    ``texts`` holds one ``str`` per sample. A missing text (None, or a float NaN as a pandas
    column holds it) is an empty text, as an empty manifest cell is, and the text probe
    reports it; anything else that is not a string (bytes, numbers) is a usage error, since
    dlqa cannot know its encoding or meaning. ``labels``, ``splits`` and ``ids`` are any
    sequences of the same length (values become strings).
    """

    kind = "texts"
    modality = "text"
    root = "<texts>"

    def __init__(
        self,
        texts: Values,
        labels: Values | None = None,
        splits: Values | None = None,
        ids: Values | None = None,
    ) -> None:
        owner = "TextSource"
        listed = as_list(texts, "texts", owner)
        self._texts = [_checked_text(text, position) for position, text in enumerate(listed)]
        count = len(self._texts)
        self._labels = optional_strings(labels, "labels", count, owner, "text")
        self._splits = optional_strings(splits, "splits", count, owner, "text")
        self._ids = sample_ids(ids, count, owner, "text")

    def __len__(self) -> int:
        return len(self._texts)

    def __iter__(self) -> Iterator[Sample]:
        for index, text in enumerate(self._texts):
            yield Sample(
                sample_id=self._ids[index],
                index=index,
                label=self._labels[index],
                split=self._splits[index],
                text=text,
            )

    def __repr__(self) -> str:
        return f"TextSource(samples={len(self)})"


def _checked_text(text: object, position: int) -> str:
    if isinstance(text, str):
        return text
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    hint = (
        "decode it first, e.g. text.decode('utf-8', errors='replace')"
        if isinstance(text, (bytes, bytearray))
        else "convert the texts to str"
    )
    raise UsageError(
        f"TextSource: text {position} is of type {type(text).__name__}, not str", hint=hint
    )

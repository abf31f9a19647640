"""What every in-memory source checks: labels, splits and ids, one per sample.

``owner`` names the source in messages ("ArraySource"), ``noun`` its samples ("image").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError

Values = Sequence[Any] | np.ndarray


def as_list(values: Values, name: str, owner: str) -> list[Any]:
    """``values`` as a list; a single string is refused (it would be read letter by letter)."""
    if isinstance(values, (str, bytes)):
        raise UsageError(
            f"{owner}: {name} is a single {type(values).__name__}, not a sequence",
            hint=f"pass a list with one value per sample, e.g. [{values!r}]",
        )
    if isinstance(values, np.ndarray):
        return values.tolist()
    try:
        return list(values)
    except TypeError:
        raise UsageError(
            f"{owner}: {name} is of type {type(values).__name__}, not a sequence",
            hint="pass a list or a numpy array with one value per sample",
        ) from None


def checked_length(values: Values, name: str, count: int, owner: str, noun: str) -> list[Any]:
    """``values`` as a list of ``count`` items; a usage error naming both lengths otherwise."""
    listed = as_list(values, name, owner)
    if len(listed) != count:
        raise UsageError(
            f"{owner}: {len(listed)} {name} for {count} {noun}s; the lengths must match",
        )
    return listed


def optional_strings(
    values: Values | None, name: str, count: int, owner: str, noun: str
) -> list[str | None]:
    """One string (or None) per sample: labels and splits."""
    if values is None:
        return [None] * count
    return [None if v is None else str(v) for v in checked_length(values, name, count, owner, noun)]


def sample_ids(ids: Values | None, count: int, owner: str, noun: str) -> list[str]:
    """The given ids as strings, which must be unique; the positions "0", "1", ... without."""
    if ids is None:
        return [str(i) for i in range(count)]
    listed = [str(value) for value in checked_length(ids, "ids", count, owner, noun)]
    if len(set(listed)) != count:
        raise UsageError(
            f"{owner}: ids must be unique, but some repeat",
            hint=f"pass one distinct id per {noun}, or leave ids out to use positions",
        )
    return listed

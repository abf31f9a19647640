"""Sample names for the demo's parts: shuffled numbers, so planted samples do not sort last."""

from __future__ import annotations

import numpy as np


class NameDealer:
    """Hands out ``<prefix><number><extension>`` with the numbers in a seeded random order."""

    def __init__(self, rng: np.random.Generator, capacity: int, prefix: str) -> None:
        self._numbers = iter(rng.permutation(capacity).tolist())
        self._prefix = prefix

    def next(self, extension: str = "") -> str:
        return f"{self._prefix}{next(self._numbers):05d}{extension}"

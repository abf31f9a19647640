"""The text modality: lengths, empty texts, control and invisible characters, mojibake and
undecodable bytes (``probes/text.py``); near-duplicates by MinHash of word bigrams
(``text_minhash.py``); exact duplicates on the normalised text (``content_hash``)."""

from __future__ import annotations

from typing import Any

from dlqa.data.modality_spec import Modality
from dlqa.data.probes.text import TEXT_FIELDS, decode_text
from dlqa.data.text_minhash import TEXT_NEAR_PARAMS, find_text_near_pairs, signature_bytes


def _finish(works: list[Any]) -> list[dict[str, Any]]:
    # The MinHash of a chunk's normalised texts at once: numpy over the whole chunk.
    return [{"minhash": signature} for signature in signature_bytes(works)]


TEXT = Modality(
    name="text",
    fields=TEXT_FIELDS,
    decode=decode_text,
    finish=_finish,
    near_pairs=find_text_near_pairs,
    near_params=TEXT_NEAR_PARAMS,
    distance_meaning=(
        "1 - estimated Jaccard similarity of the two normalised texts' word bigrams "
        "(MinHash, 64 permutations)"
    ),
    numeric_properties=(
        "n_chars",
        "n_tokens",
        "n_lines",
        "control_chars",
        "invisible_chars",
        "mojibake_chars",
        "invalid_bytes",
        "file_size",
    ),
    histogram_properties=("n_chars", "n_tokens", "n_lines"),
    # Lengths on a log scale (they span orders of magnitude); a spread of at least 5 % (a
    # class of near-identical lengths would make every other length "many sigmas" away).
    # Length, the one numeric property of a text, is data.extreme_length's: no property is
    # left for data.property_outliers, which skips text.
)

"""Which modality a file is by its extension, and which modality a set of files is."""

from __future__ import annotations

import os
from collections import Counter

from dlqa.core.errors import UsageError

MODALITY_NAMES = ("image", "audio", "text")

# The extensions a source reads; data/probes/file.py says which format each one claims (a
# test keeps the two in step).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
)
AUDIO_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3"})
TEXT_EXTENSIONS = frozenset({".txt"})
EXTENSION_MODALITIES: dict[str, str] = {
    **dict.fromkeys(IMAGE_EXTENSIONS, "image"),
    **dict.fromkeys(AUDIO_EXTENSIONS, "audio"),
    **dict.fromkeys(TEXT_EXTENSIONS, "text"),
}

# Files of other modalities are strays (a README, a cover image) when they are at most this
# share of the recognised files, or at most this many.
STRAY_SHARE = 0.10
STRAY_FILES = 3

MODALITY_HINT = (
    "choose one with --modality image|audio|text on the command line, modality in the "
    "[data] table of dlqa.toml, or modality=... in Python"
)


def modality_of_name(name: str) -> str | None:
    """ "image", "audio" or "text" by the file name's extension (any case); None if unknown."""
    return EXTENSION_MODALITIES.get(os.path.splitext(name)[1].lower())


def checked_modality(modality: str | None, owner: str) -> str | None:
    """``modality`` when it is None or a known name; a usage error naming the known ones."""
    if modality is None or modality in MODALITY_NAMES:
        return modality
    raise UsageError(
        f"{owner}: unknown modality {modality!r}",
        hint=f"modalities: {', '.join(MODALITY_NAMES)}",
    )


def describe_counts(counts: Counter[str]) -> str:
    """``"120 image files, 3 text files"``, most first."""
    return ", ".join(
        f"{count} {modality} file{'' if count == 1 else 's'}"
        for modality, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    )


def choose_modality(counts: Counter[str], where: str) -> str:
    """The modality of a set of files from the number of files of each modality.

    The rule, in order:

    - Image and audio files come before ``.txt`` files as long as they are at least as many:
      text beside media is nearly always notes, captions or transcripts (a README beside
      the class folders, a transcript beside each clip), not the dataset itself.
    - Otherwise the modality with the most files, when the files of the others are strays:
      at most 10 % of the recognised files, or at most 3 files.
    - Anything else (a tie, or a real mix such as 500 images and 400 clips) is a usage
      error that names the counts and says how to choose: guessing would profile the wrong
      half of the data with nothing to show for it.

    ``counts`` must hold at least one file.
    """
    counts = Counter({modality: n for modality, n in counts.items() if n > 0})
    if len(counts) == 1:
        return next(iter(counts))
    media = Counter({m: n for m, n in counts.items() if m != "text"})
    candidates = media if media and counts["text"] <= sum(media.values()) else counts
    ranked = candidates.most_common()
    best, best_count = ranked[0]
    others = sum(candidates.values()) - best_count
    tie = len(ranked) > 1 and ranked[1][1] == best_count
    if not tie and (others <= STRAY_FILES or others <= STRAY_SHARE * sum(candidates.values())):
        return best
    raise UsageError(
        f"{where} holds files of more than one modality ({describe_counts(counts)}), and "
        "dlqa profiles one modality at a time",
        hint=MODALITY_HINT,
    )

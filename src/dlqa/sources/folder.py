"""Folder-per-class trees of images, audio clips or texts: ``root/<class>/<file>`` or
``root/<split>/<class>/<file>``."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from dlqa.core.errors import UsageError
from dlqa.sources.base import Sample
from dlqa.sources.modality import (
    AUDIO_EXTENSIONS,
    EXTENSION_MODALITIES,
    IMAGE_EXTENSIONS,
    TEXT_EXTENSIONS,
    checked_modality,
    choose_modality,
    describe_counts,
    modality_of_name,
)

# Top-level folder names (compared case-insensitively) that mark a split layout.
SPLIT_NAMES = frozenset(
    {"train", "training", "val", "valid", "validation", "dev", "test", "testing"}
)

FOLDER_LAYOUT_HINT = (
    "expected a folder per class, root/<class>/<image>, or split folders holding class folders, "
    "root/<split>/<class>/<image> (splits: train, val, valid, validation, dev, test, ...)"
)
_EXTENSIONS_HINT = (
    f"extensions: image {' '.join(sorted(IMAGE_EXTENSIONS))}; "
    f"audio {' '.join(sorted(AUDIO_EXTENSIONS))}; text {' '.join(sorted(TEXT_EXTENSIONS))}"
)


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _visible_entries(folder: str) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as entries:
        return sorted((entry for entry in entries if not _is_hidden(entry.name)), key=_entry_name)


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


def display_name(text: str) -> str:
    """A file or folder name as text that any store and view can hold: a name that is not
    valid UTF-8 (read with surrogate escapes) shows its bytes as ``\\xff``, losslessly."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", errors="backslashreplace")


def _is_candidate_file(entry: os.DirEntry[str]) -> bool:
    """An image, audio or text file by its name that is not a folder: regular files, and also
    dangling symlinks, FIFOs and devices, which the file probe then reports as unreadable with
    the reason (a git-annex or DVC checkout whose content is missing must not look clean)."""
    if modality_of_name(entry.name) is None:
        return False
    try:
        return not entry.is_dir()
    except OSError:
        return True


class FolderSource:
    """Image, audio or text files in class folders, optionally inside split folders.

    The split layout is used when every visible top-level folder is a split name (``train``,
    ``val``, ``test``, ...); the split value keeps the folder's own spelling. Class folders may
    hold sub-folders: every file below a class folder takes that class as its label. Files
    directly in the root (or directly in a split folder) are unlabelled samples: a flat folder
    of images is profiled without labels.

    ``modality`` ("image", "audio" or "text") chooses which files are samples; without it,
    the files decide (see :func:`~dlqa.sources.modality.choose_modality`: the modality of
    most files, image and audio before ``.txt`` notes, and a usage error for a real mix).
    Files of the other modalities are not samples; ``skipped`` lists them once per extension,
    with the count and the first one: a user wants to know that 4,000 ``.txt`` captions were
    left out, not to read 4,000 entries. Files of no known extension are ignored as before.

    A directory symlink is followed only when it stays inside the root and leads to a folder
    not yet read (no cycles, no second label for the same files); ``skipped`` lists what was
    not followed and why. Only the sorted list of relative paths is kept in memory; samples
    are built while iterating.
    """

    kind = "folder"

    def __init__(self, root: str | os.PathLike[str], modality: str | None = None) -> None:
        modality = checked_modality(modality, "FolderSource")
        root_path = Path(root).expanduser()
        if not root_path.exists():
            raise UsageError(
                f"data source {str(root)!r} does not exist",
                hint="give a folder of images or a manifest (.csv, .parquet, .jsonl); "
                + FOLDER_LAYOUT_HINT,
            )
        if not root_path.is_dir():
            raise UsageError(
                f"data source {str(root)!r} is a file, not a folder of images",
                hint=f"give a manifest (.csv, .parquet, .pq, .jsonl, .ndjson) or a folder; "
                f"{FOLDER_LAYOUT_HINT}",
            )
        self.root = str(root_path.resolve())
        self.skipped: list[dict[str, str]] = []
        self.has_splits, found = _scan_tree(self.root, self.skipped)
        modalities = [modality_of_name(path) for path in found]
        counts = Counter(modalities)
        if not found:
            raise UsageError(
                f"no image files found under {self.root!r}, nor audio or text files",
                hint=f"{FOLDER_LAYOUT_HINT}; {_EXTENSIONS_HINT}",
            )
        if modality is None:
            modality = choose_modality(counts, f"the folder {self.root!r}")
        elif not counts[modality]:
            raise UsageError(
                f"no {modality} files found under {self.root!r} (it has {describe_counts(counts)})",
                hint=f"{FOLDER_LAYOUT_HINT}; {_EXTENSIONS_HINT}",
            )
        self.modality: str = modality
        self._relative_paths: list[str] = []
        others: list[str] = []
        for path, found_modality in zip(found, modalities, strict=True):
            (self._relative_paths if found_modality == modality else others).append(path)
        self.skipped += _other_modality_entries(others, modality)

    def __len__(self) -> int:
        return len(self._relative_paths)

    def __iter__(self) -> Iterator[Sample]:
        label_part = 1 if self.has_splits else 0
        for index, relative_path in enumerate(self._relative_paths):
            parts = relative_path.split("/")
            # The class is the first folder (below the split); a file directly above it
            # has none.
            labelled = len(parts) > label_part + 1
            yield Sample(
                sample_id=display_name(relative_path),
                index=index,
                path=os.path.join(self.root, *parts),
                label=display_name(parts[label_part]) if labelled else None,
                split=display_name(parts[0]) if self.has_splits else None,
            )

    def __repr__(self) -> str:
        return (
            f"FolderSource({self.root!r}, modality={self.modality!r}, samples={len(self)}, "
            f"splits={self.has_splits})"
        )


def _other_modality_entries(paths: list[str], modality: str) -> list[dict[str, str]]:
    """One skipped entry per extension of the files that are not of ``modality`` (sorted)."""
    by_extension: dict[str, list[str]] = {}
    for path in paths:
        by_extension.setdefault(os.path.splitext(path)[1].lower(), []).append(path)
    entries = []
    for extension, group in sorted(by_extension.items()):
        other = EXTENSION_MODALITIES[extension]
        if len(group) == 1:
            article = "an" if other in ("image", "audio") else "a"
            what = f"{article} {other} file ({extension}), not a sample"
        else:
            what = f"the first of {len(group)} {other} files ({extension}), not samples"
        entries.append(
            {
                "path": display_name(group[0]),
                "reason": f"{what} of this {modality} dataset (--modality {other} reads them)",
            }
        )
    return entries


def _scan_tree(root: str, skipped: list[dict[str, str]]) -> tuple[bool, list[str]]:
    """Return (split layout?, sorted POSIX paths of the image, audio and text files relative
    to ``root``)."""
    top_entries = _visible_entries(root)
    top_folders = [e for e in top_entries if e.is_dir()]
    has_splits = bool(top_folders) and all(e.name.lower() in SPLIT_NAMES for e in top_folders)
    walk = _Walk(root, skipped)
    relative_paths: list[str] = [e.name for e in top_entries if _is_candidate_file(e)]
    walk.enter(root)
    if has_splits:
        for split_entry in top_folders:
            if not walk.enter(split_entry.path, shown=split_entry.name):
                continue
            split_entries = _visible_entries(split_entry.path)
            prefix = f"{split_entry.name}/"
            relative_paths += [prefix + e.name for e in split_entries if _is_candidate_file(e)]
            for class_entry in split_entries:
                if class_entry.is_dir():
                    walk.collect(class_entry.path, f"{prefix}{class_entry.name}/", relative_paths)
    else:
        for class_entry in top_folders:
            walk.collect(class_entry.path, f"{class_entry.name}/", relative_paths)
    relative_paths.sort()
    return has_splits, relative_paths


class _Walk:
    """Reads folders below the root once each, following directory symlinks only inside it."""

    def __init__(self, root: str, skipped: list[dict[str, str]]) -> None:
        self.root = os.path.realpath(root)
        self.skipped = skipped
        self.visited: set[tuple[int, int]] = set()

    def enter(self, folder: str, shown: str | None = None) -> bool:
        """Whether to read ``folder``: inside the root and not read yet (else say why not)."""
        real = os.path.realpath(folder)
        if shown is not None and os.path.islink(folder):
            inside = real == self.root or real.startswith(self.root + os.sep)
            if not inside:
                self._skip(shown, f"a symlink to {display_name(real)}, outside the data root")
                return False
        try:
            stat = os.stat(folder)
        except OSError as exc:
            self._skip(shown or folder, f"cannot be read: {exc.strerror}")
            return False
        identity = (stat.st_dev, stat.st_ino)
        if identity in self.visited:
            if shown is not None:
                self._skip(shown, "a symlink to a folder that is already read (a cycle or a "
                           "second label for the same files)")  # fmt: skip
            return False
        self.visited.add(identity)
        return True

    def collect(self, folder: str, prefix: str, out: list[str]) -> None:
        """Append ``prefix + name`` for every candidate file below ``folder`` (recursively)."""
        if not self.enter(folder, shown=prefix.rstrip("/")):
            return
        pending_folders: list[tuple[str, str]] = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if _is_hidden(entry.name):
                    continue
                if entry.is_dir():
                    pending_folders.append((entry.path, f"{prefix}{entry.name}/"))
                elif _is_candidate_file(entry):
                    out.append(prefix + entry.name)
        for sub_folder, sub_prefix in sorted(pending_folders):
            self.collect(sub_folder, sub_prefix, out)

    def _skip(self, shown: str, reason: str) -> None:
        self.skipped.append({"path": display_name(shown), "reason": reason})

"""Folder-per-class image trees: ``root/<class>/<file>`` or ``root/<split>/<class>/<file>``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from dlqa.core.errors import UsageError
from dlqa.sources.base import Sample

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
)
# Top-level folder names (compared case-insensitively) that mark a split layout.
SPLIT_NAMES = frozenset(
    {"train", "training", "val", "valid", "validation", "dev", "test", "testing"}
)

FOLDER_LAYOUT_HINT = (
    "expected a folder per class, root/<class>/<image>, or split folders holding class folders, "
    "root/<split>/<class>/<image> (splits: train, val, valid, validation, dev, test, ...)"
)


def is_image_file_name(name: str) -> bool:
    """True when ``name`` has one of the image extensions a folder source reads."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


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
    """An image by its name that is not a folder: regular files, and also dangling symlinks,
    FIFOs and devices, which the file probe then reports as unreadable with the reason (a
    git-annex or DVC checkout whose content is missing must not look clean)."""
    if not is_image_file_name(entry.name):
        return False
    try:
        return not entry.is_dir()
    except OSError:
        return True


class FolderSource:
    """Images in class folders, optionally inside split folders.

    The split layout is used when every visible top-level folder is a split name (``train``,
    ``val``, ``test``, ...); the split value keeps the folder's own spelling. Class folders may
    hold sub-folders: every image below a class folder takes that class as its label. Images
    directly in the root (or directly in a split folder) are unlabelled samples: a flat folder
    of images is profiled without labels.

    A directory symlink is followed only when it stays inside the root and leads to a folder
    not yet read (no cycles, no second label for the same files); ``skipped`` lists what was
    not followed and why. Only the sorted list of relative paths is kept in memory; samples
    are built while iterating.
    """

    kind = "folder"
    modality = "image"

    def __init__(self, root: str | os.PathLike[str]) -> None:
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
        self.has_splits, self._relative_paths = _scan_tree(self.root, self.skipped)
        if not self._relative_paths:
            raise UsageError(
                f"no image files found under {self.root!r}",
                hint=f"{FOLDER_LAYOUT_HINT}; image extensions: "
                + ", ".join(sorted(IMAGE_EXTENSIONS)),
            )

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
        return f"FolderSource({self.root!r}, samples={len(self)}, splits={self.has_splits})"


def _scan_tree(root: str, skipped: list[dict[str, str]]) -> tuple[bool, list[str]]:
    """Return (split layout?, sorted POSIX paths of images relative to ``root``)."""
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
        """Append ``prefix + name`` for every image below ``folder`` (recursively)."""
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

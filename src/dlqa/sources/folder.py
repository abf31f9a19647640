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


def _stray_images(entries: list[os.DirEntry[str]]) -> list[str]:
    return [e.name for e in entries if is_image_file_name(e.name) and e.is_file()]


class FolderSource:
    """Images in class folders, optionally inside split folders.

    The split layout is used when every visible top-level folder is a split name (``train``,
    ``val``, ``test``, ...); the split value keeps the folder's own spelling. Class folders may
    hold sub-folders: every image below a class folder takes that class as its label.

    Only the sorted list of relative paths is kept in memory; samples are built while iterating.
    """

    kind = "folder"

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
        self.has_splits, self._relative_paths = _scan_tree(self.root)
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
            yield Sample(
                sample_id=relative_path,
                index=index,
                path=os.path.join(self.root, *parts),
                label=parts[label_part],
                split=parts[0] if self.has_splits else None,
            )

    def __repr__(self) -> str:
        return f"FolderSource({self.root!r}, samples={len(self)}, splits={self.has_splits})"


def _scan_tree(root: str) -> tuple[bool, list[str]]:
    """Return (split layout?, sorted POSIX paths of images relative to ``root``)."""
    top_entries = _visible_entries(root)
    stray = _stray_images(top_entries)
    if stray:
        raise UsageError(
            f"{len(stray)} image file(s) lie directly in {root!r} (e.g. {stray[0]!r}), "
            "so they have no class",
            hint=f"move each image into a folder named after its class; {FOLDER_LAYOUT_HINT}",
        )
    top_folders = [e for e in top_entries if e.is_dir()]
    has_splits = bool(top_folders) and all(e.name.lower() in SPLIT_NAMES for e in top_folders)
    visited: set[tuple[int, int]] = set()
    relative_paths: list[str] = []
    if has_splits:
        for split_entry in top_folders:
            split_entries = _visible_entries(split_entry.path)
            stray = _stray_images(split_entries)
            if stray:
                raise UsageError(
                    f"{len(stray)} image file(s) lie directly in split folder "
                    f"{split_entry.path!r} (e.g. {stray[0]!r}), so they have no class",
                    hint=f"move each image into a class folder inside the split; "
                    f"{FOLDER_LAYOUT_HINT}",
                )
            for class_entry in split_entries:
                if class_entry.is_dir():
                    prefix = f"{split_entry.name}/{class_entry.name}/"
                    _collect_images(class_entry.path, prefix, relative_paths, visited)
    else:
        for class_entry in top_folders:
            _collect_images(class_entry.path, f"{class_entry.name}/", relative_paths, visited)
    relative_paths.sort()
    return has_splits, relative_paths


def _collect_images(
    folder: str, prefix: str, out: list[str], visited: set[tuple[int, int]]
) -> None:
    """Append ``prefix + name`` for every image below ``folder`` (recursively)."""
    # Symlinked folders are followed, so remember each folder's identity to avoid loops.
    stat = os.stat(folder)
    identity = (stat.st_dev, stat.st_ino)
    if identity in visited:
        return
    visited.add(identity)
    pending_folders: list[tuple[str, str]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if _is_hidden(entry.name):
                continue
            if entry.is_dir():
                pending_folders.append((entry.path, f"{prefix}{entry.name}/"))
            elif is_image_file_name(entry.name) and entry.is_file():
                out.append(prefix + entry.name)
    for sub_folder, sub_prefix in pending_folders:
        _collect_images(sub_folder, sub_prefix, out, visited)

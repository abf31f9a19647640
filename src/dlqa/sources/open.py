"""Pick the reader for a data source given on the command line or in dlqa.toml."""

from __future__ import annotations

import os
from pathlib import Path

from dlqa.core.errors import UsageError
from dlqa.sources.base import Source
from dlqa.sources.folder import FOLDER_LAYOUT_HINT, FolderSource
from dlqa.sources.manifest import DEFAULT_SPLIT_COLUMN, ManifestSource, is_manifest_path


def open_source(
    spec: str | os.PathLike[str],
    *,
    path_column: str = "path",
    label_column: str | None = "label",
    split_column: str | None = DEFAULT_SPLIT_COLUMN,
    id_column: str | None = None,
    text_column: str | None = None,
    modality: str | None = None,
) -> Source:
    """A folder -> :class:`FolderSource`; a .csv/.parquet/.pq/.jsonl/.ndjson file ->
    :class:`ManifestSource` (the column options apply to manifests only). ``modality``
    ("image", "audio", "text") chooses which files are samples; without it the files (or the
    text column) decide."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if text_column is not None:
            raise UsageError(
                f"a text column ({text_column!r}) names a column of a manifest, but "
                f"{str(spec)!r} is a folder",
                hint="give a manifest (.csv, .parquet, .jsonl) with a text column, or leave "
                "the text column out to read the folder's .txt files",
            )
        return FolderSource(path, modality=modality)
    if path.is_file() and is_manifest_path(path):
        return ManifestSource(
            path,
            path_column=path_column,
            label_column=label_column,
            split_column=split_column,
            id_column=id_column,
            text_column=text_column,
            modality=modality,
        )
    expected = (
        "give a folder of images or a manifest file (.csv, .parquet, .pq, .jsonl, .ndjson); "
        + FOLDER_LAYOUT_HINT
    )
    if not path.exists():
        raise UsageError(f"data source {str(spec)!r} does not exist", hint=expected)
    raise UsageError(
        f"data source {str(spec)!r} is neither a folder nor a manifest "
        f"(unknown extension {path.suffix or '(none)'!r})",
        hint=expected,
    )

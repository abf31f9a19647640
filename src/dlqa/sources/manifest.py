"""Manifests: CSV, Parquet or JSONL tables with a path or text column, a label column and
metadata."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from dlqa.core.errors import UsageError
from dlqa.sources.base import Sample
from dlqa.sources.folder import display_name
from dlqa.sources.manifest_checks import (
    Problem,
    blank_rows,
    manifest_error,
    report_blank_rows,
    report_duplicate_ids,
    report_missing_files,
    require_column,
)
from dlqa.sources.manifest_readers import (
    MANIFEST_FORMATS,
    column_as_strings,
    is_manifest_path,
    read_manifest_table,
)
from dlqa.sources.modality import checked_modality, choose_modality, modality_of_name

__all__ = [
    "DEFAULT_SPLIT_COLUMN",
    "MANIFEST_FORMATS",
    "ManifestSource",
    "is_manifest_path",
    "read_manifest_table",
]

DEFAULT_SPLIT_COLUMN = "split"
DEFAULT_LABEL_COLUMN = "label"
_METADATA_BATCH_ROWS = 4096  # metadata is turned into Python strings one batch at a time


def _unlabelled_by_default(columns: list[str], label_column: str) -> bool:
    """The label column keeps its default name and nothing in the manifest looks like it."""
    if label_column != DEFAULT_LABEL_COLUMN or label_column in columns:
        return False
    return not any(c.strip().lower() == label_column for c in columns)


class ManifestSource:
    """Samples listed in a table, one row each, in the table's row order.

    Each row names a file in the path column, or, with ``text_column``, holds its sample's
    text (a text dataset: no path column is needed, and an empty or null cell is an empty
    text, which the text probe reports). Relative paths are resolved against the manifest's
    folder. The sample id is the id column when one is named, else the path as written (with
    ``/`` separators), or for a text manifest the 0-based row number (``"0"``, ``"1"``, ...).
    Columns other than the path (or text), label, split and id columns become each sample's
    ``metadata`` (strings, None for null).

    ``modality`` is "text" with a text column; else ``modality`` when given, else what the
    path extensions say (:func:`~dlqa.sources.modality.choose_modality`; "image" when no
    extension is known, as for content-addressed files). Rows of another modality than the
    chosen one stay samples: they are listed, and the probes report them as undecodable.

    The split and label columns are optional while they keep their default names ``"split"``
    and ``"label"``: a manifest without a column of that name (nor one spelled like it, such
    as ``Label``, which is more likely a mistake) is unsplit or unlabelled, and the label checks
    say so. Any other name the caller gives must exist. ``label_column=None`` reads an
    unlabelled manifest.

    Labels are kept exactly as written: ``NA``, ``null``, ``None`` or ``nan`` name a class. Only
    an empty cell (null, a float NaN in Parquet, or only spaces) is missing, and that sample is
    unlabelled (label None). Every problem of the manifest (missing columns, empty paths or
    ids, files that do not exist, duplicate ids) is reported in one :class:`UsageError`; what
    the file format allows to go wrong is in :mod:`dlqa.sources.manifest_readers`.
    """

    kind = "manifest"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        path_column: str = "path",
        label_column: str | None = DEFAULT_LABEL_COLUMN,
        split_column: str | None = DEFAULT_SPLIT_COLUMN,
        id_column: str | None = None,
        text_column: str | None = None,
        modality: str | None = None,
    ) -> None:
        modality = checked_modality(modality, "ManifestSource")
        if text_column is not None and modality not in (None, "text"):
            raise UsageError(
                f"a text column ({text_column!r}) makes a text dataset, but the modality "
                f"asked for is {modality!r}",
                hint="leave the modality out, or name a path column instead of a text column",
            )
        manifest_path = Path(path).expanduser()
        self.root = str(manifest_path.resolve())
        table = read_manifest_table(manifest_path)
        n_rows = table.num_rows
        if n_rows == 0:
            raise UsageError(
                f"manifest {self.root!r} has no rows",
                hint="add one row per sample, with a path (or a text) and a label",
            )
        # Every problem of the manifest is collected and reported at once: fixing a file one
        # error message at a time is a loop a user should not have to run.
        problems: list[Problem] = []
        columns = table.column_names
        content_role, content_column = (
            ("path", path_column) if text_column is None else ("text", text_column)
        )
        has_content = require_column(problems, columns, content_role, content_column)
        if label_column is not None and not _unlabelled_by_default(columns, label_column):
            if not require_column(problems, columns, "label", label_column):
                label_column = None
        elif label_column is not None:
            label_column = None  # no column "label" at all: an unlabelled manifest
        has_id = id_column is None or require_column(problems, columns, "id", id_column)
        if split_column is not None and split_column not in columns:
            if split_column != DEFAULT_SPLIT_COLUMN:
                require_column(problems, columns, "split", split_column)
            split_column = None

        self._paths: list[str | None] = [None] * n_rows
        self._texts: list[str] | None = None
        self._ids = [str(row) for row in range(n_rows)]
        if has_content and text_column is None:
            # Paths keep the bytes of a name that is not UTF-8, so that the file is found.
            written = column_as_strings(table.column(path_column), errors="surrogateescape")
            blank = blank_rows(written)
            report_blank_rows(problems, blank, "path", path_column)
            posix_paths = ["" if p is None else p.replace("\\", "/") for p in written]
            base_folder = manifest_path.resolve().parent
            self._paths = [os.path.join(base_folder, p) for p in posix_paths]
            report_missing_files(problems, posix_paths, self._paths, set(blank))
            self._ids = [display_name(p) for p in posix_paths]
        elif has_content:
            self._texts = [
                "" if text is None else text
                for text in column_as_strings(table.column(text_column))
            ]

        # Labels are names exactly as written ("NA", "null", "None" are classes); only an empty
        # (or blank) value is missing, and that sample is unlabelled.
        self._labels: list[str | None] = [None] * n_rows
        if label_column is not None:
            self._labels = [
                None if label is None or not label.strip() else label
                for label in column_as_strings(table.column(label_column))
            ]
        self._splits: list[str | None] = (
            [None] * n_rows
            if split_column is None
            else column_as_strings(table.column(split_column))
        )
        if id_column is not None and has_id:
            ids = column_as_strings(table.column(id_column))
            report_blank_rows(problems, blank_rows(ids), "id", id_column)
            self._ids = ["" if value is None else value for value in ids]
        if (id_column is not None and has_id) or (
            id_column is None and has_content and text_column is None
        ):
            report_duplicate_ids(problems, self._ids, id_column)
        if problems:
            raise manifest_error(self.root, problems, n_rows)

        self.modality: str = (
            "text" if text_column is not None else modality or self._modality_of_paths()
        )
        used = {path_column if text_column is None else text_column}
        used |= {label_column, split_column, id_column}
        self.metadata_columns: list[str] = [c for c in columns if c not in used]
        self._metadata = table.select(self.metadata_columns)

    def _modality_of_paths(self) -> str:
        counts = Counter(modality_of_name(path) for path in self._paths if path is not None)
        counts.pop(None, None)
        if not counts:
            return "image"  # no known extension: images, as before modalities were known
        return choose_modality(counts, f"manifest {self.root!r}")

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[Sample]:
        for index, metadata in enumerate(self._metadata_rows()):
            yield Sample(
                sample_id=self._ids[index],
                index=index,
                path=self._paths[index],
                label=self._labels[index],
                split=self._splits[index],
                metadata=metadata,
                text=None if self._texts is None else self._texts[index],
            )

    def _metadata_rows(self) -> Iterator[dict[str, str | None]]:
        if not self.metadata_columns:
            for _ in range(len(self._ids)):
                yield {}
            return
        for batch in self._metadata.to_batches(max_chunksize=_METADATA_BATCH_ROWS):
            values = [column_as_strings(column) for column in batch.columns]
            named = list(zip(self.metadata_columns, values, strict=True))
            for row in range(batch.num_rows):
                yield {name: column[row] for name, column in named}

    def __repr__(self) -> str:
        return f"ManifestSource({self.root!r}, modality={self.modality!r}, samples={len(self)})"

"""What can be wrong with a manifest, collected so that one error names every problem."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from dlqa.core.errors import UsageError
from dlqa.sources.manifest_readers import first_few

_OPTION_NAMES = {
    "path": ("--path-column", "path_column"),
    "label": ("--label-column", "label_column"),
    "split": ("--split-column", "split_column"),
    "id": ("--id-column", "id_column"),
    "text": ("--text-column", "text_column"),
}


@dataclass(frozen=True)
class Problem:
    text: str  # what is wrong, with the rows or values it concerns
    hint: str  # what to do about it


def manifest_error(manifest: str, problems: list[Problem], n_rows: int) -> UsageError:
    """One error naming every problem: alone, a problem reads as before (message + hint)."""
    if len(problems) == 1:
        return UsageError(f"manifest {manifest!r}: {problems[0].text}", hint=problems[0].hint)
    lines = [f"manifest {manifest!r} ({n_rows} data rows) has {len(problems)} problems:"]
    for number, problem in enumerate(problems, 1):
        lines.append(f"  {number}. {problem.text}")
        lines.append(f"     fix: {problem.hint}")
    return UsageError(
        "\n".join(lines),
        hint="row numbers count data rows from 1, the header not counted",
    )


def require_column(problems: list[Problem], columns: Sequence[str], role: str, name: str) -> bool:
    """Whether the column exists; a problem naming the columns present when it does not."""
    if name in columns:
        return True
    flag, setting = _OPTION_NAMES[role]
    near = [c for c in columns if c.strip().lower() == name.strip().lower()]
    suggestion = f" (did you mean {near[0]!r}?)" if near else ""
    problems.append(
        Problem(
            f"no {role} column {name!r}{suggestion}; "
            f"columns present: {', '.join(map(repr, columns))}",
            f"name the {role} column with {flag} on the command line, "
            f"or {setting} in the [data] table of dlqa.toml",
        )
    )
    return False


def blank_rows(values: Sequence[str | None]) -> list[int]:
    """0-based positions of the values that are missing, empty or only spaces."""
    return [row for row, value in enumerate(values) if value is None or not value.strip()]


def report_blank_rows(problems: list[Problem], rows: Sequence[int], role: str, column: str) -> None:
    if rows:
        problems.append(
            Problem(
                f"{len(rows)} row(s) have an empty or missing {role} in column "
                f"{column!r}; data rows {first_few([row + 1 for row in rows])} "
                "(1-based, header not counted)",
                f"fill in the {role} of every row, or remove those rows",
            )
        )


def report_missing_files(
    problems: list[Problem],
    written_paths: Sequence[str],
    resolved_paths: Sequence[str],
    blank: set[int],
) -> None:
    missing = [
        f"{written!r} (row {row + 1})"
        for row, (written, resolved) in enumerate(zip(written_paths, resolved_paths, strict=True))
        if row not in blank and not os.path.isfile(resolved)
    ]
    if missing:
        problems.append(
            Problem(
                f"{len(missing)} of {len(written_paths)} listed file(s) do not exist: "
                f"{first_few(missing, quote=False)}",
                "relative paths are read from the manifest's own folder; fix the paths or "
                "remove those rows",
            )
        )


def report_duplicate_ids(
    problems: list[Problem], ids: Sequence[str], id_column: str | None
) -> None:
    rows_of: dict[str, list[int]] = {}
    for row, value in enumerate(ids, 1):
        if value.strip():  # a blank id is reported as blank, not as a duplicate
            rows_of.setdefault(value, []).append(row)
    repeated = [
        f"{value!r} (rows {first_few(rows)})" for value, rows in rows_of.items() if len(rows) > 1
    ]
    if not repeated:
        return
    what = f"ids in column {id_column!r}" if id_column else "paths (used as sample ids)"
    problems.append(
        Problem(
            f"{len(repeated)} duplicate {what}: {first_few(repeated, quote=False)}",
            "each row must name a different sample; remove the repeated rows"
            + ("" if id_column else " or name a unique id column with --id-column / id_column"),
        )
    )
